package account_test

import (
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
