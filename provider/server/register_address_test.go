package server_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/manacore/mana-core-auth/provider/store/storetest"
)

// Registration accepts only addresses a mail system would route and names
// a mail client shows as plain text; accounts stored before keep signing
// in with their address.
func TestAPIRegisterRefusesUnroutableAddresses(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b storetest.Backend) {
		e := setup(t, b)
		before, err := e.store.CountUsers(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct{ what, email, name, field string }{
			{"address literal", "a@[127.0.0.1]", "A", "email"},
			{"leading hyphen", "a@-b.com", "A", "email"},
			{"65-octet local part", strings.Repeat("a", 65) + "@example.com", "A", "email"},
			{"mixed scripts", "\u0430lice@example.com", "A", "email"},
			{"mixed scripts in an A-label", "alice@xn--pple-43d.com", "A", "email"},
			{"mixed scripts in a U-label", "alice@\u0430pple.com", "A", "email"},
			{"single label", "a@localhost", "A", "email"},
			{"quoted local part", `"a b"@example.com`, "A", "email"},
			{"URL in name", "mallory@example.com", "Mallory http://evil.example/reset", "name"},
			{"domain in name", "mallory@example.com", "visit evil.com", "name"},
			{"www in name", "mallory@example.com", "www.evil", "name"},
			{"control in name", "mallory@example.com", "Mallory\u0007", "name"},
		} {
			r := e.post(t, "/api/v1/auth/register", map[string]string{"email": tc.email, "password": "password123", "name": tc.name})
			r.wantError(t, tc.what, http.StatusBadRequest, "validation_failed", "")
			if errs := r.obj("errors"); len(errs) != 1 || errs[tc.field] == nil {
				t.Errorf("%s: errors = %v, want only %q", tc.what, errs, tc.field)
			}
		}
		if after, _ := e.store.CountUsers(t.Context()); after != before {
			t.Errorf("%d accounts created by refused registrations", after-before)
		}

		e.post(t, "/api/v1/auth/register", map[string]string{"email": "jürgen@bücher.de", "password": "password123", "name": "Jürgen"}).
			want(t, "internationalized address", http.StatusCreated)

		// An address registration would now refuse still signs in and
		// recovers its password.
		e.createVerifiedUser(t, "user-legacy", "legacy@localhost", "password123")
		e.apiLogin(t, "legacy@localhost", "password123")
		e.post(t, "/api/v1/auth/forgot-password", map[string]string{"email": "legacy@localhost"}).want(t, "forgot legacy", http.StatusOK)
	})
}
