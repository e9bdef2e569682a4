package server_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"sync/atomic"
	"testing"

	"github.com/manacore/mana-core-auth/provider"
	"github.com/manacore/mana-core-auth/provider/store/storetest"
)

// consentFaultStore fails GetConsent, while failing is set, as a store
// that cannot be reached does.
type consentFaultStore struct {
	provider.Store
	failing atomic.Bool
}

var errConsentStoreDown = errors.New("consent store down")

func (s *consentFaultStore) GetConsent(ctx context.Context, userID, clientID string) (*provider.Consent, error) {
	if s.failing.Load() {
		return nil, errConsentStoreDown
	}
	return s.Store.GetConsent(ctx, userID, clientID)
}

// TestConsentSubmitReadFailureIsUnavailable: an earlier consent that
// cannot be read is an outage (503 page, no code), not "no earlier
// consent", which would replace the remembered scopes with the request's.
func TestConsentSubmitReadFailureIsUnavailable(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b storetest.Backend) {
		var fs *consentFaultStore
		e := setup(t, b, func(o *setupOpts) {
			o.wrapStore = func(s provider.Store) provider.Store { fs = &consentFaultStore{Store: s}; return fs }
		})
		br := e.browser(t)
		br.login(t, br.get(t, "/login?return_to=/account"), false)
		// The consent page itself reads the consent too: the store fails
		// only for the submit.
		allow := func(scope string, storeDown bool) *page {
			t.Helper()
			p := br.get(t, e.authorizeURL(thirdPartyID, url.Values{"scope": {scope}, "prompt": {"consent"}}))
			if p.status != http.StatusOK || p.url.Path != "/consent" {
				t.Fatalf("expected the consent page: %d %s", p.status, p.url)
			}
			challenge := submatch(t, challengeRE, p.body, "consent challenge")
			fs.failing.Store(storeDown)
			defer fs.failing.Store(false)
			return br.post(t, "/consent", url.Values{"challenge": {challenge}, "action": {"allow"}, "remember": {"1"}})
		}
		e.code(t, allow("openid email profile", false), "st-"+thirdPartyID)
		before, err := e.store.GetConsent(t.Context(), e.user.ID, thirdPartyID)
		if err != nil || !slices.Contains(before.Scopes, "profile") {
			t.Fatalf("remembered consent = %+v (%v)", before, err)
		}

		p := allow("openid", true)
		if p.status != http.StatusServiceUnavailable || p.header.Get("Location") != "" || p.header.Get("Retry-After") == "" {
			t.Errorf("consent with its store down: %d, Location %q, Retry-After %q",
				p.status, p.header.Get("Location"), p.header.Get("Retry-After"))
		}
		after, err := e.store.GetConsent(t.Context(), e.user.ID, thirdPartyID)
		if err != nil || !slices.Equal(after.Scopes, before.Scopes) || !after.GrantedAt.Equal(before.GrantedAt) {
			t.Errorf("remembered consent %+v became %+v (%v)", before, after, err)
		}
		// With the store back, remembering a narrower request keeps what
		// was consented to before.
		e.code(t, allow("openid", false), "st-"+thirdPartyID)
		if c, err := e.store.GetConsent(t.Context(), e.user.ID, thirdPartyID); err != nil || !slices.Contains(c.Scopes, "profile") {
			t.Errorf("consent after a narrower request = %+v (%v)", c, err)
		}
	})
}
