package server_test

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/manacore/mana-core-auth/provider"
	"github.com/manacore/mana-core-auth/provider/admin"
	"github.com/manacore/mana-core-auth/provider/store/storetest"
)

const adminEmail, adminPassword = "root@example.com", "admin password that is long"

// fakeApp is an app backend implementing the user-data contract as a real
// HTTP server. It records the headers of every call.
type fakeApp struct {
	*httptest.Server
	key string
	mu  sync.Mutex
	// auth are the Authorization headers seen; deletes counts DELETEs.
	auth    []string
	deletes int
	// failDeletes makes the next n DELETEs answer 500.
	failDeletes int
	// delay holds every answer back.
	delay time.Duration
}

func startFakeApp(t testing.TB, key string, entities ...admin.Entity) *fakeApp {
	t.Helper()
	f := &fakeApp{key: key}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.auth = append(f.auth, r.Header.Get("Authorization"))
		delay := f.delay
		f.mu.Unlock()
		if delay > 0 {
			select {
			case <-time.After(delay):
			case <-r.Context().Done():
				return
			}
		}
		if r.Header.Get("X-Service-Key") != f.key {
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"statusCode":401,"message":"Invalid service key"}`))
			return
		}
		userID, ok := strings.CutPrefix(r.URL.Path, "/api/v1/admin/user-data/")
		if !ok || userID == "" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		var total int64
		for _, e := range entities {
			total += e.Count
		}
		switch r.Method {
		case http.MethodGet:
			last := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
			_ = json.NewEncoder(w).Encode(map[string]any{"entities": entities, "totalCount": total, "lastActivityAt": last})
		case http.MethodDelete:
			f.mu.Lock()
			f.deletes++
			fail := f.failDeletes > 0
			if fail {
				f.failDeletes--
			}
			f.mu.Unlock()
			if fail {
				w.WriteHeader(http.StatusInternalServerError)
				return
			}
			counts := []map[string]any{}
			for _, e := range entities {
				counts = append(counts, map[string]any{"entity": e.Entity, "count": e.Count})
			}
			_ = json.NewEncoder(w).Encode(map[string]any{"success": true, "deletedCounts": counts, "totalDeleted": total})
		default:
			w.WriteHeader(http.StatusMethodNotAllowed)
		}
	}))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeApp) authHeaders() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.auth...)
}

// deadURL is an address nothing listens on.
func deadURL(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	return "http://" + addr
}

// createAdmin adds an admin account and returns its first-party access
// token.
func (e *env) createAdmin(t testing.TB, role string) (*provider.User, string) {
	t.Helper()
	ctx := context.Background()
	hash, err := e.hasher.Hash(ctx, adminPassword)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Millisecond)
	u := &provider.User{ID: "user-admin-" + role, Email: role + "-" + adminEmail, EmailVerified: true, Name: "Root",
		Role: role, PasswordHash: hash, CreatedAt: now, UpdatedAt: now}
	if err := e.store.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	r := e.post(t, "/api/v1/auth/login", map[string]string{"email": u.Email, "password": adminPassword}).want(t, "admin login", http.StatusOK)
	return u, r.str("accessToken")
}

func TestAdminUserData(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b storetest.Backend) {
		const key = "service-key-0123456789"
		chat := startFakeApp(t, key, admin.Entity{Entity: "conversations", Count: 3, Label: "Conversations"},
			admin.Entity{Entity: "messages", Count: 40, Label: "Messages"})
		todo := startFakeApp(t, key) // reachable, nothing stored
		slow := startFakeApp(t, key, admin.Entity{Entity: "events", Count: 1, Label: "Events"})
		slow.delay = 3 * time.Second
		wrongKey := startFakeApp(t, "another-key")
		// Generous enough that minting the first service token on a loaded
		// machine fits in it; the slow backend still takes twice as long.
		const timeout = 1500 * time.Millisecond
		e := setup(t, b, func(o *setupOpts) {
			o.admin = func(c *admin.Config) {
				c.FetchTimeout = timeout
				c.Backends = []admin.Backend{
					{ID: "chat", Name: "Chat", Icon: "💬", URL: chat.URL, ServiceKey: key},
					{ID: "todo", Name: "Todo", Icon: "✅", URL: todo.URL, ServiceKey: key},
					{ID: "calendar", Name: "Calendar", Icon: "📅", URL: slow.URL, ServiceKey: key},
					{ID: "picture", Name: "Picture", Icon: "🎨", URL: wrongKey.URL, ServiceKey: key},
					{ID: "presi", Name: "Presi", Icon: "📊", URL: deadURL(t), ServiceKey: key},
				}
			}
		})
		adminUser, adminToken := e.createAdmin(t, provider.RoleAdmin)
		_, userToken := e.createAdmin(t, provider.RoleUser)
		path := "/api/v1/admin/users/" + e.user.ID + "/data"

		e.api(t, http.MethodGet, path, "", nil).wantError(t, "anonymous", http.StatusUnauthorized, "missing_token", "")
		e.api(t, http.MethodGet, path, userToken, nil).wantError(t, "non-admin", http.StatusForbidden, "admin_required", "Admin access required")
		e.api(t, http.MethodGet, "/api/v1/admin/users/nobody/data", adminToken, nil).
			wantError(t, "unknown user", http.StatusNotFound, "user_not_found", "User nobody not found")

		start := time.Now()
		r := e.api(t, http.MethodGet, path, adminToken, nil).want(t, "user data", http.StatusOK)
		if took := time.Since(start); took > timeout+time.Second {
			t.Errorf("answer took %v: the slow backend held it past the %v timeout", took, timeout)
		}
		var sum admin.Summary
		if err := json.Unmarshal([]byte(r.body), &sum); err != nil {
			t.Fatal(err)
		}
		if sum.User.Email != userEmail || sum.User.ID != e.user.ID || !sum.Configured || sum.Auth.AccountsCount != 1 {
			t.Errorf("user/auth part: %+v %+v configured=%v", sum.User, sum.Auth, sum.Configured)
		}
		byID := map[string]admin.ProjectData{}
		for _, p := range sum.Projects {
			byID[p.ProjectID] = p
		}
		if len(sum.Projects) != 5 || sum.Projects[0].ProjectID != "chat" || sum.Projects[4].ProjectID != "presi" {
			t.Fatalf("projects not in registry order: %+v", sum.Projects)
		}
		if p := byID["chat"]; !p.Available || p.TotalCount != 43 || len(p.Entities) != 2 || p.Entities[1].Label != "Messages" ||
			p.LastActivityAt == nil || p.Icon != "💬" {
			t.Errorf("chat: %+v", p)
		}
		if p := byID["todo"]; !p.Available || p.TotalCount != 0 || p.Error != "" {
			t.Errorf("todo: %+v", p)
		}
		for id, want := range map[string]string{"calendar": "timeout", "picture": "service key rejected (HTTP 401)", "presi": "Backend offline"} {
			if p := byID[id]; p.Available || !strings.Contains(p.Error, want) {
				t.Errorf("%s: available=%v error %q, want it to say %q", id, p.Available, p.Error, want)
			}
		}
		if sum.Totals.TotalEntities != 43 || sum.Totals.ProjectsWithData != 1 {
			t.Errorf("totals %+v, want 43 entities in 1 app", sum.Totals)
		}

		// Every call carried a service token a backend can verify against
		// the JWKS: for that backend alone, with the admin scope, live.
		hdrs := chat.authHeaders()
		if len(hdrs) == 0 || !strings.HasPrefix(hdrs[0], "Bearer ") {
			t.Fatalf("chat saw no bearer token: %q", hdrs)
		}
		tok := strings.TrimPrefix(hdrs[0], "Bearer ")
		typ, claims := e.verifyJWT(t, tok, jose.EdDSA)
		aud, _ := claims["aud"].([]any)
		if typ != "at+jwt" || len(aud) != 1 || aud[0] != "chat" || claims["scope"] != admin.ServiceScope || claims["client_id"] != "manaauth-service" {
			t.Errorf("service token: typ %q claims %v", typ, claims)
		}
		if !e.active(t, tok) {
			t.Error("service token is not active at introspection")
		}

		// The read is audited with the admin's id and the user as target.
		events, err := e.store.ListEvents(context.Background(), adminUser.ID, 10)
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, ev := range events {
			found = found || (ev.Type == admin.EventUserDataViewed && ev.Detail["target"] == e.user.ID)
		}
		if !found {
			t.Errorf("no %s event for the admin: %+v", admin.EventUserDataViewed, events)
		}
	})
}

// Without a service key the data features say "not configured" instead of
// calling backends that would refuse.
func TestAdminUserDataNotConfigured(t *testing.T) {
	e := setup(t, storetest.Backends()[0], func(o *setupOpts) {
		o.admin = func(c *admin.Config) {
			c.Backends = []admin.Backend{{ID: "chat", Name: "Chat", URL: "http://127.0.0.1:9"}}
		}
	})
	_, tok := e.createAdmin(t, provider.RoleAdmin)
	r := e.api(t, http.MethodGet, "/api/v1/admin/users/"+e.user.ID+"/data", tok, nil).want(t, "user data", http.StatusOK)
	if r.json["configured"] != false {
		t.Errorf("configured = %v, want false", r.json["configured"])
	}
	projects, _ := r.json["projects"].([]any)
	if len(projects) != 1 || !strings.Contains(r.body, "no service key configured") {
		t.Errorf("projects: %s", r.body)
	}
}
