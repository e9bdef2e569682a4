package account

import (
	"net/mail"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/net/idna"

	"github.com/manacore/mana-core-auth/provider"
)

// The rules for email addresses and display names. Lookups (login, forgot
// password, resend verification) take any address ValidEmail accepts, so
// accounts stored before the stricter rules keep working; an address that
// becomes an account's (registration, `manaauth users create`) must pass
// ValidNewEmail.

// NormalizeEmail lower-cases and trims an address. An address that is not
// valid UTF-8 is only trimmed, so that ValidEmail still refuses it:
// strings.ToLower would replace each invalid byte with U+FFFD and turn it
// into a different, valid address ("b\xffb@x.com" would be registered as
// "b\uFFFDb@x.com").
func NormalizeEmail(e string) string {
	e = strings.TrimSpace(e)
	if !utf8.ValidString(e) {
		return e
	}
	return strings.ToLower(e)
}

// ValidEmail accepts a bare address (no display name) of sane length: the
// shape an existing account's address may have.
func ValidEmail(e string) bool {
	if len(e) > 254 || e == "" || !provider.CleanText(e) {
		return false
	}
	a, err := mail.ParseAddress(e)
	if err != nil || a.Address != e {
		return false
	}
	domain := e[strings.LastIndexByte(e, '@')+1:]
	return strings.Contains(domain, ".") || domain == "localhost"
}

// Limits of RFC 5321 section 4.5.3.1 and RFC 1035.
const (
	maxAddress = 254
	maxLocal   = 64
	maxDomain  = 253
	maxLabel   = 63
)

// ValidNewEmail accepts only an address a mail system would route to one
// mailbox, in normalized form (see NormalizeEmail): a dot-atom local part
// of at most 64 octets (no quoted strings, no comments), a domain of at
// least two valid DNS labels (IDNA 2008 through the registration profile,
// which also refuses forms that would need mapping, so one mailbox has one
// spelling), no address literal, and no local part or domain label that
// mixes scripts (a Cyrillic "а" among Latin letters is a look-alike of
// another address, not a name anyone types).
func ValidNewEmail(e string) bool {
	if len(e) > maxAddress || !ValidEmail(e) {
		return false
	}
	at := strings.LastIndexByte(e, '@')
	local, domain := e[:at], e[at+1:]
	return validLocal(local) && validDomain(domain)
}

// validLocal accepts a dot-atom (RFC 5322 section 3.2.3) whose atext may
// include letters and digits of any script (RFC 6531), from one script.
func validLocal(local string) bool {
	if local == "" || len(local) > maxLocal {
		return false
	}
	for atom := range strings.SplitSeq(local, ".") {
		if atom == "" { // leading, trailing or double dot
			return false
		}
		for _, r := range atom {
			if !isAtext(r) {
				return false
			}
		}
	}
	return singleScript(local)
}

func isAtext(r rune) bool {
	switch {
	case r < utf8.RuneSelf:
		return 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' ||
			strings.ContainsRune("!#$%&'*+-/=?^_`{|}~", r)
	default:
		return unicode.In(r, unicode.L, unicode.M, unicode.N)
	}
}

// validDomain checks the domain as DNS would see it. The address literal
// ("[127.0.0.1]") fails here: brackets are no label characters.
func validDomain(domain string) bool {
	ascii, err := idna.Registration.ToASCII(domain)
	if err != nil || ascii == "" || len(ascii) > maxDomain {
		return false
	}
	labels := strings.Split(ascii, ".")
	if len(labels) < 2 {
		return false
	}
	for _, l := range labels {
		if !validLabel(l) {
			return false
		}
	}
	// A numeric top-level label makes it an IP address in disguise.
	if strings.Trim(labels[len(labels)-1], "0123456789") == "" {
		return false
	}
	// The scripts are those of the Unicode form, so that an A-label
	// ("xn--pple-43d", a Cyrillic "а" in "apple") is judged as what a mail
	// client shows, not as the ASCII it was typed in.
	uni, err := idna.Registration.ToUnicode(ascii)
	if err != nil {
		return false
	}
	for l := range strings.SplitSeq(uni, ".") {
		if !singleScript(l) {
			return false
		}
	}
	return true
}

// validLabel is an LDH label (RFC 1123 section 2.1; A-labels are LDH too).
func validLabel(l string) bool {
	if l == "" || len(l) > maxLabel || l[0] == '-' || l[len(l)-1] == '-' {
		return false
	}
	for i := range len(l) {
		c := l[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// cjk are the scripts one East Asian writing system mixes by nature
// (UTS #39's "highly restrictive" sets, without Latin): Japanese writes
// Han with Hiragana and Katakana, Korean Han with Hangul, Chinese Han with
// Bopomofo. Any other mixture is refused.
var cjk = [][]string{{"Han", "Hiragana", "Katakana"}, {"Han", "Hangul"}, {"Han", "Bopomofo"}}

// singleScript reports whether s is written in one script. Common
// (digits, punctuation) and Inherited (combining marks) characters belong
// to every script, so they never make a mixture.
func singleScript(s string) bool {
	seen := map[string]bool{}
	for _, r := range s {
		if name := scriptOf(r); name != "" {
			seen[name] = true
		}
	}
	if len(seen) <= 1 {
		return true
	}
	for _, set := range cjk {
		in := 0
		for _, name := range set {
			if seen[name] {
				in++
			}
		}
		if in == len(seen) {
			return true
		}
	}
	return false
}

// scriptOf returns r's script, "" for Common, Inherited and unassigned.
func scriptOf(r rune) string {
	switch {
	case r < utf8.RuneSelf:
		if 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' {
			return "Latin"
		}
		return ""
	case unicode.Is(unicode.Common, r), unicode.Is(unicode.Inherited, r):
		return ""
	}
	for name, table := range unicode.Scripts {
		if unicode.Is(table, r) {
			return name
		}
	}
	return ""
}

// ValidName accepts a display name of at most 255 characters that a mail
// client shows as plain text (see nameProblem).
func ValidName(name string) bool { return nameProblem(name) == "" }

// nameProblem returns why name cannot be a display name: "length" (more
// than 255 characters), "invalid_name" (see below), or "" when it can.
//
// The name opens the greeting of our mails ("Hi <name>,"), so it must not
// break the line or reorder the text around it (control characters, line
// and paragraph separators, bidirectional controls) nor be something a
// mail client turns into a link: a registration named "visit
// evil.com/reset" would otherwise put an attacker's link into a mail from
// us.
func nameProblem(name string) string {
	if !provider.CleanText(name) {
		return "invalid_name"
	}
	if utf8.RuneCountInString(name) > 255 {
		return "length"
	}
	for _, r := range name {
		if unicode.In(r, unicode.Cc, unicode.Zl, unicode.Zp, unicode.Co, unicode.Bidi_Control) {
			return "invalid_name"
		}
	}
	if linkLike(name) {
		return "invalid_name"
	}
	return ""
}

// linkLike reports text that mail clients linkify: a scheme ("http://",
// "mailto:" with "//" or an "@"), "www.", or a dot (or a full-width or
// ideographic one) between two letters or digits, as in "evil.com",
// "x.y/" or "10.0.0.1". The last rule also refuses "Dr.Who"; "Dr. Who"
// passes, and telling the two apart would take the list of top-level
// domains, which changes.
func linkLike(name string) bool {
	lower := strings.ToLower(name)
	if strings.Contains(lower, "://") || strings.Contains(lower, "www.") || strings.Contains(lower, "@") {
		return true
	}
	rs := []rune(lower)
	for i := 1; i+1 < len(rs); i++ {
		switch rs[i] {
		case '.', '\uFF0E', '\u3002', '\uFF61':
			if isAlnum(rs[i-1]) && isAlnum(rs[i+1]) {
				return true
			}
		}
	}
	return false
}

func isAlnum(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }
