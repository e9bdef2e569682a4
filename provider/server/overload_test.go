package server_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/manacore/mana-core-auth/internal/app"
	"github.com/manacore/mana-core-auth/provider/store/storetest"
)

// TestHashingOverloadEveryPath (issue 13): with every password hashing
// slot taken and no queue, each path that hashes answers 503 with
// Retry-After at once — the API with code "overloaded", the pages with
// the message that blames nobody — never 401; a refused reset leaves the
// emailed link usable; and everything works again once a slot is free.
func TestHashingOverloadEveryPath(t *testing.T) {
	t.Parallel()
	mb, sender := startMailbox(t)
	// localhost: passkeys (whose registration checks the password) are
	// off for an issuer at an IP address.
	e := setup(t, storetest.Backends()[0], withMailer(sender), withLocalhost, func(o *setupOpts) {
		o.hashing = &app.PasswordHashing{Slots: 1, Queue: 0}
	})
	// Everything that needs a hash before the slot is taken.
	l := e.apiLogin(t, userEmail, userPassword)
	br := e.browser(t)
	if p := br.signIn(t, userEmail, userPassword); !isAccountPage(p) {
		t.Fatal("sign-in")
	}
	e.post(t, "/api/v1/auth/forgot-password", map[string]string{"email": userEmail}).want(t, "forgot", http.StatusOK)
	token := mb.wait(t, userEmail, 1).link(t, "/reset-password").Query().Get("token")

	slot, err := e.hasher.Acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	wantRetry := func(what string, h http.Header) {
		t.Helper()
		if got := h.Get("Retry-After"); got != "1" {
			t.Errorf("%s: Retry-After %q, want 1", what, got)
		}
	}
	for _, c := range []struct {
		what, path, bearer string
		body               any
	}{
		{"API login", "/api/v1/auth/login", "", map[string]string{"email": userEmail, "password": userPassword}},
		{"API login, unknown address", "/api/v1/auth/login", "", map[string]string{"email": "nobody@example.com", "password": userPassword}},
		{"API register", "/api/v1/auth/register", "", map[string]string{"email": "new@example.com", "password": "a-new-password", "name": "New"}},
		{"API change password", "/api/v1/auth/password", l.access, map[string]string{"currentPassword": userPassword, "newPassword": "another-password"}},
		{"API reset password", "/api/v1/auth/reset-password", "", map[string]string{"token": token, "newPassword": "a-reset-password"}},
		{"API delete account", "/api/v1/auth/me", l.access, map[string]string{"password": userPassword, "email": userEmail}},
		{"API passkey registration", "/api/v1/auth/passkeys/register/options", l.access, map[string]string{"password": userPassword}},
	} {
		method := http.MethodPost
		if c.path == "/api/v1/auth/me" {
			method = http.MethodDelete
		}
		r := e.api(t, method, c.path, c.bearer, c.body)
		if r.status == http.StatusNotFound || r.status == http.StatusMethodNotAllowed {
			t.Errorf("%s: %s is not a route (%d)", c.what, c.path, r.status)
			continue
		}
		if r.status != http.StatusServiceUnavailable || r.str("code") != "overloaded" {
			t.Errorf("%s: %d %.300s, want 503 overloaded", c.what, r.status, r.body)
			continue
		}
		wantRetry(c.what, r.header)
	}

	const busy = "Your details were not checked"
	for _, c := range []struct {
		what, path string
		form       url.Values
	}{
		{"page login", "/login", url.Values{"email": {userEmail}, "password": {userPassword}}},
		{"page register", "/register", url.Values{"email": {"new2@example.com"}, "password": {"a-new-password"}, "name": {"New"}}},
		{"page reset", "/reset-password", url.Values{"token": {token}, "password": {"a-reset-password"}, "password_confirm": {"a-reset-password"}}},
		{"page change password", "/account/password", url.Values{"current_password": {userPassword}, "new_password": {"another-password"}}},
		{"page delete account", "/account/delete", url.Values{"password": {userPassword}, "confirm_email": {userEmail}}},
	} {
		p := br.post(t, c.path, c.form)
		if p.status != http.StatusServiceUnavailable || !strings.Contains(p.body, busy) {
			t.Errorf("%s: %d at %s, want 503 with the overload message: %.300s", c.what, p.status, p.url, p.body)
			continue
		}
		wantRetry(c.what, p.header)
	}

	// The account page starts a passkey registration by a script's form
	// post after checking the password; it answers JSON.
	if p := br.post(t, "/account/passkeys/options", url.Values{"password": {userPassword}}); p.status != http.StatusServiceUnavailable ||
		!strings.Contains(p.body, `"overloaded"`) {
		t.Errorf("page passkey registration: %d %.300s, want 503 overloaded", p.status, p.body)
	} else {
		wantRetry("page passkey registration", p.header)
	}

	slot.Release()
	// The reset refused above did not use up the link.
	e.post(t, "/api/v1/auth/reset-password", map[string]string{"token": token, "newPassword": "a-reset-password"}).
		want(t, "reset after the overload", http.StatusOK)
	e.apiLogin(t, userEmail, "a-reset-password")
}
