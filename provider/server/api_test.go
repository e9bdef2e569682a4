package server_test

import (
	"context"
	"encoding/base64"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/pquerna/otp/totp"

	"github.com/manacore/mana-core-auth/provider"
	"github.com/manacore/mana-core-auth/provider/store/storetest"
)

// TestFirstPartyAPI runs the old service's acceptance scenarios (section 10
// of the seed behaviour, corrected as issue 3 states) against the JSON API
// under /api/v1/auth over real HTTP, on both backends.
func TestFirstPartyAPI(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b storetest.Backend) {
		t.Run("RegisterVerifyLogin", func(t *testing.T) { testRegisterVerifyLogin(t, b) })
		t.Run("RefreshSessionLogout", func(t *testing.T) { testRefreshSessionLogout(t, b) })
		t.Run("Validate", func(t *testing.T) { testValidate(t, b) })
		t.Run("ForgotResetResend", func(t *testing.T) { testForgotResetResend(t, b) })
		t.Run("Sessions", func(t *testing.T) { testSessionsAPI(t, b) })
		t.Run("PasswordChange", func(t *testing.T) { testPasswordChange(t, b) })
		t.Run("TOTP", func(t *testing.T) { testTOTP(t, b) })
		t.Run("AuditLog", func(t *testing.T) { testAuditLog(t, b) })
	})
}

func jsonKeys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// noRedirect is a client that reports redirects instead of following them.
var noRedirect = &http.Client{Timeout: 30 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error {
	return http.ErrUseLastResponse
}}

func getNoRedirect(t testing.TB, u string) (*http.Response, string) {
	t.Helper()
	resp, err := noRedirect.Get(u)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

func testRegisterVerifyLogin(t *testing.T, b storetest.Backend) {
	mb, sender := startMailbox(t)
	e := setup(t, b, withMailer(sender))

	// Scenario 1: register.
	r := e.post(t, "/api/v1/auth/register", map[string]string{"email": "Bob@Example.com", "password": "password123", "name": "Bob"}).
		want(t, "register", http.StatusCreated)
	if got := jsonKeys(r.json); !reflect.DeepEqual(got, []string{"user"}) {
		t.Errorf("register body keys %v, want [user]", got)
	}
	u := r.obj("user")
	if got := jsonKeys(u); !reflect.DeepEqual(got, []string{"email", "id", "name"}) {
		t.Errorf("register user keys %v, want [email id name]", got)
	}
	if u["email"] != "bob@example.com" || u["name"] != "Bob" || u["id"] == "" {
		t.Errorf("register user = %v", u)
	}
	bobID, _ := u["id"].(string)

	e.post(t, "/api/v1/auth/register", map[string]string{"email": "bob@example.com", "password": "password456"}).
		wantError(t, "duplicate", http.StatusConflict, "", "User with this email already exists")

	r = e.post(t, "/api/v1/auth/register", map[string]string{"email": "not-an-email", "password": "short", "name": "X"}).
		want(t, "invalid", http.StatusBadRequest)
	msgs, _ := r.json["message"].([]any)
	if len(msgs) != 2 || r.str("code") != "validation_failed" {
		t.Errorf("validation answer lists %d messages, code %q: %s", len(msgs), r.str("code"), r.body)
	}
	if errs := r.obj("errors"); errs["email"] == nil || errs["password"] == nil || len(errs) != 2 {
		t.Errorf("validation errors = %v, want email and password", errs)
	}
	r = e.post(t, "/api/v1/auth/register", map[string]any{"email": "eve@example.com", "password": "password123", "isAdmin": true}).
		want(t, "unknown field", http.StatusBadRequest)
	if r.obj("errors")["isAdmin"] == nil {
		t.Errorf("unknown field not named: %s", r.body)
	}
	if _, err := e.store.GetUserByEmail(context.Background(), "eve@example.com"); err == nil {
		t.Error("a request with an unknown field created the user")
	}
	r = e.post(t, "/api/v1/auth/register", map[string]string{"email": "carol@example.com", "password": "password123"}).
		want(t, "register without name", http.StatusCreated)
	if r.obj("user")["name"] != "" {
		t.Errorf("name = %v, want empty", r.obj("user")["name"])
	}

	// Unverified: the right password gets 403 email_not_verified.
	e.post(t, "/api/v1/auth/login", map[string]string{"email": "bob@example.com", "password": "password123"}).
		wantError(t, "unverified login", http.StatusForbidden, "email_not_verified", "")

	// The verification mail, through SMTP, with a link that works once.
	m := mb.wait(t, "bob@example.com", 1)
	link := m.link(t, "/api/auth/verify-email")
	if link.Query().Get("token") == "" {
		t.Fatalf("verification link without token: %s", link)
	}
	resp, body := getNoRedirect(t, link.String())
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, `data-testid="verify-ok"`) {
		t.Fatalf("verify: %d %.300s", resp.StatusCode, body)
	}
	if got, _ := e.store.GetUser(context.Background(), bobID); got == nil || !got.EmailVerified {
		t.Fatal("email not verified after following the link")
	}
	resp, body = getNoRedirect(t, link.String())
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, `data-testid="verify-failed"`) {
		t.Errorf("second verify: %d %.300s", resp.StatusCode, body)
	}

	// Redirects go only to allowed origins.
	e.post(t, "/api/v1/auth/register", map[string]string{"email": "dave@example.com", "password": "password123",
		"sourceAppUrl": "https://x.mana.test/app/page?q=1"}).want(t, "register dave", http.StatusCreated)
	dl := mb.wait(t, "dave@example.com", 1).link(t, "/api/auth/verify-email")
	evil := *dl
	q := evil.Query()
	q.Set("redirectTo", "https://evil.example/steal")
	evil.RawQuery = q.Encode()
	resp, _ = getNoRedirect(t, evil.String())
	if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusFound || !strings.HasPrefix(loc, "https://x.mana.test/login?") {
		t.Errorf("verify with a foreign redirectTo: %d Location %q, want the registered origin", resp.StatusCode, loc)
	} else if lu, _ := url.Parse(loc); lu.Query().Get("verified") != "true" || lu.Query().Get("email") != "dave@example.com" {
		t.Errorf("verify redirect %q lacks verified/email", loc)
	}
	// A used token: the stored origin is gone with it, so a foreign
	// redirectTo gets our own failure page, an allowed one the app's.
	resp, _ = getNoRedirect(t, evil.String())
	if loc := resp.Header.Get("Location"); loc != "" || resp.StatusCode != http.StatusBadRequest {
		t.Errorf("used token with a foreign redirectTo: %d Location %q", resp.StatusCode, loc)
	}
	q.Set("redirectTo", "https://x.mana.test/elsewhere")
	evil.RawQuery = q.Encode()
	resp, _ = getNoRedirect(t, evil.String())
	if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusFound || loc != "https://x.mana.test/verification-failed?error=invalid_or_expired_token" {
		t.Errorf("used token with an allowed redirectTo: %d Location %q", resp.StatusCode, loc)
	}
	for _, target := range []string{"javascript:alert(1)", "https://evil.example", "//evil.example", "https://x.mana.test.evil.example", "http://x.mana.test"} {
		resp, _ = getNoRedirect(t, e.issuer+"/api/auth/verify-email?"+url.Values{"token": {"bogus"}, "redirectTo": {target}}.Encode())
		if loc := resp.Header.Get("Location"); loc != "" {
			t.Errorf("redirectTo %q: redirected to %q", target, loc)
		}
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("redirectTo %q: status %d, want 400", target, resp.StatusCode)
		}
	}
	e.post(t, "/api/v1/auth/register", map[string]string{"email": "erin@example.com", "password": "password123",
		"sourceAppUrl": "javascript:alert(document.cookie)"}).want(t, "register erin", http.StatusCreated)
	el := mb.wait(t, "erin@example.com", 1).link(t, "/api/auth/verify-email")
	if el.Query().Get("redirectTo") != "" {
		t.Errorf("javascript: source kept in the link: %s", el)
	}
	if resp, _ = getNoRedirect(t, el.String()); resp.StatusCode != http.StatusOK || resp.Header.Get("Location") != "" {
		t.Errorf("verify erin: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}

	// Scenario 2: login of the verified user.
	l := e.apiLogin(t, "bob@example.com", "password123", "deviceId", "dev-1", "deviceName", "Bob's Phone")
	if got := jsonKeys(l.resp.json); !reflect.DeepEqual(got, []string{"accessToken", "expiresIn", "refreshToken", "tokenType", "user"}) {
		t.Errorf("login keys %v", got)
	}
	if l.user["id"] != bobID || l.user["email"] != "bob@example.com" || l.user["name"] != "Bob" || l.user["role"] != "user" {
		t.Errorf("login user = %v", l.user)
	}
	typ, claims := e.verifyJWT(t, l.access, jose.EdDSA)
	if typ != "at+jwt" {
		t.Errorf("access token typ %q", typ)
	}
	if claims["sub"] != bobID || claims["email"] != "bob@example.com" || claims["role"] != "user" || claims["iss"] != e.issuer {
		t.Errorf("claims = %v", claims)
	}
	if sid, _ := claims["sid"].(string); sid == "" {
		t.Errorf("no sid in %v", claims)
	}
	if aud, _ := claims["aud"].([]any); !containsAny(aud, "manacore") {
		t.Errorf("aud %v lacks manacore", claims["aud"])
	}
	exp, _ := claims["exp"].(float64)
	if d := time.Until(time.Unix(int64(exp), 0)); d < 14*time.Minute || d > 16*time.Minute {
		t.Errorf("access token lives %v, want 15m", d)
	}
	if len(l.refresh) < 32 {
		t.Errorf("refresh token %q too short", l.refresh)
	}

	wrong := e.post(t, "/api/v1/auth/login", map[string]string{"email": "bob@example.com", "password": "wrong-password"})
	wrong.wantError(t, "wrong password", http.StatusUnauthorized, "", "Invalid email or password")
	unknown := e.post(t, "/api/v1/auth/login", map[string]string{"email": "nobody@example.com", "password": "wrong-password"})
	unknown.wantError(t, "unknown email", http.StatusUnauthorized, "", "Invalid email or password")
	if wrong.body != unknown.body {
		t.Errorf("wrong password and unknown email answer differently:\n%s\n%s", wrong.body, unknown.body)
	}

	// Device, IP and user agent are recorded on the session.
	r = e.api(t, http.MethodGet, "/api/v1/auth/sessions", l.access, nil, "User-Agent", "BobApp/1.0").want(t, "sessions", http.StatusOK)
	list, _ := r.json["sessions"].([]any)
	if len(list) != 1 {
		t.Fatalf("sessions = %s", r.body)
	}
	s := list[0].(map[string]any)
	if s["deviceId"] != "dev-1" || s["deviceName"] != "Bob's Phone" || s["ipAddress"] != "127.0.0.1" ||
		s["userAgent"] != testUserAgent || s["current"] != true || s["id"] != claims["sid"] {
		t.Errorf("session = %v", s)
	}
}

func containsAny(list []any, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

func testRefreshSessionLogout(t *testing.T, b storetest.Backend) {
	var hs *hidingStore
	c := &clock{}
	e := setup(t, b, withGrace(time.Second), withClock(c), func(o *setupOpts) {
		o.wrapStore = func(s provider.Store) provider.Store { hs = &hidingStore{Store: s}; return hs }
	})

	l := e.apiLogin(t, userEmail, userPassword)
	r := e.apiRefresh(t, l.refresh).want(t, "refresh", http.StatusOK)
	p2 := tokensOf(t, r)
	if p2.access == l.access || p2.refresh == l.refresh {
		t.Error("refresh returned the same tokens")
	}
	if p2.user["id"] != e.user.ID || p2.user["role"] != "user" {
		t.Errorf("refresh user = %v", p2.user)
	}
	if _, claims := e.verifyJWT(t, p2.access, jose.EdDSA); claims["role"] != "user" || claims["sub"] != e.user.ID {
		t.Errorf("refreshed claims = %v", claims)
	}
	// A retry within the grace window gets the same pair.
	r = e.apiRefresh(t, l.refresh).want(t, "retry within grace", http.StatusOK)
	if r.str("accessToken") != p2.access || r.str("refreshToken") != p2.refresh {
		t.Error("retry within grace returned a different pair")
	}
	// The old access token died with the rotation; the new one lives.
	if ok, _ := e.valid(t, l.access); ok {
		t.Error("the rotated pair's access token is still valid")
	}
	if ok, _ := e.valid(t, p2.access); !ok {
		t.Error("the new access token is not valid")
	}
	// Reuse after the grace window: 401, and the whole family is revoked.
	c.advance(1200 * time.Millisecond)
	e.apiRefresh(t, l.refresh).wantError(t, "reuse", http.StatusUnauthorized, "", "")
	e.apiRefresh(t, p2.refresh).wantError(t, "family after reuse", http.StatusUnauthorized, "", "")
	if ok, _ := e.valid(t, p2.access); ok {
		t.Error("access token of a revoked family is still valid")
	}
	if ev := e.eventTypes(t, e.user.ID); ev[provider.EventRefreshReuse] == 0 {
		t.Errorf("no refresh_token_reuse event: %v", ev)
	}

	e.apiRefresh(t, "garbage").wantError(t, "invalid refresh", http.StatusUnauthorized, "", "")
	e.apiRefresh(t, "").wantError(t, "empty refresh", http.StatusBadRequest, "validation_failed", "")
	e.post(t, "/api/v1/auth/refresh", map[string]string{}).wantError(t, "missing refresh", http.StatusBadRequest, "validation_failed", "")

	// A deleted user's refresh token is refused.
	gone := e.createVerifiedUser(t, "user-gone-0001", "gone@example.com", "password123")
	lg := e.apiLogin(t, "gone@example.com", "password123")
	hs.hide(gone.ID)
	e.apiRefresh(t, lg.refresh).wantError(t, "deleted user", http.StatusUnauthorized, "", "")
	e.api(t, http.MethodGet, "/api/v1/auth/session", lg.access, nil).wantError(t, "deleted user session", http.StatusUnauthorized, "", "")

	// GET session.
	l = e.apiLogin(t, userEmail, userPassword)
	r = e.api(t, http.MethodGet, "/api/v1/auth/session", l.access, nil).want(t, "session", http.StatusOK)
	if r.obj("user")["id"] != e.user.ID || r.obj("user")["email"] != userEmail || r.obj("session")["id"] == "" {
		t.Errorf("session = %s", r.body)
	}
	e.api(t, http.MethodGet, "/api/v1/auth/session", "", nil).wantError(t, "session without token", http.StatusUnauthorized, "", "No token provided")
	e.api(t, http.MethodGet, "/api/v1/auth/session", "not.a.jwt", nil).wantError(t, "session bad token", http.StatusUnauthorized, "", "Invalid token")
	// The scheme is case-insensitive (RFC 7235 2.1), as at /oauth2/userinfo
	// and /api/v1/credits; anything but a Bearer token is refused.
	for _, h := range []string{"bearer " + l.access, "BEARER " + l.access} {
		e.api(t, http.MethodGet, "/api/v1/auth/session", "", nil, "Authorization", h).want(t, "Authorization "+h[:7], http.StatusOK)
	}
	for _, h := range []string{l.access, "Token " + l.access, "Bearer"} {
		e.api(t, http.MethodGet, "/api/v1/auth/session", "", nil, "Authorization", h).
			wantError(t, "Authorization "+h[:min(len(h), 10)], http.StatusUnauthorized, "", "")
	}

	// Logout revokes the session and its tokens at once.
	e.post(t, "/api/v1/auth/logout", nil).wantError(t, "logout without token", http.StatusUnauthorized, "", "")
	r = e.api(t, http.MethodPost, "/api/v1/auth/logout", l.access, nil).want(t, "logout", http.StatusOK)
	if r.json["success"] != true || r.str("message") != "Signed out successfully" {
		t.Errorf("logout = %s", r.body)
	}
	e.apiRefresh(t, l.refresh).wantError(t, "refresh after logout", http.StatusUnauthorized, "", "")
	if ok, _ := e.valid(t, l.access); ok {
		t.Error("access token valid after logout")
	}
	e.api(t, http.MethodGet, "/api/v1/auth/session", l.access, nil).wantError(t, "session after logout", http.StatusUnauthorized, "", "")
	e.api(t, http.MethodPost, "/api/v1/auth/logout", l.access, nil).wantError(t, "second logout", http.StatusUnauthorized, "", "")
}

func testValidate(t *testing.T, b storetest.Backend) {
	c := &clock{}
	e := setup(t, b, withClock(c))
	l := e.apiLogin(t, userEmail, userPassword)

	ok, r := e.valid(t, l.access)
	if !ok {
		t.Fatalf("good token invalid: %s", r.body)
	}
	p := r.obj("payload")
	if p["sub"] != e.user.ID || p["email"] != userEmail || p["role"] != "user" || p["sid"] == nil || p["iss"] != e.issuer {
		t.Errorf("payload = %v", p)
	}

	wantInvalid := func(what, token, reason string) {
		t.Helper()
		ok, r := e.valid(t, token)
		if ok {
			t.Errorf("%s: valid", what)
			return
		}
		if reason != "" && r.str("error") != reason {
			t.Errorf("%s: error %q, want %q", what, r.str("error"), reason)
		}
	}
	wantInvalid("garbage", "garbage", "invalid_token")
	wantInvalid("empty", "", "invalid_token")
	parts := strings.Split(l.access, ".")
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	tampered := strings.Replace(string(payload), `"role":"user"`, `"role":"admin"`, 1)
	if tampered == string(payload) {
		t.Fatalf("no role claim to tamper with in %s", payload)
	}
	wantInvalid("tampered", parts[0]+"."+base64.RawURLEncoding.EncodeToString([]byte(tampered))+"."+parts[2], "invalid_token")
	wantInvalid("bad signature", parts[0]+"."+parts[1]+"."+base64.RawURLEncoding.EncodeToString([]byte("x")), "invalid_token")

	// Tokens signed with the real key but wrong in one claim. A token we
	// mint has no grant, so "invalid_token" proves the claim was checked
	// before the store (a missing check would say token_revoked).
	now := time.Now().Unix()
	base := func() map[string]any {
		return map[string]any{"iss": e.issuer, "sub": e.user.ID, "aud": []string{"manacore"}, "exp": now + 600, "iat": now,
			"jti": "x", "client_id": "mana-first-party", "email": userEmail, "role": "user"}
	}
	mint := func(typ string, mod func(map[string]any)) string {
		cl := base()
		mod(cl)
		tok, err := e.ring.Sign("EdDSA", typ, cl)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	wantInvalid("unknown grant", mint("at+jwt", func(map[string]any) {}), "token_revoked")
	wantInvalid("wrong audience", mint("at+jwt", func(c map[string]any) { c["aud"] = []string{"other"} }), "invalid_token")
	wantInvalid("wrong issuer", mint("at+jwt", func(c map[string]any) { c["iss"] = "https://evil.example" }), "invalid_token")
	wantInvalid("id token type", mint("JWT", func(map[string]any) {}), "invalid_token")
	wantInvalid("expired claim", mint("at+jwt", func(c map[string]any) { c["exp"] = now - 10 }), "token_expired")

	// The real token expires after 15 minutes on the server's clock.
	c.advance(16 * time.Minute)
	wantInvalid("expired", l.access, "token_expired")
	e.api(t, http.MethodGet, "/api/v1/auth/session", l.access, nil).wantError(t, "session with expired token", http.StatusUnauthorized, "", "")
	c.advance(-16 * time.Minute)

	// Revoked (logout) tokens are refused although signature and expiry are fine.
	e.api(t, http.MethodPost, "/api/v1/auth/logout", l.access, nil).want(t, "logout", http.StatusOK)
	wantInvalid("revoked", l.access, "token_revoked")

	e.post(t, "/api/v1/auth/validate", `{"token":1}`).want(t, "token of the wrong type", http.StatusBadRequest)
}

func testForgotResetResend(t *testing.T, b storetest.Backend) {
	mb, sender := startMailbox(t)
	e := setup(t, b, withMailer(sender))

	// Two live logins that the reset must end.
	l1 := e.apiLogin(t, userEmail, userPassword)
	l2 := e.apiLogin(t, userEmail, userPassword, "deviceName", "tablet")

	known := e.post(t, "/api/v1/auth/forgot-password", map[string]string{"email": userEmail}).want(t, "forgot known", http.StatusOK)
	unknown := e.post(t, "/api/v1/auth/forgot-password", map[string]string{"email": "nobody@example.com"}).want(t, "forgot unknown", http.StatusOK)
	if known.body != unknown.body {
		t.Errorf("forgot-password answers differ:\n%s\n%s", known.body, unknown.body)
	}
	if known.json["success"] != true || known.str("message") != "If an account with that email exists, a password reset link has been sent" {
		t.Errorf("forgot = %s", known.body)
	}
	if mb.count("nobody@example.com") != 0 {
		t.Error("mail sent to an unknown address")
	}
	link := mb.wait(t, userEmail, 1).link(t, "/reset-password")
	token := link.Query().Get("token")
	if token == "" {
		t.Fatalf("reset link without token: %s", link)
	}

	e.post(t, "/api/v1/auth/reset-password", map[string]string{"token": "bogus", "newPassword": "a-new-password"}).
		wantError(t, "bad reset token", http.StatusUnauthorized, "", "Invalid or expired reset token")
	e.post(t, "/api/v1/auth/reset-password", map[string]string{"token": token, "newPassword": "short"}).
		wantError(t, "short new password", http.StatusBadRequest, "validation_failed", "")
	r := e.post(t, "/api/v1/auth/reset-password", map[string]string{"token": token, "newPassword": "a-new-password"}).want(t, "reset", http.StatusOK)
	if r.json["success"] != true || r.str("message") != "Password has been reset successfully" {
		t.Errorf("reset = %s", r.body)
	}
	e.post(t, "/api/v1/auth/reset-password", map[string]string{"token": token, "newPassword": "another-password"}).
		wantError(t, "reset token reused", http.StatusUnauthorized, "", "Invalid or expired reset token")

	// Every session and token of the user is gone.
	for i, l := range []*loginResult{l1, l2} {
		e.apiRefresh(t, l.refresh).wantError(t, "refresh after reset", http.StatusUnauthorized, "", "")
		if ok, _ := e.valid(t, l.access); ok {
			t.Errorf("login %d: access token valid after reset", i)
		}
	}
	if list, _ := e.store.ListSessions(context.Background(), e.user.ID, time.Now()); len(list) != 0 {
		t.Errorf("%d sessions survived the reset", len(list))
	}
	e.post(t, "/api/v1/auth/login", map[string]string{"email": userEmail, "password": userPassword}).
		wantError(t, "old password", http.StatusUnauthorized, "", "Invalid email or password")
	e.apiLogin(t, userEmail, "a-new-password")

	// A second request replaces the first link.
	// Mail goes out in the background, so wait for the second link before
	// asking for the third: otherwise the two could arrive in either order.
	e.post(t, "/api/v1/auth/forgot-password", map[string]string{"email": userEmail}).want(t, "forgot 2", http.StatusOK)
	old := mb.wait(t, userEmail, 2).link(t, "/reset-password").Query().Get("token")
	e.post(t, "/api/v1/auth/forgot-password", map[string]string{"email": userEmail}).want(t, "forgot 3", http.StatusOK)
	mb.wait(t, userEmail, 3)
	e.post(t, "/api/v1/auth/reset-password", map[string]string{"token": old, "newPassword": "a-third-password"}).
		wantError(t, "superseded reset token", http.StatusUnauthorized, "", "Invalid or expired reset token")

	// resend-verification: same answer for everyone, mail only to the unverified.
	e.post(t, "/api/v1/auth/register", map[string]string{"email": "new@example.com", "password": "password123"}).want(t, "register", http.StatusCreated)
	mb.wait(t, "new@example.com", 1)
	var bodies []string
	for _, addr := range []string{"new@example.com", userEmail, "nobody@example.com"} {
		r := e.post(t, "/api/v1/auth/resend-verification", map[string]string{"email": addr}).want(t, "resend "+addr, http.StatusOK)
		bodies = append(bodies, r.body)
	}
	if bodies[0] != bodies[1] || bodies[1] != bodies[2] {
		t.Errorf("resend-verification answers differ: %q", bodies)
	}
	if !strings.Contains(bodies[0], "If an account with that email exists, a verification email has been sent") {
		t.Errorf("resend = %s", bodies[0])
	}
	second := mb.wait(t, "new@example.com", 2).link(t, "/api/auth/verify-email")
	if n := mb.count(userEmail); n != 3 {
		t.Errorf("verified user got %d mails, want the 3 reset mails only", n)
	}
	// The first verification link was replaced by the second.
	first := mb.wait(t, "new@example.com", 1).link(t, "/api/auth/verify-email")
	if resp, _ := getNoRedirect(t, first.String()); resp.StatusCode < 400 && resp.Header.Get("Location") == "" {
		t.Errorf("superseded verification link: %d", resp.StatusCode)
	}
	if resp, body := getNoRedirect(t, second.String()); !strings.Contains(body, "verify-ok") && !strings.Contains(resp.Header.Get("Location"), "verified=true") {
		t.Errorf("second verification link: %d %.200s", resp.StatusCode, body)
	}
	e.post(t, "/api/v1/auth/forgot-password", map[string]string{"email": "nope"}).want(t, "forgot invalid email", http.StatusBadRequest)
}

func testSessionsAPI(t *testing.T, b storetest.Backend) {
	e := setup(t, b)
	a := e.apiLogin(t, userEmail, userPassword, "deviceName", "A")
	bb := e.apiLogin(t, userEmail, userPassword, "deviceName", "B")
	_, ca := e.verifyJWT(t, a.access, jose.EdDSA)
	_, cb := e.verifyJWT(t, bb.access, jose.EdDSA)

	r := e.api(t, http.MethodGet, "/api/v1/auth/sessions", a.access, nil).want(t, "sessions", http.StatusOK)
	list, _ := r.json["sessions"].([]any)
	if len(list) != 2 {
		t.Fatalf("sessions = %s", r.body)
	}
	for _, x := range list {
		s := x.(map[string]any)
		if (s["id"] == ca["sid"]) != (s["current"] == true) {
			t.Errorf("current flag wrong on %v", s)
		}
		for _, k := range []string{"createdAt", "lastActiveAt"} {
			if s[k] == nil || s[k] == "" {
				t.Errorf("session lacks %s: %v", k, s)
			}
		}
	}

	// Someone else's session: 404, and it lives on.
	e.createVerifiedUser(t, "user-mallory-01", "mallory@example.com", "password123")
	m := e.apiLogin(t, "mallory@example.com", "password123")
	_, cm := e.verifyJWT(t, m.access, jose.EdDSA)
	e.api(t, http.MethodDelete, "/api/v1/auth/sessions/"+cm["sid"].(string), a.access, nil).wantError(t, "foreign session", http.StatusNotFound, "", "")
	e.api(t, http.MethodDelete, "/api/v1/auth/sessions/does-not-exist", a.access, nil).wantError(t, "unknown session", http.StatusNotFound, "", "")
	if ok, _ := e.valid(t, m.access); !ok {
		t.Error("mallory's token died from alice's attempt")
	}

	// Revoking B ends B's tokens, not A's.
	e.api(t, http.MethodDelete, "/api/v1/auth/sessions/"+cb["sid"].(string), a.access, nil).want(t, "revoke B", http.StatusOK)
	e.apiRefresh(t, bb.refresh).wantError(t, "B refresh", http.StatusUnauthorized, "", "")
	if ok, _ := e.valid(t, bb.access); ok {
		t.Error("B's access token valid after revocation")
	}
	if ok, _ := e.valid(t, a.access); !ok {
		t.Error("A's access token died with B")
	}
	e.api(t, http.MethodDelete, "/api/v1/auth/sessions/"+cb["sid"].(string), "", nil).wantError(t, "revoke without token", http.StatusUnauthorized, "", "")

	// revoke-all keeps the current session by default.
	c := e.apiLogin(t, userEmail, userPassword)
	d := e.apiLogin(t, userEmail, userPassword)
	r = e.api(t, http.MethodPost, "/api/v1/auth/sessions/revoke-all", a.access, nil).want(t, "revoke-all", http.StatusOK)
	if n, _ := r.json["revoked"].(float64); n != 2 {
		t.Errorf("revoke-all revoked %v, want 2: %s", r.json["revoked"], r.body)
	}
	for _, x := range []*loginResult{c, d} {
		e.apiRefresh(t, x.refresh).wantError(t, "refresh after revoke-all", http.StatusUnauthorized, "", "")
	}
	if ok, _ := e.valid(t, a.access); !ok {
		t.Error("revoke-all ended the current session")
	}
	a2 := tokensOf(t, e.apiRefresh(t, a.refresh).want(t, "current refresh after revoke-all", http.StatusOK))
	if ok, _ := e.valid(t, m.access); !ok {
		t.Error("revoke-all ended another user's session")
	}
	e.api(t, http.MethodPost, "/api/v1/auth/sessions/revoke-all", a2.access, map[string]bool{"keepCurrent": false}).want(t, "revoke-all everything", http.StatusOK)
	if ok, _ := e.valid(t, a2.access); ok {
		t.Error("keepCurrent=false kept the current session")
	}
	if ev := e.eventTypes(t, e.user.ID); ev[provider.EventSessionRevoked] == 0 {
		t.Errorf("no session_revoked event: %v", ev)
	}
}

func testPasswordChange(t *testing.T, b storetest.Backend) {
	e := setup(t, b)
	l := e.apiLogin(t, userEmail, userPassword)
	e.api(t, http.MethodPost, "/api/v1/auth/password", l.access, map[string]string{"currentPassword": "wrong-password", "newPassword": "a-new-password"}).
		wantError(t, "wrong current", http.StatusUnauthorized, "", "")
	e.api(t, http.MethodPost, "/api/v1/auth/password", l.access, map[string]string{"currentPassword": userPassword, "newPassword": "short"}).
		wantError(t, "short new", http.StatusBadRequest, "validation_failed", "")
	e.api(t, http.MethodPost, "/api/v1/auth/password", "", map[string]string{"currentPassword": userPassword, "newPassword": "a-new-password"}).
		wantError(t, "no token", http.StatusUnauthorized, "", "")
	e.api(t, http.MethodPost, "/api/v1/auth/password", l.access, map[string]string{"currentPassword": userPassword, "newPassword": "a-new-password"}).
		want(t, "change", http.StatusOK)
	e.post(t, "/api/v1/auth/login", map[string]string{"email": userEmail, "password": userPassword}).
		wantError(t, "old password", http.StatusUnauthorized, "", "Invalid email or password")
	e.apiLogin(t, userEmail, "a-new-password")
	if ev := e.eventTypes(t, e.user.ID); ev[provider.EventPasswordChanged] != 1 {
		t.Errorf("password_changed events: %v", ev)
	}
}

// code is the TOTP code of secret at the clock's time.
func code(t testing.TB, secret string, c *clock) string {
	t.Helper()
	s, err := totp.GenerateCode(secret, c.now())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// enableTOTP enrols the user behind access and returns secret and recovery codes.
func (e *env) enableTOTP(t testing.TB, c *clock, access string) (string, []string) {
	t.Helper()
	r := e.api(t, http.MethodPost, "/api/v1/auth/2fa/enroll", access, nil).want(t, "enroll", http.StatusOK)
	secret := r.str("secret")
	if secret == "" || !strings.HasPrefix(r.str("otpauthUri"), "otpauth://totp/") || !strings.HasPrefix(r.str("qrCode"), "data:image/png;base64,") {
		t.Fatalf("enroll = %.300s", r.body)
	}
	if png, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(r.str("qrCode"), "data:image/png;base64,")); err != nil || !strings.HasPrefix(string(png), "\x89PNG") {
		t.Errorf("qrCode is not a PNG: %v", err)
	}
	c.advance(30 * time.Second)
	r = e.api(t, http.MethodPost, "/api/v1/auth/2fa/verify", access, map[string]string{"code": code(t, secret, c)}).want(t, "2fa verify", http.StatusOK)
	raw, _ := r.json["recoveryCodes"].([]any)
	var codes []string
	seen := map[string]bool{}
	for _, x := range raw {
		s, _ := x.(string)
		if s == "" || seen[s] {
			t.Errorf("bad or repeated recovery code %q", s)
		}
		seen[s] = true
		codes = append(codes, s)
	}
	if len(codes) != 10 || r.json["enabled"] != true {
		t.Fatalf("verify = %s", r.body)
	}
	return secret, codes
}

func testTOTP(t *testing.T, b storetest.Backend) {
	c := &clock{}
	e := setup(t, b, withClock(c))
	l := e.apiLogin(t, userEmail, userPassword)

	e.api(t, http.MethodPost, "/api/v1/auth/2fa/verify", l.access, map[string]string{"code": "123456"}).
		wantError(t, "verify before enroll", http.StatusBadRequest, "", "")
	e.api(t, http.MethodPost, "/api/v1/auth/2fa/enroll", "", nil).wantError(t, "enroll without token", http.StatusUnauthorized, "", "")
	r := e.api(t, http.MethodPost, "/api/v1/auth/2fa/enroll", l.access, nil).want(t, "enroll", http.StatusOK)
	secret := r.str("secret")
	// Not enabled until verified: login still gives tokens.
	e.apiLogin(t, userEmail, userPassword)
	wrongCode := "000000"
	if code(t, secret, c) == wrongCode {
		wrongCode = "111111"
	}
	e.api(t, http.MethodPost, "/api/v1/auth/2fa/verify", l.access, map[string]string{"code": wrongCode}).
		wantError(t, "verify wrong code", http.StatusBadRequest, "invalid_code", "")
	_ = secret
	secret, recovery := e.enableTOTP(t, c, l.access)
	e.api(t, http.MethodPost, "/api/v1/auth/2fa/enroll", l.access, nil).wantError(t, "enroll again", http.StatusConflict, "", "")

	login2 := func() string {
		t.Helper()
		r := e.post(t, "/api/v1/auth/login", map[string]string{"email": userEmail, "password": userPassword, "deviceName": "2fa-phone"}).
			want(t, "login with 2fa", http.StatusOK)
		if r.json["twoFactorRequired"] != true || r.str("challenge") == "" || r.str("accessToken") != "" || r.str("refreshToken") != "" {
			t.Fatalf("login with 2fa = %s", r.body)
		}
		return r.str("challenge")
	}
	ch := login2()
	c.advance(30 * time.Second)
	cd := code(t, secret, c)
	r = e.post(t, "/api/v1/auth/login/2fa", map[string]string{"challenge": ch, "code": cd}).want(t, "2fa login", http.StatusOK)
	l2 := tokensOf(t, r)
	if ok, _ := e.valid(t, l2.access); !ok {
		t.Error("2fa login token invalid")
	}
	sess := e.api(t, http.MethodGet, "/api/v1/auth/session", l2.access, nil).want(t, "2fa session", http.StatusOK)
	if sess.obj("session")["deviceName"] != "2fa-phone" {
		t.Errorf("device name lost across the 2fa step: %s", sess.body)
	}
	// The same code again (same challenge or a new one) is a replay.
	e.post(t, "/api/v1/auth/login/2fa", map[string]string{"challenge": ch, "code": cd}).wantError(t, "replayed code", http.StatusUnauthorized, "", "")
	e.post(t, "/api/v1/auth/login/2fa", map[string]string{"challenge": login2(), "code": cd}).wantError(t, "replayed code, new challenge", http.StatusUnauthorized, "", "")
	e.post(t, "/api/v1/auth/login/2fa", map[string]string{"challenge": "forged.challenge", "code": cd}).wantError(t, "forged challenge", http.StatusUnauthorized, "", "")
	e.post(t, "/api/v1/auth/login/2fa", map[string]string{"challenge": login2(), "code": wrongCode}).wantError(t, "wrong code", http.StatusUnauthorized, "", "")

	// A recovery code works once.
	r = e.post(t, "/api/v1/auth/login/2fa", map[string]string{"challenge": login2(), "code": recovery[0]}).want(t, "recovery code", http.StatusOK)
	tokensOf(t, r)
	e.post(t, "/api/v1/auth/login/2fa", map[string]string{"challenge": login2(), "code": recovery[0]}).wantError(t, "recovery code reused", http.StatusUnauthorized, "", "")
	r = e.post(t, "/api/v1/auth/login/2fa", map[string]string{"challenge": login2(), "code": strings.ToUpper(recovery[1])}).want(t, "recovery code in capitals", http.StatusOK)
	tokensOf(t, r)

	// An expired challenge is refused.
	ch = login2()
	c.advance(6 * time.Minute)
	e.post(t, "/api/v1/auth/login/2fa", map[string]string{"challenge": ch, "code": code(t, secret, c)}).wantError(t, "expired challenge", http.StatusUnauthorized, "", "")

	// Disable needs a valid code; afterwards login gives tokens again.
	c.advance(30 * time.Second)
	e.api(t, http.MethodPost, "/api/v1/auth/2fa/disable", l2.access, map[string]string{"code": wrongCode}).wantError(t, "disable wrong code", http.StatusBadRequest, "invalid_code", "")
	e.api(t, http.MethodPost, "/api/v1/auth/2fa/disable", l2.access, map[string]string{"code": code(t, secret, c)}).want(t, "disable", http.StatusOK)
	e.apiLogin(t, userEmail, userPassword)
	e.api(t, http.MethodPost, "/api/v1/auth/2fa/disable", l2.access, map[string]string{"code": code(t, secret, c)}).wantError(t, "disable twice", http.StatusBadRequest, "", "")

	ev := e.eventTypes(t, e.user.ID)
	for _, typ := range []string{provider.Event2FAEnabled, provider.Event2FAUsed, provider.EventRecoveryCodeUsed, provider.Event2FADisabled} {
		if ev[typ] == 0 {
			t.Errorf("no %s event: %v", typ, ev)
		}
	}
}

// testAuditLog walks through every audited flow for one user and checks
// the log has each event, with no secret in it.
func testAuditLog(t *testing.T, b storetest.Backend) {
	mb, sender := startMailbox(t)
	c := &clock{}
	e := setup(t, b, withMailer(sender), withClock(c), withGrace(500*time.Millisecond))
	var secrets []string
	keep := func(s ...string) { secrets = append(secrets, s...) }

	const email, pw = "audit@example.com", "audit-password-1"
	keep(pw)
	r := e.post(t, "/api/v1/auth/register", map[string]string{"email": email, "password": pw, "name": "Audit"}).want(t, "register", http.StatusCreated)
	id := r.obj("user")["id"].(string)
	link := mb.wait(t, email, 1).link(t, "/api/auth/verify-email")
	keep(link.Query().Get("token"))
	if resp, _ := getNoRedirect(t, link.String()); resp.StatusCode != http.StatusOK {
		t.Fatalf("verify: %d", resp.StatusCode)
	}
	e.post(t, "/api/v1/auth/login", map[string]string{"email": email, "password": "wrong-guess-1"}).want(t, "failed login", http.StatusUnauthorized)
	keep("wrong-guess-1")
	l := e.apiLogin(t, email, pw)
	keep(l.access, l.refresh)

	// Refresh token reuse.
	p2 := tokensOf(t, e.apiRefresh(t, l.refresh).want(t, "refresh", http.StatusOK))
	keep(p2.access, p2.refresh)
	c.advance(700 * time.Millisecond)
	e.apiRefresh(t, l.refresh).want(t, "reuse", http.StatusUnauthorized)

	// 2FA enabled, used, recovery code used.
	l = e.apiLogin(t, email, pw)
	keep(l.access, l.refresh)
	secret, recovery := e.enableTOTP(t, c, l.access)
	keep(secret)
	keep(recovery...)
	ch := e.post(t, "/api/v1/auth/login", map[string]string{"email": email, "password": pw}).want(t, "login 2fa", http.StatusOK).str("challenge")
	c.advance(30 * time.Second)
	cd := code(t, secret, c)
	keep(ch, cd)
	l3 := tokensOf(t, e.post(t, "/api/v1/auth/login/2fa", map[string]string{"challenge": ch, "code": cd}).want(t, "2fa", http.StatusOK))
	keep(l3.access, l3.refresh)
	ch = e.post(t, "/api/v1/auth/login", map[string]string{"email": email, "password": pw}).want(t, "login 2fa", http.StatusOK).str("challenge")
	l4 := tokensOf(t, e.post(t, "/api/v1/auth/login/2fa", map[string]string{"challenge": ch, "code": recovery[0]}).want(t, "recovery", http.StatusOK))
	keep(ch, l4.access, l4.refresh)

	// Session revoked, logout.
	_, c4 := e.verifyJWT(t, l4.access, jose.EdDSA)
	e.api(t, http.MethodDelete, "/api/v1/auth/sessions/"+c4["sid"].(string), l3.access, nil).want(t, "revoke session", http.StatusOK)
	e.api(t, http.MethodPost, "/api/v1/auth/logout", l3.access, nil).want(t, "logout", http.StatusOK)

	// Password reset.
	e.post(t, "/api/v1/auth/forgot-password", map[string]string{"email": email}).want(t, "forgot", http.StatusOK)
	rt := mb.wait(t, email, 2).link(t, "/reset-password").Query().Get("token")
	keep(rt, "audit-password-2")
	e.post(t, "/api/v1/auth/reset-password", map[string]string{"token": rt, "newPassword": "audit-password-2"}).want(t, "reset", http.StatusOK)

	evs, err := e.store.ListEvents(context.Background(), id, 1000)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for _, ev := range evs {
		got[ev.Type]++
		if ev.UserID != id || ev.CreatedAt.IsZero() {
			t.Errorf("event %+v: wrong user or no time", ev)
		}
		if ev.Type != provider.EventEmailVerified && ev.Type != provider.EventSessionRevoked && (ev.IP != "127.0.0.1" || ev.UserAgent != testUserAgent) {
			t.Errorf("event %s: ip %q ua %q", ev.Type, ev.IP, ev.UserAgent)
		}
		fields := []string{ev.Type, ev.IP, ev.UserAgent}
		for k, v := range ev.Detail {
			fields = append(fields, k, v)
		}
		for _, f := range fields {
			for _, s := range secrets {
				if s != "" && len(s) >= 6 && strings.Contains(f, s) {
					t.Errorf("event %s leaks a secret in %q", ev.Type, f)
				}
			}
		}
	}
	for _, typ := range []string{provider.EventLoginSuccess, provider.EventLoginFailure, provider.EventLogout, provider.EventPasswordReset,
		provider.EventEmailVerified, provider.Event2FAEnabled, provider.Event2FAUsed, provider.EventRecoveryCodeUsed,
		provider.EventSessionRevoked, provider.EventRefreshReuse, provider.EventRegistered} {
		if got[typ] == 0 {
			t.Errorf("no %s event; have %v", typ, got)
		}
	}
}
