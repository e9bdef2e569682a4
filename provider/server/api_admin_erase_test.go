package server_test

// issue 11, part B (erasure).

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/manacore/mana-core-auth/credits"
	"github.com/manacore/mana-core-auth/internal/database"
	"github.com/manacore/mana-core-auth/internal/faultproxy"
	"github.com/manacore/mana-core-auth/provider"
	"github.com/manacore/mana-core-auth/provider/account"
	"github.com/manacore/mana-core-auth/provider/admin"
	"github.com/manacore/mana-core-auth/provider/mail"
	"github.com/manacore/mana-core-auth/provider/oidc"
	"github.com/manacore/mana-core-auth/provider/store/storetest"
)

const eraseKey = "service-key-0123456789"

// eraseApp is an app backend implementing the user-data contract as a
// real HTTP server, whose behaviour a test changes while it runs: slower
// than the timeout, rejecting the key, failing DELETEs.
type eraseApp struct {
	*httptest.Server
	mu          sync.Mutex
	key         string
	delay       time.Duration
	failDeletes int
	total       int64
	deleted     []string // user ids whose DELETE succeeded
	attempts    int      // DELETEs received
	onDelete    func()   // called on every DELETE before answering
}

func newEraseApp(key string, total int64) *eraseApp {
	a := &eraseApp{key: key, total: total}
	a.Server = httptest.NewUnstartedServer(http.HandlerFunc(a.serve))
	return a
}

func startEraseApp(t testing.TB, key string, total int64) *eraseApp {
	t.Helper()
	a := newEraseApp(key, total)
	a.Start()
	t.Cleanup(a.Close)
	return a
}

// startEraseAppAt starts the backend on addr, where nothing listened so
// far: a backend that was down comes back.
func startEraseAppAt(t testing.TB, addr, key string, total int64) *eraseApp {
	t.Helper()
	a := newEraseApp(key, total)
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("listen on %s: %v", addr, err)
	}
	_ = a.Listener.Close()
	a.Listener = ln
	a.Start()
	t.Cleanup(a.Close)
	return a
}

func (a *eraseApp) set(f func(*eraseApp)) {
	a.mu.Lock()
	defer a.mu.Unlock()
	f(a)
}

func (a *eraseApp) state() (deleted []string, attempts int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.deleted), a.attempts
}

func (a *eraseApp) serve(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	key, delay, onDelete := a.key, a.delay, a.onDelete
	a.mu.Unlock()
	if delay > 0 {
		select {
		case <-time.After(delay):
		case <-r.Context().Done():
			return
		}
	}
	if r.Header.Get("X-Service-Key") != key {
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	userID, ok := strings.CutPrefix(r.URL.Path, "/api/v1/admin/user-data/")
	if !ok || userID == "" {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	switch r.Method {
	case http.MethodGet:
		_ = json.NewEncoder(w).Encode(map[string]any{"entities": []map[string]any{{"entity": "items", "count": a.total, "label": "Items"}},
			"totalCount": a.total})
	case http.MethodDelete:
		if onDelete != nil {
			onDelete()
		}
		a.mu.Lock()
		a.attempts++
		fail := a.failDeletes > 0
		if fail {
			a.failDeletes--
		} else {
			a.deleted = append(a.deleted, userID)
		}
		a.mu.Unlock()
		if fail {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"success": true,
			"deletedCounts": []map[string]any{{"entity": "items", "count": a.total}}, "totalDeleted": a.total})
	default:
		w.WriteHeader(http.StatusMethodNotAllowed)
	}
}

// piiLeft queries every table that held something of the user and
// returns what is still there: the tombstone must keep no address, name
// or password; nothing may name the user in sessions, tokens, consents,
// 2FA, one-time tokens, the ledger or done erasure parts; events keep no
// IP, user agent or address.
func piiLeft(t *testing.T, e *env, userID, email string) []string {
	t.Helper()
	a, c, detail := "", "credit_", "detail"
	if e.db.Dialect() == database.Postgres {
		a, c, detail = "auth.", "credits.", "detail::text"
	}
	checks := []struct{ what, sql string }{
		{"user row", `SELECT count(*) FROM {a}users WHERE id = {1} AND (lower(email) = {2} OR name <> '' OR password_hash <> '' OR deleted_at IS NULL)`},
		{"sessions", `SELECT count(*) FROM {a}sessions WHERE user_id = {1}`},
		{"grants", `SELECT count(*) FROM {a}grants WHERE subject = {1}`},
		{"consents", `SELECT count(*) FROM {a}consents WHERE user_id = {1}`},
		{"totp", `SELECT count(*) FROM {a}totp WHERE user_id = {1}`},
		{"one-time tokens", `SELECT count(*) FROM {a}one_time_tokens WHERE user_id = {1}`},
		{"events with IP or agent", `SELECT count(*) FROM {a}security_events WHERE user_id = {1} AND (ip <> '' OR user_agent <> '')`},
		{"events naming the address", `SELECT count(*) FROM {a}security_events WHERE {1} <> '' AND lower({d}) LIKE '%' || {2} || '%'`},
		{"logout jobs", `SELECT count(*) FROM {a}logout_jobs WHERE subject = {1}`},
		{"receipts", `SELECT count(*) FROM {a}erasures WHERE subject IN ({1}, {2}) OR requested_by IN ({1}, {2})`},
		{"done erasure parts", `SELECT count(*) FROM {a}erasure_parts WHERE user_id = {1} AND status = 'done'`},
		{"credit balances", `SELECT count(*) FROM {c}balances WHERE user_id = {1}`},
		{"credit transactions", `SELECT count(*) FROM {c}transactions WHERE user_id = {1}`},
		{"credit postings", `SELECT count(*) FROM {c}postings WHERE account LIKE 'user:' || {1} || ':%'`},
		{"credit usage", `SELECT count(*) FROM {c}usage_stats WHERE user_id = {1}`},
		{"purchases", `SELECT count(*) FROM {c}purchases WHERE user_id = {1}`},
	}
	var left []string
	for _, ch := range checks {
		q := strings.NewReplacer("{a}", a, "{c}", c, "{d}", detail).Replace(ch.sql)
		if e.db.Dialect() == database.Postgres {
			q = strings.NewReplacer("{1}", "$1::text", "{2}", "$2::text").Replace(q)
		} else {
			q = strings.NewReplacer("{1}", "?1", "{2}", "?2").Replace(q)
		}
		var n int64
		var err error
		if e.db.Dialect() == database.Postgres {
			args := []any{userID}
			if strings.Contains(q, "$2") { // PostgreSQL wants exactly the parameters used
				args = append(args, strings.ToLower(email))
			}
			err = e.db.Postgres().Pool().QueryRow(context.Background(), q, args...).Scan(&n)
		} else {
			err = e.db.SQLite().ReadPool().QueryRowContext(context.Background(), q, userID, strings.ToLower(email)).Scan(&n)
		}
		if err != nil {
			t.Fatalf("%s: %v (%s)", ch.what, err, q)
		}
		if n > 0 {
			left = append(left, fmt.Sprintf("%s: %d rows", ch.what, n))
		}
	}
	return left
}

func decodeAs[T any](t testing.TB, r *tokenResp) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(r.body), &v); err != nil {
		t.Fatalf("decode %T: %v: %.300s", v, err, r.body)
	}
	return v
}

// seedUserData gives the fixture user something everywhere: a browser
// session whose app has a back-channel logout URI, an API session, a
// consent, a 2FA enrolment, a one-time token, and a ledger with a spend.
// It returns the receiver of the app's logout tokens and the session id.
func seedUserData(t *testing.T, e *env) (*logoutReceiver, string, *loginResult) {
	t.Helper()
	ctx := context.Background()
	lr := newLogoutReceiver(t)
	if err := e.store.CreateClient(ctx, &provider.Client{ID: "chat-bc", Name: "Chat", SecretHash: oidc.HashSecret(clientSecret), Trusted: true,
		RedirectURIs: []string{rpRedirect}, GrantTypes: []string{"authorization_code", "refresh_token"}, ResponseTypes: []string{"code"},
		Scopes: strings.Fields(allScopes), BackchannelLogoutURI: lr.srv.URL + "/backchannel", CreatedAt: time.Now().UTC()}); err != nil {
		t.Fatal(err)
	}
	f := e.codeFlow(t, e.browser(t), e.rp(t, "chat-bc"))
	var c struct {
		SID string `json:"sid"`
	}
	if err := f.idToken.Claims(&c); err != nil || c.SID == "" {
		t.Fatalf("sid: %v", err)
	}
	l := e.apiLogin(t, userEmail, userPassword)
	now := time.Now().UTC().Truncate(time.Millisecond)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(e.store.SaveConsent(ctx, &provider.Consent{UserID: e.user.ID, ClientID: thirdPartyID, Scopes: []string{"openid"}, GrantedAt: now}))
	must(e.store.PutTOTP(ctx, &provider.TOTP{UserID: e.user.ID, SecretEnc: []byte("sealed-secret"), Enabled: true,
		RecoveryHashes: []string{"r1"}, CreatedAt: now, EnabledAt: &now}))
	must(e.store.CreateToken(ctx, &provider.OneTimeToken{Hash: "reset-hash", Purpose: provider.PurposeResetPassword, UserID: e.user.ID,
		CreatedAt: now, ExpiresAt: now.Add(time.Hour)}))
	if _, err := e.credits.Balance(ctx, e.user.ID); err != nil { // the signup bonus
		t.Fatal(err)
	}
	if _, _, _, err := e.credits.Spend(ctx, credits.SpendInput{UserID: e.user.ID, Amount: 10, AppID: "chat", Description: "reply"}); err != nil {
		t.Fatal(err)
	}
	return lr, c.SID, l
}

// TestAdminErase: an admin erases a user while one app answers, one is
// slower than the timeout, one is down, one rejects the key and one fails
// its first DELETE. The answer reports each app, the local data is gone
// from every table, the address can register again, the ledger balances,
// the apps hear the back-channel logout; the failed backends are retried
// until each got its DELETE, and then the receipt is complete.
func TestAdminErase(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b storetest.Backend) {
		healthy := startEraseApp(t, eraseKey, 43)
		slow := startEraseApp(t, eraseKey, 2)
		slow.set(func(a *eraseApp) { a.delay = 3 * time.Second })
		rejecting := startEraseApp(t, "another-key", 5)
		flaky := startEraseApp(t, eraseKey, 7)
		flaky.set(func(a *eraseApp) { a.failDeletes = 1 })
		downAddr := strings.TrimPrefix(deadURL(t), "http://")
		// See TestAdminUserData: room for the first service token under load.
		const timeout = 1500 * time.Millisecond
		e := setup(t, b, func(o *setupOpts) {
			o.admin = func(c *admin.Config) {
				c.DeleteTimeout, c.RetryBase, c.RetryMax = timeout, 10*time.Millisecond, 40*time.Millisecond
				c.Backends = []admin.Backend{
					{ID: "chat", Name: "Chat", URL: healthy.URL, ServiceKey: eraseKey},
					{ID: "todo", Name: "Todo", URL: flaky.URL, ServiceKey: eraseKey},
					{ID: "calendar", Name: "Calendar", URL: slow.URL, ServiceKey: eraseKey},
					{ID: "picture", Name: "Picture", URL: rejecting.URL, ServiceKey: eraseKey},
					{ID: "presi", Name: "Presi", URL: "http://" + downAddr, ServiceKey: eraseKey},
				}
			}
		})
		ctx := context.Background()
		adminUser, adminToken := e.createAdmin(t, provider.RoleAdmin)
		_, userToken := e.createAdmin(t, provider.RoleUser)
		lr, sid, l := seedUserData(t, e)
		path := "/api/v1/admin/users/" + e.user.ID + "/data"

		e.api(t, http.MethodDelete, path, "", nil).wantError(t, "anonymous", http.StatusUnauthorized, "missing_token", "")
		e.api(t, http.MethodDelete, path, userToken, nil).wantError(t, "non-admin", http.StatusForbidden, "admin_required", "")
		e.api(t, http.MethodDelete, "/api/v1/admin/users/nobody/data", adminToken, nil).
			wantError(t, "unknown user", http.StatusNotFound, "user_not_found", "")
		if _, n := healthy.state(); n != 0 {
			t.Fatalf("a refused request reached a backend (%d DELETEs)", n)
		}

		start := time.Now()
		r := e.api(t, http.MethodDelete, path, adminToken, nil).want(t, "erase", http.StatusAccepted)
		if took := time.Since(start); took > timeout+2*time.Second {
			t.Errorf("erase took %v: the slow backend held it past the %v timeout", took, timeout)
		}
		res := decodeAs[admin.ErasureResult](t, r)
		if res.Success || res.Receipt != nil || res.ErasureID == "" {
			t.Fatalf("success with backends failing: %s", r.body)
		}
		byID := map[string]admin.ProjectDeletion{}
		for _, p := range res.DeletedFromProjects {
			byID[p.ProjectID] = p
		}
		if p := byID["chat"]; !p.Success || p.Pending || p.DeletedCount != 43 || p.Error != "" {
			t.Errorf("chat: %+v", p)
		}
		for id, want := range map[string]string{"todo": "HTTP 500", "calendar": "timeout", "picture": "service key rejected (HTTP 401)",
			"presi": "Backend offline"} {
			if p := byID[id]; p.Success || !p.Pending || !strings.Contains(p.Error, want) {
				t.Errorf("%s: %+v, want pending with %q", id, p, want)
			}
		}
		a := res.DeletedFromAuth
		if a.Sessions < 2 || a.Tokens < 2 || a.Consents != 1 || a.Accounts != 1 || a.TwoFactor != 1 || a.VerificationTokens != 1 ||
			a.Events < 1 || a.LedgerEntriesDetached != 3 {
			t.Errorf("deletedFromAuth %+v", a)
		}
		authTotal := a.Sessions + a.Tokens + a.Consents + a.Accounts + a.TwoFactor + a.VerificationTokens + a.Events
		if res.TotalDeleted != authTotal+43 {
			t.Errorf("totalDeleted %d, want %d", res.TotalDeleted, authTotal+43)
		}

		// The user's tokens died and the app heard of the session's end.
		if ok, _ := e.valid(t, l.access); ok {
			t.Error("the erased user's access token still validates")
		}
		e.apiRefresh(t, l.refresh).want(t, "refresh after erasure", http.StatusUnauthorized)
		if n, err := e.notifier.DeliverDue(ctx); err != nil || n < 1 {
			t.Fatalf("DeliverDue = %d, %v", n, err)
		}
		if got := lr.got(); len(got) != 1 {
			t.Fatalf("the app received %d logout tokens, want 1", len(got))
		} else {
			checkLogoutToken(t, e, got[0], "chat-bc", sid, e.user.ID)
		}

		if left := piiLeft(t, e, e.user.ID, userEmail); len(left) > 0 {
			t.Errorf("personal data left after the erasure: %v", left)
		}
		if ms, err := e.credits.Verify(ctx); err != nil || len(ms) != 0 {
			t.Errorf("credits verify: %+v, %v", ms, err)
		}
		e.post(t, "/api/v1/auth/register", map[string]string{"email": userEmail, "password": "password123", "name": "Alice Again"}).
			want(t, "register the address again", http.StatusCreated)
		e.api(t, http.MethodDelete, path, adminToken, nil).wantError(t, "erase twice", http.StatusConflict, "user_erased", "")

		evs, err := e.store.ListEvents(ctx, adminUser.ID, 100)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.ContainsFunc(evs, func(ev *provider.SecurityEvent) bool {
			return ev.Type == admin.EventUserErased && ev.Detail["target"] == e.user.ID && ev.Detail["erasure"] == res.ErasureID
		}) {
			t.Errorf("no erasure event of the admin naming the user: %+v", evs)
		}

		// The pending deletions are visible.
		erPath := "/api/v1/admin/erasures/" + res.ErasureID
		e.api(t, http.MethodGet, erPath, userToken, nil).wantError(t, "erasure as non-admin", http.StatusForbidden, "admin_required", "")
		e.api(t, http.MethodGet, "/api/v1/admin/erasures/nope", adminToken, nil).wantError(t, "unknown erasure", http.StatusNotFound, "erasure_not_found", "")
		er := decodeAs[admin.Erasure](t, e.api(t, http.MethodGet, erPath, adminToken, nil).want(t, "erasure", http.StatusOK))
		if er.Done || len(er.Pending) != 4 || len(er.Projects) != 5 || er.Receipt != nil {
			t.Fatalf("erasure while pending: %+v", er)
		}
		sum := decodeAs[admin.Summary](t, e.api(t, http.MethodGet, path, adminToken, nil).want(t, "summary", http.StatusOK))
		if len(sum.Pending) != 4 || len(sum.Receipts) != 0 || sum.User.Email != "" || sum.User.DeletedAt == nil {
			t.Fatalf("summary of the erased user: pending %+v receipts %+v user %+v", sum.Pending, sum.Receipts, sum.User)
		}

		// The backends recover; the worker retries until each got its DELETE.
		slow.set(func(a *eraseApp) { a.delay = 0 })
		rejecting.set(func(a *eraseApp) { a.key = eraseKey })
		down := startEraseAppAt(t, downAddr, eraseKey, 11)
		deadline := time.Now().Add(15 * time.Second)
		for !er.Done && time.Now().Before(deadline) {
			if _, err := e.admin.RetryDue(ctx); err != nil {
				t.Fatal(err)
			}
			time.Sleep(20 * time.Millisecond)
			er = decodeAs[admin.Erasure](t, e.api(t, http.MethodGet, erPath, adminToken, nil).want(t, "erasure", http.StatusOK))
		}
		if !er.Done || er.Receipt == nil || len(er.Pending) != 0 {
			t.Fatalf("erasure not done after the backends recovered: %+v", er)
		}
		for name, app := range map[string]*eraseApp{"chat": healthy, "todo": flaky, "calendar": slow, "picture": rejecting, "presi": down} {
			if deleted, _ := app.state(); !slices.Contains(deleted, e.user.ID) {
				t.Errorf("%s never deleted the user", name)
			}
		}
		if _, n := flaky.state(); n != 2 {
			t.Errorf("the flaky backend got %d DELETEs, want 2 (failed, then retried)", n)
		}
		rc := er.Receipt
		if rc.RequestedBy != adminUser.ID || rc.CompletedAt == nil || len(rc.Parts) != 6 || rc.Parts[0].Where != "auth" ||
			rc.Parts[0].Deleted != authTotal || strings.Contains(rc.Subject, e.user.ID) {
			t.Errorf("receipt %+v", rc)
		}
		raw, _ := json.Marshal(rc)
		for _, pii := range []string{userEmail, userName, e.user.ID} {
			if strings.Contains(string(raw), pii) {
				t.Errorf("the receipt contains %q: %s", pii, raw)
			}
		}
		sum = decodeAs[admin.Summary](t, e.api(t, http.MethodGet, path, adminToken, nil).want(t, "summary", http.StatusOK))
		if len(sum.Pending) != 0 || len(sum.Receipts) != 1 || sum.Receipts[0].ErasureID != res.ErasureID {
			t.Errorf("summary after completion: pending %+v receipts %+v", sum.Pending, sum.Receipts)
		}
		if left := piiLeft(t, e, e.user.ID, userEmail+"-never-used"); len(left) > 0 {
			t.Errorf("personal data left after the retries: %v", left)
		}
	})
}

// TestAdminEraseAllHealthy: with every backend answering, the erasure
// succeeds at once (200) with its receipt.
func TestAdminEraseAllHealthy(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b storetest.Backend) {
		chat := startEraseApp(t, eraseKey, 3)
		e := setup(t, b, func(o *setupOpts) {
			o.admin = func(c *admin.Config) {
				c.Backends = []admin.Backend{{ID: "chat", Name: "Chat", URL: chat.URL, ServiceKey: eraseKey}}
			}
		})
		_, adminToken := e.createAdmin(t, provider.RoleAdmin)
		r := e.api(t, http.MethodDelete, "/api/v1/admin/users/"+e.user.ID+"/data", adminToken, nil).want(t, "erase", http.StatusOK)
		res := decodeAs[admin.ErasureResult](t, r)
		if !res.Success || res.Receipt == nil || res.Receipt.CompletedAt == nil || len(res.Receipt.Parts) != 2 ||
			res.DeletedFromProjects[0].DeletedCount != 3 || res.TotalDeleted < 4 {
			t.Fatalf("erasure %s", r.body)
		}
		e.post(t, "/api/v1/auth/login", map[string]string{"email": userEmail, "password": userPassword}).
			wantError(t, "login after erasure", http.StatusUnauthorized, "", "")
	})
}

// TestEraseSelf: the user deletes their own account with password and
// typed email; with a second factor enrolled, a code is needed too.
func TestEraseSelf(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b storetest.Backend) {
		chat := startEraseApp(t, eraseKey, 5)
		c := &clock{}
		e := setup(t, b, withClock(c), func(o *setupOpts) {
			o.admin = func(cfg *admin.Config) {
				cfg.Backends = []admin.Backend{{ID: "chat", Name: "Chat", URL: chat.URL, ServiceKey: eraseKey}}
			}
		})
		l := e.apiLogin(t, userEmail, userPassword)
		const me = "/api/v1/auth/me"
		body := func(pw, code, email string) map[string]string {
			return map[string]string{"password": pw, "code": code, "email": email}
		}
		e.api(t, http.MethodDelete, me, "", body(userPassword, "", userEmail)).wantError(t, "anonymous", http.StatusUnauthorized, "missing_token", "")
		r := e.api(t, http.MethodDelete, me, l.access, body(userPassword, "", "ALICE@example.com"))
		r.wantError(t, "typed email differs", http.StatusBadRequest, "validation_failed", "")
		if errs, _ := r.json["errors"].(map[string]any); errs["email"] != "mismatch" {
			t.Errorf("errors %v, want email mismatch", r.json["errors"])
		}
		e.api(t, http.MethodDelete, me, l.access, body("wrong password", "", userEmail)).
			wantError(t, "wrong password", http.StatusUnauthorized, "invalid_credentials", "")

		t.Run("WithTOTP", func(t *testing.T) {
			secret, _ := e.enableTOTP(t, c, l.access)
			e.api(t, http.MethodDelete, me, l.access, body(userPassword, "", userEmail)).
				wantError(t, "no code", http.StatusUnauthorized, "second_factor_required", "")
			wrong := "000000"
			if code(t, secret, c) == wrong {
				wrong = "111111"
			}
			e.api(t, http.MethodDelete, me, l.access, body(userPassword, wrong, userEmail)).
				wantError(t, "wrong code", http.StatusUnauthorized, "second_factor_required", "")
			if _, err := e.store.GetUser(context.Background(), e.user.ID); err != nil {
				t.Fatal(err)
			}
			c.advance(30 * time.Second)
			r := e.api(t, http.MethodDelete, me, l.access, body(userPassword, code(t, secret, c), userEmail)).want(t, "delete account", http.StatusOK)
			res := decodeAs[admin.ErasureResult](t, r)
			if !res.Success || res.Receipt == nil || res.Receipt.RequestedBy != "self" || res.DeletedFromAuth.TwoFactor != 1 ||
				res.DeletedFromProjects[0].DeletedCount != 5 {
				t.Fatalf("self erasure %s", r.body)
			}
			if deleted, _ := chat.state(); !slices.Contains(deleted, e.user.ID) {
				t.Error("the app never deleted the user")
			}
			if ok, _ := e.valid(t, l.access); ok {
				t.Error("the token still validates after the account was deleted")
			}
			if left := piiLeft(t, e, e.user.ID, userEmail); len(left) > 0 {
				t.Errorf("personal data left: %v", left)
			}
			if ms, err := e.credits.Verify(context.Background()); err != nil || len(ms) != 0 {
				t.Errorf("credits verify: %+v, %v", ms, err)
			}
			e.post(t, "/api/v1/auth/register", map[string]string{"email": userEmail, "password": "password123", "name": "Alice"}).
				want(t, "register again", http.StatusCreated)
		})
	})
}

// TestExport: the user downloads what this service holds about them and
// what each app reports.
func TestExport(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b storetest.Backend) {
		chat := startEraseApp(t, eraseKey, 9)
		e := setup(t, b, func(o *setupOpts) {
			o.admin = func(c *admin.Config) {
				c.Backends = []admin.Backend{{ID: "chat", Name: "Chat", URL: chat.URL, ServiceKey: eraseKey}}
			}
		})
		l := e.apiLogin(t, userEmail, userPassword)
		if _, err := e.credits.Balance(context.Background(), e.user.ID); err != nil {
			t.Fatal(err)
		}
		e.api(t, http.MethodGet, "/api/v1/auth/me/data", "", nil).wantError(t, "anonymous", http.StatusUnauthorized, "missing_token", "")
		r := e.api(t, http.MethodGet, "/api/v1/auth/me/data", l.access, nil).want(t, "export", http.StatusOK)
		if !strings.Contains(r.header.Get("Content-Disposition"), "attachment") {
			t.Errorf("Content-Disposition %q", r.header.Get("Content-Disposition"))
		}
		var ex struct {
			Profile        admin.ExportProfile   `json:"profile"`
			Sessions       []admin.ExportSession `json:"sessions"`
			SecurityEvents []admin.ExportEvent   `json:"securityEvents"`
			Credits        struct {
				Transactions []map[string]any `json:"transactions"`
				Purchases    []map[string]any `json:"purchases"`
			} `json:"credits"`
			Projects []admin.ProjectData `json:"projects"`
		}
		if err := json.Unmarshal([]byte(r.body), &ex); err != nil {
			t.Fatal(err)
		}
		if ex.Profile.Email != userEmail || ex.Profile.Name != userName || len(ex.Sessions) != 1 || ex.Sessions[0].UserAgent == "" {
			t.Errorf("profile/sessions: %+v %+v", ex.Profile, ex.Sessions)
		}
		if !slices.ContainsFunc(ex.SecurityEvents, func(ev admin.ExportEvent) bool { return ev.Type == provider.EventLoginSuccess }) {
			t.Errorf("no login event in %+v", ex.SecurityEvents)
		}
		if len(ex.Credits.Transactions) < 1 || ex.Credits.Purchases == nil {
			t.Errorf("credits: %+v", ex.Credits)
		}
		if len(ex.Projects) != 1 || !ex.Projects[0].Available || ex.Projects[0].TotalCount != 9 {
			t.Errorf("projects: %+v", ex.Projects)
		}
		if strings.Contains(r.body, l.access) || strings.Contains(r.body, "$argon2id") {
			t.Error("the export contains a credential")
		}
	})
}

// TestEraseDatabaseFailure: PostgreSQL goes away while the apps delete
// (the fault proxy cuts it from inside the backend's DELETE); the local
// erasure does not happen at all and the answer is 5xx. Once the database
// is back, everything of the user is still there. (SQLite is a file: no
// network between it and the server to cut.)
func TestEraseDatabaseFailure(t *testing.T) {
	var proxy *faultproxy.Proxy
	chat := startEraseApp(t, eraseKey, 3)
	e := setup(t, postgresBackend(t), viaProxy(t, &proxy), func(o *setupOpts) {
		o.databaseTimeout = 500 * time.Millisecond
		o.logs = &logLines{}
		o.admin = func(c *admin.Config) {
			c.Backends = []admin.Backend{{ID: "chat", Name: "Chat", URL: chat.URL, ServiceKey: eraseKey}}
		}
	})
	_, adminToken := e.createAdmin(t, provider.RoleAdmin)
	_, _, l := seedUserData(t, e)
	chat.set(func(a *eraseApp) { a.onDelete = func() { proxy.Set(faultproxy.Cut) } })

	r := e.api(t, http.MethodDelete, "/api/v1/admin/users/"+e.user.ID+"/data", adminToken, nil)
	if r.status < 500 {
		t.Fatalf("erase with the database gone: %d, want 5xx: %s", r.status, r.body)
	}
	proxy.Set(faultproxy.Forward)
	chat.set(func(a *eraseApp) { a.onDelete = nil })

	ctx := context.Background()
	// The pool finds its cut connections on use; wait until it has fresh ones.
	var u *provider.User
	waitFor(t, "the database to come back", func() bool {
		var err error
		u, err = e.store.GetUser(ctx, e.user.ID)
		return err == nil
	})
	if u.Email != userEmail || u.Name != userName || u.DeletedAt != nil || u.PasswordHash == "" {
		t.Errorf("user changed by a failed erasure: %+v", u)
	}
	if ok, _ := e.valid(t, l.access); !ok {
		t.Error("the user's token died in a failed erasure")
	}
	if ss, err := e.store.ListSessions(ctx, e.user.ID, time.Now()); err != nil || len(ss) < 2 {
		t.Errorf("sessions after a failed erasure: %d, %v", len(ss), err)
	}
	if _, err := e.store.GetTOTP(ctx, e.user.ID); err != nil {
		t.Errorf("2FA after a failed erasure: %v", err)
	}
	if txs, err := e.credits.Transactions(ctx, e.user.ID, 10, 0); err != nil || len(txs) != 3 {
		t.Errorf("ledger after a failed erasure: %d, %v", len(txs), err)
	}
	if p, err := e.admin.Pending(ctx, e.user.ID); err != nil || len(p) != 0 {
		t.Errorf("pending after a failed erasure: %+v, %v", p, err)
	}
	if rc, err := e.admin.Receipts(ctx, e.user.ID); err != nil || len(rc) != 0 {
		t.Errorf("receipts after a failed erasure: %+v, %v", rc, err)
	}
	// The admin tries again, and it works.
	e.api(t, http.MethodDelete, "/api/v1/admin/users/"+e.user.ID+"/data", adminToken, nil).want(t, "erase again", http.StatusOK)
	if _, err := e.notifier.DeliverDue(ctx); err != nil {
		t.Fatal(err)
	}
	if left := piiLeft(t, e, e.user.ID, userEmail); len(left) > 0 {
		t.Errorf("personal data left: %v", left)
	}
}

// failingMail refuses every message until opened, and records what it
// sent.
type failingMail struct {
	mu       sync.Mutex
	open     bool
	attempts int
	sent     []mail.Message
}

func (f *failingMail) Send(_ context.Context, m mail.Message) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.attempts++
	if !f.open {
		return errors.New("relay down")
	}
	f.sent = append(f.sent, m)
	return nil
}

// TestEraseDropsQueuedMail: a reset mail queued (and failing) before the
// account is erased is never sent once the relay is back.
func TestEraseDropsQueuedMail(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b storetest.Backend) {
		m := &failingMail{}
		e := setup(t, b, withOutbox(account.OutboxConfig{RetryBase: 20 * time.Millisecond, PollEvery: 10 * time.Millisecond}),
			func(o *setupOpts) { o.mailer = m })
		_, adminToken := e.createAdmin(t, provider.RoleAdmin)
		e.post(t, "/api/v1/auth/forgot-password", map[string]string{"email": userEmail}).want(t, "forgot password", http.StatusOK)
		waitFor(t, "a failed send", func() bool { m.mu.Lock(); defer m.mu.Unlock(); return m.attempts > 0 })

		e.api(t, http.MethodDelete, "/api/v1/admin/users/"+e.user.ID+"/data", adminToken, nil).want(t, "erase", http.StatusOK)
		m.mu.Lock()
		m.open = true
		m.mu.Unlock()
		waitFor(t, "the mail queue to empty", func() bool { return mailJobs(t, e) == 0 })
		m.mu.Lock()
		defer m.mu.Unlock()
		if len(m.sent) != 0 {
			t.Errorf("mail sent to an erased account: %+v", m.sent)
		}
	})
}

func mailJobs(t *testing.T, e *env) int {
	t.Helper()
	var n int
	var err error
	if e.db.Dialect() == database.Postgres {
		err = e.db.Postgres().Pool().QueryRow(context.Background(), `SELECT count(*) FROM auth.mail_jobs`).Scan(&n)
	} else {
		err = e.db.SQLite().ReadPool().QueryRowContext(context.Background(), `SELECT count(*) FROM mail_jobs`).Scan(&n)
	}
	if err != nil {
		t.Fatal(err)
	}
	return n
}
