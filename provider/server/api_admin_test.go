package server_test

// Issue 11 part A: the admin API for users and clients, end to end on
// both backends.

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/manacore/mana-core-auth/internal/faultproxy"
	"github.com/manacore/mana-core-auth/provider"
	"github.com/manacore/mana-core-auth/provider/admin"
	"github.com/manacore/mana-core-auth/provider/oidc"
	"github.com/manacore/mana-core-auth/provider/ratelimit"
	"github.com/manacore/mana-core-auth/provider/server"
	"github.com/manacore/mana-core-auth/provider/store/storetest"
)

// userIDs lists the ids of a user page answer.
func userIDs(t *testing.T, r *tokenResp) []string {
	t.Helper()
	users, ok := r.json["users"].([]any)
	if !ok {
		t.Fatalf("no users array: %.300s", r.body)
	}
	ids := make([]string, 0, len(users))
	for _, u := range users {
		m, _ := u.(map[string]any)
		id, _ := m["id"].(string)
		ids = append(ids, id)
	}
	return ids
}

func num(r *tokenResp, k string) int { f, _ := r.json[k].(float64); return int(f) }

func TestAdminListUsers(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b storetest.Backend) {
		e := setup(t, b)
		ctx := context.Background()
		adminUser, adminToken := e.createAdmin(t, provider.RoleAdmin)
		_, userToken := e.createAdmin(t, provider.RoleUser)
		// 30 more users, one a second older than the next; the fixture user
		// and the two admins are newer than all of them.
		base := time.Now().UTC().Add(-time.Hour).Truncate(time.Millisecond)
		for i := range 30 {
			at := base.Add(time.Duration(i) * time.Second)
			u := &provider.User{ID: fmt.Sprintf("user-%02d", i), Email: fmt.Sprintf("person%02d@example.org", i),
				Name: fmt.Sprintf("Person %02d", i), Role: provider.RoleUser, CreatedAt: at, UpdatedAt: at}
			if i == 7 {
				u.Name = "Dr. Ärztin Weiß"
			}
			if i == 8 {
				erased := base.Add(time.Minute)
				u.Email, u.Name, u.DeletedAt = "erased-user-08@invalid", "", &erased
			}
			if err := e.store.CreateUser(ctx, u); err != nil {
				t.Fatal(err)
			}
		}
		const path = "/api/v1/admin/users"
		e.api(t, http.MethodGet, path, "", nil).wantError(t, "anonymous", http.StatusUnauthorized, "missing_token", "")
		e.api(t, http.MethodGet, path, userToken, nil).wantError(t, "non-admin", http.StatusForbidden, "admin_required", "")

		// 29 live users of the seed, the fixture user and the two admins.
		const live = 32
		r := e.api(t, http.MethodGet, path, adminToken, nil).want(t, "first page", http.StatusOK)
		if num(r, "total") != live || num(r, "page") != 1 || num(r, "limit") != 20 || len(userIDs(t, r)) != 20 {
			t.Fatalf("first page: total %d page %d limit %d rows %d", num(r, "total"), num(r, "page"), num(r, "limit"), len(userIDs(t, r)))
		}
		first := userIDs(t, r)
		if first[len(first)-1] != "user-13" {
			t.Errorf("newest first: the 20th row is %s, want user-13 (%v)", first[len(first)-1], first)
		}
		// The admin signed in: their last activity is known.
		for _, u := range r.json["users"].([]any) {
			m := u.(map[string]any)
			if m["id"] == adminUser.ID && m["lastActiveAt"] == nil {
				t.Errorf("the signed-in admin has no lastActiveAt: %v", m)
			}
			if m["id"] == "user-00" && m["lastActiveAt"] != nil {
				t.Errorf("a user without sessions has lastActiveAt: %v", m)
			}
			for _, k := range []string{"id", "email", "name", "role", "createdAt", "disabled"} {
				if _, ok := m[k]; !ok {
					t.Errorf("row without %s: %v", k, m)
				}
			}
			if _, ok := m["passwordHash"]; ok {
				t.Errorf("row leaks the password hash: %v", m)
			}
		}
		r = e.api(t, http.MethodGet, path+"?page=2&limit=20", adminToken, nil).want(t, "second page", http.StatusOK)
		if ids := userIDs(t, r); len(ids) != live-20 || ids[len(ids)-1] != "user-00" {
			t.Errorf("second page: %v", ids)
		}
		for _, id := range userIDs(t, r) {
			if id == "user-08" {
				t.Error("an erased user is listed without includeDeleted")
			}
		}

		// Limits are clamped, not refused.
		for q, want := range map[string]int{"limit=1000": 100, "limit=0": 20, "limit=-5": 1, "limit=7": 7} {
			r := e.api(t, http.MethodGet, path+"?"+q, adminToken, nil).want(t, q, http.StatusOK)
			if num(r, "limit") != want || len(userIDs(t, r)) != min(want, live) {
				t.Errorf("%s: limit %d with %d rows, want %d", q, num(r, "limit"), len(userIDs(t, r)), want)
			}
		}
		for q, field := range map[string]string{"limit=ten": "limit", "page=x": "page", "includeDeleted=maybe": "includeDeleted",
			"page=99999999999": "page", "search=a%0Ab": "search", "search=%00": "search"} {
			r := e.api(t, http.MethodGet, path+"?"+q, adminToken, nil)
			r.wantError(t, q, http.StatusBadRequest, "validation_failed", "")
			if errs, _ := r.json["errors"].(map[string]any); errs[field] == nil {
				t.Errorf("%s: no error for %s: %s", q, field, r.body)
			}
		}

		// Search: case-insensitive on email and name, non-ASCII included.
		for q, want := range map[string][]string{
			"ÄRZTIN":       {"user-07"},
			"weiss":        nil, // ß is not ss: a substring match, no collation games
			"WEIß":         {"user-07"},
			"PERSON2":      {"user-29", "user-28", "user-27", "user-26", "user-25", "user-24", "user-23", "user-22", "user-21", "user-20"},
			"person05@EX":  {"user-05"},
			"nobody-there": nil,
		} {
			r := e.api(t, http.MethodGet, path+"?"+url.Values{"search": {q}}.Encode(), adminToken, nil).want(t, "search "+q, http.StatusOK)
			ids := userIDs(t, r)
			if strings.Join(ids, ",") != strings.Join(want, ",") || num(r, "total") != len(want) {
				t.Errorf("search %q = %v (total %d), want %v", q, ids, num(r, "total"), want)
			}
		}

		// includeDeleted shows the tombstone, without an address.
		r = e.api(t, http.MethodGet, path+"?includeDeleted=true&limit=100", adminToken, nil).want(t, "with deleted", http.StatusOK)
		if num(r, "total") != live+1 {
			t.Errorf("with deleted: total %d, want %d", num(r, "total"), live+1)
		}
		found := false
		for _, u := range r.json["users"].([]any) {
			m := u.(map[string]any)
			if m["id"] == "user-08" {
				found = true
				if m["deletedAt"] == nil || m["email"] != "" {
					t.Errorf("tombstone row: %v", m)
				}
			}
		}
		if !found {
			t.Error("includeDeleted=true does not list the erased user")
		}
	})
}

func TestAdminUpdateUser(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b storetest.Backend) {
		e := setup(t, b)
		adminUser, adminToken := e.createAdmin(t, provider.RoleAdmin)
		_, userToken := e.createAdmin(t, provider.RoleUser)
		path := "/api/v1/admin/users/" + e.user.ID

		e.api(t, http.MethodPatch, path, "", map[string]any{"name": "X"}).wantError(t, "anonymous", http.StatusUnauthorized, "", "")
		e.api(t, http.MethodPatch, path, userToken, map[string]any{"name": "X"}).wantError(t, "non-admin", http.StatusForbidden, "admin_required", "")
		e.api(t, http.MethodPatch, "/api/v1/admin/users/nobody", adminToken, map[string]any{"name": "X"}).
			wantError(t, "unknown user", http.StatusNotFound, "not_found", "")
		e.api(t, http.MethodPatch, path, adminToken, `{"name":`).wantError(t, "bad JSON", http.StatusBadRequest, "invalid_json", "")
		e.api(t, http.MethodPatch, path, adminToken, `{"email":"a@b.c"}`).wantError(t, "unknown field", http.StatusBadRequest, "validation_failed", "")
		r := e.api(t, http.MethodPatch, path, adminToken, map[string]any{"role": "root"})
		r.wantError(t, "bad role", http.StatusBadRequest, "validation_failed", "")
		if errs, _ := r.json["errors"].(map[string]any); errs["role"] != "invalid" {
			t.Errorf("bad role errors: %s", r.body)
		}

		r = e.api(t, http.MethodPatch, path, adminToken, map[string]any{"role": "admin", "name": "  Alice Admin ", "emailVerified": true}).
			want(t, "promote and rename", http.StatusOK)
		if r.str("role") != "admin" || r.str("name") != "Alice Admin" || r.str("id") != e.user.ID {
			t.Errorf("patched row: %s", r.body)
		}
		u, err := e.store.GetUser(context.Background(), e.user.ID)
		if err != nil || u.Role != provider.RoleAdmin || u.Name != "Alice Admin" {
			t.Fatalf("stored user %+v, %v", u, err)
		}
		e.api(t, http.MethodPatch, path, adminToken, map[string]any{"role": "user"}).want(t, "demote", http.StatusOK)

		// An admin cannot lock themself out.
		for _, body := range []map[string]any{{"role": "user"}, {"disabled": true}} {
			r := e.api(t, http.MethodPatch, "/api/v1/admin/users/"+adminUser.ID, adminToken, body)
			r.wantError(t, fmt.Sprint("self ", body), http.StatusBadRequest, "validation_failed", "")
			if errs, _ := r.json["errors"].(map[string]any); errs["self"] == nil {
				t.Errorf("self change %v: %s", body, r.body)
			}
		}

		// Disabling: the user's tokens stop working at once and no sign-in
		// path lets them back in.
		l := e.apiLogin(t, userEmail, userPassword)
		br := e.browser(t)
		f := e.codeFlow(t, br, e.rp(t, trustedID))
		r = e.api(t, http.MethodPatch, path, adminToken, map[string]any{"disabled": true}).want(t, "disable", http.StatusOK)
		if v, _ := r.json["disabled"].(bool); !v {
			t.Errorf("disable answer: %s", r.body)
		}
		if ok, _ := e.valid(t, l.access); ok {
			t.Error("the access token of a disabled user is still valid")
		}
		if e.active(t, f.tok.RefreshToken) || e.active(t, f.tok.AccessToken) {
			t.Error("a token of a disabled user is still active")
		}
		if r := e.apiRefresh(t, l.refresh); r.status == http.StatusOK {
			t.Errorf("refresh of a disabled user succeeded: %s", r.body)
		}
		if r := e.refresh(t, trustedID, f.tok.RefreshToken); r.status == http.StatusOK {
			t.Errorf("OAuth refresh of a disabled user succeeded: %s", r.body)
		}
		e.post(t, "/api/v1/auth/login", map[string]string{"email": userEmail, "password": userPassword}).
			wantError(t, "login of a disabled user", http.StatusForbidden, "account_disabled", "")
		// A wrong password still says only that.
		e.post(t, "/api/v1/auth/login", map[string]string{"email": userEmail, "password": "wrong password here"}).
			wantError(t, "wrong password of a disabled user", http.StatusUnauthorized, "invalid_credentials", "")
		if p := br.get(t, "/account"); p.url.Path == "/account" && p.status == http.StatusOK {
			t.Error("the browser of a disabled user still sees the account page")
		}
		for lang, msg := range map[string]string{"de": "Dieses Konto wurde deaktiviert", "en": "This account has been disabled"} {
			p := e.browser(t).post(t, "/login", url.Values{"email": {userEmail}, "password": {userPassword}, "return_to": {"/account"}},
				"Accept-Language", lang)
			if p.status != http.StatusForbidden || !strings.Contains(p.body, msg) {
				t.Errorf("login page (%s) of a disabled user: %d, want 403 with %q: %.300s", lang, p.status, msg, p.body)
			}
		}

		// Enabled again, the user signs in as before.
		e.api(t, http.MethodPatch, path, adminToken, map[string]any{"disabled": false}).want(t, "enable", http.StatusOK)
		e.apiLogin(t, userEmail, userPassword)

		types := e.eventTypes(t, adminUser.ID)
		if types["admin_user_updated"] < 3 {
			t.Errorf("changes are not audited under the admin: %v", types)
		}

		// An erased account is a tombstone: nothing to change.
		erased := time.Now().UTC().Truncate(time.Millisecond)
		if err := e.store.CreateUser(context.Background(), &provider.User{ID: "user-erased", Email: "erased-x@invalid",
			Role: provider.RoleUser, CreatedAt: erased, UpdatedAt: erased, DeletedAt: &erased}); err != nil {
			t.Fatal(err)
		}
		e.api(t, http.MethodPatch, "/api/v1/admin/users/user-erased", adminToken, map[string]any{"role": "admin"}).
			wantError(t, "tombstone", http.StatusConflict, "account_erased", "")
	})
}

func TestAdminRevokeSessions(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b storetest.Backend) {
		e := setup(t, b)
		ctx := context.Background()
		adminUser, adminToken := e.createAdmin(t, provider.RoleAdmin)
		_, userToken := e.createAdmin(t, provider.RoleUser)
		recv := newLogoutReceiver(t)
		if err := e.store.CreateClient(ctx, &provider.Client{ID: "notes-bc", Name: "Notes", SecretHash: oidc.HashSecret(clientSecret), Trusted: true,
			RedirectURIs: []string{rpRedirect}, GrantTypes: []string{"authorization_code", "refresh_token"}, ResponseTypes: []string{"code"},
			Scopes: strings.Fields(allScopes), BackchannelLogoutURI: recv.srv.URL + "/backchannel", CreatedAt: time.Now().UTC()}); err != nil {
			t.Fatal(err)
		}
		path := "/api/v1/admin/users/" + e.user.ID + "/sessions/revoke"
		e.api(t, http.MethodPost, path, "", nil).wantError(t, "anonymous", http.StatusUnauthorized, "", "")
		e.api(t, http.MethodPost, path, userToken, nil).wantError(t, "non-admin", http.StatusForbidden, "admin_required", "")
		e.api(t, http.MethodPost, "/api/v1/admin/users/nobody/sessions/revoke", adminToken, nil).
			wantError(t, "unknown user", http.StatusNotFound, "not_found", "")

		br := e.browser(t)
		f := e.codeFlow(t, br, e.rp(t, "notes-bc"))
		var c struct {
			SID string `json:"sid"`
		}
		if err := f.idToken.Claims(&c); err != nil || c.SID == "" {
			t.Fatalf("sid: %v", err)
		}
		l := e.apiLogin(t, userEmail, userPassword)
		r := e.api(t, http.MethodPost, path, adminToken, nil).want(t, "revoke", http.StatusOK)
		if num(r, "revokedSessions") != 2 {
			t.Errorf("revokedSessions = %d, want 2 (browser and API login): %s", num(r, "revokedSessions"), r.body)
		}
		if e.active(t, f.tok.RefreshToken) || e.active(t, f.tok.AccessToken) {
			t.Error("a token survived sign-out everywhere")
		}
		if ok, _ := e.valid(t, l.access); ok {
			t.Error("the API login's access token survived sign-out everywhere")
		}
		if n, err := e.notifier.DeliverDue(ctx); err != nil || n != 1 {
			t.Fatalf("DeliverDue = %d, %v; want 1", n, err)
		}
		got := recv.got()
		if len(got) != 1 {
			t.Fatalf("the app received %d logout tokens, want 1", len(got))
		}
		checkLogoutToken(t, e, got[0], "notes-bc", c.SID, e.user.ID)
		// The user is not disabled: they sign in again.
		e.apiLogin(t, userEmail, userPassword)
		if e.eventTypes(t, adminUser.ID)["admin_user_sessions_revoked"] != 1 {
			t.Error("sign-out everywhere is not audited under the admin")
		}

		// Disabling ends the sessions the same way.
		f2 := e.codeFlow(t, br, e.rp(t, "notes-bc"))
		e.api(t, http.MethodPatch, "/api/v1/admin/users/"+e.user.ID, adminToken, map[string]any{"disabled": true}).want(t, "disable", http.StatusOK)
		if n, err := e.notifier.DeliverDue(ctx); err != nil || n != 1 {
			t.Fatalf("DeliverDue after disabling = %d, %v; want 1", n, err)
		}
		if len(recv.got()) != 2 || e.active(t, f2.tok.RefreshToken) {
			t.Errorf("disabling did not end the session: %d logout tokens", len(recv.got()))
		}
	})
}

func TestAdminClients(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b storetest.Backend) {
		e := setup(t, b)
		adminUser, adminToken := e.createAdmin(t, provider.RoleAdmin)
		_, userToken := e.createAdmin(t, provider.RoleUser)
		const path = "/api/v1/admin/clients"
		e.api(t, http.MethodGet, path, "", nil).wantError(t, "anonymous", http.StatusUnauthorized, "", "")
		e.api(t, http.MethodGet, path, userToken, nil).wantError(t, "non-admin", http.StatusForbidden, "admin_required", "")
		e.api(t, http.MethodPost, path, userToken, map[string]any{"id": "x"}).wantError(t, "non-admin create", http.StatusForbidden, "admin_required", "")

		r := e.api(t, http.MethodGet, path, adminToken, nil).want(t, "list", http.StatusOK)
		clients := map[string]map[string]any{}
		for _, c := range r.json["clients"].([]any) {
			m := c.(map[string]any)
			clients[m["id"].(string)] = m
		}
		if clients[trustedID] == nil || clients[oidc.FirstPartyClientID] == nil || clients[oidc.FirstPartyClientID]["builtIn"] != true ||
			clients[trustedID]["builtIn"] != false {
			t.Fatalf("list: %s", r.body)
		}
		if strings.Contains(r.body, "ecret") {
			t.Errorf("the list shows secrets: %.300s", r.body)
		}

		// Create: the secret is in this answer and nowhere else.
		r = e.api(t, http.MethodPost, path, adminToken, map[string]any{"id": "reports", "name": "Reports",
			"grantTypes": []string{"client_credentials"}, "scopes": []string{"credits:read"}}).want(t, "create", http.StatusCreated)
		secret := r.str("clientSecret")
		if len(secret) < 40 || r.str("id") != "reports" || r.header.Get("Cache-Control") != "no-store" {
			t.Fatalf("create answer: %s", r.body)
		}
		if tok := e.postForm(t, "/oauth2/token", "reports", secret, url.Values{"grant_type": {"client_credentials"}}); tok.status != http.StatusOK {
			t.Fatalf("the new client cannot get a token: %d %s", tok.status, tok.body)
		}
		if r := e.api(t, http.MethodGet, path, adminToken, nil); strings.Contains(r.body, secret) {
			t.Error("the secret is shown again in the list")
		}
		// Defaults as the CLI's; a public client has no secret.
		r = e.api(t, http.MethodPost, path, adminToken, map[string]any{"id": "notes-spa", "name": "Notes", "public": true,
			"redirectUris": []string{"https://notes.mana.how/cb"}}).want(t, "create public", http.StatusCreated)
		if r.str("clientSecret") != "" || fmt.Sprint(r.json["grantTypes"]) != "[authorization_code refresh_token]" ||
			fmt.Sprint(r.json["scopes"]) != "[openid profile email offline_access]" {
			t.Errorf("public client: %s", r.body)
		}

		// Validation is the CLI's, every problem at once, by field.
		r = e.api(t, http.MethodPost, path, adminToken, map[string]any{"id": "bad id", "redirectUris": []string{"http://evil.example/cb"},
			"grantTypes": []string{"password"}})
		r.wantError(t, "invalid client", http.StatusBadRequest, "validation_failed", "")
		errs, _ := r.json["errors"].(map[string]any)
		for _, f := range []string{"id", "redirectUris", "grantTypes"} {
			if errs[f] == nil {
				t.Errorf("no error for %s: %s", f, r.body)
			}
		}
		e.api(t, http.MethodPost, path, adminToken, `{"id": 5}`).wantError(t, "wrong type", http.StatusBadRequest, "invalid_json", "")
		e.api(t, http.MethodPost, path, adminToken, map[string]any{"id": "reports", "name": "Again", "grantTypes": []string{"client_credentials"}}).
			wantError(t, "duplicate", http.StatusConflict, "client_exists", "")
		e.api(t, http.MethodPost, path, adminToken, map[string]any{"id": oidc.FirstPartyClientID, "public": true, "redirectUris": []string{"https://x.mana.how/cb"}}).
			wantError(t, "built-in id", http.StatusForbidden, "built_in_client", "")
		e.api(t, http.MethodPatch, path+"/"+oidc.FirstPartyClientID, adminToken, map[string]any{"disabled": true}).
			wantError(t, "built-in patch", http.StatusForbidden, "built_in_client", "")
		e.api(t, http.MethodDelete, path+"/"+oidc.ServiceClientID, adminToken, nil).
			wantError(t, "built-in delete", http.StatusForbidden, "built_in_client", "")

		// Patch: redirect URIs replace the old ones, with the same checks.
		r = e.api(t, http.MethodPatch, path+"/notes-spa", adminToken, map[string]any{"redirectUris": []string{"https://notes.mana.how/new", "http://localhost:5173/cb"},
			"name": "Notes 2"}).want(t, "patch", http.StatusOK)
		if fmt.Sprint(r.json["redirectUris"]) != "[https://notes.mana.how/new http://localhost:5173/cb]" || r.str("name") != "Notes 2" {
			t.Errorf("patched: %s", r.body)
		}
		r = e.api(t, http.MethodPatch, path+"/notes-spa", adminToken, map[string]any{"redirectUris": []string{"javascript:alert(1)"}})
		r.wantError(t, "bad redirect", http.StatusBadRequest, "validation_failed", "")
		e.api(t, http.MethodPatch, path+"/nobody", adminToken, map[string]any{"name": "x"}).wantError(t, "unknown client", http.StatusNotFound, "not_found", "")

		// Disabled, the client is unknown to the token endpoint at once.
		r = e.api(t, http.MethodPatch, path+"/reports", adminToken, map[string]any{"disabled": true}).want(t, "disable", http.StatusOK)
		if v, _ := r.json["disabled"].(bool); !v {
			t.Errorf("disable answer: %s", r.body)
		}
		if tok := e.postForm(t, "/oauth2/token", "reports", secret, url.Values{"grant_type": {"client_credentials"}}); tok.status != http.StatusUnauthorized ||
			tok.str("error") != "invalid_client" {
			t.Errorf("a disabled client got: %d %s", tok.status, tok.body)
		}
		e.api(t, http.MethodPatch, path+"/reports", adminToken, map[string]any{"disabled": false}).want(t, "enable", http.StatusOK)
		if tok := e.postForm(t, "/oauth2/token", "reports", secret, url.Values{"grant_type": {"client_credentials"}}); tok.status != http.StatusOK {
			t.Errorf("the enabled client got: %d %s", tok.status, tok.body)
		}

		e.api(t, http.MethodDelete, path+"/reports", adminToken, nil).want(t, "delete", http.StatusOK)
		e.api(t, http.MethodDelete, path+"/reports", adminToken, nil).wantError(t, "delete again", http.StatusNotFound, "not_found", "")
		if tok := e.postForm(t, "/oauth2/token", "reports", secret, url.Values{"grant_type": {"client_credentials"}}); tok.status != http.StatusUnauthorized {
			t.Errorf("a deleted client got: %d %s", tok.status, tok.body)
		}
		types := e.eventTypes(t, adminUser.ID)
		if types["admin_client_created"] != 2 || types["admin_client_updated"] != 3 || types["admin_client_deleted"] != 1 {
			t.Errorf("client changes audited as %v", types)
		}
	})
}

// TestAdminAPIOutage: with the database unreachable the admin API answers
// 503, never a refusal the caller would take for a verdict.
func TestAdminAPIOutage(t *testing.T) {
	var proxy *faultproxy.Proxy
	e := setup(t, postgresBackend(t), viaProxy(t, &proxy), func(o *setupOpts) { o.databaseTimeout = 500 * time.Millisecond })
	_, adminToken := e.createAdmin(t, provider.RoleAdmin)
	proxy.Set(faultproxy.Cut)
	for _, c := range []struct{ method, path string }{
		{http.MethodGet, "/api/v1/admin/users?search=a"},
		{http.MethodPatch, "/api/v1/admin/users/" + "user-alice-0001"},
		{http.MethodPost, "/api/v1/admin/users/user-alice-0001/sessions/revoke"},
		{http.MethodGet, "/api/v1/admin/clients"},
		{http.MethodDelete, "/api/v1/admin/clients/" + trustedID},
	} {
		var body any
		if c.method == http.MethodPatch {
			body = map[string]any{"name": "X"}
		}
		r := e.api(t, c.method, c.path, adminToken, body)
		if r.status != http.StatusServiceUnavailable || r.header.Get("Retry-After") == "" {
			t.Errorf("%s %s during the outage: %d, want 503 with Retry-After: %.300s", c.method, c.path, r.status, r.body)
		}
	}
	proxy.Set(faultproxy.Forward)
	e.api(t, http.MethodGet, "/api/v1/admin/users", adminToken, nil).want(t, "after the outage", http.StatusOK)
}

// TestAdminByUserID: an id in ADMIN_USER_IDS is an admin whatever its role;
// disabled, it is not.
func TestAdminByUserID(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b storetest.Backend) {
		e := setup(t, b, func(o *setupOpts) {
			o.admin = func(c *admin.Config) { c.AdminIDs = []string{"user-admin-user"} }
		})
		_, token := e.createAdmin(t, provider.RoleUser)
		e.api(t, http.MethodGet, "/api/v1/admin/users", token, nil).want(t, "listed admin", http.StatusOK)
		// Keeping their role is no demotion; disabling themself still is refused.
		e.api(t, http.MethodPatch, "/api/v1/admin/users/user-admin-user", token, map[string]any{"role": "user"}).want(t, "same role", http.StatusOK)
		e.api(t, http.MethodPatch, "/api/v1/admin/users/user-admin-user", token, map[string]any{"disabled": true}).
			wantError(t, "self-disable", http.StatusBadRequest, "validation_failed", "")
		_, other := e.createAdmin(t, provider.RoleAdmin)
		e.api(t, http.MethodPatch, "/api/v1/admin/users/user-admin-user", other, map[string]any{"disabled": true}).want(t, "disable", http.StatusOK)
		if r := e.api(t, http.MethodGet, "/api/v1/admin/users", token, nil); r.status != http.StatusUnauthorized && r.status != http.StatusForbidden {
			t.Errorf("a disabled listed admin: %d %s", r.status, r.body)
		}
	})
}

// setDisabled flips the flag in the store alone, as a sign-in racing the
// admin's disabling would see it: the user's tokens and sessions are still
// there, and every sign-in path must refuse on the flag itself.
func (e *env) setDisabled(t *testing.T, disabled bool) {
	t.Helper()
	ctx := context.Background()
	u, err := e.store.GetUser(ctx, e.user.ID)
	if err != nil {
		t.Fatal(err)
	}
	u.Disabled = disabled
	if err := e.store.UpdateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
}

// TestDisabledAccountEverywhere: the one rule (User.CanSignIn) holds on
// every path that signs in or continues a sign-in.
func TestDisabledAccountEverywhere(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b storetest.Backend) {
		c := &clock{}
		mb, sender := startMailbox(t)
		e := setup(t, b, withClock(c), withMailer(sender))
		l := e.apiLogin(t, userEmail, userPassword)
		br := e.browser(t)
		f := e.codeFlow(t, br, e.rp(t, trustedID))
		e.post(t, "/api/v1/auth/forgot-password", map[string]string{"email": userEmail}).want(t, "forgot", http.StatusOK)
		token := mb.wait(t, userEmail, 1).link(t, "/reset-password").Query().Get("token")

		e.setDisabled(t, true)
		r := e.api(t, http.MethodGet, "/oauth2/userinfo", f.tok.AccessToken, nil)
		if r.status != http.StatusForbidden || r.str("error") != "account_disabled" {
			t.Errorf("userinfo: %d %s", r.status, r.body)
		}
		e.apiRefresh(t, l.refresh).wantError(t, "API refresh", http.StatusForbidden, "account_disabled", "")
		if r := e.refresh(t, trustedID, f.tok.RefreshToken); r.status != http.StatusBadRequest || r.str("error") != "invalid_grant" {
			t.Errorf("OAuth refresh: %d %s", r.status, r.body)
		}
		if p := br.get(t, "/account"); isAccountPage(p) {
			t.Error("the browser session of a disabled user still opens the account page")
		}
		e.post(t, "/api/v1/auth/reset-password", map[string]string{"token": token, "newPassword": "a-new-password"}).
			wantError(t, "reset", http.StatusForbidden, "account_disabled", "")
		e.setDisabled(t, false)
		e.apiLogin(t, userEmail, userPassword) // the reset changed nothing

		// Disabled between the password and the second factor.
		secret, _ := e.enableTOTP(t, c, e.apiLogin(t, userEmail, userPassword).access)
		r = e.post(t, "/api/v1/auth/login", map[string]string{"email": userEmail, "password": userPassword}).want(t, "login with 2fa", http.StatusOK)
		ch := r.str("challenge")
		p := e.browser(t).signIn(t, userEmail, userPassword)
		pageCh := submatch(t, challengeRE, p.body, "challenge")
		e.setDisabled(t, true)
		c.advance(30 * time.Second)
		e.post(t, "/api/v1/auth/login/2fa", map[string]string{"challenge": ch, "code": code(t, secret, c)}).
			wantError(t, "API 2fa step", http.StatusForbidden, "account_disabled", "")
		c.advance(30 * time.Second)
		p = e.browser(t).post(t, "/login/2fa", url.Values{"challenge": {pageCh}, "code": {code(t, secret, c)}}, "Accept-Language", "en")
		if p.status != http.StatusForbidden || !strings.Contains(p.body, "This account has been disabled") {
			t.Errorf("page 2fa step: %d %.300s", p.status, p.body)
		}
	})
}

// TestAdminRateLimit: the admin routes share the rule "admin".
func TestAdminRateLimit(t *testing.T) {
	e := setup(t, storetest.Backends()[0], func(o *setupOpts) {
		o.limiter, o.limits = ratelimit.NewMemory(nil), map[string]server.Limit{"admin": {Count: 3, Window: time.Minute}}
	})
	_, token := e.createAdmin(t, provider.RoleAdmin)
	e.api(t, http.MethodGet, "/api/v1/admin/users", token, nil).want(t, "1st", http.StatusOK)
	e.api(t, http.MethodGet, "/api/v1/admin/clients", token, nil).want(t, "2nd", http.StatusOK)
	e.api(t, http.MethodPatch, "/api/v1/admin/users/"+e.user.ID, token, map[string]any{"name": "A"}).want(t, "3rd", http.StatusOK)
	want429(t, "4th", e.api(t, http.MethodPost, "/api/v1/admin/users/"+e.user.ID+"/sessions/revoke", token, nil))
	if _, err := server.ParseLimits("admin=10/1m"); err != nil {
		t.Errorf("RATE_LIMITS cannot set the admin rule: %v", err)
	}
}
