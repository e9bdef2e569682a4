package server_test

import (
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/manacore/mana-core-auth/provider"
	"github.com/manacore/mana-core-auth/provider/oidc"
	"github.com/manacore/mana-core-auth/provider/store/storetest"
)

// issue 14: refresh tokens imported from the old service.

// importToken stores an old service's refresh token with a session of the
// test user, as `manaauth import better-auth` does, and returns the token.
func importToken(t *testing.T, e *env, sessionID, token string) string {
	t.Helper()
	now := time.Now().UTC()
	res, err := e.store.ImportSessions(t.Context(), []*provider.ImportedSession{{
		Session: provider.Session{ID: sessionID, UserID: e.user.ID, CreatedAt: now.Add(-time.Hour), LastSeenAt: now.Add(-time.Hour),
			ExpiresAt: now.Add(6 * 24 * time.Hour), AuthTime: now.Add(-time.Hour), DeviceName: "Old phone", AuthMethods: []string{"pwd"}},
		TokenHash: oidc.ImportedTokenHash(token),
	}})
	if err != nil || res[0] != provider.ImportInserted {
		t.Fatalf("import session: %v %v", res, err)
	}
	return token
}

// TestImportedRefreshTokenEdges: concurrent first uses get one pair; a
// signed-out session, a disabled user and an unknown old-looking token are
// refused as such; signing out the exchanged session ends it.
func TestImportedRefreshTokenEdges(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b storetest.Backend) {
		e := setup(t, b)

		// Two tabs (or an app and its widget) refresh at once right after
		// the switch: one exchange, the same pair for both.
		tok := importToken(t, e, "old-s1", strings.Repeat("Conc_01-", 8))
		const n = 6
		var (
			wg       sync.WaitGroup
			mu       sync.Mutex
			refreshs = map[string]int{}
		)
		for range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := e.apiRefresh(t, tok)
				mu.Lock()
				defer mu.Unlock()
				if r.status != http.StatusOK {
					t.Errorf("concurrent exchange: %d %s", r.status, r.body)
					return
				}
				refreshs[r.str("refreshToken")]++
			}()
		}
		wg.Wait()
		if len(refreshs) != 1 {
			t.Fatalf("concurrent exchanges of one imported token made %d pairs: %v", len(refreshs), refreshs)
		}
		var access string
		for rt := range refreshs {
			r := e.apiRefresh(t, rt).want(t, "rotate the exchanged token", http.StatusOK)
			access = r.str("accessToken")
		}
		// Signing out ends the imported session like any other.
		e.api(t, http.MethodPost, "/api/v1/auth/logout", access, nil).want(t, "logout", http.StatusOK)
		if _, err := e.store.GetSession(t.Context(), "old-s1", time.Now()); err == nil {
			t.Error("the imported session survived the logout")
		}

		// A session that ended before the first use takes its token along.
		tok2 := importToken(t, e, "old-s2", strings.Repeat("Ended_2-", 8))
		if err := e.store.DeleteSession(t.Context(), "old-s2"); err != nil {
			t.Fatal(err)
		}
		e.apiRefresh(t, tok2).wantError(t, "token of an ended session", http.StatusUnauthorized, "session_expired", "Invalid or expired session")

		// An unknown token of the old shape is just invalid.
		e.apiRefresh(t, strings.Repeat("Unknown3", 8)).wantError(t, "unknown old token", http.StatusUnauthorized, "invalid_refresh_token", "Invalid refresh token")

		// A disabled user's imported token is refused as such.
		tok3 := importToken(t, e, "old-s3", strings.Repeat("Disabl4-", 8))
		u := *e.user
		u.Disabled = true
		if err := e.store.UpdateUser(t.Context(), &u); err != nil {
			t.Fatal(err)
		}
		e.apiRefresh(t, tok3).wantError(t, "disabled user's token", http.StatusForbidden, "account_disabled", "This account has been disabled")
	})
}
