package server_test

import (
	"context"
	"errors"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/manacore/mana-core-auth/provider"
	"github.com/manacore/mana-core-auth/provider/store/storetest"
)

// The OAuth strictness a certified provider is expected to show (issue 10).

func TestIntrospectionClientSecretPost(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b storetest.Backend) {
		e := setup(t, b)
		f := e.codeFlow(t, e.browser(t), e.rp(t, trustedID))
		ir := e.postForm(t, "/oauth2/introspect", "", "", url.Values{"token": {f.tok.AccessToken},
			"client_id": {trustedID}, "client_secret": {clientSecret}})
		if ir.status != http.StatusOK || ir.json["active"] != true || ir.str("sub") != e.user.ID {
			t.Errorf("introspection with client_secret_post: %d %s", ir.status, ir.body)
		}
		bad := e.postForm(t, "/oauth2/introspect", "", "", url.Values{"token": {f.tok.AccessToken},
			"client_id": {trustedID}, "client_secret": {"wrong"}})
		if bad.status != http.StatusUnauthorized || bad.str("error") != "invalid_client" || bad.json["sub"] != nil {
			t.Errorf("client_secret_post with a wrong secret: %d %s", bad.status, bad.body)
		}
	})
}

func TestIntrospectionRefreshTokenOnlyForItsClient(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b storetest.Backend) {
		e := setup(t, b)
		f := e.codeFlow(t, e.browser(t), e.rp(t, trustedID))
		introspectAs := func(client, token string) *tokenResp {
			return e.postForm(t, "/oauth2/introspect", client, clientSecret, url.Values{"token": {token}})
		}
		if r := introspectAs(trusted2ID, f.tok.RefreshToken); r.status != http.StatusOK || r.body != "{\"active\":false}\n" {
			t.Errorf("another client introspected the refresh token: %d %s", r.status, r.body)
		}
		if r := introspectAs(trustedID, f.tok.RefreshToken); r.json["active"] != true || r.str("token_use") != "refresh_token" {
			t.Errorf("its own client cannot introspect the refresh token: %s", r.body)
		}
		// Access tokens are for resource servers: any confidential client.
		for _, c := range []string{trustedID, trusted2ID, serviceID} {
			if r := introspectAs(c, f.tok.AccessToken); r.json["active"] != true || r.str("sub") != e.user.ID {
				t.Errorf("%s introspecting an access token: %s", c, r.body)
			}
		}
	})
}

func TestClientAuthenticationOneMethodAndNoSecretForPublicClients(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b storetest.Backend) {
		e := setup(t, b)
		f := e.codeFlow(t, e.browser(t), e.rp(t, trustedID))
		cc := url.Values{"grant_type": {"client_credentials"}}
		withSecret := func(v url.Values, id, secret string) url.Values {
			out := url.Values{}
			for k, vs := range v {
				out[k] = vs
			}
			out.Set("client_id", id)
			out.Set("client_secret", secret)
			return out
		}
		for _, tc := range []struct {
			name, path string
			form       url.Values
		}{
			{"token", "/oauth2/token", cc},
			{"introspect", "/oauth2/introspect", url.Values{"token": {f.tok.AccessToken}}},
			{"revoke", "/oauth2/revoke", url.Values{"token": {f.tok.RefreshToken}}},
		} {
			// Basic and body credentials at once (RFC 6749 section 2.3).
			r := e.postForm(t, tc.path, trustedID, clientSecret, withSecret(tc.form, trustedID, clientSecret))
			if r.status != http.StatusBadRequest || r.str("error") != "invalid_request" {
				t.Errorf("%s with Basic and body credentials: %d %s", tc.name, r.status, r.body)
			}
			// A public client sending a secret, in the body or in Basic.
			r = e.postForm(t, tc.path, "", "", withSecret(tc.form, publicID, "made-up"))
			if r.status != http.StatusUnauthorized || r.str("error") != "invalid_client" {
				t.Errorf("%s with a public client's secret in the body: %d %s", tc.name, r.status, r.body)
			}
			r = e.postForm(t, tc.path, publicID, "made-up", tc.form)
			if r.status != http.StatusUnauthorized || r.str("error") != "invalid_client" {
				t.Errorf("%s with a public client's secret in Basic: %d %s", tc.name, r.status, r.body)
			}
		}
		// The refresh token survived the refused revocations.
		if !e.active(t, f.tok.RefreshToken) {
			t.Error("a refused revocation revoked the token")
		}
		// Each method alone still works, through x/oauth2 as a client would.
		for _, style := range []oauth2.AuthStyle{oauth2.AuthStyleInHeader, oauth2.AuthStyleInParams} {
			c := clientcredentials.Config{ClientID: serviceID, ClientSecret: clientSecret, TokenURL: e.issuer + "/oauth2/token",
				Scopes: []string{"credits:read"}, AuthStyle: style}
			if _, err := c.Token(context.Background()); err != nil {
				t.Errorf("client_credentials with auth style %d: %v", style, err)
			}
		}
		// Basic with the same client_id in the body only identifies the client.
		r := e.postForm(t, "/oauth2/token", serviceID, clientSecret, url.Values{"grant_type": {"client_credentials"}, "client_id": {serviceID}})
		if r.status != http.StatusOK {
			t.Errorf("Basic with the same body client_id: %d %s", r.status, r.body)
		}
	})
}

// authorizeURL is an authorization request of client with PKCE S256
// unless extra overrides it.
func (e *env) authorizeURL(client string, extra url.Values) string {
	q := url.Values{"client_id": {client}, "response_type": {"code"}, "redirect_uri": {rpRedirect},
		"scope": {"openid email"}, "state": {"st-" + client}, "nonce": {"n0nce"},
		"code_challenge": {oauth2.S256ChallengeFromVerifier(oauth2.GenerateVerifier())}, "code_challenge_method": {"S256"}}
	for k, v := range extra {
		if len(v) == 0 || v[0] == "" {
			q.Del(k)
			continue
		}
		q[k] = v
	}
	return "/oauth2/authorize?" + q.Encode()
}

func TestAuthorizeChecksBeforeLoginAndConsent(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b storetest.Backend) {
		e := setup(t, b)
		// A public client without PKCE: the error goes back at once, no
		// login page first.
		p := e.browser(t).get(t, e.authorizeURL(publicID, url.Values{"code_challenge": nil, "code_challenge_method": nil}))
		if q := e.callback(t, p); q.Get("error") != "invalid_request" || q.Get("state") != "st-"+publicID {
			t.Errorf("public client without PKCE: %v", q)
		}
		// Signed in, a client that needs consent with the plain method:
		// the error, not the consent page.
		br := e.browser(t)
		br.login(t, br.get(t, "/login?return_to=/account"), false)
		p = br.get(t, e.authorizeURL(thirdPartyID, url.Values{"code_challenge_method": {"plain"}}))
		if q := e.callback(t, p); q.Get("error") != "invalid_request" {
			t.Errorf("plain PKCE before consent: %v", q)
		}
		p = br.get(t, e.authorizeURL(thirdPartyID, url.Values{"code_challenge_method": nil}))
		if q := e.callback(t, p); q.Get("error") != "invalid_request" {
			t.Errorf("a challenge without a method before consent: %v", q)
		}

		// A request refused when the code is issued (an id_token_hint of
		// another user) stores no consent, even with "remember".
		e.createVerifiedUser(t, "user-bob-0001", "bob@example.com", userPassword)
		bob := e.browser(t)
		bob.post(t, "/login", url.Values{"email": {"bob@example.com"}, "password": {userPassword}, "return_to": {"/account"}})
		hint := e.codeFlow(t, bob, e.rp(t, trustedID)).rawID
		p = br.get(t, e.authorizeURL(thirdPartyID, url.Values{"id_token_hint": {hint}}))
		if p.status != http.StatusOK || p.url.Path != "/consent" {
			t.Fatalf("expected the consent page: %d %s", p.status, p.url)
		}
		challenge := submatch(t, challengeRE, p.body, "consent challenge")
		p = br.post(t, "/consent", url.Values{"challenge": {challenge}, "action": {"allow"}, "remember": {"1"}})
		if q := e.callback(t, p); q.Get("error") != "login_required" {
			t.Errorf("authorization with another user's id_token_hint: %v", q)
		}
		if c, err := e.store.GetConsent(context.Background(), e.user.ID, thirdPartyID); !errors.Is(err, provider.ErrNotFound) {
			t.Errorf("a refused request stored consent %+v (%v)", c, err)
		}
	})
}

var continueAsRE = regexp.MustCompile(`href="([^"]+)" data-testid="continue-as">`)

func TestPromptStrictness(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b storetest.Backend) {
		e := setup(t, b)
		br := e.browser(t)
		br.login(t, br.get(t, "/login?return_to=/account"), false)
		for _, prompt := range []string{"none login", "none consent", "none select_account"} {
			p := br.get(t, e.authorizeURL(trustedID, url.Values{"prompt": {prompt}}))
			if q := e.callback(t, p); q.Get("error") != "invalid_request" {
				t.Errorf("prompt=%q: %v", prompt, q)
			}
		}
		// select_account: the login page offers the signed-in account and
		// the form for another.
		p := br.get(t, e.authorizeURL(trustedID, url.Values{"prompt": {"select_account"}}))
		if !isLoginPage(p) || !strings.Contains(p.body, userEmail) {
			t.Fatalf("prompt=select_account: %d %s %.300s", p.status, p.url, p.body)
		}
		cont := html.UnescapeString(submatch(t, continueAsRE, p.body, "continue as"))
		if code := e.code(t, br.get(t, cont), "st-"+trustedID); code == "" {
			t.Error("continuing as the signed-in account issued no code")
		}
		// Another account from the same page.
		e.createVerifiedUser(t, "user-carol-01", "carol@example.com", userPassword)
		p = br.get(t, e.authorizeURL(trustedID, url.Values{"prompt": {"select_account"}}))
		p = br.post(t, "/login", url.Values{"email": {"carol@example.com"}, "password": {userPassword}, "return_to": {p.url.Query().Get("return_to")}})
		e.code(t, p, "st-"+trustedID)
	})
}

var (
	scriptTagRE = regexp.MustCompile(`(?i)<script[^>]*>`)
	hiddenRE    = regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)">`)
	formRE      = regexp.MustCompile(`<form [^>]*action="([^"]+)"`)
)

func TestFormPostResponseMode(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b storetest.Backend) {
		e := setup(t, b)
		r := e.rp(t, trustedID)
		var disc struct {
			Modes []string `json:"response_modes_supported"`
		}
		if err := r.provider.Claims(&disc); err != nil || !slices.Equal(disc.Modes, []string{"query", "form_post"}) {
			t.Errorf("response_modes_supported = %v (%v)", disc.Modes, err)
		}

		br := e.browser(t)
		verifier := oauth2.GenerateVerifier()
		p := br.get(t, r.cfg.AuthCodeURL("fp-state", oauth2.S256ChallengeOption(verifier), oauth2.SetAuthURLParam("response_mode", "form_post")))
		p = br.login(t, p, false)
		fields := formPostFields(t, e, p)
		if fields.Get("state") != "fp-state" || fields.Get("iss") != e.issuer || fields.Get("code") == "" {
			t.Fatalf("form_post fields = %v", fields)
		}
		tok, err := r.cfg.Exchange(context.Background(), fields.Get("code"), oauth2.VerifierOption(verifier))
		if err != nil {
			t.Fatalf("exchange of the form_post code: %v", err)
		}
		raw, _ := tok.Extra("id_token").(string)
		if _, err := r.verifier.Verify(context.Background(), raw); err != nil {
			t.Errorf("id token: %v", err)
		}
		// Errors travel the same way.
		p = e.browser(t).get(t, e.authorizeURL(trustedID, url.Values{"response_mode": {"form_post"}, "prompt": {"none"}}))
		if f := formPostFields(t, e, p); f.Get("error") != "login_required" || f.Get("iss") != e.issuer {
			t.Errorf("form_post error fields = %v", f)
		}
		// The script it loads is served.
		js := br.get(t, "/static/js/form_post.js")
		if js.status != http.StatusOK || !strings.Contains(js.header.Get("Content-Type"), "javascript") || !strings.Contains(js.body, "submit()") {
			t.Errorf("form_post.js: %d %q", js.status, js.header.Get("Content-Type"))
		}
		// An unknown mode is refused.
		p = e.browser(t).get(t, e.authorizeURL(trustedID, url.Values{"response_mode": {"fragment"}}))
		if p.status < 300 || p.status >= 400 || !strings.Contains(p.header.Get("Location"), "error=unsupported_response_mode") {
			t.Errorf("response_mode=fragment: %d %s", p.status, p.header.Get("Location"))
		}
	})
}

// formPostFields checks p is a form_post page that works under our CSP
// (no inline script, a script from /static/, a button without it) and
// returns its fields.
func formPostFields(t testing.TB, e *env, p *page) url.Values {
	t.Helper()
	if p.status != http.StatusOK || !strings.HasPrefix(p.header.Get("Content-Type"), "text/html") {
		t.Fatalf("form_post page: %d %s %.300s", p.status, p.header.Get("Content-Type"), p.body)
	}
	csp := p.header.Get("Content-Security-Policy")
	if !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe-inline") {
		t.Errorf("CSP = %q", csp)
	}
	tags := scriptTagRE.FindAllString(p.body, -1)
	if len(tags) != 1 || !strings.Contains(tags[0], `src="/static/js/form_post.js"`) {
		t.Errorf("script tags = %q", tags)
	}
	if regexp.MustCompile(`(?i)\son[a-z]+=`).MatchString(p.body) || strings.Contains(p.body, "javascript:") {
		t.Error("form_post page has an inline event handler")
	}
	if !strings.Contains(p.body, `<button`) {
		t.Error("form_post page has no button for browsers without JavaScript")
	}
	if m := formRE.FindStringSubmatch(p.body); m == nil || html.UnescapeString(m[1]) != rpRedirect {
		t.Errorf("form action = %v", m)
	}
	v := url.Values{}
	for _, m := range hiddenRE.FindAllStringSubmatch(p.body, -1) {
		v.Add(html.UnescapeString(m[1]), html.UnescapeString(m[2]))
	}
	return v
}

func TestRefreshAfterRevocationSaysRevoked(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b storetest.Backend) {
		e := setup(t, b)
		wantRevoked := func(what string, r *tokenResp) {
			t.Helper()
			desc := r.str("error_description")
			if r.status != http.StatusBadRequest || r.str("error") != "invalid_grant" || !strings.Contains(desc, "revoked") || strings.Contains(desc, "already used") {
				t.Errorf("%s: %d %s", what, r.status, r.body)
			}
		}
		// RFC 7009 revocation.
		f := e.codeFlow(t, e.browser(t), e.rp(t, trustedID))
		if rv := e.postForm(t, "/oauth2/revoke", trustedID, clientSecret, url.Values{"token": {f.tok.RefreshToken}}); rv.status != http.StatusOK {
			t.Fatalf("revoke: %d %s", rv.status, rv.body)
		}
		wantRevoked("refresh after revocation", e.refresh(t, trustedID, f.tok.RefreshToken))

		// The login session ended from another browser ("sign out
		// everywhere else") revokes the app's tokens.
		f = e.codeFlow(t, e.browser(t), e.rp(t, trustedID))
		other := e.browser(t)
		other.login(t, other.get(t, "/login?return_to=/account"), false)
		if p := other.post(t, "/account/sessions/revoke-others", url.Values{}); !isAccountPage(p) {
			t.Fatalf("revoke others: %d %s", p.status, p.url)
		}
		wantRevoked("refresh after the session ended", e.refresh(t, trustedID, f.tok.RefreshToken))

		// The first-party API after a logout.
		l := e.apiLogin(t, userEmail, userPassword)
		e.api(t, http.MethodPost, "/api/v1/auth/logout", l.access, nil).want(t, "logout", http.StatusOK)
		r := e.apiRefresh(t, l.refresh)
		if r.status != http.StatusUnauthorized || !strings.Contains(r.body, "revoked") {
			t.Errorf("API refresh after logout: %d %s", r.status, r.body)
		}

		if n := e.eventTypes(t, e.user.ID)[provider.EventRefreshReuse]; n != 0 {
			t.Errorf("%d refresh token reuse events for revoked tokens", n)
		}
	})
}

func TestStaticHasNoListingsAndForeignSessionsAreNotFound(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b storetest.Backend) {
		e := setup(t, b)
		br := e.browser(t)
		for _, dir := range []string{"/static/", "/static/css/", "/static/css", "/static/img/", "/static/js/"} {
			// A listing links the files by their bare names; the 404 page's
			// own stylesheet and logo links are absolute.
			if p := br.get(t, dir); p.status != http.StatusNotFound || strings.Contains(p.body, `href="app.css"`) || strings.Contains(p.body, `href="logo.svg"`) {
				t.Errorf("GET %s: %d %.200s", dir, p.status, p.body)
			}
		}
		if p := br.get(t, "/static/css/app.css"); p.status != http.StatusOK {
			t.Errorf("app.css: %d", p.status)
		}

		e.createVerifiedUser(t, "user-dave-0001", "dave@example.com", userPassword)
		dave := e.apiLogin(t, "dave@example.com", userPassword)
		sid := e.sessionOf(t, dave.access)
		br.login(t, br.get(t, "/login?return_to=/account"), false)
		p := br.post(t, "/account/sessions/revoke", url.Values{"session_id": {sid}})
		if p.status != http.StatusNotFound || !strings.Contains(p.body, "not found") || strings.Contains(p.body, "was signed out") {
			t.Errorf("revoking another user's session: %d %s %.300s", p.status, p.url, p.body)
		}
		if ok, _ := e.valid(t, dave.access); !ok {
			t.Error("another user's session was ended")
		}
	})
}

// sessionOf is the login session (sid) of a first-party access token.
func (e *env) sessionOf(t testing.TB, access string) string {
	t.Helper()
	_, claims := e.verifyJWT(t, access, "EdDSA")
	sid, _ := claims["sid"].(string)
	if sid == "" {
		t.Fatalf("no sid in %v", claims)
	}
	return sid
}
