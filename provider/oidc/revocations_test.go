package oidc_test

import (
	"testing"
	"time"

	"github.com/manacore/mana-core-auth/provider"
	"github.com/manacore/mana-core-auth/provider/keys"
	"github.com/manacore/mana-core-auth/provider/oidc"
	"github.com/manacore/mana-core-auth/provider/store/storetest"
	"github.com/manacore/mana-core-auth/provider/websession"
)

// replica is one process of a multi-replica deployment: its own wrapped
// store (and so its own revocation epoch), provider and sessions, on the
// database every replica shares.
type replica struct {
	store    provider.Store
	op       *oidc.Provider
	sessions *websession.Manager
}

func newReplica(t *testing.T, shared provider.Store, c *clock) *replica {
	t.Helper()
	secret := []byte("0123456789abcdef0123456789abcdef-oidc")
	st, rev := oidc.WatchRevocations(shared, c.now)
	ring, err := keys.New(st, secret, keys.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := ring.Init(t.Context()); err != nil {
		t.Fatal(err)
	}
	sessions, err := websession.New(websession.Config{SecretKey: secret, Now: c.now}, st)
	if err != nil {
		t.Fatal(err)
	}
	op, err := oidc.New(oidc.Config{Issuer: "https://auth.mana.test", SecretKey: secret, Now: c.now,
		Sessions: sessions, Revocations: rev}, st, ring)
	if err != nil {
		t.Fatal(err)
	}
	return &replica{store: st, op: op, sessions: sessions}
}

// TestIntrospectionCacheRevocation: with the active-grant cache on, a
// revocation made through a replica ends its cached answers at once (also
// when made inside a transaction, at its commit, even if the token was
// read between the revocation and the commit), and another replica stops
// answering from its cache within activeTTL (one second).
func TestIntrospectionCacheRevocation(t *testing.T) {
	for _, b := range storetest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			ctx := t.Context()
			shared := b.Open(t)
			c := &clock{t: time.Now().UTC().Truncate(time.Second)}
			a, other := newReplica(t, shared, c), newReplica(t, shared, c)
			if err := oidc.EnsureFirstPartyClient(ctx, a.store); err != nil {
				t.Fatal(err)
			}
			u := &provider.User{ID: "user-1", Email: "u@mana.test", EmailVerified: true, Role: provider.RoleUser, CreatedAt: c.now(), UpdatedAt: c.now()}
			if err := a.store.CreateUser(ctx, u); err != nil {
				t.Fatal(err)
			}
			login := func() (*provider.Session, *oidc.TokenPair) {
				t.Helper()
				sess, err := a.sessions.Start(ctx, websession.LoginInfo{UserID: u.ID, Methods: []string{"pwd"}})
				if err != nil {
					t.Fatal(err)
				}
				pair, err := a.op.IssueFirstParty(ctx, u, sess, oidc.GrantPassword)
				if err != nil {
					t.Fatal(err)
				}
				return sess, pair
			}
			active := func(r *replica, tok string) bool {
				t.Helper()
				_, _, err := r.op.Introspect(ctx, tok)
				return err == nil
			}

			// Revoked through this replica: inactive at once, on it.
			sess, pair := login()
			tok := pair.AccessToken
			for range 3 { // filled and then answered from the caches
				if !active(a, tok) || !active(other, tok) {
					t.Fatal("a fresh token does not introspect as active")
				}
			}
			if n, err := a.store.RevokeSession(ctx, sess.ID); err != nil || n == 0 {
				t.Fatalf("revoke session: %d, %v", n, err)
			}
			if active(a, tok) {
				t.Fatal("the revoking replica still answers active from its cache")
			}
			// The other replica learns it from the database once its entry
			// has lived activeTTL, and not a moment later.
			c.advance(999 * time.Millisecond)
			if !active(other, tok) {
				t.Fatal("the other replica did not answer from its cache (is the cache on?)")
			}
			c.advance(time.Millisecond)
			if active(other, tok) {
				t.Fatal("another replica answered active a full second after the revocation")
			}

			// Revoked in a transaction, with a read between the revocation
			// and the commit (which must not outlive the commit).
			_, pair2 := login()
			tok2 := pair2.AccessToken
			if !active(a, tok2) {
				t.Fatal("second token not active")
			}
			tx, err := a.store.BeginTx(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := a.store.RevokeSubject(tx, u.ID); err != nil {
				t.Fatal(err)
			}
			if b.Name == "postgres" { // SQLite's one writer holds the database until the commit
				if !active(a, tok2) {
					t.Fatal("a revocation was visible before its transaction committed")
				}
			}
			if err := a.store.Commit(tx); err != nil {
				t.Fatal(err)
			}
			if active(a, tok2) {
				t.Fatal("a token revoked in a committed transaction still answers active")
			}

			// A refresh rotation revokes the paired access token by key
			// (recorded for that token alone): inactive at once here, while
			// an unrelated cached token keeps its entry.
			_, pair3 := login()
			_, pair4 := login()
			if !active(a, pair3.AccessToken) || !active(a, pair4.AccessToken) {
				t.Fatal("fresh tokens not active")
			}
			if _, err := a.op.RefreshFirstParty(ctx, pair3.RefreshToken, oidc.Caller{}, admitAll); err != nil {
				t.Fatal(err)
			}
			if active(a, pair3.AccessToken) {
				t.Fatal("the access token a refresh replaced still answers active on the replica that refreshed")
			}
			if !active(a, pair4.AccessToken) {
				t.Fatal("an unrelated token lost its activity")
			}
		})
	}
}
