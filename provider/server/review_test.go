package server_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/manacore/mana-core-auth/provider"
	"github.com/manacore/mana-core-auth/provider/ratelimit"
	"github.com/manacore/mana-core-auth/provider/server"
	"github.com/manacore/mana-core-auth/provider/store/storetest"
)

// bearerGet calls an API route with a Bearer token and returns the status.
func bearerGet(t *testing.T, e *env, path, token string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, e.issuer+path, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func validate(t *testing.T, e *env, token string) map[string]any {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"token": token})
	resp, err := http.Post(e.issuer+"/api/v1/auth/validate", "application/json", strings.NewReader(string(body)))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestThirdPartyTokensStayThirdParty: a token of an app the user merely
// consented to carries no Mana API audience and cannot use the account API
// (sessions, password, 2FA), while a first-party token can.
func TestThirdPartyTokensStayThirdParty(t *testing.T) {
	for _, b := range storetest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			e := setup(t, b)
			br := e.browser(t)
			first := e.codeFlow(t, br, e.rp(t, trustedID))
			if err := e.store.SaveConsent(context.Background(), &provider.Consent{UserID: e.user.ID, ClientID: thirdPartyID,
				Scopes: strings.Fields(allScopes), GrantedAt: time.Now().UTC()}); err != nil {
				t.Fatal(err)
			}
			third := e.codeFlow(t, br, e.rp(t, thirdPartyID))

			_, claims := e.verifyJWT(t, third.tok.AccessToken, jose.EdDSA)
			auds, _ := claims["aud"].([]any)
			for _, a := range auds {
				if a == "manacore" {
					t.Errorf("third-party access token carries the Mana API audience: %v", auds)
				}
			}
			if len(auds) == 0 {
				t.Error("access token without aud (RFC 9068 requires one)")
			}
			if v := validate(t, e, third.tok.AccessToken); v["valid"] != false {
				t.Errorf("third-party token validated for the Mana APIs: %v", v)
			}
			if v := validate(t, e, first.tok.AccessToken); v["valid"] != true {
				t.Errorf("first-party token refused: %v", v)
			}
			if got := bearerGet(t, e, "/api/v1/auth/sessions", third.tok.AccessToken); got != http.StatusForbidden {
				t.Errorf("third-party token on the account API: %d, want 403", got)
			}
			if got := bearerGet(t, e, "/api/v1/auth/sessions", first.tok.AccessToken); got != http.StatusOK {
				t.Errorf("first-party token on the account API: %d, want 200", got)
			}
			if ir := e.introspect(t, third.tok.AccessToken); strings.Contains(ir.body, "manacore") {
				t.Errorf("introspection of a third-party token names the Mana audience: %s", ir.body)
			}

			// An access token is signed by the same keys but is no ID
			// token: as id_token_hint it must not sign anyone out.
			p := br.get(t, "/oauth2/logout?"+url.Values{"id_token_hint": {first.tok.AccessToken}}.Encode())
			if p.status == http.StatusSeeOther || strings.Contains(p.body, `data-testid="loggedout`) {
				t.Errorf("access token accepted as id_token_hint: %d", p.status)
			}
			if !e.active(t, first.tok.RefreshToken) {
				t.Error("session ended by an access token used as id_token_hint")
			}
		})
	}
}

// TestClientLimits: token and introspection requests are limited per
// authenticated client (429 with Retry-After), and another client keeps
// its own allowance.
func TestClientLimits(t *testing.T) {
	for _, b := range storetest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			limits := server.DefaultLimits()
			limits["token"] = server.Limit{Count: 3, Window: time.Minute}
			limits["introspect"] = server.Limit{Count: 2, Window: time.Minute}
			e := setup(t, b, func(o *setupOpts) { o.limiter = ratelimit.NewMemory(nil); o.limits = limits })
			form := url.Values{"grant_type": {"client_credentials"}}
			var tok string
			for i := 0; i < 3; i++ {
				r := e.postForm(t, "/oauth2/token", serviceID, clientSecret, form)
				if r.status != http.StatusOK {
					t.Fatalf("token #%d: %d %s", i+1, r.status, r.body)
				}
				tok = r.str("access_token")
			}
			r := e.postForm(t, "/oauth2/token", serviceID, clientSecret, form)
			if r.status != http.StatusTooManyRequests || r.header.Get("Retry-After") == "" || r.str("error") != "rate_limited" {
				t.Fatalf("4th token: %d %s (Retry-After %q)", r.status, r.body, r.header.Get("Retry-After"))
			}
			// A wrong secret does not use up the client's allowance of others:
			// it fails authentication before anything is counted.
			if r := e.postForm(t, "/oauth2/token", trustedID, "wrong", form); r.status != http.StatusUnauthorized {
				t.Errorf("wrong secret: %d", r.status)
			}
			for i := 0; i < 2; i++ {
				if !e.active(t, tok) {
					t.Fatalf("introspection #%d: token inactive", i+1)
				}
			}
			if ir := e.postForm(t, "/oauth2/introspect", trustedID, clientSecret, url.Values{"token": {tok}}); ir.status != http.StatusTooManyRequests || ir.header.Get("Retry-After") == "" {
				t.Fatalf("3rd introspection: %d %s", ir.status, ir.body)
			}
		})
	}
}

// TestVerifyEmailPage: /verify-email (the page path) answers like the API
// link and shows the failure page for a bad token.
func TestVerifyEmailPage(t *testing.T) {
	e := setup(t, storetest.Backends()[0])
	p := e.browser(t).get(t, "/verify-email?token=not-a-token")
	if p.status != http.StatusBadRequest || !strings.Contains(p.body, `data-testid="verify-failed"`) {
		t.Fatalf("bad token: %d %.300s", p.status, p.body)
	}
}

// TestAPICORS: the JSON API admits listed origins (wildcards included)
// with credentials and answers their preflights; other origins get no CORS
// headers and a refused preflight.
func TestAPICORS(t *testing.T) {
	origins := []string{"https://*.mana.test", "http://localhost:5173"}
	e := setup(t, storetest.Backends()[0], func(o *setupOpts) { o.corsOrigins = origins })
	preflight := func(origin string) *http.Response {
		req, _ := http.NewRequest(http.MethodOptions, e.issuer+"/api/v1/auth/login", nil)
		req.Header.Set("Origin", origin)
		req.Header.Set("Access-Control-Request-Method", "POST")
		req.Header.Set("Access-Control-Request-Headers", "content-type")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	for _, origin := range []string{"https://chat.mana.test", "http://localhost:5173"} {
		resp := preflight(origin)
		if resp.StatusCode != http.StatusNoContent || resp.Header.Get("Access-Control-Allow-Origin") != origin ||
			resp.Header.Get("Access-Control-Allow-Credentials") != "true" {
			t.Errorf("preflight from %s: %d %v", origin, resp.StatusCode, resp.Header)
		}
	}
	for _, origin := range []string{"https://evil.example", "https://mana.test.evil.example", "http://localhost:9999"} {
		resp := preflight(origin)
		if resp.StatusCode != http.StatusForbidden || resp.Header.Get("Access-Control-Allow-Origin") != "" {
			t.Errorf("preflight from %s: %d %v", origin, resp.StatusCode, resp.Header)
		}
	}
	req, _ := http.NewRequest(http.MethodPost, e.issuer+"/api/v1/auth/login", strings.NewReader(`{"email":"a@b.example","password":"wrong-password"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Origin", "https://todo.mana.test")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("Access-Control-Allow-Origin") != "https://todo.mana.test" {
		t.Errorf("cross-origin login: %d, ACAO %q", resp.StatusCode, resp.Header.Get("Access-Control-Allow-Origin"))
	}
}
