// Package store picks the credits backend for the process's database handle
// (internal/database), the same handle the provider's stores run on, so a
// spend's token check and its booking share one pool (and, on SQLite, one
// writer).
package store

import (
	"fmt"

	"github.com/manacore/mana-core-auth/credits"
	"github.com/manacore/mana-core-auth/credits/store/postgres"
	"github.com/manacore/mana-core-auth/credits/store/sqlite"
	"github.com/manacore/mana-core-auth/internal/database"
)

// New returns the credits stores for db's dialect: the ledger and the
// billing store, one object behind both. They run on db and do not close
// it: whoever opened db (and migrated it, credits schema included) does.
func New(db *database.DB) (credits.Store, credits.BillingStore, error) {
	switch db.Dialect() {
	case database.Postgres:
		s := postgres.New(db.Postgres())
		return s, s, nil
	case database.SQLite:
		s := sqlite.New(db.SQLite())
		return s, s, nil
	}
	return nil, nil, fmt.Errorf("credits store: unsupported database dialect %q", db.Dialect())
}
