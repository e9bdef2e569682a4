package account_test

import (
	"context"
	"strings"
	"testing"

	"github.com/manacore/mana-core-auth/provider/account"
	"github.com/manacore/mana-core-auth/provider/websession"
)

func TestRedirectPolicyOrigin(t *testing.T) {
	t.Parallel()
	// Extra sees origins only: a path, query or user reaching it would be a bug.
	extra := func(origin string) bool {
		if strings.Count(origin, "/") != 2 || strings.ContainsAny(origin, "?#@") {
			t.Errorf("Extra called with %q, want an origin", origin)
		}
		return origin == partnerOrigin
	}
	prod := &account.RedirectPolicy{Domain: redirectDomain, Extra: extra, Self: "https://accounts.example.com"}
	dev := &account.RedirectPolicy{Domain: redirectDomain, Extra: extra, Self: "https://accounts.example.com", AllowLoopback: true}
	httpSelf := &account.RedirectPolicy{Self: "http://localhost:8080"}
	empty := &account.RedirectPolicy{}
	prefix := "https://chat.mana.how/"

	for _, tc := range []struct {
		name   string
		policy *account.RedirectPolicy
		raw    string
		want   string
	}{
		{"subdomain", prod, "https://chat.mana.how", "https://chat.mana.how"},
		{"parent domain itself", prod, "https://mana.how/", "https://mana.how"},
		{"nested subdomain", prod, "https://a.b.mana.how/x", "https://a.b.mana.how"},
		{"path, query and fragment dropped", prod, "https://chat.mana.how/welcome?next=https://evil.example#frag", "https://chat.mana.how"},
		{"port kept", prod, "https://chat.mana.how:8443/x", "https://chat.mana.how:8443"},
		{"scheme and host lower-cased", prod, "HTTPS://Chat.MANA.How/X", "https://chat.mana.how"},
		{"surrounding space trimmed", prod, "  https://chat.mana.how/x \n", "https://chat.mana.how"},
		{"http refused for the parent domain", prod, "http://chat.mana.how/", ""},
		{"http refused for the parent domain itself", prod, "http://mana.how", ""},
		{"suffix without a dot", prod, "https://evilmana.how", ""},
		{"parent domain as a prefix", prod, "https://mana.how.evil.example", ""},
		{"userinfo", prod, "https://user:pw@chat.mana.how/", ""},
		{"userinfo hiding the host", prod, "https://chat.mana.how@evil.example/", ""},
		{"foreign origin", prod, "https://evil.example/", ""},
		{"other scheme", prod, "ftp://chat.mana.how/", ""},
		{"javascript", prod, "javascript:alert(1)//chat.mana.how", ""},
		{"scheme-relative", prod, "//chat.mana.how/x", ""},
		{"opaque", prod, "https:chat.mana.how", ""},
		{"no scheme", prod, "chat.mana.how", ""},
		{"empty", prod, "", ""},
		{"unparseable", prod, "https://chat.mana.how/%zz", ""},
		{"loopback refused in production", prod, "http://localhost:5173/", ""},
		{"loopback 127.0.0.1 refused in production", prod, "http://127.0.0.1:5173", ""},
		{"localhost when allowed", dev, "http://localhost:5173/cb?x=1", "http://localhost:5173"},
		{"127.0.0.1 when allowed", dev, "http://127.0.0.1:8080", "http://127.0.0.1:8080"},
		{"::1 when allowed", dev, "http://[::1]:3000/", "http://[::1]:3000"},
		{"https localhost when allowed", dev, "https://localhost", "https://localhost"},
		{"localhost lookalike even when allowed", dev, "http://localhost.evil.example/", ""},
		{"self", prod, "https://accounts.example.com/settings?tab=2", "https://accounts.example.com"},
		{"self over another scheme", prod, "http://accounts.example.com/", ""},
		{"self over http", httpSelf, "http://localhost:8080/login", "http://localhost:8080"},
		{"self on another port", httpSelf, "http://localhost:8081/", ""},
		{"extra origin", prod, partnerOrigin + "/app?x=1", partnerOrigin},
		{"extra does not allow a sibling", prod, "https://other.example.org/", ""},
		{"extra over another scheme", prod, "http://partner.example.org/", ""},
		{"empty policy allows nothing", empty, "https://chat.mana.how/", ""},
		{"2048 bytes", prod, prefix + strings.Repeat("a", 2048-len(prefix)), "https://chat.mana.how"},
		{"overlong", prod, prefix + strings.Repeat("a", 2049-len(prefix)), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := tc.policy.Origin(tc.raw); got != tc.want {
				t.Errorf("Origin(%q) = %q, want %q", tc.raw, got, tc.want)
			}
		})
	}
}

// NewService derives Self from BaseURL, so flows return to our own pages.
func TestServiceRedirectOriginSelf(t *testing.T) {
	t.Parallel()
	svc, err := account.NewService(account.Config{BaseURL: "https://Auth.Example.net/base", SecretKey: secretKey, Sessions: noSessions{}},
		nil, account.NewHasher(cheapParams, 1), &outbox{})
	if err != nil {
		t.Fatal(err)
	}
	for raw, want := range map[string]string{
		"https://auth.example.net/account?x=1": "https://auth.example.net",
		"https://other.example.net/":           "",
		"http://auth.example.net/":             "",
	} {
		if got := svc.RedirectOrigin(raw); got != want {
			t.Errorf("RedirectOrigin(%q) = %q, want %q", raw, got, want)
		}
	}
}

// noSessions stands in for the session service where no session is ended.
type noSessions struct{}

func (noSessions) EndAll(context.Context, string, string, websession.Ending) ([]string, error) {
	return nil, nil
}
