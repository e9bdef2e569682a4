package store_test

import (
	"net/url"
	"testing"
	"time"

	"github.com/manacore/mana-core-auth/credits"
	creditsstore "github.com/manacore/mana-core-auth/credits/store"
	"github.com/manacore/mana-core-auth/internal/database"
	"github.com/manacore/mana-core-auth/internal/database/databasetest"
	"github.com/manacore/mana-core-auth/provider"
	"github.com/manacore/mana-core-auth/provider/store"
	"github.com/manacore/mana-core-auth/provider/store/postgres"
	"github.com/manacore/mana-core-auth/provider/store/sqlite"
)

func TestNew(t *testing.T) {
	for _, d := range databasetest.Dialects() {
		t.Run(string(d), func(t *testing.T) {
			s, err := store.New(databasetest.Open(t, d))
			if err != nil {
				t.Fatal(err)
			}
			switch s.(type) {
			case *postgres.Store:
				if d != database.Postgres {
					t.Fatalf("New on %s returned %T", d, s)
				}
			case *sqlite.Store:
				if d != database.SQLite {
					t.Fatalf("New on %s returned %T", d, s)
				}
			default:
				t.Fatalf("New returned %T", s)
			}
			if err := s.Ping(t.Context()); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestProviderAndCreditsShareTheHandle builds the provider and credits
// stores from one handle whose writes go through a single connection (on
// SQLite always; on PostgreSQL with pool_max_conns=1) and holds it with a
// provider transaction. A credits grant must then queue on that same
// connection, in Go, and succeed once the transaction commits. Had the
// credits store a pool of its own, the grant would never wait on the
// shared one: on PostgreSQL it would finish at once, on SQLite it would
// spin on the file lock and fail with SQLITE_BUSY after busy_timeout.
func TestProviderAndCreditsShareTheHandle(t *testing.T) {
	for _, d := range databasetest.Dialects() {
		t.Run(string(d), func(t *testing.T) {
			ctx := t.Context()
			raw := databasetest.URL(t, d)
			// waits counts the requests that had to wait for the one write
			// connection (PostgreSQL counts them once they got it).
			var waits func() int64
			if d == database.Postgres {
				u, err := url.Parse(raw)
				if err != nil {
					t.Fatal(err)
				}
				q := u.Query()
				q.Set("pool_max_conns", "1")
				u.RawQuery = q.Encode()
				raw = u.String()
			}
			db := databasetest.Connect(t, raw)
			if err := db.Migrate(ctx); err != nil {
				t.Fatal(err)
			}
			if d == database.Postgres {
				waits = func() int64 { return db.Postgres().Pool().Stat().EmptyAcquireCount() }
			} else {
				waits = func() int64 { return db.SQLite().WritePool().Stats().WaitCount }
			}

			ps, err := store.New(db)
			if err != nil {
				t.Fatal(err)
			}
			ledger, _, err := creditsstore.New(db)
			if err != nil {
				t.Fatal(err)
			}
			svc, err := credits.NewService(ledger, credits.Config{SignupBonus: -1, DailyFree: -1})
			if err != nil {
				t.Fatal(err)
			}

			tx, err := ps.BeginTx(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer ps.Rollback(tx) //nolint:errcheck // a no-op after Commit
			now := time.Now()
			if err := ps.CreateUser(tx, &provider.User{ID: "u1", Email: "u1@example.com", CreatedAt: now, UpdatedAt: now}); err != nil {
				t.Fatal(err)
			}
			before := waits()
			done := make(chan error, 1)
			go func() {
				_, _, err := svc.Grant(ctx, "u1", 10, "shared handle")
				done <- err
			}()
			select {
			case err := <-done:
				t.Fatalf("the credits grant finished (%v) while a provider transaction held the only connection: it has a pool of its own", err)
			case <-time.After(300 * time.Millisecond):
			}
			if err := ps.Commit(tx); err != nil {
				t.Fatal(err)
			}
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("credits grant after the provider commit: %v", err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("the credits grant did not finish after the provider transaction committed")
			}
			if waits() == before {
				t.Fatal("the credits grant never waited for the handle's connection: it has a pool of its own")
			}
			if b, err := ledger.Balance(ctx, "u1"); err != nil || b.Paid != 10 {
				t.Fatalf("balance after the grant = %+v, %v; want 10 paid", b, err)
			}
			if _, err := ps.GetUser(ctx, "u1"); err != nil {
				t.Fatalf("the provider's committed user: %v", err)
			}
		})
	}
}
