package server_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/manacore/mana-core-auth/provider/httpx"
	"github.com/manacore/mana-core-auth/provider/store/storetest"
)

// sessionToToken posts to /api/v1/auth/session-to-token from the browser.
func (b *browser) sessionToToken(t *testing.T, origin string) *page {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, b.e.issuer+"/api/v1/auth/session-to-token", nil)
	if origin != "" {
		req.Header.Set("Origin", origin)
	}
	return b.do(t, req)
}

// TestSessionToToken: a first-party SPA turns the shared cookie into the
// login token pair, bound to the browser session; the session's end takes
// effect at once for it and for get-session.
func TestSessionToToken(t *testing.T) {
	cors, err := httpx.NewCORS([]string{"https://*.mana.test"})
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range storetest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			e := setup(t, b, func(o *setupOpts) { o.cors = cors })
			br := e.browser(t)
			if p := br.get(t, "/api/auth/get-session"); p.status != http.StatusOK || strings.TrimSpace(p.body) != "null" {
				t.Fatalf("get-session without a session: %d %q", p.status, p.body)
			}
			if p := br.sessionToToken(t, ""); p.status != http.StatusUnauthorized || !strings.Contains(p.body, "No session cookie found") {
				t.Fatalf("without a cookie: %d %s", p.status, p.body)
			}
			f := e.codeFlow(t, br, e.rp(t, trustedID))
			var idClaims struct {
				SID string `json:"sid"`
			}
			if err := f.idToken.Claims(&idClaims); err != nil || idClaims.SID == "" {
				t.Fatalf("id token sid: %v", err)
			}

			p := br.sessionToToken(t, "https://todo.mana.test")
			if p.status != http.StatusOK {
				t.Fatalf("session-to-token: %d %s", p.status, p.body)
			}
			var pair struct {
				AccessToken  string `json:"accessToken"`
				RefreshToken string `json:"refreshToken"`
				ExpiresIn    int    `json:"expiresIn"`
				TokenType    string `json:"tokenType"`
				User         struct {
					Email string `json:"email"`
				} `json:"user"`
			}
			if err := json.Unmarshal([]byte(p.body), &pair); err != nil {
				t.Fatal(err)
			}
			if pair.TokenType != "Bearer" || pair.ExpiresIn != 900 || pair.RefreshToken == "" || pair.User.Email != userEmail {
				t.Errorf("session-to-token body: %s", p.body)
			}
			_, claims := e.verifyJWT(t, pair.AccessToken, jose.EdDSA)
			if claims["sid"] != idClaims.SID {
				t.Errorf("token bound to session %v, browser session is %s", claims["sid"], idClaims.SID)
			}
			if p := br.sessionToToken(t, "https://evil.example"); p.status != http.StatusForbidden {
				t.Errorf("foreign origin: %d", p.status)
			}
			if p := br.get(t, "/api/auth/get-session"); p.status != http.StatusOK || !strings.Contains(p.body, userEmail) || !strings.Contains(p.body, idClaims.SID) {
				t.Errorf("get-session: %d %s", p.status, p.body)
			}

			// Signing out in the browser ends it for the SPA at once.
			br.get(t, "/oauth2/logout?"+url.Values{"id_token_hint": {f.rawID}}.Encode())
			if p := br.get(t, "/api/auth/get-session"); strings.TrimSpace(p.body) != "null" {
				t.Errorf("get-session after logout: %s", p.body)
			}
			if e.active(t, pair.AccessToken) || e.active(t, pair.RefreshToken) {
				t.Error("session-to-token tokens survived the logout")
			}
			if p := br.sessionToToken(t, ""); p.status != http.StatusUnauthorized {
				t.Errorf("session-to-token after logout: %d", p.status)
			}
		})
	}
}
