package oidc

import (
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/ory/fosite"

	"github.com/manacore/mana-core-auth/provider"
	"github.com/manacore/mana-core-auth/provider/store/storetest"
)

// TestCheckAuthorizeRequestFollowsPKCEConfig: the check made before the
// login and consent pages gives, for every PKCE setting of the fosite
// config, the verdict fosite gives when it issues the code, so the two
// cannot drift apart; and discovery lists what the config lets through.
func TestCheckAuthorizeRequestFollowsPKCEConfig(t *testing.T) {
	ctx := t.Context()
	st := storetest.OpenSQLite(t)
	ring := testRing(t)
	const redirect = "https://rp.mana.test/cb"
	for _, c := range []*provider.Client{
		{ID: "public", Public: true, RedirectURIs: []string{redirect}, Scopes: []string{"openid"}},
		{ID: "confidential", SecretHash: HashSecret("s3cret"), RedirectURIs: []string{redirect}, Scopes: []string{"openid"}},
	} {
		if err := st.CreateClient(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	user := &provider.User{ID: "user-1", Email: "a@mana.test"}
	sess := &provider.Session{ID: "sid-1", UserID: user.ID, AuthTime: time.Now().Add(-time.Minute)}
	challenge := strings.Repeat("a", 43)

	configs := []struct {
		name string
		set  func(*fosite.Config)
		// the verdict (allowed or not) the settings imply for one request
		client, method string
		withChallenge  bool
		allowed        bool
	}{
		{"as built", func(*fosite.Config) {}, "public", "plain", true, false},
		{"plain allowed", func(c *fosite.Config) { c.EnablePKCEPlainChallengeMethod = true }, "public", "plain", true, true},
		{"enforced for all", func(c *fosite.Config) { c.EnforcePKCE = true }, "confidential", "", false, false},
		{"not enforced for public clients", func(c *fosite.Config) { c.EnforcePKCEForPublicClients = false }, "public", "", false, true},
	}
	requests := []struct {
		client, method string
		withChallenge  bool
	}{
		{"public", "", false}, {"public", "S256", true}, {"public", "plain", true}, {"public", "", true},
		{"confidential", "", false}, {"confidential", "S256", true}, {"confidential", "plain", true},
		{"confidential", "", true}, {"confidential", "S512", true},
	}
	for _, cfg := range configs {
		op, err := New(Config{Issuer: "https://auth.mana.test", SecretKey: []byte("0123456789abcdef0123456789abcdef")}, st, ring)
		if err != nil {
			t.Fatal(err)
		}
		cfg.set(op.fosite)
		authorize := func(client, method string, withChallenge bool) fosite.AuthorizeRequester {
			t.Helper()
			q := url.Values{"client_id": {client}, "response_type": {"code"}, "redirect_uri": {redirect},
				"scope": {"openid"}, "state": {"state-1"}, "nonce": {"nonce-1"}}
			if withChallenge {
				q.Set("code_challenge", challenge)
			}
			if method != "" {
				q.Set("code_challenge_method", method)
			}
			ar, err := op.OAuth2Provider.NewAuthorizeRequest(ctx, httptest.NewRequest("GET", "/oauth2/authorize?"+q.Encode(), nil))
			if err != nil {
				t.Fatalf("%s: authorize request %v: %v", cfg.name, q, err)
			}
			return ar
		}
		for _, r := range requests {
			checked := op.CheckAuthorizeRequest(ctx, authorize(r.client, r.method, r.withChallenge))
			_, issued := op.Authorize(ctx, authorize(r.client, r.method, r.withChallenge), user, sess, false)
			if (checked == nil) != (issued == nil) {
				t.Errorf("%s, %+v: checked before the pages %v, at issue %v", cfg.name, r, checked, issued)
			}
			if r.client == "public" && r.method == "S256" && issued != nil {
				t.Fatalf("%s: a request with S256 was refused at issue: %v", cfg.name, issued)
			}
			if checked != nil && fosite.ErrorToRFC6749Error(checked).ErrorField != fosite.ErrInvalidRequest.ErrorField {
				t.Errorf("%s, %+v: %v, want invalid_request", cfg.name, r, checked)
			}
		}
		if err := op.CheckAuthorizeRequest(ctx, authorize(cfg.client, cfg.method, cfg.withChallenge)); (err == nil) != cfg.allowed {
			t.Errorf("%s: %s client, method %q: %v, want allowed %v", cfg.name, cfg.client, cfg.method, err, cfg.allowed)
		}
		methods := op.Discovery(false)["code_challenge_methods_supported"].([]string)
		if plain := strings.Contains(strings.Join(methods, " "), "plain"); plain != op.fosite.EnablePKCEPlainChallengeMethod {
			t.Errorf("%s: discovery lists challenge methods %v", cfg.name, methods)
		}
	}
}
