package server_test

import (
	"context"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/manacore/mana-core-auth/provider"
	"github.com/manacore/mana-core-auth/provider/store/storetest"
)

var (
	challengeRE = regexp.MustCompile(`name="challenge" value="([^"]+)"`)
	sessionIDRE = regexp.MustCompile(`name="session_id" value="([^"]+)"`)
	secretRE    = regexp.MustCompile(`data-testid="secret">([^<]+)<`)
	codeLiRE    = regexp.MustCompile(`<li><code>([^<]+)</code></li>`)
)

func submatch(t testing.TB, re *regexp.Regexp, body, what string) string {
	t.Helper()
	m := re.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no %s in %.800s", what, body)
	}
	return html.UnescapeString(m[1])
}

// TestAccountPages drives the registration, password and account pages
// with a browser (cookie jar, forms) on both backends.
func TestAccountPages(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b storetest.Backend) {
		t.Run("RegisterForgotReset", func(t *testing.T) { testRegisterPages(t, b) })
		t.Run("Account", func(t *testing.T) { testAccountPage(t, b) })
		t.Run("Login2FA", func(t *testing.T) { testLogin2FAPage(t, b) })
	})
}

func testRegisterPages(t *testing.T, b storetest.Backend) {
	mb, sender := startMailbox(t)
	e := setup(t, b, withMailer(sender))
	br := e.browser(t)

	p := br.get(t, "/register")
	if p.status != http.StatusOK || !strings.Contains(p.body, `data-testid="register-form"`) {
		t.Fatalf("register page: %d", p.status)
	}
	form := url.Values{"name": {"Pat"}, "email": {"pat@example.com"}, "password": {"password123"}}
	// A cross-site post is refused and creates nothing.
	p = br.post(t, "/register", form, "Sec-Fetch-Site", "cross-site")
	if p.status != http.StatusForbidden {
		t.Errorf("cross-site register: %d", p.status)
	}
	p = br.post(t, "/register", form, "Origin", "https://evil.example")
	if p.status != http.StatusForbidden {
		t.Errorf("register from a foreign origin: %d", p.status)
	}
	if _, err := e.store.GetUserByEmail(context.Background(), "pat@example.com"); err == nil {
		t.Fatal("cross-site post created the user")
	}
	// Errors in place, input kept (never the password).
	p = br.post(t, "/register", url.Values{"name": {"Pat"}, "email": {"pat@"}, "password": {"short"}})
	if p.status != http.StatusBadRequest || !strings.Contains(p.body, `value="pat@"`) || !strings.Contains(p.body, `value="Pat"`) ||
		strings.Contains(p.body, `value="short"`) || !strings.Contains(p.body, `data-testid="email-error"`) || !strings.Contains(p.body, `data-testid="password-error"`) {
		t.Errorf("invalid register: %d %.600s", p.status, p.body)
	}
	p = br.post(t, "/register", form, "Sec-Fetch-Site", "same-origin")
	if p.status != http.StatusOK || !strings.Contains(p.body, `data-testid="registered-email"`) || !strings.Contains(p.body, "pat@example.com") {
		t.Fatalf("register: %d %.600s", p.status, p.body)
	}
	p = br.post(t, "/register", form)
	if p.status != http.StatusConflict {
		t.Errorf("register twice: %d", p.status)
	}
	// The link from the mail verifies and lands on the login page.
	link := mb.wait(t, "pat@example.com", 1).link(t, "/api/auth/verify-email")
	p = br.get(t, link.String())
	if !isLoginPage(p) || p.url.Query().Get("verified") != "true" {
		t.Errorf("after verification: %d %s", p.status, p.url)
	}
	if u, _ := e.store.GetUserByEmail(context.Background(), "pat@example.com"); u == nil || !u.EmailVerified {
		t.Error("not verified")
	}
	// Resend from the check-your-inbox page mails only unverified accounts.
	if p := br.post(t, "/verify-email/resend", url.Values{"email": {"pat@example.com"}}); p.status != http.StatusOK {
		t.Errorf("resend page: %d", p.status)
	}
	if n := mb.count("pat@example.com"); n != 1 {
		t.Errorf("verified user got %d mails", n)
	}

	// Forgot and reset.
	p = br.get(t, "/forgot-password")
	if p.status != http.StatusOK || !strings.Contains(p.body, `data-testid="forgot-form"`) {
		t.Fatalf("forgot page: %d", p.status)
	}
	if p = br.post(t, "/forgot-password", url.Values{"email": {"x"}}); p.status != http.StatusBadRequest {
		t.Errorf("forgot invalid email: %d", p.status)
	}
	known := br.post(t, "/forgot-password", url.Values{"email": {"pat@example.com"}})
	unknown := br.post(t, "/forgot-password", url.Values{"email": {"nobody@example.com"}})
	if known.status != http.StatusOK || !strings.Contains(known.body, `data-testid="sent"`) ||
		strings.ReplaceAll(known.body, "pat@example.com", "X") != strings.ReplaceAll(unknown.body, "nobody@example.com", "X") {
		t.Errorf("forgot answers differ or fail: %d %d", known.status, unknown.status)
	}
	rl := mb.wait(t, "pat@example.com", 2).link(t, "/reset-password")
	p = br.get(t, rl.String())
	if p.status != http.StatusOK || !strings.Contains(p.body, `data-testid="reset-form"`) || !strings.Contains(p.body, rl.Query().Get("token")) {
		t.Fatalf("reset page: %d %.400s", p.status, p.body)
	}
	token := rl.Query().Get("token")
	if p = br.post(t, "/reset-password", url.Values{"token": {token}, "password": {"new-password-1"}, "password_confirm": {"new-password-2"}}); p.status != http.StatusBadRequest {
		t.Errorf("mismatched reset: %d", p.status)
	}
	if p = br.post(t, "/reset-password", url.Values{"token": {token}, "password": {"new-password-1"}, "password_confirm": {"new-password-1"}}, "Sec-Fetch-Site", "cross-site"); p.status != http.StatusForbidden {
		t.Errorf("cross-site reset: %d", p.status)
	}
	p = br.post(t, "/reset-password", url.Values{"token": {token}, "password": {"new-password-1"}, "password_confirm": {"new-password-1"}})
	if p.status != http.StatusOK || !strings.Contains(p.body, `data-testid="done"`) {
		t.Fatalf("reset: %d %.400s", p.status, p.body)
	}
	if p = br.post(t, "/reset-password", url.Values{"token": {token}, "password": {"new-password-3"}, "password_confirm": {"new-password-3"}}); p.status != http.StatusBadRequest || !strings.Contains(p.body, `data-testid="error"`) {
		t.Errorf("reset token reused: %d", p.status)
	}
	e.apiLogin(t, "pat@example.com", "new-password-1")
}

// signIn logs the browser in through /account and returns the account page.
func (br *browser) signIn(t testing.TB, email, password string) *page {
	t.Helper()
	p := br.get(t, "/account")
	if !isLoginPage(p) || p.url.Query().Get("return_to") != "/account" {
		t.Fatalf("/account without a session: %d %s", p.status, p.url)
	}
	p = br.post(t, "/login", url.Values{"email": {email}, "password": {password}, "return_to": {"/account"}})
	return p
}

func isAccountPage(p *page) bool {
	return p.status == http.StatusOK && p.url.Path == "/account" && strings.Contains(p.body, `data-testid="account-email"`)
}

func testAccountPage(t *testing.T, b storetest.Backend) {
	c := &clock{}
	e := setup(t, b, withClock(c))
	br := e.browser(t)

	// Forms need a session too.
	if p := br.post(t, "/account/profile", url.Values{"name": {"Hacker"}}); !isLoginPage(p) {
		t.Errorf("profile form without a session: %d %s", p.status, p.url)
	}
	p := br.signIn(t, userEmail, userPassword)
	if !isAccountPage(p) {
		t.Fatalf("after login: %d %s %.300s", p.status, p.url, p.body)
	}
	if !strings.Contains(p.body, userEmail) || strings.Count(p.body, `data-testid="session"`) != 1 ||
		!strings.Contains(p.body, `data-testid="this-device"`) || !strings.Contains(p.body, `data-testid="event"`) {
		t.Errorf("account page lacks email, session or events: %.2000s", p.body)
	}

	// Profile.
	p = br.post(t, "/account/profile", url.Values{"name": {"Alice Liddell"}})
	if !isAccountPage(p) || !strings.Contains(p.body, `value="Alice Liddell"`) || !strings.Contains(p.body, `data-testid="notice"`) {
		t.Errorf("profile: %d %s", p.status, p.url)
	}
	if u, _ := e.store.GetUser(context.Background(), e.user.ID); u.Name != "Alice Liddell" {
		t.Errorf("name = %q", u.Name)
	}
	if p = br.post(t, "/account/profile", url.Values{"name": {"x"}}, "Sec-Fetch-Site", "cross-site"); p.status != http.StatusForbidden {
		t.Errorf("cross-site profile: %d", p.status)
	}

	// Sessions: revoke one other, then all others.
	other := e.apiLogin(t, userEmail, userPassword, "deviceName", "Other Phone")
	p = br.get(t, "/account")
	if strings.Count(p.body, `data-testid="session"`) != 2 || !strings.Contains(p.body, "Other Phone") {
		t.Fatalf("account lists %d sessions", strings.Count(p.body, `data-testid="session"`))
	}
	sid := submatch(t, sessionIDRE, p.body, "revoke form")
	p = br.post(t, "/account/sessions/revoke", url.Values{"session_id": {sid}})
	if !isAccountPage(p) || strings.Count(p.body, `data-testid="session"`) != 1 {
		t.Errorf("revoke: %d %s", p.status, p.url)
	}
	if ok, _ := e.valid(t, other.access); ok {
		t.Error("revoked session's token still valid")
	}
	o1 := e.apiLogin(t, userEmail, userPassword)
	o2 := e.apiLogin(t, userEmail, userPassword)
	p = br.post(t, "/account/sessions/revoke-others", url.Values{})
	if !isAccountPage(p) || strings.Count(p.body, `data-testid="session"`) != 1 {
		t.Errorf("revoke others: %d %s", p.status, p.url)
	}
	for _, o := range []*loginResult{o1, o2} {
		e.apiRefresh(t, o.refresh).want(t, "refresh after sign out everywhere else", http.StatusUnauthorized)
	}

	// Password change.
	p = br.post(t, "/account/password", url.Values{"current_password": {"wrong-password"}, "new_password": {"a-new-password"}})
	if p.status != http.StatusBadRequest || !strings.Contains(p.body, `data-testid="error"`) {
		t.Errorf("wrong current password: %d", p.status)
	}
	p = br.post(t, "/account/password", url.Values{"current_password": {userPassword}, "new_password": {"a-new-password"}})
	if !isAccountPage(p) || !strings.Contains(p.body, `data-testid="notice"`) {
		t.Errorf("password change: %d %s", p.status, p.url)
	}
	e.post(t, "/api/v1/auth/login", map[string]string{"email": userEmail, "password": userPassword}).want(t, "old password", http.StatusUnauthorized)

	// 2FA set-up.
	p = br.post(t, "/account/2fa/enroll", url.Values{})
	if p.status != http.StatusOK || !strings.Contains(p.body, `src="data:image/png;base64,`) || !strings.Contains(p.body, `data-testid="qr"`) {
		t.Fatalf("enroll: %d %.500s", p.status, p.body)
	}
	secret := strings.ReplaceAll(submatch(t, secretRE, p.body, "secret"), " ", "")
	if p = br.post(t, "/account/2fa/verify", url.Values{"code": {"12345"}}); p.status != http.StatusBadRequest {
		t.Errorf("bad code: %d", p.status)
	}
	c.advance(30 * time.Second)
	p = br.post(t, "/account/2fa/verify", url.Values{"code": {code(t, secret, c)}})
	if p.status != http.StatusOK || !strings.Contains(p.body, `data-testid="recovery-codes"`) || len(codeLiRE.FindAllString(p.body, -1)) != 10 {
		t.Fatalf("verify: %d %.500s", p.status, p.body)
	}
	if ok, _ := e.accounts.TOTPEnabled(context.Background(), e.user.ID); !ok {
		t.Error("2fa not enabled")
	}
	p = br.get(t, "/account")
	if !strings.Contains(p.body, `data-testid="2fa-disable-form"`) || strings.Contains(p.body, `data-testid="recovery-codes"`) {
		t.Error("account page after 2fa set-up: no disable form, or the recovery codes shown again")
	}
	c.advance(30 * time.Second)
	p = br.post(t, "/account/2fa/disable", url.Values{"code": {code(t, secret, c)}})
	if !isAccountPage(p) || !strings.Contains(p.body, `data-testid="2fa-enroll-form"`) {
		t.Errorf("disable: %d %s", p.status, p.url)
	}
	ev := e.eventTypes(t, e.user.ID)
	for _, typ := range []string{provider.Event2FAEnabled, provider.Event2FADisabled, provider.EventPasswordChanged, provider.EventSessionRevoked, provider.EventLoginSuccess} {
		if ev[typ] == 0 {
			t.Errorf("no %s event: %v", typ, ev)
		}
	}
	if n := strings.Count(br.get(t, "/account").body, `data-testid="event"`); n < 5 {
		t.Errorf("account page shows %d events", n)
	}
}

func testLogin2FAPage(t *testing.T, b storetest.Backend) {
	c := &clock{}
	e := setup(t, b, withClock(c))
	l := e.apiLogin(t, userEmail, userPassword)
	secret, recovery := e.enableTOTP(t, c, l.access)

	br := e.browser(t)
	p := br.signIn(t, userEmail, userPassword)
	if p.status != http.StatusOK || !strings.Contains(p.body, `data-testid="twofactor-form"`) {
		t.Fatalf("login with 2fa: %d %s", p.status, p.url)
	}
	ch := submatch(t, challengeRE, p.body, "challenge")
	p = br.post(t, "/login/2fa", url.Values{"challenge": {ch}, "code": {"000000"}})
	if p.status != http.StatusUnauthorized || !strings.Contains(p.body, `data-testid="error"`) {
		t.Errorf("wrong code: %d", p.status)
	}
	if p = br.get(t, "/account"); isAccountPage(p) {
		t.Fatal("signed in without the second factor")
	}
	c.advance(30 * time.Second)
	p = br.post(t, "/login/2fa", url.Values{"challenge": {ch}, "code": {code(t, secret, c)}})
	if !isAccountPage(p) {
		t.Fatalf("after 2fa: %d %s", p.status, p.url)
	}
	// A second browser with a recovery code.
	br2 := e.browser(t)
	p = br2.signIn(t, userEmail, userPassword)
	ch = submatch(t, challengeRE, p.body, "challenge")
	if p = br2.post(t, "/login/2fa", url.Values{"challenge": {ch}, "code": {recovery[3]}}); !isAccountPage(p) {
		t.Errorf("recovery code: %d %s", p.status, p.url)
	}
}
