package store

import (
	"fmt"

	"github.com/manacore/mana-core-auth/internal/database"
	"github.com/manacore/mana-core-auth/provider"
	"github.com/manacore/mana-core-auth/provider/store/postgres"
	"github.com/manacore/mana-core-auth/provider/store/sqlite"
)

// New returns the provider.Store backend for db's dialect. The store runs
// on db and does not close it: whoever opened db (and migrated it) does.
func New(db *database.DB) (provider.Store, error) {
	switch db.Dialect() {
	case database.Postgres:
		return postgres.New(db.Postgres()), nil
	case database.SQLite:
		return sqlite.New(db.SQLite()), nil
	}
	return nil, fmt.Errorf("provider store: unsupported database dialect %q", db.Dialect())
}
