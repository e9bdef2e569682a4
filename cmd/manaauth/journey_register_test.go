package main

// Issue 12, part A, in headless Chromium: the journeys a person starts at
// an app end in that app (registration with the verification mail, and a
// forgotten password), errors are readable pages in the reader's
// language, and the login form's tab order and the credits page's head
// are right. The provider runs as `manaauth serve --dev` with a real SMTP
// server of the test (go-smtp) as SMTP_HOST; the app is the relying party
// of browser_test.go. Screenshots of each step go to testdata/artifacts/
// (git-ignored).

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	netmail "net/mail"
	"net/url"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/emersion/go-smtp"

	"github.com/manacore/mana-core-auth/internal/browsertest"
	"github.com/manacore/mana-core-auth/internal/database/databasetest"
	"github.com/manacore/mana-core-auth/internal/mailtest"
)

const journeyTimeout = 90 * time.Second // per backend and journey

// journeyBackends are the storage backends every journey runs on.
var journeyBackends = []struct {
	name string
	dsn  func(t *testing.T) string
}{
	{"sqlite", func(t *testing.T) string { return "sqlite:" + filepath.Join(t.TempDir(), "m.db") }},
	{"postgres", func(t *testing.T) string { return databasetest.NewPostgresDatabase(t) }},
}

// testMailbox is a real SMTP server on a loopback port that keeps the
// text part of every message, by recipient.
type testMailbox struct {
	mu   sync.Mutex
	msgs map[string][]string
}

func (m *testMailbox) NewSession(*smtp.Conn) (smtp.Session, error) {
	return &testMailSession{m: m}, nil
}

type testMailSession struct {
	m  *testMailbox
	to []string
}

func (s *testMailSession) Mail(string, *smtp.MailOptions) error { return nil }
func (s *testMailSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.to = append(s.to, strings.ToLower(to))
	return nil
}
func (s *testMailSession) Reset()        { s.to = nil }
func (s *testMailSession) Logout() error { return nil }
func (s *testMailSession) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	msg, err := netmail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return err
	}
	text := mailtest.PlainText(msg)
	s.m.mu.Lock()
	defer s.m.mu.Unlock()
	for _, to := range s.to {
		s.m.msgs[to] = append(s.m.msgs[to], text)
	}
	return nil
}

// startTestMailbox runs the SMTP server and returns it with its port.
func startTestMailbox(t *testing.T) (*testMailbox, int) {
	t.Helper()
	mb := &testMailbox{msgs: map[string][]string{}}
	srv := smtp.NewServer(mb)
	srv.Domain = "localhost"
	srv.ReadTimeout, srv.WriteTimeout = 5*time.Second, 5*time.Second
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen smtp: %v", err)
	}
	go srv.Serve(l) //nolint:errcheck // returns when closed
	t.Cleanup(func() { srv.Close() })
	return mb, l.Addr().(*net.TCPAddr).Port
}

var mailLinkRE = regexp.MustCompile(`https?://[^\s<>"]+`)

// link waits for the n-th (1-based) mail to addr and returns its link
// whose path is path.
func (m *testMailbox) link(t *testing.T, addr string, n int, path string) *url.URL {
	t.Helper()
	deadline := time.Now().Add(browserStepTimeout)
	for {
		m.mu.Lock()
		got := append([]string(nil), m.msgs[strings.ToLower(addr)]...)
		m.mu.Unlock()
		if len(got) >= n {
			for _, l := range mailLinkRE.FindAllString(got[n-1], -1) {
				if u, err := url.Parse(l); err == nil && u.Path == path {
					return u
				}
			}
			t.Fatalf("mail #%d to %s has no %s link:\n%s", n, addr, path, got[n-1])
		}
		if time.Now().After(deadline) {
			t.Fatalf("no mail #%d to %s within %v (have %d)", n, addr, browserStepTimeout, len(got))
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// journeyEnv is the provider with the test's SMTP server, the app "chat"
// and a browser.
type journeyEnv struct {
	issuer  string
	chat    *relyingParty
	b       *browser
	mail    *testMailbox
	env     map[string]string
	backend string
}

func startJourney(t *testing.T, ctx context.Context, chromium, backend, dsn string) *journeyEnv {
	t.Helper()
	mb, smtpPort := startTestMailbox(t)
	port := freePort(t)
	issuer := fmt.Sprintf("http://auth.mana.test:%d", port)
	env := map[string]string{"DATABASE_URL": dsn, "PORT": strconv.Itoa(port), "BASE_URL": issuer,
		"COOKIE_DOMAIN": ".mana.test", "SECRET_KEY": strings.Repeat("c", 48), "LOG_LEVEL": "warn",
		"SMTP_HOST": "127.0.0.1", "SMTP_PORT": strconv.Itoa(smtpPort), "SMTP_FROM": "Mana <noreply@mana.test>"}
	cert, spki := appCertificate(t)
	chat := newRelyingParty(t, "chat", cert)
	out, _, err := runCmd(t, env, "clients", "create", "--id", "chat", "--name", "Chat", "--trusted",
		"--redirect-uri", chat.base+"/callback", "--post-logout-redirect-uri", chat.base+"/",
		"--scopes", "openid profile email offline_access", "--grant-types", "authorization_code,refresh_token")
	if err != nil {
		t.Fatalf("clients create: %v", err)
	}
	m := regexp.MustCompile(`client_secret: (\S+)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("clients create printed no secret: %q", out)
	}
	startServe(t, env, "--dev")
	chat.start(t, ctx, issuer, m[1])
	b := startBrowser(t, ctx, chromium, spki, issuer)
	t.Cleanup(func() {
		if _, errs := chat.snapshot(); len(errs) > 0 {
			t.Errorf("chat reported errors: %q", errs)
		}
	})
	return &journeyEnv{issuer: issuer, chat: chat, b: b, mail: mb, env: env, backend: backend}
}

// runJourney runs journey on every backend with its own provider and browser.
func runJourney(t *testing.T, journey func(t *testing.T, j *journeyEnv)) {
	chromium := browsertest.Chromium(t)
	for _, be := range journeyBackends {
		t.Run(be.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), journeyTimeout)
			t.Cleanup(cancel)
			j := startJourney(t, ctx, chromium, be.name, be.dsn(t))
			journey(t, j)
			if err := ctx.Err(); err != nil {
				t.Fatalf("the journey ran out of its %v: %v", journeyTimeout, err)
			}
		})
	}
}

// visible waits until sel is shown.
func (j *journeyEnv) visible(what, sel string) {
	j.b.t.Helper()
	j.b.do(what, chromedp.WaitVisible(chromedp.CSS(sel)))
}

// value is the value of the input sel.
func (j *journeyEnv) value(sel string) string {
	j.b.t.Helper()
	return journeyRun(j.b, "value of "+sel, chromedp.Value(chromedp.CSS(sel)))
}

// journeyRun runs one action with a value within a step's timeout.
func journeyRun[T any](b *browser, what string, a chromedp.Action[T]) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, browserStepTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		b.t.Fatalf("%s: %v\n%s", what, err, b.where())
	}
	return v
}

// language makes the browser ask for the pages in lang (Accept-Language).
func (j *journeyEnv) language(lang string) {
	j.b.t.Helper()
	ctx, cancel := context.WithTimeout(j.b.ctx, browserStepTimeout)
	defer cancel()
	if _, err := chromedp.Call(ctx, network.SetExtraHTTPHeaders, network.SetExtraHTTPHeadersParams{
		Headers: network.Headers{"Accept-Language": lang}}); err != nil {
		j.b.t.Fatalf("set Accept-Language %s: %v", lang, err)
	}
}

// submit types into the fields of the current form and submits it.
func (j *journeyEnv) submit(what string, fields ...string) {
	j.b.t.Helper()
	var actions []chromedp.Action[chromedp.Void]
	for i := 0; i+1 < len(fields); i += 2 {
		actions = append(actions, chromedp.SendKeys(chromedp.CSS(fields[i]), fields[i+1]))
	}
	actions = append(actions, chromedp.Evaluate[chromedp.Void](`window.__staleManaPage = true`),
		chromedp.Click(chromedp.CSS("[data-testid=submit]")))
	j.b.do(what, actions...)
}

// shot keeps a screenshot of a journey step.
func (j *journeyEnv) shot(journey string, step int, name string) {
	j.b.t.Helper()
	j.b.screenshot(fmt.Sprintf("journey-%s-%s-%d-%s.png", journey, j.backend, step, name))
}

// signedInAtChat asserts the browser is back at chat, signed in as email
// through the authorization response at chat's callback.
func (j *journeyEnv) signedInAtChat(t *testing.T, what, email string) {
	t.Helper()
	j.b.waitFor(what, "#status")
	if got, want := j.b.text("#status"), "signed in as "+email; got != want {
		t.Fatalf("%s: chat says %q, want %q\n%s", what, got, want, j.b.where())
	}
	var callback string
	for _, u := range j.b.documentURLs() {
		if strings.HasPrefix(u, j.chat.base+"/callback?") {
			callback = u
		}
	}
	cb, err := url.Parse(callback)
	if err != nil || cb.Query().Get("code") == "" || cb.Query().Get("iss") != j.issuer {
		t.Fatalf("%s: no authorization response with a code at chat's callback: %q", what, j.b.documentURLs())
	}
}

// Journey 1: "Create account" on an app's login page, the verification
// mail, the notice with the address filled in, and back into the app.
func TestBrowserJourneyRegisterFromApp(t *testing.T) {
	runJourney(t, func(t *testing.T, j *journeyEnv) {
		const email, password = "grace@mana.test", "a long new password"
		j.b.resetDocuments()
		j.b.do("open chat", chromedp.Navigate(j.chat.base+"/"))
		j.b.waitFor("open chat", "[data-testid=login-form]")
		j.shot("register", 1, "login")
		j.b.do("create account", chromedp.Evaluate[chromedp.Void](`window.__staleManaPage = true`),
			chromedp.Click(chromedp.CSS("[data-testid=register-link]")))
		j.visible("register page", "[data-testid=register-form]")
		if loc := j.b.location(); !strings.Contains(loc, "/register?return_to=%2Foauth2%2Fauthorize") {
			t.Errorf("register page at %s, want it carrying the authorization", loc)
		}
		j.shot("register", 2, "register")
		j.submit("register", "[data-testid=name]", "Grace Hopper", "[data-testid=email]", email, "[data-testid=password]", password)
		j.visible("registered page", "[data-testid=registered-email]")
		j.shot("register", 3, "check-inbox")

		link := j.mail.link(t, email, 1, "/api/auth/verify-email")
		if c := link.Query().Get("continue"); !strings.HasPrefix(c, "/oauth2/authorize?") || !strings.Contains(c, "client_id=chat") {
			t.Fatalf("verification link continues to %q, want chat's authorization", c)
		}
		j.b.do("open the verification link", chromedp.Navigate(link.String()))
		j.b.waitFor("open the verification link", "[data-testid=login-form]")
		if got := j.b.text("[data-testid=notice]"); got != "Email confirmed — sign in to continue to Chat." {
			t.Errorf("notice = %q", got)
		}
		if got := j.value("[data-testid=email]"); got != email {
			t.Errorf("email field = %q, want %q", got, email)
		}
		j.shot("register", 4, "verified-login")

		j.b.resetDocuments()
		j.submit("sign in", "[data-testid=password]", password)
		j.signedInAtChat(t, "sign in after verification", email)
		j.shot("register", 5, "back-in-chat")
	})
}

// Journey 1, the same for "Forgot password?" started at an app, read in
// German.
func TestBrowserJourneyForgotPasswordFromApp(t *testing.T) {
	runJourney(t, func(t *testing.T, j *journeyEnv) {
		const email, newPassword = "ada@mana.test", "another long password"
		if out, _, err := runCmd(t, j.env, "users", "create", "--email", email, "--password", "correct horse battery staple",
			"--name", "Ada Lovelace", "--verified"); err != nil {
			t.Fatalf("users create: %v %s", err, out)
		}
		j.language("de-DE,de;q=0.9")
		j.b.do("open chat", chromedp.Navigate(j.chat.base+"/"))
		j.b.waitFor("open chat", "[data-testid=login-form]")
		j.b.do("forgot password", chromedp.Evaluate[chromedp.Void](`window.__staleManaPage = true`),
			chromedp.Click(chromedp.CSS("[data-testid=forgot-link]")))
		j.visible("forgot page", "[data-testid=forgot-form]")
		j.shot("forgot", 1, "forgot")
		j.submit("ask for a link", "[data-testid=email]", email)
		j.visible("link sent", "[data-testid=sent]")
		j.shot("forgot", 2, "sent")

		link := j.mail.link(t, email, 1, "/reset-password")
		j.b.do("open the reset link", chromedp.Navigate(link.String()))
		j.visible("reset page", "[data-testid=reset-form]")
		j.shot("forgot", 3, "reset")
		j.submit("reset", "[data-testid=password]", newPassword, "[data-testid=password-confirm]", newPassword)
		j.b.waitFor("after the reset", "[data-testid=login-form]")
		if got := j.b.text("[data-testid=notice]"); got != "Passwort geändert – melde dich an, um weiter zu Chat zu gelangen." {
			t.Errorf("notice = %q", got)
		}
		if got := j.value("[data-testid=email]"); got != email {
			t.Errorf("email field = %q, want %q", got, email)
		}
		j.shot("forgot", 4, "login")
		j.b.resetDocuments()
		j.submit("sign in", "[data-testid=password]", newPassword)
		j.signedInAtChat(t, "sign in after the reset", email)
		j.shot("forgot", 5, "back-in-chat")
	})
}

// Journey 3: an unknown page and a wrong method are our error page in the
// reader's language, with the request ID; the API stays JSON.
func TestBrowserJourneyErrorPages(t *testing.T) {
	runJourney(t, func(t *testing.T, j *journeyEnv) {
		for i, c := range []struct{ lang, title string }{{"en-US,en", "Page not found"}, {"de-DE,de;q=0.9", "Seite nicht gefunden"}} {
			j.language(c.lang)
			j.b.do("open an unknown page", chromedp.Navigate(j.issuer+"/no-such-page"))
			j.b.waitFor("unknown page", "[data-testid=error-title]")
			if got := j.b.text("[data-testid=error-title]"); got != c.title {
				t.Errorf("%s: error title %q, want %q", c.lang, got, c.title)
			}
			if id := j.b.text(".request-id code"); len(id) < 8 {
				t.Errorf("%s: request id %q", c.lang, id)
			}
			j.shot("errors", i+1, "not-found-"+c.lang[:2])
		}
		// A form posted with the wrong method (a page only GETs).
		j.language("en")
		j.b.do("post to a GET page", chromedp.Navigate(j.issuer+"/login"),
			chromedp.Evaluate[chromedp.Void](`(() => { const f = document.createElement("form"); f.method = "post";
				f.action = "/account/data"; document.body.appendChild(f); window.__staleManaPage = true; f.submit(); })()`))
		j.b.waitFor("wrong method", "[data-testid=error-title]")
		if got := j.b.text("[data-testid=error-message]"); got != "This page cannot be used that way." {
			t.Errorf("405 message %q", got)
		}
		j.shot("errors", 3, "method-not-allowed")
		j.b.do("open an unknown API path", chromedp.Navigate(j.issuer+"/api/v1/nope"))
		j.b.do("API answer", chromedp.WaitReady(chromedp.CSS("body")))
		body := journeyRun(j.b, "read the API answer", chromedp.Text(chromedp.CSS("body")))
		if !strings.Contains(body, `"statusCode":404`) {
			t.Errorf("unknown API path in the browser: %q", body)
		}
	})
}

// Journey 7: the tab order of the login form and no empty band under the
// credits page's title.
func TestBrowserJourneyLoginFocusAndCreditsHead(t *testing.T) {
	runJourney(t, func(t *testing.T, j *journeyEnv) {
		const email, password = "ada@mana.test", "correct horse battery staple"
		if out, _, err := runCmd(t, j.env, "users", "create", "--email", email, "--password", password, "--name", "Ada", "--verified"); err != nil {
			t.Fatalf("users create: %v %s", err, out)
		}
		j.b.do("open /login", chromedp.Navigate(j.issuer+"/login"))
		j.b.waitFor("open /login", "[data-testid=login-form]")
		var order []string
		j.b.do("tab through the form", chromedp.Focus(chromedp.CSS("[data-testid=email]")))
		for range 3 {
			j.b.do("tab", chromedp.KeyEvent("\t"))
			order = append(order, journeyRun(j.b, "focused element",
				chromedp.Evaluate[string](`document.activeElement.dataset.testid || document.activeElement.name || ""`)))
		}
		if want := []string{"password", "forgot-link", "remember"}; strings.Join(order, ",") != strings.Join(want, ",") {
			t.Errorf("tab order after the email field: %q, want %q", order, want)
		}
		j.shot("polish", 1, "login-focus")
		j.submit("sign in", "[data-testid=email]", email, "[data-testid=password]", password)
		j.b.waitFor("signed in", "[data-testid=account-email]")
		j.b.do("open credits", chromedp.Navigate(j.issuer+"/account/credits"))
		j.visible("credits page", "#credits-title")
		gap := journeyRun(j.b, "measure the head", chromedp.Evaluate[float64](`(() => { const head = document.querySelector(".panel-head");
			const title = head.querySelector("h1"); const pad = parseFloat(getComputedStyle(head).paddingBottom);
			return head.getBoundingClientRect().bottom - title.closest(".panel-header").getBoundingClientRect().bottom - pad; })()`))
		if gap > 1 {
			t.Errorf("an empty band of %.1fpx under the credits title", gap)
		}
		j.shot("polish", 2, "credits")
	})
}
