package admin

import (
	"errors"
	"strings"
	"testing"

	"github.com/manacore/mana-core-auth/provider"
)

// TestValidateClientFields: the one client validation, named by the API's
// camelCase fields, every problem at once and none lost.
func TestValidateClientFields(t *testing.T) {
	t.Parallel()
	c := &provider.Client{ID: "bad id", Name: "X", Public: true, SecretHash: "abc",
		GrantTypes:             []string{"password", provider.GrantClientCredentials},
		RedirectURIs:           []string{"http://evil.example/cb"},
		PostLogoutRedirectURIs: []string{"javascript:alert(1)"},
		BackchannelLogoutURI:   "relative", IDTokenAlg: "HS256", LogoURI: "http://x/logo.png"}
	var ve *ValidationError
	if err := validateClient(c); !errors.As(err, &ve) {
		t.Fatalf("validateClient = %v, want a ValidationError", err)
	}
	for _, f := range []string{"id", "secret", "grantTypes", "redirectUris", "postLogoutRedirectUris", "backchannelLogoutUri", "idTokenAlg", "logoUri"} {
		if ve.Fields[f] == "" {
			t.Errorf("no problem reported for %s: %v", f, ve.Fields)
		}
	}
	// Two problems of one field are both kept.
	if g := ve.Fields["grantTypes"]; !strings.Contains(g, "password") || !strings.Contains(g, "client_credentials") {
		t.Errorf("grantTypes = %q, want both problems", g)
	}
	ok := &provider.Client{ID: "notes", Public: true, GrantTypes: []string{provider.GrantAuthorizationCode},
		RedirectURIs: []string{"https://notes.mana.how/cb"}}
	if err := validateClient(ok); err != nil {
		t.Errorf("a valid client: %v", err)
	}
}

func TestCamelCase(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{"id": "id", "redirect_uris": "redirectUris", "id_token_alg": "idTokenAlg", "post_logout_redirect_uris": "postLogoutRedirectUris"} {
		if got := camelCase(in); got != want {
			t.Errorf("camelCase(%q) = %q, want %q", in, got, want)
		}
	}
}
