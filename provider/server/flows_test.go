package server_test

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	jose "github.com/go-jose/go-jose/v4"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/manacore/mana-core-auth/provider/store/storetest"
)

// TestE2E drives the provider over real HTTP with go-oidc and x/oauth2 as
// the relying party, once per storage backend.
func TestE2E(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b storetest.Backend) {
		c := &clock{}
		e := setup(t, b, withClock(c))
		ctx := context.Background()

		t.Run("CodeFlowPKCE", func(t *testing.T) {
			r := e.rp(t, trustedID)
			br := e.browser(t)
			before := time.Now().Add(-2 * time.Second)
			f := e.codeFlow(t, br, r)

			if f.idToken.Subject != e.user.ID {
				t.Errorf("sub = %q, want %q", f.idToken.Subject, e.user.ID)
			}
			var c struct {
				SID           string   `json:"sid"`
				AuthTime      int64    `json:"auth_time"`
				Email         string   `json:"email"`
				EmailVerified bool     `json:"email_verified"`
				Name          string   `json:"name"`
				AMR           []string `json:"amr"`
			}
			if err := f.idToken.Claims(&c); err != nil {
				t.Fatal(err)
			}
			if c.SID == "" {
				t.Error("id token has no sid")
			}
			if at := time.Unix(c.AuthTime, 0); at.Before(before.Truncate(time.Second)) || at.After(time.Now().Add(time.Second)) {
				t.Errorf("auth_time %v not around now", at)
			}
			if c.Email != userEmail || !c.EmailVerified || c.Name != userName {
				t.Errorf("profile claims = %+v", c)
			}
			if !slices.Contains(c.AMR, "pwd") {
				t.Errorf("amr = %v, want pwd", c.AMR)
			}
			if f.tok.RefreshToken == "" {
				t.Error("no refresh token for offline_access")
			}

			// The ID token header: EdDSA with a kid.
			typ, idClaims := e.verifyJWT(t, f.rawID, jose.EdDSA)
			if typ != "JWT" {
				t.Errorf("id token typ = %q", typ)
			}
			if idClaims["at_hash"] == nil {
				t.Error("id token without at_hash")
			}

			// The access token: RFC 9068 JWT, verified independently.
			typ, ac := e.verifyJWT(t, f.tok.AccessToken, jose.EdDSA)
			if typ != "at+jwt" {
				t.Errorf("access token typ = %q, want at+jwt", typ)
			}
			for _, k := range []string{"iss", "sub", "aud", "exp", "iat", "jti", "client_id", "scope", "sid", "email", "role"} {
				if _, ok := ac[k]; !ok {
					t.Errorf("access token lacks %q: %v", k, ac)
				}
			}
			if ac["iss"] != e.issuer || ac["sub"] != e.user.ID || ac["client_id"] != trustedID ||
				ac["sid"] != c.SID || ac["email"] != userEmail || ac["role"] != "user" {
				t.Errorf("access token claims = %v", ac)
			}
			if aud, _ := ac["aud"].([]any); !slices.Contains(aud, any("manacore")) {
				t.Errorf("access token aud = %v, want manacore", ac["aud"])
			}
			if sc, _ := ac["scope"].(string); !slices.Contains(strings.Fields(sc), "openid") {
				t.Errorf("access token scope = %q", sc)
			}
			if exp, _ := ac["exp"].(float64); time.Until(time.Unix(int64(exp), 0)) > 16*time.Minute {
				t.Errorf("access token lives longer than 15 minutes: exp %v", exp)
			}

			// go-oidc's remote key set agrees.
			ks := gooidc.NewRemoteKeySet(ctx, e.issuer+"/.well-known/jwks.json")
			if _, err := ks.VerifySignature(ctx, f.tok.AccessToken); err != nil {
				t.Errorf("remote key set rejects the access token: %v", err)
			}
		})

		t.Run("Discovery", func(t *testing.T) {
			var d struct {
				Issuer    string   `json:"issuer"`
				Algs      []string `json:"id_token_signing_alg_values_supported"`
				EndSess   string   `json:"end_session_endpoint"`
				ISSParam  bool     `json:"authorization_response_iss_parameter_supported"`
				Challenge []string `json:"code_challenge_methods_supported"`
			}
			p, err := gooidc.NewProvider(ctx, e.issuer)
			if err != nil {
				t.Fatal(err)
			}
			if err := p.Claims(&d); err != nil {
				t.Fatal(err)
			}
			if d.Issuer != e.issuer || !slices.Equal(d.Algs, []string{"EdDSA", "RS256"}) || d.EndSess != e.issuer+"/oauth2/logout" ||
				!d.ISSParam || !slices.Equal(d.Challenge, []string{"S256"}) {
				t.Errorf("discovery = %+v", d)
			}
		})

		t.Run("Userinfo", func(t *testing.T) {
			r := e.rp(t, trustedID)
			f := e.codeFlow(t, e.browser(t), r)
			ui, err := r.provider.UserInfo(ctx, oauth2.StaticTokenSource(f.tok))
			if err != nil {
				t.Fatalf("userinfo: %v", err)
			}
			if ui.Subject != e.user.ID || ui.Email != userEmail || !ui.EmailVerified {
				t.Errorf("userinfo = %+v", ui)
			}
			for _, tok := range []string{"garbage", f.rawID, strings.Repeat("a", 70000)} {
				req, _ := http.NewRequest(http.MethodGet, e.issuer+"/oauth2/userinfo", nil)
				req.Header.Set("Authorization", "Bearer "+tok)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusUnauthorized {
					t.Errorf("userinfo with a bad token: %d", resp.StatusCode)
				}
				if h := resp.Header.Get("WWW-Authenticate"); !strings.HasPrefix(h, "Bearer") {
					t.Errorf("WWW-Authenticate = %q", h)
				}
			}
			// A refresh token is not an access token.
			req, _ := http.NewRequest(http.MethodGet, e.issuer+"/oauth2/userinfo", nil)
			req.Header.Set("Authorization", "Bearer "+f.tok.RefreshToken)
			if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("userinfo with a refresh token: %v %v", resp.StatusCode, err)
			}
			resp, err := http.Get(e.issuer + "/oauth2/userinfo")
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusUnauthorized || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("userinfo without a token: %d %q", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
			}
		})

		t.Run("RefreshRotation", func(t *testing.T) {
			f := e.codeFlow(t, e.browser(t), e.rp(t, trustedID))
			r1 := e.refresh(t, trustedID, f.tok.RefreshToken)
			if r1.status != http.StatusOK {
				t.Fatalf("refresh: %d %s", r1.status, r1.body)
			}
			if r1.header.Get("Cache-Control") != "no-store" {
				t.Errorf("Cache-Control = %q", r1.header.Get("Cache-Control"))
			}
			rt2 := r1.str("refresh_token")
			if rt2 == "" || rt2 == f.tok.RefreshToken {
				t.Fatalf("refresh token not rotated: %q", rt2)
			}
			if r1.str("access_token") == "" || r1.str("id_token") == "" {
				t.Errorf("refresh response lacks tokens: %s", r1.body)
			}
			r := e.rp(t, trustedID)
			idt, err := r.verifier.Verify(ctx, r1.str("id_token"))
			if err != nil {
				t.Fatalf("refreshed id token: %v", err)
			}
			if err := idt.VerifyAccessToken(r1.str("access_token")); err != nil {
				t.Errorf("refreshed at_hash: %v", err)
			}
			if idt.Subject != e.user.ID {
				t.Errorf("refreshed sub = %q", idt.Subject)
			}
			var c0, c1 struct {
				SID      string `json:"sid"`
				AuthTime int64  `json:"auth_time"`
			}
			_ = f.idToken.Claims(&c0)
			_ = idt.Claims(&c1)
			if c1 != c0 || c1.SID == "" {
				t.Errorf("refreshed id token sid/auth_time %+v, want %+v", c1, c0)
			}
			if _, ac := e.verifyJWT(t, r1.str("access_token"), jose.EdDSA); ac["sid"] != c0.SID || ac["email"] != userEmail {
				t.Errorf("refreshed access token claims %v", ac)
			}
			// The previous access token is retired with its refresh token.
			if e.active(t, f.tok.AccessToken) {
				t.Error("access token of a rotated refresh token still active")
			}
			if !e.active(t, r1.str("access_token")) {
				t.Error("new access token inactive")
			}

			// A retry with the just-rotated token gets the same successor.
			r2 := e.refresh(t, trustedID, f.tok.RefreshToken)
			if r2.status != http.StatusOK {
				t.Fatalf("retry within grace: %d %s", r2.status, r2.body)
			}
			if r2.str("refresh_token") != rt2 || r2.str("access_token") != r1.str("access_token") {
				t.Error("retry within grace got a different successor")
			}
			// ...but not for another client.
			if r := e.refresh(t, trusted2ID, f.tok.RefreshToken); r.status != http.StatusBadRequest || r.str("error") != "invalid_grant" {
				t.Errorf("another client's refresh token: %d %s", r.status, r.body)
			}
			// The successor rotates as usual.
			r3 := e.refresh(t, trustedID, rt2)
			if r3.status != http.StatusOK || r3.str("refresh_token") == rt2 {
				t.Fatalf("second rotation: %d %s", r3.status, r3.body)
			}
		})

		t.Run("RefreshConcurrent", func(t *testing.T) {
			f := e.codeFlow(t, e.browser(t), e.rp(t, trustedID))
			const n = 2
			var wg sync.WaitGroup
			res := make([]*tokenResp, n)
			start := make(chan struct{})
			for i := range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					res[i] = e.refresh(t, trustedID, f.tok.RefreshToken)
				}()
			}
			close(start)
			wg.Wait()
			for i, r := range res {
				if r.status != http.StatusOK {
					t.Fatalf("concurrent refresh %d: %d %s", i, r.status, r.body)
				}
			}
			if res[0].str("refresh_token") != res[1].str("refresh_token") || res[0].str("access_token") != res[1].str("access_token") {
				t.Error("concurrent refreshes got different successors")
			}
			if r := e.refresh(t, trustedID, res[0].str("refresh_token")); r.status != http.StatusOK {
				t.Errorf("the shared successor does not refresh: %d %s", r.status, r.body)
			}
		})

		t.Run("Introspection", func(t *testing.T) {
			f := e.codeFlow(t, e.browser(t), e.rp(t, trustedID))
			noAuth := e.postForm(t, "/oauth2/introspect", "", "", url.Values{"token": {f.tok.AccessToken}})
			if noAuth.status != http.StatusUnauthorized || noAuth.header.Get("WWW-Authenticate") == "" {
				t.Errorf("introspection without client auth: %d %q %s", noAuth.status, noAuth.header.Get("WWW-Authenticate"), noAuth.body)
			}
			if _, ok := noAuth.json["sub"]; ok {
				t.Error("unauthenticated introspection revealed the subject")
			}
			// A user's access token is no client authentication.
			f0 := e.codeFlow(t, e.browser(t), e.rp(t, trusted2ID))
			req, _ := http.NewRequest(http.MethodPost, e.issuer+"/oauth2/introspect", strings.NewReader(url.Values{"token": {f.tok.AccessToken}}.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("Authorization", "Bearer "+f0.tok.AccessToken)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("introspection with a bearer token instead of client auth: %d", resp.StatusCode)
			}
			bad := e.postForm(t, "/oauth2/introspect", trustedID, "wrong", url.Values{"token": {f.tok.AccessToken}})
			if bad.status != http.StatusUnauthorized {
				t.Errorf("introspection with a wrong secret: %d", bad.status)
			}

			ir := e.introspect(t, f.tok.AccessToken)
			if ir.json["active"] != true || ir.str("sub") != e.user.ID || ir.str("client_id") != trustedID ||
				!slices.Contains(strings.Fields(ir.str("scope")), "openid") || ir.json["exp"] == nil {
				t.Errorf("introspection = %s", ir.body)
			}
			if ir.header.Get("Cache-Control") != "no-store" {
				t.Errorf("introspection Cache-Control = %q", ir.header.Get("Cache-Control"))
			}
			// The introspection agrees with the JWT.
			_, ac := e.verifyJWT(t, f.tok.AccessToken, jose.EdDSA)
			if ir.json["exp"] != ac["exp"] || ir.str("iss") != e.issuer || ir.str("sid") != ac["sid"] || ir.str("username") != userEmail {
				t.Errorf("introspection %s disagrees with the access token %v", ir.body, ac)
			}
			if aud, _ := ir.json["aud"].([]any); !slices.Contains(aud, any("manacore")) {
				t.Errorf("introspection aud = %v", ir.json["aud"])
			}
			// A refresh token reports its own expiry (7 days without
			// "remember me"), not its access token's.
			rir := e.introspect(t, f.tok.RefreshToken)
			if exp, _ := rir.json["exp"].(float64); time.Until(time.Unix(int64(exp), 0)).Round(time.Hour) != 7*24*time.Hour {
				t.Errorf("refresh token exp %v, want in 7 days", rir.json["exp"])
			}
			if !e.active(t, f.tok.RefreshToken) {
				t.Error("refresh token inactive")
			}
			if e.active(t, "not-a-token") {
				t.Error("garbage is active")
			}

			// RFC 7009: revoking the refresh token revokes its access token.
			rv := e.postForm(t, "/oauth2/revoke", trustedID, clientSecret, url.Values{"token": {f.tok.RefreshToken}, "token_type_hint": {"refresh_token"}})
			if rv.status != http.StatusOK {
				t.Fatalf("revoke: %d %s", rv.status, rv.body)
			}
			if e.active(t, f.tok.AccessToken) || e.active(t, f.tok.RefreshToken) {
				t.Error("tokens active after revocation")
			}
			if r := e.refresh(t, trustedID, f.tok.RefreshToken); r.status != http.StatusBadRequest || r.str("error") != "invalid_grant" {
				t.Errorf("refresh with a revoked token: %d %s", r.status, r.body)
			}
			if rv := e.postForm(t, "/oauth2/revoke", trustedID, clientSecret, url.Values{"token": {"unknown-token"}}); rv.status != http.StatusOK {
				t.Errorf("revoke an unknown token: %d %s", rv.status, rv.body)
			}

			// Revoking an access token alone.
			f2 := e.codeFlow(t, e.browser(t), e.rp(t, trustedID))
			if rv := e.postForm(t, "/oauth2/revoke", trustedID, clientSecret, url.Values{"token": {f2.tok.AccessToken}}); rv.status != http.StatusOK {
				t.Fatalf("revoke access token: %d %s", rv.status, rv.body)
			}
			if e.active(t, f2.tok.AccessToken) {
				t.Error("revoked access token active")
			}
			// Another client cannot revoke someone else's token.
			f3 := e.codeFlow(t, e.browser(t), e.rp(t, trustedID))
			_ = e.postForm(t, "/oauth2/revoke", trusted2ID, clientSecret, url.Values{"token": {f3.tok.RefreshToken}})
			if !e.active(t, f3.tok.RefreshToken) {
				t.Error("a client revoked another client's token")
			}
		})

		t.Run("ClientCredentials", func(t *testing.T) {
			for _, style := range []oauth2.AuthStyle{oauth2.AuthStyleInHeader, oauth2.AuthStyleInParams} {
				cc := clientcredentials.Config{ClientID: serviceID, ClientSecret: clientSecret, TokenURL: e.issuer + "/oauth2/token",
					Scopes: []string{"credits:read"}, AuthStyle: style}
				tok, err := cc.Token(ctx)
				if err != nil {
					t.Fatalf("client_credentials (style %d): %v", style, err)
				}
				typ, c := e.verifyJWT(t, tok.AccessToken, jose.EdDSA)
				if typ != "at+jwt" || c["sub"] != serviceID || c["client_id"] != serviceID || c["scope"] != "credits:read" {
					t.Errorf("client_credentials token: typ %q claims %v", typ, c)
				}
				if aud, _ := c["aud"].([]any); !slices.Contains(aud, any("manacore")) {
					t.Errorf("aud = %v", c["aud"])
				}
				if tok.RefreshToken != "" {
					t.Error("client_credentials issued a refresh token")
				}
				if ir := e.introspect(t, tok.AccessToken); ir.json["active"] != true || ir.str("client_id") != serviceID {
					t.Errorf("introspect client_credentials token: %s", ir.body)
				}
			}
			r := e.postForm(t, "/oauth2/token", serviceID, clientSecret, url.Values{"grant_type": {"client_credentials"}})
			if r.status != http.StatusOK || r.header.Get("Cache-Control") != "no-store" {
				t.Errorf("token response: %d Cache-Control %q", r.status, r.header.Get("Cache-Control"))
			}
			for _, c := range []struct{ id, secret string }{{serviceID, "wrong"}, {"nobody", clientSecret}} {
				r := e.postForm(t, "/oauth2/token", c.id, c.secret, url.Values{"grant_type": {"client_credentials"}})
				if r.status != http.StatusUnauthorized || r.str("error") != "invalid_client" || r.header.Get("WWW-Authenticate") == "" ||
					r.header.Get("Cache-Control") != "no-store" {
					t.Errorf("bad client credentials %q: %d %q %s", c.id, r.status, r.header.Get("WWW-Authenticate"), r.body)
				}
			}
			// A scope the client may not request.
			r = e.postForm(t, "/oauth2/token", serviceID, clientSecret, url.Values{"grant_type": {"client_credentials"}, "scope": {"admin"}})
			if r.status != http.StatusBadRequest || r.str("error") != "invalid_scope" {
				t.Errorf("unallowed scope: %d %s", r.status, r.body)
			}
			// A client without the grant.
			r = e.postForm(t, "/oauth2/token", trusted2ID, clientSecret, url.Values{"grant_type": {"client_credentials"}})
			if r.status != http.StatusBadRequest || r.str("error") != "unauthorized_client" {
				t.Errorf("client without client_credentials: %d %s", r.status, r.body)
			}
		})

		t.Run("RememberMe", func(t *testing.T) {
			br := e.browser(t)
			r := e.rp(t, trustedID)
			verifier := oauth2.GenerateVerifier()
			p := br.login(t, br.get(t, r.cfg.AuthCodeURL("state-remember", oauth2.S256ChallengeOption(verifier))), true)
			tok, err := r.cfg.Exchange(ctx, e.code(t, p, "state-remember"), oauth2.VerifierOption(verifier))
			if err != nil {
				t.Fatal(err)
			}
			want := 30 * 24 * time.Hour
			exp, _ := e.introspect(t, tok.RefreshToken).json["exp"].(float64)
			if time.Until(time.Unix(int64(exp), 0)).Round(time.Hour) != want {
				t.Errorf("remember-me refresh token exp %v, want in 30 days", exp)
			}
			// Rotation keeps the long lifetime.
			rr := e.refresh(t, trustedID, tok.RefreshToken)
			exp, _ = e.introspect(t, rr.str("refresh_token")).json["exp"].(float64)
			if time.Until(time.Unix(int64(exp), 0)).Round(time.Hour) != want {
				t.Errorf("rotated remember-me refresh token exp %v", exp)
			}
		})

		t.Run("SSO", func(t *testing.T) {
			br := e.browser(t)
			fa := e.codeFlow(t, br, e.rp(t, trustedID))
			// Client B in the same browser: no login page.
			rb := e.rp(t, trusted2ID)
			p := br.get(t, rb.cfg.AuthCodeURL("state-b-123", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
			if isLoginPage(p) {
				t.Fatal("SSO: the login page was shown again")
			}
			e.code(t, p, "state-b-123")
			fb := e.codeFlow(t, br, rb)
			var sa, sb struct {
				SID string `json:"sid"`
			}
			_ = fa.idToken.Claims(&sa)
			_ = fb.idToken.Claims(&sb)
			if sa.SID == "" || sa.SID != sb.SID {
				t.Errorf("sid differs across apps of one session: %q vs %q", sa.SID, sb.SID)
			}

			// prompt=none with a session works silently.
			p = br.get(t, rb.cfg.AuthCodeURL("state-none-1", oauth2.SetAuthURLParam("prompt", "none"),
				oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
			e.code(t, p, "state-none-1")

			// prompt=none without a session.
			p = e.browser(t).get(t, rb.cfg.AuthCodeURL("state-none-2", oauth2.SetAuthURLParam("prompt", "none")))
			q := e.callback(t, p)
			if q.Get("error") != "login_required" || q.Get("state") != "state-none-2" {
				t.Errorf("prompt=none without a session: %v", q)
			}

			// prompt=login shows the login page and yields a newer auth_time.
			c.advance(time.Second) // auth_time has second precision
			for _, opt := range []oauth2.AuthCodeOption{oauth2.SetAuthURLParam("prompt", "login"), oauth2.SetAuthURLParam("max_age", "0")} {
				ra := e.rp(t, trustedID)
				verifier := oauth2.GenerateVerifier()
				nonce := randString(10)
				p = br.get(t, ra.cfg.AuthCodeURL("state-login-1", opt, gooidc.Nonce(nonce), oauth2.S256ChallengeOption(verifier)))
				if !isLoginPage(p) {
					t.Fatalf("forced re-authentication did not show the login page: %d %s", p.status, p.url)
				}
				code := e.code(t, br.login(t, p, false), "state-login-1")
				tok, err := ra.cfg.Exchange(ctx, code, oauth2.VerifierOption(verifier))
				if err != nil {
					t.Fatalf("exchange after re-authentication: %v", err)
				}
				idt, err := ra.verifier.Verify(ctx, tok.Extra("id_token").(string))
				if err != nil {
					t.Fatal(err)
				}
				var c1, c2 struct {
					AuthTime int64  `json:"auth_time"`
					SID      string `json:"sid"`
				}
				_ = fa.idToken.Claims(&c1)
				_ = idt.Claims(&c2)
				if c2.AuthTime <= c1.AuthTime {
					t.Errorf("auth_time after re-authentication %d, not newer than %d", c2.AuthTime, c1.AuthTime)
				}
				if c2.SID != c1.SID {
					t.Errorf("re-authentication as the same user changed the session: %q -> %q", c1.SID, c2.SID)
				}
				fa.idToken = idt
				c.advance(time.Second)
			}
			// The tokens of the first app survive a re-authentication.
			if !e.active(t, fa.tok.RefreshToken) {
				t.Error("re-authentication revoked the session's tokens")
			}
		})

		t.Run("Consent", func(t *testing.T) {
			br := e.browser(t)
			r := e.rp(t, thirdPartyID)
			// prompt=none without consent.
			e.codeFlow(t, br, e.rp(t, trustedID)) // signs in
			p := br.get(t, r.cfg.AuthCodeURL("state-c-none", oauth2.SetAuthURLParam("prompt", "none")))
			if q := e.callback(t, p); q.Get("error") != "consent_required" {
				t.Errorf("prompt=none without consent: %v", q)
			}

			// Deny.
			p = br.get(t, r.cfg.AuthCodeURL("state-c-deny"))
			if p.status != http.StatusOK || p.url.Path != "/consent" || !strings.Contains(p.body, `data-testid="consent-form"`) {
				t.Fatalf("no consent page: %d %s", p.status, p.url)
			}
			challenge := p.url.Query().Get("challenge")
			p = br.post(t, "/consent", url.Values{"challenge": {challenge}, "action": {"deny"}})
			if q := e.callback(t, p); q.Get("error") != "access_denied" || q.Get("state") != "state-c-deny" {
				t.Errorf("deny: %v", q)
			}

			// Allow and remember.
			verifier := oauth2.GenerateVerifier()
			p = br.get(t, r.cfg.AuthCodeURL("state-c-allow", oauth2.S256ChallengeOption(verifier)))
			if p.url.Path != "/consent" {
				t.Fatalf("denied consent was remembered: %s", p.url)
			}
			// A challenge is bound to the browser session.
			other := e.browser(t)
			if op := other.post(t, "/consent", url.Values{"challenge": {p.url.Query().Get("challenge")}, "action": {"allow"}}); op.status != http.StatusBadRequest {
				t.Errorf("consent challenge accepted from another browser: %d", op.status)
			}
			p = br.post(t, "/consent", url.Values{"challenge": {p.url.Query().Get("challenge")}, "action": {"allow"}, "remember": {"1"}})
			code := e.code(t, p, "state-c-allow")
			if _, err := r.cfg.Exchange(ctx, code, oauth2.VerifierOption(verifier)); err != nil {
				t.Fatalf("exchange after consent: %v", err)
			}
			// Remembered: the next authorization skips consent.
			f := e.codeFlow(t, br, r)
			if f.idToken.Subject != e.user.ID {
				t.Error("wrong subject")
			}
			// prompt=consent asks again.
			p = br.get(t, r.cfg.AuthCodeURL("state-c-again", oauth2.SetAuthURLParam("prompt", "consent")))
			if p.url.Path != "/consent" {
				t.Errorf("prompt=consent did not ask: %s", p.url)
			}
		})

		t.Run("PublicClientPKCE", func(t *testing.T) {
			br := e.browser(t)
			r := e.rp(t, publicID)
			e.codeFlow(t, br, r) // PKCE S256 without a secret

			// No challenge.
			p := br.get(t, r.cfg.AuthCodeURL("state-p-1"))
			if q := e.callback(t, p); q.Get("error") != "invalid_request" {
				t.Errorf("public client without PKCE: %v", q)
			}
			// plain is refused.
			p = br.get(t, r.cfg.AuthCodeURL("state-p-2", oauth2.SetAuthURLParam("code_challenge", strings.Repeat("a", 43)),
				oauth2.SetAuthURLParam("code_challenge_method", "plain")))
			if q := e.callback(t, p); q.Get("error") != "invalid_request" || q.Get("code") != "" {
				t.Errorf("plain PKCE: %v", q)
			}
			// Wrong verifier.
			verifier := oauth2.GenerateVerifier()
			p = br.get(t, r.cfg.AuthCodeURL("state-p-3", oauth2.S256ChallengeOption(verifier)))
			code := e.code(t, p, "state-p-3")
			tr := e.postForm(t, "/oauth2/token", "", "", url.Values{"grant_type": {"authorization_code"}, "code": {code},
				"client_id": {publicID}, "redirect_uri": {rpRedirect}, "code_verifier": {oauth2.GenerateVerifier()}})
			if tr.status != http.StatusBadRequest || tr.str("error") != "invalid_grant" {
				t.Errorf("wrong verifier: %d %s", tr.status, tr.body)
			}
			// Missing verifier.
			p = br.get(t, r.cfg.AuthCodeURL("state-p-4", oauth2.S256ChallengeOption(verifier)))
			code = e.code(t, p, "state-p-4")
			tr = e.postForm(t, "/oauth2/token", "", "", url.Values{"grant_type": {"authorization_code"}, "code": {code},
				"client_id": {publicID}, "redirect_uri": {rpRedirect}})
			if tr.status != http.StatusBadRequest || tr.str("error") == "" {
				t.Errorf("missing verifier: %d %s", tr.status, tr.body)
			}
		})

		t.Run("ConfidentialWithoutPKCE", func(t *testing.T) {
			br := e.browser(t)
			r := e.rp(t, trustedID)
			e.codeFlow(t, br, r) // sign in
			p := br.get(t, r.cfg.AuthCodeURL("state-nopkce"))
			code := e.code(t, p, "state-nopkce")
			tok, err := r.cfg.Exchange(ctx, code)
			if err != nil {
				t.Fatalf("exchange without PKCE: %v", err)
			}
			if _, err := r.verifier.Verify(ctx, tok.Extra("id_token").(string)); err != nil {
				t.Error(err)
			}
			// Without state (OpenID Connect only recommends it).
			u, _ := url.Parse(r.cfg.AuthCodeURL(""))
			q := u.Query()
			q.Del("state")
			u.RawQuery = q.Encode()
			p = br.get(t, u.String())
			cq := e.callback(t, p)
			if cq.Get("code") == "" || cq.Has("state") {
				t.Fatalf("authorization without state: %v", cq)
			}
			if _, err := r.cfg.Exchange(ctx, cq.Get("code")); err != nil {
				t.Errorf("exchange: %v", err)
			}
			// A short state is returned as is.
			p = br.get(t, r.cfg.AuthCodeURL("x"))
			e.code(t, p, "x")
		})

		t.Run("CodeReuse", func(t *testing.T) {
			br := e.browser(t)
			r := e.rp(t, trustedID)
			e.codeFlow(t, br, r)
			verifier := oauth2.GenerateVerifier()
			p := br.get(t, r.cfg.AuthCodeURL("state-reuse", oauth2.S256ChallengeOption(verifier)))
			code := e.code(t, p, "state-reuse")
			tok, err := r.cfg.Exchange(ctx, code, oauth2.VerifierOption(verifier))
			if err != nil {
				t.Fatal(err)
			}
			tr := e.postForm(t, "/oauth2/token", trustedID, clientSecret, url.Values{"grant_type": {"authorization_code"},
				"code": {code}, "redirect_uri": {rpRedirect}, "code_verifier": {verifier}})
			if tr.status != http.StatusBadRequest || tr.str("error") != "invalid_grant" {
				t.Errorf("code reuse: %d %s", tr.status, tr.body)
			}
			if e.active(t, tok.AccessToken) || e.active(t, tok.RefreshToken) {
				t.Error("tokens of a reused code still active")
			}
			// A code of another client.
			p = br.get(t, r.cfg.AuthCodeURL("state-reuse-2"))
			code = e.code(t, p, "state-reuse-2")
			tr = e.postForm(t, "/oauth2/token", trusted2ID, clientSecret, url.Values{"grant_type": {"authorization_code"},
				"code": {code}, "redirect_uri": {rpRedirect}})
			if tr.status != http.StatusBadRequest || tr.str("error") != "invalid_grant" {
				t.Errorf("another client's code: %d %s", tr.status, tr.body)
			}
		})

		t.Run("BadClientOrRedirect", func(t *testing.T) {
			br := e.browser(t)
			cases := map[string]url.Values{
				"unknown client":   {"client_id": {"nobody"}, "response_type": {"code"}, "scope": {"openid"}, "redirect_uri": {rpRedirect}, "state": {"abcdefgh"}},
				"foreign redirect": {"client_id": {trustedID}, "response_type": {"code"}, "scope": {"openid"}, "redirect_uri": {"https://evil.example/cb"}, "state": {"abcdefgh"}},
				"redirect prefix":  {"client_id": {trustedID}, "response_type": {"code"}, "scope": {"openid"}, "redirect_uri": {rpRedirect + "/../evil"}, "state": {"abcdefgh"}},
				"redirect query":   {"client_id": {trustedID}, "response_type": {"code"}, "scope": {"openid"}, "redirect_uri": {rpRedirect + "?x=1"}, "state": {"abcdefgh"}},
				"no client":        {"response_type": {"code"}, "redirect_uri": {rpRedirect}},
				"loopback port":    {"client_id": {nativeID}, "response_type": {"code"}, "scope": {"openid"}, "redirect_uri": {"http://127.0.0.1:9999/cb"}, "state": {"abcdefgh"}},
			}
			for name, q := range cases {
				p := br.get(t, "/oauth2/authorize?"+q.Encode())
				if p.status != http.StatusBadRequest {
					t.Errorf("%s: status %d", name, p.status)
				}
				if loc := p.header.Get("Location"); loc != "" {
					t.Errorf("%s: redirected to %s", name, loc)
				}
				if r := q.Get("redirect_uri"); strings.Contains(p.body, r) {
					t.Errorf("%s: the page shows the redirect target", name)
				}
				if !strings.HasPrefix(p.header.Get("Content-Type"), "text/html") {
					t.Errorf("%s: not an HTML page: %q", name, p.header.Get("Content-Type"))
				}
			}

			// POST works like GET.
			e.codeFlow(t, br, e.rp(t, trustedID))
			r := e.rp(t, trustedID)
			u, _ := url.Parse(r.cfg.AuthCodeURL("state-post"))
			p := br.post(t, "/oauth2/authorize", u.Query())
			e.code(t, p, "state-post")
			// response_type other than code.
			q := u.Query()
			q.Set("response_type", "token")
			p = br.get(t, "/oauth2/authorize?"+q.Encode())
			if cq := e.callback(t, p); cq.Get("error") != "unsupported_response_type" {
				t.Errorf("response_type=token: %v", cq)
			}
			// A parameter given twice (RFC 6749 3.1).
			q = u.Query()
			q.Add("scope", "openid")
			p = br.get(t, "/oauth2/authorize?"+q.Encode())
			if cq := e.callback(t, p); cq.Get("error") != "invalid_request" || cq.Get("code") != "" {
				t.Errorf("repeated scope: %v", cq)
			}
		})

		t.Run("Logout", func(t *testing.T) {
			br := e.browser(t)
			r := e.rp(t, trustedID)
			f := e.codeFlow(t, br, r)
			q := url.Values{"id_token_hint": {f.rawID}, "post_logout_redirect_uri": {rpPostLogout}, "state": {"xyz"}}
			p := br.get(t, "/oauth2/logout?"+q.Encode())
			if p.status != http.StatusSeeOther {
				t.Fatalf("logout: %d %s", p.status, p.body)
			}
			if loc := p.location(t); loc.Scheme+"://"+loc.Host+loc.Path != rpPostLogout || loc.Query().Get("state") != "xyz" {
				t.Errorf("logout redirect = %s", loc)
			}
			if rr := e.refresh(t, trustedID, f.tok.RefreshToken); rr.status != http.StatusBadRequest || rr.str("error") != "invalid_grant" {
				t.Errorf("refresh after logout: %d %s", rr.status, rr.body)
			}
			if e.active(t, f.tok.AccessToken) {
				t.Error("access token active after logout")
			}
			p = br.get(t, r.cfg.AuthCodeURL("state-lo-1", oauth2.SetAuthURLParam("prompt", "none")))
			if cq := e.callback(t, p); cq.Get("error") != "login_required" {
				t.Errorf("prompt=none after logout: %v", cq)
			}

			// An unregistered post_logout_redirect_uri.
			f = e.codeFlow(t, br, r)
			q = url.Values{"id_token_hint": {f.rawID}, "post_logout_redirect_uri": {"https://evil.example/"}}
			p = br.get(t, "/oauth2/logout?"+q.Encode())
			if p.status != http.StatusBadRequest || p.header.Get("Location") != "" || strings.Contains(p.body, "evil.example") {
				t.Errorf("unregistered post_logout_redirect_uri: %d %q", p.status, p.header.Get("Location"))
			}
			if !e.active(t, f.tok.RefreshToken) {
				t.Error("a refused logout ended the session")
			}
			// A forged hint.
			forged := f.rawID[:strings.LastIndexByte(f.rawID, '.')+1] + "AAAA"
			p = br.get(t, "/oauth2/logout?"+url.Values{"id_token_hint": {forged}}.Encode())
			if p.status != http.StatusBadRequest {
				t.Errorf("forged id_token_hint: %d", p.status)
			}

			// Without a hint: a confirmation page; cancel keeps the session.
			p = br.get(t, "/oauth2/logout")
			if p.status != http.StatusOK || !strings.Contains(p.body, `data-testid="logout-form"`) {
				t.Fatalf("no confirmation page: %d %.300s", p.status, p.body)
			}
			if !e.active(t, f.tok.RefreshToken) {
				t.Error("the confirmation page ended the session")
			}
			ch := challengeOf(t, p.body)
			p = br.post(t, "/oauth2/logout", url.Values{"challenge": {ch}, "action": {"cancel"}})
			if p.status != http.StatusOK || strings.Contains(p.body, `data-testid="logout-form"`) {
				t.Errorf("cancel: status %d, want to leave the confirmation page: %.200s", p.status, p.body)
			}
			if !e.active(t, f.tok.RefreshToken) {
				t.Error("cancel ended the session")
			}
			p = br.get(t, "/oauth2/logout?"+url.Values{"client_id": {trustedID}, "post_logout_redirect_uri": {rpPostLogout}, "state": {"s2"}}.Encode())
			ch = challengeOf(t, p.body)
			p = br.post(t, "/oauth2/logout", url.Values{"challenge": {ch}, "action": {"logout"}})
			if loc := p.location(t); loc.Host != "rp.example.test" || loc.Query().Get("state") != "s2" {
				t.Errorf("confirmed logout redirect: %s", loc)
			}
			if e.active(t, f.tok.RefreshToken) {
				t.Error("confirmed logout left the tokens active")
			}
			p = br.get(t, r.cfg.AuthCodeURL("state-lo-2", oauth2.SetAuthURLParam("prompt", "none")))
			if cq := e.callback(t, p); cq.Get("error") != "login_required" {
				t.Errorf("prompt=none after confirmed logout: %v", cq)
			}
		})

		t.Run("RS256Client", func(t *testing.T) {
			r := e.rp(t, rsaID, gooidc.RS256)
			f := e.codeFlow(t, e.browser(t), r) // verifies at_hash with SHA-256
			typ, _ := e.verifyJWT(t, f.rawID, jose.RS256)
			if typ != "JWT" {
				t.Errorf("typ = %q", typ)
			}
			// Access tokens stay EdDSA.
			if typ, _ := e.verifyJWT(t, f.tok.AccessToken, jose.EdDSA); typ != "at+jwt" {
				t.Errorf("access token typ %q", typ)
			}
			// An EdDSA-only relying party rejects it: the alg really differs.
			if _, err := e.rp(t, rsaID).verifier.Verify(ctx, f.rawID); err == nil {
				t.Error("RS256 token accepted as EdDSA")
			}
			// A refresh keeps RS256.
			rr := e.refresh(t, rsaID, f.tok.RefreshToken)
			if rr.status != http.StatusOK {
				t.Fatalf("refresh: %d %s", rr.status, rr.body)
			}
			idt, err := r.verifier.Verify(ctx, rr.str("id_token"))
			if err != nil {
				t.Fatalf("refreshed RS256 id token: %v", err)
			}
			if err := idt.VerifyAccessToken(rr.str("access_token")); err != nil {
				t.Error(err)
			}
			// RP-initiated logout accepts an RS256 hint.
			p := e.browser(t).get(t, "/oauth2/logout?"+url.Values{"id_token_hint": {f.rawID}}.Encode())
			if p.status != http.StatusOK {
				t.Errorf("logout with an RS256 hint: %d", p.status)
			}
		})

		t.Run("SecurityHeadersAndCSRF", func(t *testing.T) {
			br := e.browser(t)
			for _, path := range []string{"/login", "/oauth2/authorize?client_id=nobody", "/oauth2/logout"} {
				p := br.get(t, path)
				h := p.header
				csp := h.Get("Content-Security-Policy")
				if csp == "" || strings.Contains(csp, "unsafe-inline") || !strings.Contains(csp, "frame-ancestors 'none'") {
					t.Errorf("%s: CSP %q", path, csp)
				}
				if h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Referrer-Policy") == "" {
					t.Errorf("%s: headers %v", path, h)
				}
				if strings.Contains(p.body, "<script>") || strings.Contains(p.body, " style=") {
					t.Errorf("%s: inline script or style", path)
				}
			}
			form := url.Values{"email": {userEmail}, "password": {userPassword}, "return_to": {"/"}}
			for _, hdr := range [][]string{{"Sec-Fetch-Site", "cross-site"}, {"Origin", "https://evil.example"}} {
				p := br.post(t, "/login", form, hdr...)
				if p.status != http.StatusForbidden {
					t.Errorf("cross-site login post (%s): %d", hdr[0], p.status)
				}
				if len(br.c.Jar.Cookies(mustURL(e.issuer))) != 0 {
					t.Errorf("cross-site login post (%s) set a session", hdr[0])
				}
			}
			// Same-origin posts pass: the session and the device cookie.
			p := br.post(t, "/login", form, "Origin", e.issuer, "Sec-Fetch-Site", "same-origin")
			var names []string
			for _, c := range br.c.Jar.Cookies(mustURL(e.issuer)) {
				names = append(names, c.Name)
			}
			if p.status != http.StatusOK || strings.Join(names, " ") != "mana.session mana_device" {
				t.Errorf("same-origin login: %d at %s, cookies %v", p.status, p.url, br.c.Jar.Cookies(mustURL(e.issuer)))
			}
			// Wrong password: the form again, 401, no session.
			p = e.browser(t).post(t, "/login", url.Values{"email": {userEmail}, "password": {"nope"}, "return_to": {"/"}})
			if p.status != http.StatusUnauthorized || !strings.Contains(p.body, `data-testid="login-form"`) || strings.Contains(p.body, "nope") {
				t.Errorf("wrong password: %d", p.status)
			}
			// return_to cannot leave the provider.
			for _, rt := range []string{"https://evil.example/", "//evil.example/", "/\\evil.example"} {
				p := e.browser(t).post(t, "/login", url.Values{"email": {userEmail}, "password": {userPassword}, "return_to": {rt}})
				if loc := p.header.Get("Location"); strings.Contains(loc, "evil") {
					t.Errorf("return_to %q redirected to %q", rt, loc)
				}
			}
		})
	})
}

// TestRefreshReuseAfterGrace checks that reusing a rotated refresh token
// after the grace window revokes the whole family.
func TestRefreshReuseAfterGrace(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b storetest.Backend) {
		c := &clock{}
		e := setup(t, b, withClock(c), func(o *setupOpts) { o.grace = 300 * time.Millisecond })
		f := e.codeFlow(t, e.browser(t), e.rp(t, trustedID))
		r1 := e.refresh(t, trustedID, f.tok.RefreshToken)
		if r1.status != http.StatusOK {
			t.Fatalf("refresh: %d %s", r1.status, r1.body)
		}
		c.advance(400 * time.Millisecond)
		r2 := e.refresh(t, trustedID, f.tok.RefreshToken)
		if r2.status != http.StatusBadRequest || r2.str("error") != "invalid_grant" {
			t.Fatalf("reuse after grace: %d %s", r2.status, r2.body)
		}
		if r := e.refresh(t, trustedID, r1.str("refresh_token")); r.status != http.StatusBadRequest || r.str("error") != "invalid_grant" {
			t.Errorf("successor after reuse: %d %s", r.status, r.body)
		}
		if e.active(t, r1.str("access_token")) {
			t.Error("successor's access token active after reuse")
		}
		if e.active(t, r1.str("refresh_token")) {
			t.Error("successor refresh token active after reuse")
		}
		// Reusing again stays an error, not a 500.
		if r := e.refresh(t, trustedID, f.tok.RefreshToken); r.status != http.StatusBadRequest {
			t.Errorf("second reuse: %d %s", r.status, r.body)
		}
	})
}

func challengeOf(t testing.TB, body string) string {
	t.Helper()
	const marker = `name="challenge" value="`
	i := strings.Index(body, marker)
	if i < 0 {
		t.Fatalf("no challenge field in %.300s", body)
	}
	rest := body[i+len(marker):]
	return htmlUnescape(rest[:strings.IndexByte(rest, '"')])
}

func htmlUnescape(s string) string {
	return strings.NewReplacer("&amp;", "&", "&#34;", `"`, "&#39;", "'", "&lt;", "<", "&gt;", ">").Replace(s)
}

func mustURL(s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		panic(err)
	}
	return u
}
