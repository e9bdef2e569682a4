package storetest

import (
	"testing"

	"github.com/manacore/mana-core-auth/internal/database"
	"github.com/manacore/mana-core-auth/internal/database/databasetest"
	"github.com/manacore/mana-core-auth/provider"
	"github.com/manacore/mana-core-auth/provider/store/postgres"
	"github.com/manacore/mana-core-auth/provider/store/sqlite"
)

// Backend names a store implementation and how to get a fresh one.
type Backend struct {
	Name string
	// Dialect is the database the backend runs on, for tests that open a
	// handle themselves (databasetest.Open) to build other stores beside it.
	Dialect database.Dialect
	Open    func(testing.TB) provider.Store
}

// Backends lists every backend, for tests that should run against each:
//
//	for _, b := range storetest.Backends() {
//		t.Run(b.Name, func(t *testing.T) { s := b.Open(t); ... })
//	}
func Backends() []Backend {
	return []Backend{
		{Name: "sqlite", Dialect: database.SQLite, Open: OpenSQLite},
		{Name: "postgres", Dialect: database.Postgres, Open: OpenPostgres},
	}
}

// OpenSQLite returns a migrated SQLite store in a file of its own under
// tb.TempDir(), whose handle is closed when the test ends.
func OpenSQLite(tb testing.TB) provider.Store {
	tb.Helper()
	return sqlite.New(databasetest.Open(tb, database.SQLite).SQLite())
}

// OpenPostgres returns a migrated PostgreSQL store on a database of its own
// (see databasetest.NewPostgresDatabase), closed and dropped when the test
// ends.
func OpenPostgres(tb testing.TB) provider.Store {
	tb.Helper()
	return postgres.New(databasetest.Open(tb, database.Postgres).Postgres())
}
