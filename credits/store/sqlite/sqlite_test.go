package sqlite_test

import (
	"testing"

	"github.com/manacore/mana-core-auth/credits"
	"github.com/manacore/mana-core-auth/credits/store/sqlite"
	"github.com/manacore/mana-core-auth/credits/store/storetest"
	"github.com/manacore/mana-core-auth/internal/database"
	"github.com/manacore/mana-core-auth/internal/database/databasetest"
)

func open(t *testing.T) credits.Store {
	t.Helper()
	return sqlite.New(databasetest.Open(t, database.SQLite).SQLite())
}

func TestConformance(t *testing.T) { storetest.Run(t, open) }
