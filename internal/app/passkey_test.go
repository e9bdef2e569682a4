package app

import (
	"testing"

	"github.com/manacore/mana-core-auth/provider/passkey"
)

// issue 15: the relying party id passkeys are bound to, from COOKIE_DOMAIN
// (a list) and the issuer.
func TestPasskeyRelyingParty(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		cookieDomain, issuer, rpID, origin string
	}{
		{".mana.how", "https://auth.mana.how", "mana.how", "https://auth.mana.how"},
		{"mana.how", "https://auth.mana.how/", "mana.how", "https://auth.mana.how"},
		// Several parents: the one the issuer lives under.
		{".mana.test, .mana.how", "https://auth.mana.how", "mana.how", "https://auth.mana.how"},
		{"", "https://auth.mana.how", "auth.mana.how", "https://auth.mana.how"},
		// A parent the issuer is not under binds nothing: the issuer's host.
		{".other.example", "http://localhost:3001", "localhost", "http://localhost:3001"},
		{".mana.test", "http://auth.mana.test:8080", "mana.test", "http://auth.mana.test:8080"},
	} {
		rpID, err := passkey.RPID(passkeyCookieDomain(tc.cookieDomain, tc.issuer), tc.issuer)
		if err != nil || rpID != tc.rpID {
			t.Errorf("COOKIE_DOMAIN=%q BASE_URL=%q: RP id %q (%v), want %q", tc.cookieDomain, tc.issuer, rpID, err, tc.rpID)
		}
		if got := issuerOrigin(tc.issuer); got != tc.origin {
			t.Errorf("origin of %q = %q, want %q", tc.issuer, got, tc.origin)
		}
	}
}
