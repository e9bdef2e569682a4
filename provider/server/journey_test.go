package server_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"

	gooidc "github.com/coreos/go-oidc/v3/oidc"

	"github.com/manacore/mana-core-auth/provider"
	"github.com/manacore/mana-core-auth/provider/store/storetest"
)

// Issue 12, part A: the journeys that start at an app come back to it,
// and errors a browser reads are pages in its language.

var hrefRE = regexp.MustCompile(`<a [^>]*href="([^"]*)"[^>]*data-testid="([a-z-]+)"`)

// linkOf is the href of the link with the test id on p.
func linkOf(t testing.TB, p *page, testID string) string {
	t.Helper()
	for _, m := range hrefRE.FindAllStringSubmatch(p.body, -1) {
		if m[2] == testID {
			return htmlUnescape(m[1])
		}
	}
	t.Fatalf("no link %q on %s: %.800s", testID, p.url, p.body)
	return ""
}

// hiddenOf is the value of the hidden field name on p ("" without one).
func hiddenOf(p *page, name string) string {
	m := regexp.MustCompile(`<input type="hidden" name="` + regexp.QuoteMeta(name) + `" value="([^"]*)"`).FindStringSubmatch(p.body)
	if m == nil {
		return ""
	}
	return htmlUnescape(m[1])
}

func TestJourneyBackToTheApp(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b storetest.Backend) {
		mb, sender := startMailbox(t)
		e := setup(t, b, withMailer(sender))
		r := e.rp(t, trustedID)

		t.Run("RegisterVerifySignIn", func(t *testing.T) {
			br := e.browser(t)
			state := randString(12)
			p := br.get(t, r.cfg.AuthCodeURL(state, gooidc.Nonce(randString(12))))
			if !isLoginPage(p) {
				t.Fatalf("authorize did not show the login page: %d %s", p.status, p.url)
			}
			returnTo := p.url.Query().Get("return_to")
			reg := linkOf(t, p, "register-link")
			if u := mustURL(reg); u.Path != "/register" || u.Query().Get("return_to") != returnTo {
				t.Fatalf("'Create account' = %q, want /register with return_to %q", reg, returnTo)
			}
			p = br.get(t, reg)
			if hiddenOf(p, "return_to") != returnTo {
				t.Fatalf("register form return_to = %q, want %q", hiddenOf(p, "return_to"), returnTo)
			}
			p = br.post(t, "/register", url.Values{"name": {"Quinn"}, "email": {"quinn@example.com"}, "password": {"password123"}, "return_to": {returnTo}})
			if p.status != http.StatusOK || hiddenOf(p, "return_to") != returnTo {
				t.Fatalf("registered page: %d, resend keeps return_to %q", p.status, hiddenOf(p, "return_to"))
			}
			link := mb.wait(t, "quinn@example.com", 1).link(t, "/api/auth/verify-email")
			if got := link.Query().Get("continue"); got != returnTo {
				t.Fatalf("verification link continue = %q, want %q", got, returnTo)
			}
			p = br.get(t, link.String())
			if !isLoginPage(p) || p.url.Query().Get("return_to") != returnTo {
				t.Fatalf("after verification: %d %s", p.status, p.url)
			}
			if !strings.Contains(p.body, `data-testid="notice"`) || !strings.Contains(p.body, "Email confirmed — sign in to continue to Chat.") {
				t.Errorf("no notice naming the app: %.1200s", p.body)
			}
			if !strings.Contains(p.body, `value="quinn@example.com"`) {
				t.Errorf("email not filled in")
			}
			p = br.post(t, "/login", url.Values{"email": {"quinn@example.com"}, "password": {"password123"}, "return_to": {hiddenOf(p, "return_to")}})
			code := e.code(t, p, state)
			if _, err := r.cfg.Exchange(context.Background(), code); err != nil {
				t.Fatalf("exchange: %v", err)
			}
		})

		t.Run("VerifiedNoticeInGerman", func(t *testing.T) {
			br := e.browser(t)
			req, _ := http.NewRequest(http.MethodGet, e.issuer+"/login?verified=true&email=x%40example.com&return_to="+
				url.QueryEscape("/oauth2/authorize?client_id="+trustedID+"&response_type=code"), nil)
			req.Header.Set("Accept-Language", "de-DE")
			p := br.do(t, req)
			if !strings.Contains(p.body, "E-Mail bestätigt – melde dich an, um weiter zu Chat zu gelangen.") || !strings.Contains(p.body, `value="x@example.com"`) {
				t.Errorf("German notice or email missing: %.1500s", p.body)
			}
			// Without an app: the notice, no app name.
			p = br.get(t, "/login?verified=true&email=x%40example.com")
			if !strings.Contains(p.body, "Email confirmed — sign in to continue.") {
				t.Errorf("plain notice missing: %.1500s", p.body)
			}
		})

		t.Run("ForgotResetSignIn", func(t *testing.T) {
			br := e.browser(t)
			state := randString(12)
			p := br.get(t, r.cfg.AuthCodeURL(state, gooidc.Nonce(randString(12))))
			returnTo := p.url.Query().Get("return_to")
			forgot := linkOf(t, p, "forgot-link")
			if u := mustURL(forgot); u.Path != "/forgot-password" || u.Query().Get("return_to") != returnTo {
				t.Fatalf("'Forgot password?' = %q", forgot)
			}
			p = br.get(t, forgot)
			if hiddenOf(p, "return_to") != returnTo {
				t.Fatalf("forgot form return_to = %q", hiddenOf(p, "return_to"))
			}
			n := mb.count(userEmail)
			p = br.post(t, "/forgot-password", url.Values{"email": {userEmail}, "return_to": {returnTo}})
			if p.status != http.StatusOK {
				t.Fatalf("forgot: %d", p.status)
			}
			rl := mb.wait(t, userEmail, n+1).link(t, "/reset-password")
			if rl.Query().Get("continue") != returnTo {
				t.Fatalf("reset link continue = %q, want %q", rl.Query().Get("continue"), returnTo)
			}
			p = br.get(t, rl.String())
			if hiddenOf(p, "continue") != returnTo {
				t.Fatalf("reset form continue = %q", hiddenOf(p, "continue"))
			}
			p = br.post(t, "/reset-password", url.Values{"token": {rl.Query().Get("token")}, "password": {"brand-new-pass"},
				"password_confirm": {"brand-new-pass"}, "continue": {returnTo}})
			if !isLoginPage(p) || p.url.Query().Get("return_to") != returnTo || !strings.Contains(p.body, "Password changed — sign in to continue to Chat.") ||
				!strings.Contains(p.body, `value="`+userEmail+`"`) {
				t.Fatalf("after reset: %d %s %.1200s", p.status, p.url, p.body)
			}
			p = br.post(t, "/login", url.Values{"email": {userEmail}, "password": {"brand-new-pass"}, "return_to": {returnTo}})
			e.code(t, p, state)
		})

		t.Run("ForeignContinuationRefused", func(t *testing.T) {
			br := e.browser(t)
			for _, evil := range []string{"https://evil.example/steal", "//evil.example/x", "/\\evil.example", "javascript:alert(1)", "http:/evil.example"} {
				// The register form and the mail link drop it ...
				p := br.post(t, "/register", url.Values{"name": {"Eve"}, "email": {"eve" + randString(4) + "@example.com"}, "password": {"password123"}, "return_to": {evil}})
				if p.status != http.StatusOK || hiddenOf(p, "return_to") != "" {
					t.Errorf("register kept %q: %d %q", evil, p.status, hiddenOf(p, "return_to"))
				}
				// ... the login page and form never send the browser there ...
				p = br.get(t, "/login?verified=true&email=a%40b.c&return_to="+url.QueryEscape(evil))
				if v := hiddenOf(p, "return_to"); v != "/" {
					t.Errorf("login page return_to for %q = %q, want /", evil, v)
				}
				// ... and neither does a tampered reset form.
				if loc := br.post(t, "/reset-password", url.Values{"token": {"nope"}, "password": {"brand-new-pass"}, "password_confirm": {"brand-new-pass"}, "continue": {evil}}); loc.status != http.StatusBadRequest || hiddenOf(loc, "continue") != "" {
					t.Errorf("reset with %q: %d continue %q", evil, loc.status, hiddenOf(loc, "continue"))
				}
			}
			// A tampered verification link: a foreign continuation is
			// ignored, the link still verifies and stays on our pages.
			p := br.post(t, "/register", url.Values{"name": {"Mo"}, "email": {"mo@example.com"}, "password": {"password123"}})
			if p.status != http.StatusOK {
				t.Fatalf("register: %d", p.status)
			}
			link := mb.wait(t, "mo@example.com", 1).link(t, "/api/auth/verify-email")
			if link.Query().Has("continue") {
				t.Errorf("link without a flow carries continue: %s", link)
			}
			q := link.Query()
			q.Set("continue", "//evil.example/x")
			link.RawQuery = q.Encode()
			p = br.get(t, link.String())
			if p.url.Host != strings.TrimPrefix(e.issuer, "http://") || strings.Contains(p.url.String(), "evil") {
				t.Errorf("tampered link ended at %s", p.url)
			}
		})
	})
}

func TestErrorPages(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b storetest.Backend) {
		e := setup(t, b)
		br := e.browser(t)
		do := func(method, path, accept, lang string) *page {
			t.Helper()
			req, err := http.NewRequest(method, e.issuer+path, nil)
			if err != nil {
				t.Fatal(err)
			}
			if accept != "" {
				req.Header.Set("Accept", accept)
			}
			if lang != "" {
				req.Header.Set("Accept-Language", lang)
			}
			return br.do(t, req)
		}
		const html = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
		for _, c := range []struct {
			name, method, path, accept, lang string
			status                           int
			want                             []string
		}{
			{"unknown page EN", "GET", "/no-such-page", html, "en", 404, []string{"Page not found", "Request ID"}},
			{"unknown page DE", "GET", "/no-such-page", html, "de-DE,de;q=0.9", 404, []string{"Seite nicht gefunden", "Anfrage-ID", `lang="de"`}},
			{"unknown page no Accept", "GET", "/nope", "", "", 404, []string{"Page not found"}},
			{"wrong method on a page EN", "PUT", "/login", html, "en", 405, []string{"This page cannot be used that way.", "Request ID"}},
			{"wrong method on a page DE", "DELETE", "/account", html, "de", 405, []string{"Diese Seite lässt sich so nicht aufrufen.", "Anfrage-ID"}},
			{"missing static file", "GET", "/static/nope.css", html, "en", 404, []string{"Page not found"}},
		} {
			p := do(c.method, c.path, c.accept, c.lang)
			if p.status != c.status || !strings.HasPrefix(p.header.Get("Content-Type"), "text/html") {
				t.Errorf("%s: %d %s", c.name, p.status, p.header.Get("Content-Type"))
				continue
			}
			for _, w := range c.want {
				if !strings.Contains(p.body, w) {
					t.Errorf("%s: body lacks %q: %.1500s", c.name, w, p.body)
				}
			}
			id := p.header.Get("X-Request-Id")
			if id == "" || !strings.Contains(p.body, "<code>"+id+"</code>") {
				t.Errorf("%s: request id %q not on the page", c.name, id)
			}
			if c.status == 405 && p.header.Get("Allow") == "" {
				t.Errorf("%s: no Allow header", c.name)
			}
		}
		for _, c := range []struct {
			name, method, path, accept string
			status                     int
			code                       string
		}{
			{"unknown API path", "GET", "/api/v1/nope", html, 404, "not_found"},
			{"unknown protocol path", "GET", "/oauth2/nope", html, 404, "not_found"},
			{"unknown discovery path", "GET", "/.well-known/nope", html, 404, "not_found"},
			{"wrong method on the API", "GET", "/api/v1/auth/login", html, 405, "method_not_allowed"},
			{"wrong method on the token endpoint", "GET", "/oauth2/token", "", 405, "method_not_allowed"},
			{"a program asking for JSON", "GET", "/no-such-page", "application/json", 404, "not_found"},
		} {
			p := do(c.method, c.path, c.accept, "de")
			var body struct {
				StatusCode int    `json:"statusCode"`
				Code       string `json:"code"`
				Error      string `json:"error"`
			}
			if p.status != c.status || !strings.HasPrefix(p.header.Get("Content-Type"), "application/json") || json.Unmarshal([]byte(p.body), &body) != nil || body.StatusCode != c.status {
				t.Errorf("%s: %d %s %.300s", c.name, p.status, p.header.Get("Content-Type"), p.body)
				continue
			}
			if !strings.Contains(p.body, c.code) {
				t.Errorf("%s: body %s lacks %q", c.name, p.body, c.code)
			}
		}
	})
}

// userFaultStore fails loading users while failing is set, with an error
// that is no outage: a bug, answered as 500.
type userFaultStore struct {
	provider.Store
	failing atomic.Bool
}

func (s *userFaultStore) GetUser(ctx context.Context, id string) (*provider.User, error) {
	if s.failing.Load() {
		return nil, errors.New("user row corrupt")
	}
	return s.Store.GetUser(ctx, id)
}

// TestErrorPageInternalShowsRequestID: a page that fails is the 500 page
// in the reader's language with the request ID its log line carries.
func TestErrorPageInternalShowsRequestID(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b storetest.Backend) {
		var fs *userFaultStore
		logs := &logLines{}
		e := setup(t, b, func(o *setupOpts) {
			o.wrapStore = func(s provider.Store) provider.Store { fs = &userFaultStore{Store: s}; return fs }
			o.logs = logs
		})
		br := e.browser(t)
		if p := br.login(t, br.get(t, "/login?return_to=/account"), false); !isAccountPage(p) {
			t.Fatalf("sign in: %d %s", p.status, p.url)
		}
		fs.failing.Store(true)
		for _, c := range []struct{ lang, message string }{{"en", "An unexpected error occurred."}, {"de", "Ein unerwarteter Fehler ist aufgetreten."}} {
			req, _ := http.NewRequest(http.MethodGet, e.issuer+"/account", nil)
			req.Header.Set("Accept-Language", c.lang)
			p := br.do(t, req)
			id := p.header.Get("X-Request-Id")
			if p.status != http.StatusInternalServerError || id == "" || !strings.Contains(p.body, "<code>"+id+"</code>") ||
				!strings.Contains(p.body, `lang="`+c.lang+`"`) || !strings.Contains(p.body, c.message) {
				t.Errorf("%s: %d, request id %q: %.1500s", c.lang, p.status, id, p.body)
			}
			if n := logs.count("request_id=" + id); n == 0 {
				t.Errorf("%s: no log line carries request id %s:\n%s", c.lang, id, logs.buf.String())
			}
		}
	})
}
