package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/manacore/mana-core-auth/credits"
	"github.com/manacore/mana-core-auth/credits/store/sqlite"
	"github.com/manacore/mana-core-auth/credits/store/storetest"
	provsqlite "github.com/manacore/mana-core-auth/provider/store/sqlite"
)

func open(t *testing.T) credits.Store {
	t.Helper()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "manaauth.db")
	ps, err := provsqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if err := ps.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if err := ps.Close(); err != nil {
		t.Fatal(err)
	}
	s, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func TestConformance(t *testing.T) { storetest.Run(t, open) }
