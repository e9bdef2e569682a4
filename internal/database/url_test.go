package database_test

import (
	"testing"

	"github.com/manacore/mana-core-auth/internal/database"
)

func TestParseURL(t *testing.T) {
	t.Parallel()
	pg := func(dsn string) database.Target { return database.Target{Dialect: database.Postgres, DSN: dsn} }
	lite := func(path string) database.Target { return database.Target{Dialect: database.SQLite, Path: path} }
	for _, tc := range []struct {
		name, in string
		want     database.Target
	}{
		{"Unset", "", lite(database.DefaultSQLitePath)},
		{"Blank", " \t\n", lite(database.DefaultSQLitePath)},
		{"Postgres", "postgres://u:p@db:5432/auth?sslmode=disable", pg("postgres://u:p@db:5432/auth?sslmode=disable")},
		{"Postgresql", "postgresql://db/auth", pg("postgresql://db/auth")},
		// Every caller used to trim (or not) on its own: with a leading
		// space the provider went to PostgreSQL and credits to a SQLite
		// file named " postgres:".
		{"PostgresLeadingSpace", " postgres://db/auth", pg("postgres://db/auth")},
		{"PostgresTrailingNewline", "postgres://db/auth\n", pg("postgres://db/auth")},
		{"SQLiteRelative", "sqlite:data/x.db", lite("data/x.db")},
		{"SQLiteSlashes", "sqlite://data/x.db", lite("data/x.db")},
		{"SQLiteAbsolute", "sqlite:///var/lib/manaauth/x.db", lite("/var/lib/manaauth/x.db")},
		{"SQLiteMemory", "sqlite::memory:", lite(":memory:")},
		{"SQLiteLeadingSpace", "  sqlite:data/x.db", lite("data/x.db")},
		{"PlainPath", "/srv/manaauth.db", lite("/srv/manaauth.db")},
		{"PlainRelativePath", "manaauth.db", lite("manaauth.db")},
		{"PlainPathSpaces", " manaauth.db ", lite("manaauth.db")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := database.ParseURL(tc.in)
			if err != nil || got != tc.want {
				t.Fatalf("ParseURL(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
			}
		})
	}
}

func TestParseURLRejects(t *testing.T) {
	t.Parallel()
	for _, in := range []string{
		"mysql://db/auth", " mysql://db/auth", "sqlite:", "sqlite://", " sqlite: ",
		// Open appends its own parameters, so the path must be a plain one.
		"x.db?mode=ro", "sqlite:x.db?mode=ro", "file:x.db", "sqlite:file:x.db",
	} {
		if got, err := database.ParseURL(in); err == nil {
			t.Errorf("ParseURL(%q) = %+v; want an error", in, got)
		}
	}
}

func TestTargetDir(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{"", "data"},
		{"sqlite:/srv/manaauth/x.db", "/srv/manaauth"},
		{" sqlite:state/x.db", "state"},
		{"x.db", "."},
		{"sqlite::memory:", ""},
		{"postgres://db/auth", ""},
	} {
		target, err := database.ParseURL(tc.in)
		if err != nil {
			t.Fatal(err)
		}
		if got := target.Dir(); got != tc.want {
			t.Errorf("ParseURL(%q).Dir() = %q, want %q", tc.in, got, tc.want)
		}
	}
}
