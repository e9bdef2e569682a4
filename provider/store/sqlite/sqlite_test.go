package sqlite_test

import (
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/manacore/mana-core-auth/internal/database"
	"github.com/manacore/mana-core-auth/internal/database/databasetest"
	"github.com/manacore/mana-core-auth/provider"
	"github.com/manacore/mana-core-auth/provider/store/sqlite"
	"github.com/manacore/mana-core-auth/provider/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) provider.Store { return storetest.OpenSQLite(t) })
}

// open returns a store on a handle of its own (a process of its own) on
// the database at path, and the handle.
func open(t *testing.T, path string) (*sqlite.Store, *database.DB) {
	t.Helper()
	db := databasetest.Connect(t, "sqlite:"+path)
	return sqlite.New(db.SQLite()), db
}

func TestMemory(t *testing.T) {
	s, db := open(t, ":memory:")
	ctx := t.Context()
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	u := &provider.User{ID: "u", Email: "u@example.com", CreatedAt: time.Now(), UpdatedAt: time.Now()}
	if err := s.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	// Same connection, same database: the write is visible to reads.
	if _, err := s.GetUserByEmail(ctx, "U@example.com"); err != nil {
		t.Fatal(err)
	}
	tx, err := s.BeginTx(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := s.CountUsers(tx); err != nil || n != 1 {
		t.Fatalf("CountUsers in tx = %d, %v", n, err)
	}
	if err := s.Rollback(tx); err != nil {
		t.Fatal(err)
	}
}

// Two stores on one file stand for two processes (say, the server and
// "manaauth clients add"): their writers cannot queue on a shared Go pool,
// so busy_timeout and BEGIN IMMEDIATE must keep them from failing.
func TestTwoStoresOnOneFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "manaauth.db")
	a, adb := open(t, path)
	b, _ := open(t, path)
	if err := adb.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	const perStore = 20
	var wg sync.WaitGroup
	errs := make(chan error, 2*perStore)
	for si, s := range []*sqlite.Store{a, b} {
		for i := range perStore {
			wg.Go(func() {
				sig := fmt.Sprintf("s%d-%d", si, i)
				g := &provider.Grant{Kind: provider.KindAccessToken, Signature: sig, RequestID: sig,
					Active: true, RequestedAt: time.Now(), ExpiresAt: time.Now().Add(time.Hour)}
				if i%2 == 0 { // half of them through an explicit read-then-write transaction
					tx, err := s.BeginTx(ctx)
					if err != nil {
						errs <- err
						return
					}
					defer s.Rollback(tx) //nolint:errcheck // a no-op after Commit
					if _, err := s.GetGrant(tx, g.Kind, sig); !errors.Is(err, provider.ErrNotFound) {
						errs <- fmt.Errorf("GetGrant: %v", err)
						return
					}
					if err := s.CreateGrant(tx, g); err != nil {
						errs <- err
						return
					}
					errs <- s.Commit(tx)
					return
				}
				errs <- s.CreateGrant(ctx, g)
			})
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	for si := range 2 {
		for i := range perStore {
			if _, err := b.GetGrant(ctx, provider.KindAccessToken, fmt.Sprintf("s%d-%d", si, i)); err != nil {
				t.Fatal(err)
			}
		}
	}
}
