package server_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/manacore/mana-core-auth/provider/store/storetest"
)

// FuzzRedirectURI feeds arbitrary redirect_uri values to the authorization
// endpoint for a registered client, with a signed-in browser so a valid
// request really issues a code: the endpoint must never fail with 5xx and
// must redirect only to the exact registered URI (or to its own login page).
func FuzzRedirectURI(f *testing.F) {
	for _, s := range []string{
		rpRedirect, "", rpRedirect + "/", rpRedirect + "?x=1", rpRedirect + "#frag", rpRedirect + "/../cb",
		"HTTPS://rp.example.test/cb", "https://RP.example.test/cb", "https://rp.example.test:443/cb",
		"https://rp.example.test/cb%2F..", "https://rp.example.test.evil.example/cb", "https://evil.example/cb",
		"https://rp.example.test@evil.example/cb", "//evil.example/cb", "/cb", "javascript:alert(1)",
		"http://127.0.0.1/cb", "http://127.0.0.1:9999/cb", "http://[::1]/cb", "data:text/html,hi",
		"https://rp.example.test/cb\x00", "https://rp.example.test/cb ", " " + rpRedirect, "https://rp.example.test\\@evil/cb",
		"https://rp.example.test/CB", strings.Repeat("a", 5000), "%zz", "https://rp.example.test/cb?state=x&code=y",
	} {
		f.Add(s, false)
		f.Add(s, true)
	}
	e := setup(f, storetest.Backends()[0])
	br := e.browser(f)
	br.login(f, br.get(f, "/login?return_to=/"), false)
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

	f.Fuzz(func(t *testing.T, redirectURI string, signedIn bool) {
		q := url.Values{"client_id": {trustedID}, "response_type": {"code"}, "scope": {"openid"},
			"state": {"fuzz-state"}, "redirect_uri": {redirectURI}}
		req, err := http.NewRequest(http.MethodGet, e.issuer+"/oauth2/authorize?"+q.Encode(), nil)
		if err != nil {
			return // not a URL net/http can send; the server never sees it
		}
		if signedIn {
			for _, c := range br.c.Jar.Cookies(mustURL(e.issuer)) {
				req.AddCookie(c)
			}
		}
		resp, err := noFollow.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode >= 500 {
			t.Fatalf("redirect_uri %q: status %d", redirectURI, resp.StatusCode)
		}
		loc := resp.Header.Get("Location")
		if loc == "" {
			return
		}
		if strings.HasPrefix(loc, "/login?") {
			if signedIn {
				t.Errorf("redirect_uri %q: signed-in browser sent to login", redirectURI)
			}
			return
		}
		u, err := url.Parse(loc)
		if err != nil || u.Scheme+"://"+u.Host+u.Path != rpRedirect || !strings.HasPrefix(loc, rpRedirect+"?") || u.Fragment != "" {
			t.Fatalf("redirect_uri %q: redirected to %q", redirectURI, loc)
		}
		if redirectURI != "" && redirectURI != rpRedirect {
			t.Fatalf("redirect_uri %q accepted as %q", redirectURI, loc)
		}
	})
}

// FuzzTokenForm feeds arbitrary bodies to the token endpoint: never a 5xx,
// always JSON.
func FuzzTokenForm(f *testing.F) {
	for _, s := range []string{
		"", "grant_type=client_credentials", "grant_type=client_credentials&scope=credits:read",
		"grant_type=authorization_code&code=abc.def&redirect_uri=" + url.QueryEscape(rpRedirect),
		"grant_type=refresh_token&refresh_token=abc.def", "grant_type=refresh_token&refresh_token=",
		"grant_type=password&username=a&password=b", "grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer&assertion=a.b.c",
		"grant_type=client_credentials&client_id=" + serviceID + "&client_secret=x",
		"grant_type=authorization_code&client_id=" + publicID + "&code=x.y&code_verifier=" + strings.Repeat("v", 43),
		"grant_type=client_credentials&grant_type=refresh_token", "%", "%%%=&&&", "a=%zz", "grant_type=%00",
		"grant_type=client_credentials&audience=" + url.QueryEscape(sqlMeta), "client_assertion_type=x&client_assertion=y",
		"grant_type=client_credentials&scope=" + strings.Repeat("s ", 2000), `{"grant_type":"client_credentials"}`,
	} {
		f.Add(s, true)
		f.Add(s, false)
	}
	e := setup(f, storetest.Backends()[0])
	f.Fuzz(func(t *testing.T, body string, basic bool) {
		id, secret := "", ""
		if basic {
			id, secret = serviceID, clientSecret
		}
		r := e.postRaw(t, "/oauth2/token", id, secret, "application/x-www-form-urlencoded", body)
		if r.status >= 500 {
			t.Fatalf("body %q: status %d: %s", body, r.status, r.body)
		}
		if r.json == nil {
			t.Fatalf("body %q: not JSON: %.200s", body, r.body)
		}
		if r.status >= 400 {
			if r.str("error") == "" {
				t.Fatalf("body %q: %d without error code: %s", body, r.status, r.body)
			}
			noLeak(t, "token", r.body) // a token may contain anything in base64
		}
	})
}
