package server_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/manacore/mana-core-auth/provider"
	"github.com/manacore/mana-core-auth/provider/admin"
	"github.com/manacore/mana-core-auth/provider/store/storetest"
)

// getLang is get with an Accept-Language header.
func (b *browser) getLang(t testing.TB, path, acceptLanguage string) *page {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, b.e.issuer+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept-Language", acceptLanguage)
	return b.do(t, req)
}

// adminBrowser signs a browser in as the admin account, whose session has
// only the password.
func (e *env) adminBrowser(t testing.TB, adminUser *provider.User) *browser {
	t.Helper()
	br := e.browser(t)
	if p := br.signIn(t, adminUser.Email, adminPassword); !isAccountPage(p) {
		t.Fatalf("admin sign-in: %d %s", p.status, p.url)
	}
	return br
}

func wantPage(t testing.TB, what string, p *page, status int, testids ...string) {
	t.Helper()
	if p.status != status {
		t.Fatalf("%s: status %d, want %d (%s): %.600s", what, p.status, status, p.url, p.body)
	}
	for _, id := range testids {
		if !strings.Contains(p.body, `data-testid="`+id+`"`) {
			t.Errorf("%s: no %q on the page", what, id)
		}
	}
}

func TestAdminPagesAccess(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b storetest.Backend) {
		const key = "service-key-0123456789"
		chat := startFakeApp(t, key, admin.Entity{Entity: "messages", Count: 40, Label: "Messages"})
		e := setup(t, b, func(o *setupOpts) {
			o.admin = func(c *admin.Config) {
				c.FetchTimeout = 3 * time.Second // the dead backend fails at once; the healthy one needs a first service token
				c.Backends = []admin.Backend{
					{ID: "chat", Name: "Chat", Icon: "💬", URL: chat.URL, ServiceKey: key},
					{ID: "presi", Name: "Presi", Icon: "📊", URL: deadURL(t), ServiceKey: key},
				}
			}
		})
		adminUser, _ := e.createAdmin(t, provider.RoleAdmin)
		userPage := "/admin/users/" + e.user.ID

		// Anonymous: to the login page, coming back to the page asked for.
		anon := e.browser(t)
		for _, path := range []string{"/admin", userPage, "/admin/clients", userPage + "/delete"} {
			p := anon.get(t, path)
			if !isLoginPage(p) || p.url.Query().Get("return_to") != path {
				t.Errorf("anonymous %s: %d %s", path, p.status, p.url)
			}
		}
		if p := anon.post(t, userPage+"/role", url.Values{"role": {"admin"}}); !isLoginPage(p) {
			t.Errorf("anonymous role change: %d %s", p.status, p.url)
		}

		// A signed-in non-admin: 403, for pages and actions alike.
		user := e.browser(t)
		if p := user.signIn(t, userEmail, userPassword); !isAccountPage(p) {
			t.Fatalf("user sign-in: %d", p.status)
		}
		for _, path := range []string{"/admin", "/admin/users/" + adminUser.ID, "/admin/clients"} {
			p := user.get(t, path)
			if p.status != http.StatusForbidden || !strings.Contains(p.body, "administrators only") {
				t.Errorf("non-admin %s: %d %.300s", path, p.status, p.body)
			}
		}
		for _, path := range []string{"/admin/users/" + adminUser.ID + "/status", "/admin/users/" + adminUser.ID + "/delete", "/admin/clients"} {
			if p := user.post(t, path, url.Values{"disabled": {"1"}, "confirm_email": {adminUser.Email}}); p.status != http.StatusForbidden {
				t.Errorf("non-admin POST %s: %d", path, p.status)
			}
		}
		if u, err := e.store.GetUser(context.Background(), adminUser.ID); err != nil || u.Disabled || u.DeletedAt != nil {
			t.Fatalf("a non-admin changed the admin: %+v %v", u, err)
		}

		if strings.Contains(user.get(t, "/account").body, `data-testid="admin-link"`) {
			t.Error("a non-admin's account page links to /admin")
		}

		// The admin (no second factor enrolled: no step-up).
		br := e.adminBrowser(t, adminUser)
		wantPage(t, "admin's account page", br.get(t, "/account"), http.StatusOK, "admin-link")
		p := br.get(t, "/admin")
		wantPage(t, "admin users", p, http.StatusOK, "search-form", "page-of", "show-erased", "nav-clients")
		if !strings.Contains(p.body, "Page 1 of 1") || !strings.Contains(p.body, `src="/static/js/admin.js"`) {
			t.Errorf("users page lacks paging or its script: %.2000s", p.body)
		}
		if p = br.getLang(t, "/admin?q=alice", "de-DE"); !strings.Contains(p.body, "Seite 1 von 1") || !strings.Contains(p.body, `value="alice"`) {
			t.Errorf("German users page: %.1500s", p.body)
		}

		p = br.get(t, userPage)
		wantPage(t, "user page", p, http.StatusOK, "user-card", "stats", "stat-entities", "stat-apps", "stat-credits",
			"stat-transactions", "auth-panel", "credits-panel", "apps", "actions", "revoke-form", "role-form", "status-form", "delete-link")
		if !strings.Contains(p.body, userEmail) || strings.Count(p.body, `data-testid="app-card"`) != 2 ||
			!strings.Contains(p.body, "Messages") || !strings.Contains(p.body, "1/2") || !strings.Contains(p.body, "Backend unreachable") ||
			!strings.Contains(p.body, `data-testid="status-ok"`) || !strings.Contains(p.body, `data-testid="status-down"`) {
			t.Errorf("user page content: %.4000s", p.body)
		}
		if p = br.getLang(t, userPage, "de"); !strings.Contains(p.body, "Backend nicht erreichbar") || !strings.Contains(p.body, "Überall abmelden") {
			t.Errorf("German user page: %.3000s", p.body)
		}
		// Every read of the user's data is audited under the admin.
		if n := e.eventTypes(t, adminUser.ID)[admin.EventUserDataViewed]; n < 2 {
			t.Errorf("%d audited reads, want one per page view", n)
		}
		// The admin's own page offers no demotion, disabling or deletion.
		if p = br.get(t, "/admin/users/"+adminUser.ID); strings.Contains(p.body, `data-testid="role-form"`) || strings.Contains(p.body, `data-testid="delete-link"`) {
			t.Error("own page offers role change or deletion")
		}
		if p = br.get(t, "/admin/users/nobody"); p.status != http.StatusNotFound {
			t.Errorf("unknown user: %d", p.status)
		}

		// The deletion dialog: consequences, the email to type, and a server
		// that refuses a wrong one.
		p = br.get(t, userPage+"/delete")
		wantPage(t, "delete dialog", p, http.StatusOK, "delete-dialog", "consequences", "confirm-email", "delete-submit")
		if !strings.Contains(p.body, `data-confirm-email="`+userEmail+`"`) || strings.Count(p.body, `data-testid="consequence-app"`) != 2 {
			t.Errorf("dialog: %.3000s", p.body)
		}
		for _, typed := range []string{"", "ALICE@example.com", userEmail + " ", "someone@example.com"} {
			p = br.post(t, userPage+"/delete", url.Values{"confirm_email": {typed}})
			if p.status != http.StatusBadRequest || !strings.Contains(p.body, "does not match") {
				t.Errorf("typed %q: %d", typed, p.status)
			}
		}
		if u, err := e.store.GetUser(context.Background(), e.user.ID); err != nil || u.DeletedAt != nil || u.Email != userEmail {
			t.Fatalf("user changed by a refused deletion: %+v %v", u, err)
		}
		if p = br.post(t, userPage+"/delete", url.Values{"confirm_email": {userEmail}}, "Sec-Fetch-Site", "cross-site"); p.status != http.StatusForbidden {
			t.Errorf("cross-site deletion: %d", p.status)
		}

		p = br.get(t, "/admin/clients")
		wantPage(t, "clients", p, http.StatusOK, "clients", "client-form", "client-id", "client-redirects")
		if p = br.getLang(t, "/admin/clients", "de"); !strings.Contains(p.body, "Client anlegen") {
			t.Errorf("German clients page")
		}
	})
}

func TestAdminPagesStepUp(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b storetest.Backend) {
		c := &clock{}
		e := setup(t, b, withClock(c))
		adminUser, token := e.createAdmin(t, provider.RoleAdmin)
		// Signed in with the password only, then a second factor enrolled.
		br := e.adminBrowser(t, adminUser)
		secret, recovery := e.enableTOTP(t, c, token)

		p := br.get(t, "/admin/users/"+e.user.ID)
		wantPage(t, "step-up prompt", p, http.StatusOK, "stepup-form", "stepup-code")
		if strings.Contains(p.body, `data-testid="user-card"`) || !strings.Contains(p.body, `name="return_to" value="/admin/users/`+e.user.ID+`"`) {
			t.Fatalf("step-up page shows the user or loses the way back: %.1500s", p.body)
		}
		if n := e.eventTypes(t, adminUser.ID)[admin.EventUserDataViewed]; n != 0 {
			t.Errorf("user data read before the step-up: %d events", n)
		}
		// An action is refused too.
		if p = br.post(t, "/admin/users/"+e.user.ID+"/status", url.Values{"disabled": {"1"}}); p.status != http.StatusForbidden ||
			!strings.Contains(p.body, `data-testid="stepup-form"`) {
			t.Errorf("action without step-up: %d", p.status)
		}
		if u, _ := e.store.GetUser(context.Background(), e.user.ID); u.Disabled {
			t.Fatal("user disabled without step-up")
		}

		for _, bad := range []string{"000000", "", "not-a-recovery-code"} {
			p = br.post(t, "/admin/step-up", url.Values{"code": {bad}, "return_to": {"/admin/users/" + e.user.ID}})
			if p.status != http.StatusBadRequest || !strings.Contains(p.body, `data-testid="error"`) {
				t.Errorf("wrong code %q: %d", bad, p.status)
			}
		}
		if p = br.get(t, "/admin"); !strings.Contains(p.body, `data-testid="stepup-form"`) {
			t.Fatal("a wrong code passed the step-up")
		}

		c.advance(30 * time.Second)
		p = br.post(t, "/admin/step-up", url.Values{"code": {code(t, secret, c)}, "return_to": {"/admin/users/" + e.user.ID}})
		wantPage(t, "after step-up", p, http.StatusOK, "user-card")
		if p.url.Path != "/admin/users/"+e.user.ID {
			t.Errorf("step-up returned to %s", p.url)
		}
		sessions, err := e.store.ListSessions(context.Background(), adminUser.ID, c.now())
		if err != nil {
			t.Fatal(err)
		}
		stepped := 0
		for _, s := range sessions {
			if slices.Contains(s.AuthMethods, "otp") {
				stepped++
			}
		}
		if stepped != 1 {
			t.Errorf("%d sessions carry otp, want the browser's one", stepped)
		}
		wantPage(t, "admin after step-up", br.get(t, "/admin"), http.StatusOK, "search-form")

		// A recovery code steps up as well; a step-up's return address stays
		// inside /admin.
		br2 := e.adminBrowser2FA(t, adminUser, c, secret)
		wantPage(t, "signed in with 2FA", br2.get(t, "/admin"), http.StatusOK, "search-form")
		br3 := e.browser(t)
		p = br3.signIn(t, adminUser.Email, adminPassword)
		ch := submatch(t, challengeRE, p.body, "challenge")
		if p = br3.post(t, "/login/2fa", url.Values{"challenge": {ch}, "code": {recovery[0]}}); !isAccountPage(p) {
			t.Fatalf("recovery login: %d", p.status)
		}
		wantPage(t, "signed in with a recovery code", br3.get(t, "/admin"), http.StatusOK, "search-form")

		br4 := e.browser(t)
		p = br4.signIn(t, userEmail, userPassword)
		if !isAccountPage(p) {
			t.Fatalf("user sign-in: %d", p.status)
		}
		if p = br4.post(t, "/admin/step-up", url.Values{"code": {"123456"}}); p.status != http.StatusForbidden {
			t.Errorf("non-admin step-up: %d", p.status)
		}
	})
}

// adminBrowser2FA signs a browser in with password and TOTP code.
func (e *env) adminBrowser2FA(t testing.TB, u *provider.User, c *clock, secret string) *browser {
	t.Helper()
	br := e.browser(t)
	p := br.signIn(t, u.Email, adminPassword)
	ch := submatch(t, challengeRE, p.body, "challenge")
	c.advance(30 * time.Second)
	if p = br.post(t, "/login/2fa", url.Values{"challenge": {ch}, "code": {code(t, secret, c)}}); !isAccountPage(p) {
		t.Fatalf("2fa login: %d %s", p.status, p.url)
	}
	return br
}

func TestAccountDataPages(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b storetest.Backend) {
		e := setup(t, b)
		anon := e.browser(t)
		for _, path := range []string{"/account/data", "/account/data/export", "/account/delete"} {
			if p := anon.get(t, path); !isLoginPage(p) || p.url.Query().Get("return_to") == "" {
				t.Errorf("anonymous %s: %d %s", path, p.status, p.url)
			}
		}
		br := e.browser(t)
		p := br.signIn(t, userEmail, userPassword)
		wantPage(t, "account", p, http.StatusOK, "data-link", "delete-account-link")

		wantPage(t, "your data", br.get(t, "/account/data"), http.StatusOK, "export", "download", "apps", "delete-link")
		if p = br.getLang(t, "/account/data", "de"); !strings.Contains(p.body, "Deine Daten") {
			t.Error("German data page")
		}
		p = br.get(t, "/account/data/export")
		if p.status != http.StatusOK || !strings.HasPrefix(p.header.Get("Content-Type"), "application/json") ||
			!strings.Contains(p.header.Get("Content-Disposition"), "attachment") || !json.Valid([]byte(p.body)) {
			t.Errorf("export: %d %v %.300s", p.status, p.header, p.body)
		}

		p = br.get(t, "/account/delete")
		wantPage(t, "delete page", p, http.StatusOK, "delete-form", "password", "confirm-email", "consequences")
		if strings.Contains(p.body, `data-testid="code"`) || !strings.Contains(p.body, `data-confirm-email="`+userEmail+`"`) {
			t.Errorf("delete page without 2FA: %.2000s", p.body)
		}
		if p = br.post(t, "/account/delete", url.Values{"password": {userPassword}, "confirm_email": {userEmail}}, "Sec-Fetch-Site", "cross-site"); p.status != http.StatusForbidden {
			t.Errorf("cross-site self-deletion: %d", p.status)
		}
		// Without a ticket the result page is the plain confirmation.
		wantPage(t, "deleted page", anon.get(t, "/account/deleted?r=forged.ticket"), http.StatusOK, "deleted-text")
	})
}
