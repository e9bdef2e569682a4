package server_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/manacore/mana-core-auth/provider/store/storetest"
)

const sqlMeta = `' OR 1=1 --`

// TestBadInput sends malformed and hostile requests to the protocol
// endpoints: each must get an RFC 6749 style 4xx, never a 5xx or a glimpse
// of the internals, and must leave the provider working.
func TestBadInput(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b storetest.Backend) {
		e := setup(t, b)
		long := strings.Repeat("x", 20000)
		huge := "grant_type=client_credentials&pad=" + strings.Repeat("a", 70<<10)

		type req struct {
			name, path, ctype, body string
			id, secret              string
		}
		form := func(kv ...string) string {
			v := url.Values{}
			for i := 0; i+1 < len(kv); i += 2 {
				v.Add(kv[i], kv[i+1])
			}
			return v.Encode()
		}
		formCT := "application/x-www-form-urlencoded"
		cases := []req{
			{name: "empty body", path: "/oauth2/token", ctype: formCT},
			{name: "no content type", path: "/oauth2/token", body: "grant_type=client_credentials"},
			{name: "garbage", path: "/oauth2/token", ctype: formCT, body: "%%%\x00\xff=&&;;=="},
			{name: "binary", path: "/oauth2/token", ctype: "application/octet-stream", body: "\x00\x01\x02\xff"},
			{name: "json", path: "/oauth2/token", ctype: "application/json", body: `{"grant_type":"client_credentials","client_id":"billing-svc"}`, id: serviceID, secret: clientSecret},
			{name: "broken multipart", path: "/oauth2/token", ctype: "multipart/form-data; boundary=x", body: "--x\r\nbroken"},
			{name: "oversized", path: "/oauth2/token", ctype: formCT, body: huge, id: serviceID, secret: clientSecret},
			{name: "unknown grant", path: "/oauth2/token", ctype: formCT, body: form("grant_type", "urn:evil"), id: serviceID, secret: clientSecret},
			{name: "password grant", path: "/oauth2/token", ctype: formCT, body: form("grant_type", "password", "username", sqlMeta, "password", sqlMeta), id: trustedID, secret: clientSecret},
			{name: "implicit as grant", path: "/oauth2/token", ctype: formCT, body: form("grant_type", "implicit"), id: trustedID, secret: clientSecret},
			{name: "two grant types", path: "/oauth2/token", ctype: formCT, body: form("grant_type", "client_credentials", "grant_type", "refresh_token"), id: serviceID, secret: clientSecret},
			{name: "sql client_id basic", path: "/oauth2/token", ctype: formCT, body: form("grant_type", "client_credentials"), id: sqlMeta, secret: sqlMeta},
			{name: "sql client_id post", path: "/oauth2/token", ctype: formCT, body: form("grant_type", "client_credentials", "client_id", sqlMeta, "client_secret", sqlMeta)},
			{name: "sql code", path: "/oauth2/token", ctype: formCT, body: form("grant_type", "authorization_code", "code", sqlMeta, "redirect_uri", rpRedirect), id: trustedID, secret: clientSecret},
			{name: "sql code with dot", path: "/oauth2/token", ctype: formCT, body: form("grant_type", "authorization_code", "code", sqlMeta+"."+sqlMeta, "redirect_uri", rpRedirect), id: trustedID, secret: clientSecret},
			{name: "sql refresh_token", path: "/oauth2/token", ctype: formCT, body: form("grant_type", "refresh_token", "refresh_token", sqlMeta+"."+sqlMeta), id: trustedID, secret: clientSecret},
			{name: "sql scope", path: "/oauth2/token", ctype: formCT, body: form("grant_type", "client_credentials", "scope", sqlMeta), id: serviceID, secret: clientSecret},
			{name: "sql public client", path: "/oauth2/token", ctype: formCT, body: form("grant_type", "authorization_code", "client_id", publicID, "code", sqlMeta, "code_verifier", sqlMeta)},
			{name: "long client_id", path: "/oauth2/token", ctype: formCT, body: form("grant_type", "client_credentials", "client_id", long, "client_secret", long)},
			{name: "long code", path: "/oauth2/token", ctype: formCT, body: form("grant_type", "authorization_code", "code", long+"."+long, "redirect_uri", long), id: trustedID, secret: clientSecret},
			{name: "long refresh", path: "/oauth2/token", ctype: formCT, body: form("grant_type", "refresh_token", "refresh_token", long), id: trustedID, secret: clientSecret},
			{name: "missing code", path: "/oauth2/token", ctype: formCT, body: form("grant_type", "authorization_code"), id: trustedID, secret: clientSecret},
			{name: "missing refresh token", path: "/oauth2/token", ctype: formCT, body: form("grant_type", "refresh_token"), id: trustedID, secret: clientSecret},
			{name: "introspect garbage", path: "/oauth2/introspect", ctype: formCT, body: "%%%", id: trustedID, secret: clientSecret},
			{name: "introspect sql token", path: "/oauth2/introspect", ctype: formCT, body: form("token", sqlMeta), id: sqlMeta, secret: sqlMeta},
			{name: "introspect oversized", path: "/oauth2/introspect", ctype: formCT, body: huge, id: trustedID, secret: clientSecret},
			{name: "revoke without auth", path: "/oauth2/revoke", ctype: formCT, body: form("token", sqlMeta)},
			{name: "revoke sql client", path: "/oauth2/revoke", ctype: formCT, body: form("token", sqlMeta), id: sqlMeta, secret: sqlMeta},
			{name: "nul refresh_token", path: "/oauth2/token", ctype: formCT, body: form("grant_type", "refresh_token", "refresh_token", "a.b\x00c"), id: trustedID, secret: clientSecret},
			{name: "invalid utf8 code", path: "/oauth2/token", ctype: formCT, body: form("grant_type", "authorization_code", "code", "a.\xff\xfe", "redirect_uri", rpRedirect), id: trustedID, secret: clientSecret},
			{name: "nul client_id post", path: "/oauth2/token", ctype: formCT, body: form("grant_type", "client_credentials", "client_id", "a\x00", "client_secret", "x")},
			{name: "nul client_id basic", path: "/oauth2/token", ctype: formCT, body: form("grant_type", "client_credentials"), id: "a\x00", secret: "x\xff"},
			{name: "introspect nul client", path: "/oauth2/introspect", ctype: formCT, body: form("token", "a.b"), id: "a\x00", secret: "x"},
			{name: "revoke nul token", path: "/oauth2/revoke", ctype: formCT, body: form("token", "a.b\x00"), id: "a\x00", secret: clientSecret},
			{name: "revoke json", path: "/oauth2/revoke", ctype: "application/json", body: `{"token":1}`, id: trustedID, secret: clientSecret},
		}
		// An unreadable token is simply not active (RFC 7662).
		if e.active(t, "a.b\x00\xff") {
			t.Error("a NUL token is active")
		}
		for _, c := range cases {
			r := e.postRaw(t, c.path, c.id, c.secret, c.ctype, c.body)
			if r.status < 400 || r.status >= 500 {
				t.Errorf("%s: status %d: %.300s", c.name, r.status, r.body)
			}
			if r.str("error") == "" {
				t.Errorf("%s: no RFC 6749 error in %.300s", c.name, r.body)
			}
			if !strings.HasPrefix(r.header.Get("Content-Type"), "application/json") {
				t.Errorf("%s: Content-Type %q", c.name, r.header.Get("Content-Type"))
			}
			if r.status == http.StatusUnauthorized && r.header.Get("WWW-Authenticate") == "" {
				t.Errorf("%s: 401 without WWW-Authenticate", c.name)
			}
			noLeak(t, c.name, r.body)
		}

		// Revocation of a token that does not exist is fine (RFC 7009 2.2).
		for _, tok := range []string{sqlMeta, long, "a.b", ""} {
			r := e.postForm(t, "/oauth2/revoke", trustedID, clientSecret, url.Values{"token": {tok}})
			if tok == "" {
				if r.status != http.StatusBadRequest {
					t.Errorf("revoke without token: %d %s", r.status, r.body)
				}
				continue
			}
			if r.status != http.StatusOK {
				t.Errorf("revoke %.20q: %d %s", tok, r.status, r.body)
			}
		}
		// Introspection of junk is simply inactive.
		for _, tok := range []string{sqlMeta, long, "a.b.c", "eyJhbGciOiJub25lIn0.e30."} {
			if e.active(t, tok) {
				t.Errorf("introspect %.20q: active", tok)
			}
		}

		// Pages and authorize with hostile values.
		br := e.browser(t)
		pages := []string{
			"/oauth2/authorize?" + url.Values{"client_id": {sqlMeta}, "redirect_uri": {rpRedirect}, "response_type": {"code"}}.Encode(),
			"/oauth2/authorize?" + url.Values{"client_id": {long}, "redirect_uri": {long}}.Encode(),
			"/oauth2/authorize?" + url.Values{"client_id": {trustedID}, "redirect_uri": {rpRedirect}, "response_type": {"code"}, "scope": {sqlMeta}, "state": {sqlMeta}}.Encode(),
			"/oauth2/authorize?%zz",
			"/login?return_to=" + url.QueryEscape(sqlMeta),
			"/consent?challenge=" + url.QueryEscape(sqlMeta),
			"/oauth2/logout?id_token_hint=" + url.QueryEscape(sqlMeta),
			"/oauth2/logout?id_token_hint=a.b.c",
			"/oauth2/logout?post_logout_redirect_uri=" + url.QueryEscape(rpPostLogout),
		}
		for _, p := range pages {
			pg := br.get(t, p)
			if pg.status >= 500 {
				t.Errorf("GET %.80s: %d", p, pg.status)
			}
			if loc := pg.header.Get("Location"); loc != "" && !strings.HasPrefix(loc, rpRedirect) && !strings.HasPrefix(loc, "/") {
				t.Errorf("GET %.80s: redirect to %s", p, loc)
			}
			noLeak(t, p, pg.body)
		}
		logins := []url.Values{
			{"email": {sqlMeta}, "password": {sqlMeta}, "return_to": {sqlMeta}},
			{"email": {userEmail + sqlMeta}, "password": {userPassword}},
			{"email": {long}, "password": {long}},
			{"email": {userEmail}, "password": {strings.Repeat("p", 5000)}},
			{},
		}
		for _, f := range logins {
			pg := br.post(t, "/login", f)
			if pg.status != http.StatusUnauthorized && pg.status != http.StatusBadRequest {
				t.Errorf("login %.40v: %d", f, pg.status)
			}
			noLeak(t, "login", pg.body)
		}
		for _, f := range []url.Values{{"challenge": {sqlMeta}, "action": {"allow"}}, {}} {
			if pg := br.post(t, "/consent", f); pg.status != http.StatusBadRequest {
				t.Errorf("consent %v: %d", f, pg.status)
			}
			if pg := br.post(t, "/oauth2/logout", f); pg.status != http.StatusBadRequest && pg.status != http.StatusOK {
				t.Errorf("logout %v: %d", f, pg.status)
			}
		}
		if pg := br.post(t, "/login", url.Values{"email": {userEmail}, "pad": {strings.Repeat("a", 70<<10)}}); pg.status != http.StatusBadRequest && pg.status != http.StatusRequestEntityTooLarge {
			t.Errorf("oversized login: %d", pg.status)
		}

		// The provider still works after all that.
		e.codeFlow(t, e.browser(t), e.rp(t, trustedID))
	})
}

// TestAliases checks the old service's paths reach the same handlers.
func TestAliases(t *testing.T) {
	e := setup(t, storetest.Backends()[0])
	for _, prefix := range []string{"/api/auth/oauth2", "/api/oidc"} {
		r := e.postForm(t, prefix+"/token", serviceID, clientSecret, url.Values{"grant_type": {"client_credentials"}})
		if r.status != http.StatusOK || r.str("access_token") == "" {
			t.Errorf("%s/token: %d %s", prefix, r.status, r.body)
		}
		req, _ := http.NewRequest(http.MethodGet, e.issuer+prefix+"/userinfo", nil)
		req.Header.Set("Authorization", "Bearer "+r.str("access_token"))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		// A client_credentials token has no user and no openid scope.
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("%s/userinfo with a client token: %d", prefix, resp.StatusCode)
		}
	}
	for _, p := range []string{"/api/auth/jwks", "/api/v1/auth/jwks", "/api/oidc/jwks", "/.well-known/jwks.json"} {
		resp, err := http.Get(e.issuer + p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("%s: %d", p, resp.StatusCode)
		}
	}
}
