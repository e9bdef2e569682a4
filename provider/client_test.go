package provider_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/manacore/mana-core-auth/provider"
)

func validClient() *provider.Client {
	return &provider.Client{ID: "chat", Name: "Chat", SecretHash: "hash", RedirectURIs: []string{"https://chat.mana.how/cb"},
		PostLogoutRedirectURIs: []string{"https://chat.mana.how/"}, GrantTypes: []string{"authorization_code", "refresh_token"},
		Scopes: []string{"openid", "credits:read"}, IDTokenAlg: provider.AlgEdDSA, LogoURI: "https://chat.mana.how/logo.png",
		BackchannelLogoutURI: "https://chat.mana.how/bc"}
}

func TestClientValidate(t *testing.T) {
	t.Parallel()
	if err := validClient().Validate(); err != nil {
		t.Fatalf("valid client refused: %v", err)
	}
	for _, tc := range []struct {
		name   string
		change func(c *provider.Client)
		want   string // a fragment of the one problem expected
	}{
		{"empty id", func(c *provider.Client) { c.ID = "" }, "id:"},
		{"id with colon", func(c *provider.Client) { c.ID = "a:b" }, "id:"},
		{"id with NUL", func(c *provider.Client) { c.ID = "a\x00" }, "id:"},
		{"id too long", func(c *provider.Client) { c.ID = strings.Repeat("x", 129) }, "id:"},
		{"confidential without secret", func(c *provider.Client) { c.SecretHash = "" }, "secret:"},
		{"public with secret", func(c *provider.Client) { c.Public = true }, "secret:"},
		{"unknown grant", func(c *provider.Client) { c.GrantTypes = append(c.GrantTypes, "password") }, `unknown grant type "password"`},
		{"no grant", func(c *provider.Client) { c.GrantTypes = nil; c.RedirectURIs = nil }, "at least one grant"},
		{"public client credentials", func(c *provider.Client) {
			c.Public, c.SecretHash, c.GrantTypes = true, "", []string{"client_credentials"}
		}, "public client cannot"},
		{"code without redirect", func(c *provider.Client) { c.RedirectURIs = nil }, "redirect_uris: required"},
		{"http redirect", func(c *provider.Client) { c.RedirectURIs = []string{"http://evil.example/cb"} }, "https"},
		{"relative redirect", func(c *provider.Client) { c.RedirectURIs = []string{"/cb"} }, "absolute"},
		{"fragment", func(c *provider.Client) { c.RedirectURIs = []string{"https://a.example/cb#x"} }, "fragment"},
		{"javascript redirect", func(c *provider.Client) { c.RedirectURIs = []string{"javascript:alert(1)//x"} }, "scheme"},
		{"data post-logout", func(c *provider.Client) { c.PostLogoutRedirectURIs = []string{"data:text/html,x"} }, "scheme"},
		{"http post-logout", func(c *provider.Client) { c.PostLogoutRedirectURIs = []string{"http://a.example/"} }, "post_logout_redirect_uris"},
		{"http back-channel", func(c *provider.Client) { c.BackchannelLogoutURI = "http://a.example/bc" }, "backchannel_logout_uri"},
		{"alg", func(c *provider.Client) { c.IDTokenAlg = "HS256" }, "id_token_alg"},
		{"logo", func(c *provider.Client) { c.LogoURI = "http://a.example/l.png" }, "logo_uri"},
		{"scope with space", func(c *provider.Client) { c.Scopes = []string{"a b"} }, "scopes:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := validClient()
			tc.change(c)
			err := c.Validate()
			var cp provider.ClientProblems
			if !errors.As(err, &cp) || !errors.Is(err, provider.ErrInvalidClient) {
				t.Fatalf("Validate = %v, want ClientProblems", err)
			}
			if len(cp) != 1 || !strings.Contains(cp[0], tc.want) {
				t.Errorf("problems %q, want exactly one containing %q", cp, tc.want)
			}
		})
	}
	// Every problem is reported at once.
	c := &provider.Client{ID: "", GrantTypes: []string{"password", "authorization_code"}, IDTokenAlg: "none"}
	var cp provider.ClientProblems
	if !errors.As(c.Validate(), &cp) || len(cp) < 5 {
		t.Errorf("want every problem at once, got %q", cp)
	}
	// Loopback redirects for native apps and development are http.
	ok := validClient()
	ok.RedirectURIs = []string{"http://127.0.0.1:8123/cb", "http://localhost:5173/cb", "http://[::1]/cb", "how.mana.todo:/oauth/cb"}
	if err := ok.Validate(); err != nil {
		t.Errorf("loopback redirects refused: %v", err)
	}
}

func TestClientSecret(t *testing.T) {
	t.Parallel()
	if provider.ValidateClientSecret(strings.Repeat("s", provider.MinClientSecretLen)) != nil {
		t.Error("a secret of the minimum length refused")
	}
	for _, bad := range []string{"", "short", strings.Repeat("s", provider.MinClientSecretLen-1), strings.Repeat("s", 20) + "\x00"} {
		if provider.ValidateClientSecret(bad) == nil {
			t.Errorf("secret %q accepted", bad)
		}
	}
}
