package store

import (
	"context"
	"fmt"
	"strings"

	"github.com/manacore/mana-core-auth/provider"
	"github.com/manacore/mana-core-auth/provider/store/postgres"
	"github.com/manacore/mana-core-auth/provider/store/sqlite"
)

// DefaultSQLitePath is where the database lives when DATABASE_URL is unset.
const DefaultSQLitePath = "./data/manaauth.db"

// Migrator is implemented by both backends. Open does not migrate: the
// caller decides when (at start, or only via "manaauth migrate").
type Migrator interface {
	Migrate(ctx context.Context) error
}

var (
	_ Migrator = (*postgres.Store)(nil)
	_ Migrator = (*sqlite.Store)(nil)
)

// Open opens the backend databaseURL names:
//
//	postgres://… or postgresql://…   PostgreSQL
//	"" (unset)                       SQLite at DefaultSQLitePath
//	sqlite:PATH or sqlite://PATH     SQLite at PATH (sqlite::memory: for a throwaway database)
//	any other string without "://"   SQLite at that file path
//
// The returned store also implements Migrator.
func Open(ctx context.Context, databaseURL string) (provider.Store, error) {
	driver, target, err := parse(databaseURL)
	if err != nil {
		return nil, err
	}
	if driver == "postgres" {
		return postgres.Open(ctx, target)
	}
	return sqlite.Open(ctx, target)
}

// parse returns the driver and what to hand it: the whole URL for
// PostgreSQL (pgx reads it), the file path for SQLite.
func parse(databaseURL string) (driver, target string, err error) {
	switch u := strings.TrimSpace(databaseURL); {
	case strings.HasPrefix(u, "postgres://"), strings.HasPrefix(u, "postgresql://"):
		return "postgres", u, nil
	case u == "":
		return "sqlite", DefaultSQLitePath, nil
	case strings.HasPrefix(u, "sqlite://"):
		return sqlitePath(u, strings.TrimPrefix(u, "sqlite://"))
	case strings.HasPrefix(u, "sqlite:"):
		return sqlitePath(u, strings.TrimPrefix(u, "sqlite:"))
	case strings.Contains(u, "://"):
		scheme, _, _ := strings.Cut(u, "://")
		return "", "", fmt.Errorf("DATABASE_URL: unsupported scheme %q (want postgres://, postgresql:// or sqlite:)", scheme)
	default:
		return "sqlite", u, nil
	}
}

func sqlitePath(u, path string) (string, string, error) {
	if path == "" {
		return "", "", fmt.Errorf("DATABASE_URL %q: missing SQLite file path", u)
	}
	return "sqlite", path, nil
}
