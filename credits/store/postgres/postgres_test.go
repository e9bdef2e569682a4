package postgres_test

import (
	"context"
	"testing"

	"github.com/manacore/mana-core-auth/credits"
	"github.com/manacore/mana-core-auth/credits/store/postgres"
	"github.com/manacore/mana-core-auth/credits/store/storetest"
	provstoretest "github.com/manacore/mana-core-auth/provider/store/storetest"
)

func open(t *testing.T) credits.Store {
	t.Helper()
	ctx := context.Background()
	dsn := provstoretest.MigratedPostgresDatabase(t)
	s, err := postgres.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func TestConformance(t *testing.T) { storetest.Run(t, open) }
