package account_test

import (
	"net/url"
	"strings"
	"testing"

	"github.com/manacore/mana-core-auth/provider/account"
)

func TestSafeContinuation(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"/oauth2/authorize?client_id=chat&state=x%20y", "/oauth2/authorize?client_id=chat&state=x%20y"},
		{"/account", "/account"},
		{"/", "/"},
		{"", ""},
		{"https://evil.example/x", ""},
		{"//evil.example/x", ""},
		{"/\\evil.example", ""},
		{"javascript:alert(1)", ""},
		{"http:/evil.example", ""},
		{"evil.example", ""},
		{"/x\r\nLocation: https://evil.example", ""},
		{"/" + strings.Repeat("a", 5000), ""},
	} {
		if got := account.SafeContinuation(c.in); got != c.want {
			t.Errorf("SafeContinuation(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// FuzzSafeContinuation: whatever comes in, what comes out is a path on our
// origin, as a browser resolves it, and stays the same when checked again.
func FuzzSafeContinuation(f *testing.F) {
	for _, s := range []string{"/oauth2/authorize?client_id=chat", "//evil", "/\\evil", "https://x", "/a/../b", "/%2F%2Fevil", "/\t/evil"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		out := account.SafeContinuation(raw)
		if out == "" {
			return
		}
		if !strings.HasPrefix(out, "/") || strings.HasPrefix(out, "//") || strings.HasPrefix(out, "/\\") {
			t.Fatalf("SafeContinuation(%q) = %q leaves our origin", raw, out)
		}
		base, _ := url.Parse("https://accounts.example.com/login")
		ref, err := url.Parse(out)
		if err != nil {
			t.Fatalf("SafeContinuation(%q) = %q does not parse: %v", raw, out, err)
		}
		if u := base.ResolveReference(ref); u.Host != base.Host || u.Scheme != base.Scheme {
			t.Fatalf("SafeContinuation(%q) = %q resolves to %s", raw, out, u)
		}
		if again := account.SafeContinuation(out); again != out {
			t.Fatalf("SafeContinuation(%q) = %q, then %q", raw, out, again)
		}
	})
}
