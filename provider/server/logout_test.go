package server_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/manacore/mana-core-auth/provider/store/storetest"
)

// TestLogoutByHintWithoutCookie: a relying party that calls the
// end-session endpoint from its server (no browser cookie, as
// zitadel/oidc's rp.EndSession and oauth2-proxy's backend logout do) ends
// the session its ID token names, and the answer never claims a sign-out
// that did not happen.
func TestLogoutByHintWithoutCookie(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b storetest.Backend) {
		e := setup(t, b)
		user := e.browser(t)
		r := e.rp(t, trustedID)
		f := e.codeFlow(t, user, r)

		server := e.browser(t) // the relying party's backend: no cookie
		q := url.Values{"id_token_hint": {f.rawID}, "post_logout_redirect_uri": {rpPostLogout}, "state": {"st-1"}}
		p := server.get(t, "/oauth2/logout?"+q.Encode())
		if p.status != http.StatusSeeOther {
			t.Fatalf("server-side logout: %d %.300s", p.status, p.body)
		}
		if loc := p.location(t); loc.Scheme+"://"+loc.Host+loc.Path != rpPostLogout || loc.Query().Get("state") != "st-1" {
			t.Errorf("redirect %s", loc)
		}
		if e.active(t, f.tok.RefreshToken) || e.active(t, f.tok.AccessToken) {
			t.Error("the hinted session's tokens survived")
		}
		p = user.get(t, r.cfg.AuthCodeURL("after-server-logout", oauth2.SetAuthURLParam("prompt", "none")))
		if cq := e.callback(t, p); cq.Get("error") != "login_required" {
			t.Fatalf("prompt=none after a server-side logout: %v (the session is still alive)", cq)
		}

		// The same hint again ends nothing, and the page says so.
		p = server.get(t, "/oauth2/logout?"+url.Values{"id_token_hint": {f.rawID}}.Encode())
		if p.status != http.StatusOK || !strings.Contains(p.body, `data-testid="not-signed-in"`) || strings.Contains(p.body, `data-testid="loggedout"`) {
			t.Errorf("repeated hint: %d, want the not-signed-in page: %.300s", p.status, p.body)
		}
		// So does a request without hint and cookie.
		p = e.browser(t).get(t, "/oauth2/logout")
		if p.status != http.StatusOK || !strings.Contains(p.body, `data-testid="not-signed-in"`) {
			t.Errorf("logout without session: %d %.300s", p.status, p.body)
		}

		// A browser that is signed in and confirms sees the real thing.
		f2 := e.codeFlow(t, user, r)
		p = user.get(t, "/oauth2/logout?"+url.Values{"id_token_hint": {f2.rawID}}.Encode())
		if p.status != http.StatusOK || !strings.Contains(p.body, `data-testid="loggedout"`) {
			t.Errorf("browser logout with its own hint: %d %.300s", p.status, p.body)
		}
		if e.active(t, f2.tok.RefreshToken) {
			t.Error("browser logout left the tokens active")
		}
	})
}
