package database

import (
	"fmt"
	"path/filepath"
	"strings"
)

// Dialect is the kind of database a DATABASE_URL selects.
type Dialect string

// The dialects.
const (
	Postgres Dialect = "postgres"
	SQLite   Dialect = "sqlite"
)

// DefaultSQLitePath is where the database lives when DATABASE_URL is unset.
const DefaultSQLitePath = "./data/manaauth.db"

// memory is the SQLite path of a private in-memory database.
const memory = ":memory:"

// Target is a parsed DATABASE_URL: which dialect, and what to hand it.
type Target struct {
	Dialect Dialect
	// DSN is the connection string pgx reads (PostgreSQL only).
	DSN string
	// Path is the database file, or ":memory:" (SQLite only).
	Path string
}

// ParseURL reads a DATABASE_URL:
//
//	postgres://… or postgresql://…   PostgreSQL
//	"" (unset)                       SQLite at DefaultSQLitePath
//	sqlite:PATH or sqlite://PATH     SQLite at PATH (sqlite::memory: for a throwaway database)
//	any other string without "://"   SQLite at that file path
//
// Surrounding whitespace is ignored. It is the only parser of DATABASE_URL,
// so the configuration, the stores and the CLI cannot disagree about it.
func ParseURL(raw string) (Target, error) {
	switch u := strings.TrimSpace(raw); {
	case strings.HasPrefix(u, "postgres://"), strings.HasPrefix(u, "postgresql://"):
		return Target{Dialect: Postgres, DSN: u}, nil
	case u == "":
		return Target{Dialect: SQLite, Path: DefaultSQLitePath}, nil
	case strings.HasPrefix(u, "sqlite://"):
		return sqliteTarget(u, strings.TrimPrefix(u, "sqlite://"))
	case strings.HasPrefix(u, "sqlite:"):
		return sqliteTarget(u, strings.TrimPrefix(u, "sqlite:"))
	case strings.Contains(u, "://"):
		scheme, _, _ := strings.Cut(u, "://")
		return Target{}, fmt.Errorf("DATABASE_URL: unsupported scheme %q (want postgres://, postgresql:// or sqlite:)", scheme)
	default:
		return sqliteTarget(u, u)
	}
}

func sqliteTarget(u, path string) (Target, error) {
	if path == "" {
		return Target{}, fmt.Errorf("DATABASE_URL %q: missing SQLite file path", u)
	}
	// Open adds its own parameters to the path: the driver would split a '?'
	// in the name as the start of them, and hand a "file:" URI to SQLite
	// whole, so accept plain paths only.
	if strings.ContainsRune(path, '?') || strings.HasPrefix(path, "file:") {
		return Target{}, fmt.Errorf("DATABASE_URL %q: want a plain SQLite file path (no '?', no file: URI)", u)
	}
	return Target{Dialect: SQLite, Path: path}, nil
}

// Dir is the directory of the SQLite database file, where the rest of the
// process's local data belongs too; "" when there is no file (PostgreSQL,
// or an in-memory SQLite database).
func (t Target) Dir() string {
	if t.Dialect != SQLite || t.Path == memory {
		return ""
	}
	return filepath.Dir(t.Path)
}
