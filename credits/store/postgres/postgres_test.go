package postgres_test

import (
	"testing"

	"github.com/manacore/mana-core-auth/credits"
	"github.com/manacore/mana-core-auth/credits/store/postgres"
	"github.com/manacore/mana-core-auth/credits/store/storetest"
	"github.com/manacore/mana-core-auth/internal/database"
	"github.com/manacore/mana-core-auth/internal/database/databasetest"
)

func open(t *testing.T) credits.Store {
	t.Helper()
	return postgres.New(databasetest.Open(t, database.Postgres).Postgres())
}

func TestConformance(t *testing.T) { storetest.Run(t, open) }
