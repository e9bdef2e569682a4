package main

import (
	"context"
	"html"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// The plain-HTTP OpenID Connect client of the PgBouncer and replica tests:
// a relying party's code flow with PKCE (golang.org/x/oauth2, ID token
// checked by coreos/go-oidc) and a user agent that signs in through the
// provider's own login form. No browser: these tests are about what the
// servers share, not about pages.

// rpRedirect is the relying party's redirect URI; it is never contacted,
// the user agent stops at the redirect that carries the code.
const rpRedirect = "http://127.0.0.1:9/callback"

// replicaClient is a user agent that reaches the issuer's host name at
// addr (host:port), so several replicas can share one issuer the way they
// would behind a load balancer. Clients with the same jar share cookies.
func replicaClient(addr string, jar http.CookieJar) *http.Client {
	d := &net.Dialer{Timeout: 5 * time.Second}
	return &http.Client{
		Jar:     jar,
		Timeout: 30 * time.Second,
		Transport: &http.Transport{
			Proxy: nil,
			DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
				return d.DialContext(ctx, network, addr)
			},
		},
		CheckRedirect: func(req *http.Request, _ []*http.Request) error {
			if req.URL.Host == "127.0.0.1:9" {
				return http.ErrUseLastResponse
			}
			return nil
		},
	}
}

// flowRP is a confidential relying party registered with redirect URI
// rpRedirect.
type flowRP struct {
	id, secret string
	issuer     string
}

// flowResult is what the relying party holds after a code flow.
type flowResult struct {
	token   *oauth2.Token
	idToken *oidc.IDToken
	rawID   string
	// signedIn says the provider asked for the password; false when the
	// session cookie carried the user through (single sign-on).
	signedIn bool
}

// codeFlow runs the authorization code flow with PKCE against the replica
// c reaches: discovery, /authorize (signing in with email and password
// when the provider shows its login form, straight through when the
// session cookie in c's jar is valid there), the code exchange and the ID
// token's verification against that replica's JWKS.
func codeFlow(t *testing.T, ctx context.Context, c *http.Client, rp flowRP, email, password string) flowResult {
	t.Helper()
	ctx = oidc.ClientContext(ctx, c)
	p, err := oidc.NewProvider(ctx, rp.issuer)
	if err != nil {
		t.Fatalf("discovery: %v", err)
	}
	conf := oauth2.Config{ClientID: rp.id, ClientSecret: rp.secret, Endpoint: p.Endpoint(), RedirectURL: rpRedirect,
		Scopes: []string{oidc.ScopeOpenID, "profile", "email", "offline_access"}}
	conf.Endpoint.AuthStyle = oauth2.AuthStyleInHeader
	state, nonce, verifier := randomString(), randomString(), oauth2.GenerateVerifier()
	resp := get(t, c, conf.AuthCodeURL(state, oidc.Nonce(nonce), oauth2.S256ChallengeOption(verifier)))
	signedIn := false
	if resp.StatusCode == http.StatusOK && resp.Request.URL.Path == "/login" {
		signedIn = true
		form := url.Values{"email": {email}, "password": {password}}
		for _, m := range hiddenInputRE.FindAllStringSubmatch(resp.body, -1) {
			form.Set(html.UnescapeString(m[1]), html.UnescapeString(m[2]))
		}
		if form.Get("return_to") == "" {
			form.Set("return_to", resp.Request.URL.Query().Get("return_to"))
		}
		resp = postForm(t, c, rp.issuer+"/login", rp.issuer, form)
	}
	if resp.StatusCode != http.StatusFound && resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("authorize ended at %s with %d, want a redirect to the relying party\n%.1500s", resp.Request.URL, resp.StatusCode, resp.body)
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || loc.Host != "127.0.0.1:9" {
		t.Fatalf("authorize redirected to %q, want %s", resp.Header.Get("Location"), rpRedirect)
	}
	q := loc.Query()
	if q.Get("state") != state || q.Get("code") == "" {
		t.Fatalf("callback without code or with another state: %s", loc)
	}
	tok, err := conf.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("code exchange: %v", err)
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := p.Verifier(&oidc.Config{ClientID: rp.id, SupportedSigningAlgs: []string{oidc.EdDSA, oidc.RS256}}).Verify(ctx, raw)
	if err != nil {
		t.Fatalf("ID token: %v", err)
	}
	if idt.Nonce != nonce {
		t.Fatalf("ID token nonce %q, want %q", idt.Nonce, nonce)
	}
	return flowResult{token: tok, idToken: idt, rawID: raw, signedIn: signedIn}
}

// refresh exchanges the refresh token at the replica c reaches.
func (rp flowRP) refresh(ctx context.Context, c *http.Client, refreshToken string) (*oauth2.Token, error) {
	conf := oauth2.Config{ClientID: rp.id, ClientSecret: rp.secret,
		Endpoint: oauth2.Endpoint{TokenURL: rp.issuer + "/oauth2/token", AuthStyle: oauth2.AuthStyleInHeader}}
	ctx = context.WithValue(ctx, oauth2.HTTPClient, c)
	return conf.TokenSource(ctx, &oauth2.Token{RefreshToken: refreshToken}).Token()
}

type fetched struct {
	*http.Response
	body string
}

func get(t *testing.T, c *http.Client, target string) fetched {
	t.Helper()
	resp, err := c.Get(target)
	if err != nil {
		t.Fatalf("GET %s: %v", target, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return fetched{resp, string(b)}
}

// postForm posts like a browser form on origin (CrossOriginProtection
// looks at Origin).
func postForm(t *testing.T, c *http.Client, target, origin string, form url.Values) fetched {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, target, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", origin)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", target, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return fetched{resp, string(b)}
}
