package oidc_test

import (
	"testing"

	"github.com/manacore/mana-core-auth/provider/store/storetest"
	"github.com/manacore/mana-core-auth/provider/websession"
)

// TestIntrospectCachedStaysRevocable: repeated introspections of one
// access token (served from the verified-token and decoded-grant caches
// after the first) give the same answer, each caller gets its own copy,
// and revoking the token's login session makes the very next
// introspection fail: the caches never answer for the database.
func TestIntrospectCachedStaysRevocable(t *testing.T) {
	for _, b := range storetest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			fp := newFirstParty(t, b, websession.Config{})
			ctx := t.Context()
			sess, pair := fp.login(t, websession.LoginInfo{Methods: []string{"pwd"}})
			ar1, s1, err := fp.op.Introspect(ctx, pair.AccessToken)
			if err != nil {
				t.Fatal(err)
			}
			if s1.Subject != fp.user.ID || s1.SessionID != sess.ID || ar1.GetClient().GetID() == "" {
				t.Fatalf("first introspection: %+v", s1)
			}
			// The caller may change what it got; the next caller must not see it.
			s1.Subject = "changed"
			s1.Claims.Extra = map[string]any{"changed": true}
			ar1.GrantScope("changed")
			ar2, s2, err := fp.op.Introspect(ctx, pair.AccessToken)
			if err != nil {
				t.Fatal(err)
			}
			if s2.Subject != fp.user.ID || s2.SessionID != sess.ID || s2.Claims.Extra["changed"] != nil ||
				ar2.GetGrantedScopes().Has("changed") || ar2.GetID() != ar1.GetID() {
				t.Fatalf("second introspection shares the first caller's copy: %+v scopes %v", s2, ar2.GetGrantedScopes())
			}
			if n, err := fp.store.RevokeSession(ctx, sess.ID); err != nil || n == 0 {
				t.Fatalf("revoke session: %d, %v", n, err)
			}
			if _, _, err := fp.op.Introspect(ctx, pair.AccessToken); err == nil {
				t.Fatal("a revoked access token still introspects as active")
			}
		})
	}
}
