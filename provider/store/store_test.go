package store

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/manacore/mana-core-auth/provider/store/postgres"
	"github.com/manacore/mana-core-auth/provider/store/sqlite"
)

func TestParse(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, in, driver, target string
	}{
		{"Unset", "", "sqlite", DefaultSQLitePath},
		{"Postgres", "postgres://u:p@db:5432/auth?sslmode=disable", "postgres", "postgres://u:p@db:5432/auth?sslmode=disable"},
		{"Postgresql", "postgresql://db/auth", "postgres", "postgresql://db/auth"},
		{"SQLiteRelative", "sqlite:data/x.db", "sqlite", "data/x.db"},
		{"SQLiteSlashes", "sqlite://data/x.db", "sqlite", "data/x.db"},
		{"SQLiteAbsolute", "sqlite:///var/lib/manaauth/x.db", "sqlite", "/var/lib/manaauth/x.db"},
		{"SQLiteMemory", "sqlite::memory:", "sqlite", ":memory:"},
		{"PlainPath", "/srv/manaauth.db", "sqlite", "/srv/manaauth.db"},
		{"PlainRelativePath", "manaauth.db", "sqlite", "manaauth.db"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			driver, target, err := parse(tc.in)
			if err != nil || driver != tc.driver || target != tc.target {
				t.Fatalf("parse(%q) = %q, %q, %v; want %q, %q", tc.in, driver, target, err, tc.driver, tc.target)
			}
		})
	}
}

func TestParseRejects(t *testing.T) {
	t.Parallel()
	for _, in := range []string{"mysql://db/auth", "sqlite:", "sqlite://"} {
		if d, p, err := parse(in); err == nil {
			t.Errorf("parse(%q) = %q, %q; want an error", in, d, p)
		}
	}
}

func TestOpenSQLite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "x.db")
	s, err := Open(t.Context(), "sqlite:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, ok := s.(*sqlite.Store); !ok {
		t.Fatalf("Open returned %T", s)
	}
	m, ok := s.(Migrator)
	if !ok {
		t.Fatal("store does not implement Migrator")
	}
	if err := m.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := s.Ping(t.Context()); err != nil {
		t.Fatal(err)
	}
}

func TestOpenPostgres(t *testing.T) {
	dsn := os.Getenv("TEST_DATABASE_URL")
	if dsn == "" {
		t.Skip("TEST_DATABASE_URL not set; PostgreSQL tests skipped")
	}
	s, err := Open(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, ok := s.(*postgres.Store); !ok {
		t.Fatalf("Open returned %T", s)
	}
	if err := s.Ping(t.Context()); err != nil {
		t.Fatal(err)
	}
}
