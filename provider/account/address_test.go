package account_test

import (
	"strings"
	"testing"

	"github.com/manacore/mana-core-auth/provider/account"
)

func TestValidNewEmail(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		email string
		want  bool
	}{
		{"Plain", "alice@example.com", true},
		{"Subdomain", "alice.smith+tag@mail.example.co.uk", true},
		{"Atext", "a!#$%&'*/=?^_`{|}~-b@example.com", true},
		{"Local64", strings.Repeat("a", 64) + "@example.com", true},
		{"IDNDomain", "alice@bücher.de", true},
		{"PunycodeDomain", "alice@xn--bcher-kva.de", true},
		{"CyrillicOnly", "алиса@пример.рф", true},
		{"JapaneseMix", "たなか@例え.jp", true}, // Hiragana and Han: one writing system
		{"DigitsInLabel", "a@123abc.example", true},

		{"Empty", "", false},
		{"NoAt", "alice.example.com", false},
		{"AddressLiteralV4", "a@[127.0.0.1]", false},
		{"AddressLiteralV6", "a@[IPv6:::1]", false},
		{"NumericTLD", "a@127.0.0.1", false},
		{"LeadingHyphen", "a@-b.com", false},
		{"TrailingHyphen", "a@b-.com", false},
		{"HyphenTLD", "a@b.-com", false},
		{"OneLabel", "a@localhost", false},
		{"EmptyLabel", "a@b..com", false},
		{"TrailingDotDomain", "a@b.com.", false},
		{"Underscore", "a@b_c.com", false},
		{"Label64", "a@" + strings.Repeat("b", 64) + ".com", false},
		{"Local65", strings.Repeat("a", 65) + "@example.com", false},
		{"TooLong", strings.Repeat("a", 60) + "@" + strings.Repeat(strings.Repeat("b", 60)+".", 4) + "com", false},
		{"Quoted", `"a b"@example.com`, false},
		{"QuotedAt", `"a@b"@example.com`, false},
		{"LeadingDot", ".a@example.com", false},
		{"TrailingDot", "a.@example.com", false},
		{"DoubleDot", "a..b@example.com", false},
		{"Comment", "a(comment)@example.com", false},
		{"DisplayName", "Alice <alice@example.com>", false},
		{"Space", "a b@example.com", false},
		{"MixedLocal", "\u0430lice@example.com", false}, // Cyrillic а among Latin letters
		{"MixedLabel", "alice@ex\u0430mple.com", false},
		{"MixedGreekLatin", "alice@\u03bfpenai.com", false}, // Greek ο
		{"MixedALabel", "alice@xn--pple-43d.com", false},    // punycode of the next
		{"MixedULabel", "alice@\u0430pple.com", false},
		{"InvalidIDNA", "a@xn--zz.com", false},
		{"NUL", "a\x00@example.com", false},
		{"InvalidUTF8", "a\xff@example.com", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := account.ValidNewEmail(tc.email); got != tc.want {
				t.Errorf("ValidNewEmail(%q) = %v, want %v", tc.email, got, tc.want)
			}
		})
	}
}

// Stored addresses keep working at login and recovery: the lookup rule
// (ValidEmail) accepts what registration no longer does.
func TestValidEmailKeepsStoredAddresses(t *testing.T) {
	t.Parallel()
	for _, e := range []string{"a@localhost", strings.Repeat("a", 65) + "@example.com", "\u0430lice@example.com"} {
		if !account.ValidEmail(e) {
			t.Errorf("ValidEmail(%q) = false; a stored account with it could not sign in", e)
		}
		if account.ValidNewEmail(e) {
			t.Errorf("ValidNewEmail(%q) = true", e)
		}
	}
}

func TestValidName(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, in string
		want     bool
	}{
		{"Plain", "Alice Smith", true},
		{"Empty", "", true},
		{"Initials", "J. R. R. Tolkien", true},
		{"Accents", "Jürgen Müller-Lüdenscheidt", true},
		{"Apostrophe", "Seán O'Brien", true},
		{"CJK", "田中 太郎", true},
		{"Max", strings.Repeat("ä", 255), true},

		{"TooLong", strings.Repeat("a", 256), false},
		{"URL", "Alice http://evil.example/reset", false},
		{"SchemeOnly", "see hxxp://x", false},
		{"WWW", "www.evil", false},
		{"Domain", "Alice evil.com", false},
		{"PathLike", "x.y/reset", false},
		{"IP", "10.0.0.1", false},
		{"FullwidthDot", "evil\uFF0Ecom", false},
		{"IdeographicDot", "evil\u3002com", false},
		{"EmailAddress", "alice@evil", false},
		{"Newline", "Alice\nClick here", false},
		{"CR", "Alice\r", false},
		{"Tab", "Alice\tSmith", false},
		{"Escape", "Alice\x1b[31m", false},
		{"LineSeparator", "Alice\u2028Bob", false},
		{"BidiOverride", "Alice\u202Emoc.live", false},
		{"NUL", "Alice\x00", false},
		{"InvalidUTF8", "Alice\xff", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := account.ValidName(tc.in); got != tc.want {
				t.Errorf("ValidName(%q) = %v, want %v", tc.in, got, tc.want)
			}
		})
	}
}
