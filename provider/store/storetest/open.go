package storetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/manacore/mana-core-auth/provider"
	"github.com/manacore/mana-core-auth/provider/store/postgres"
	"github.com/manacore/mana-core-auth/provider/store/sqlite"
)

// Backend names a store implementation and how to get a fresh one.
type Backend struct {
	Name string
	Open func(testing.TB) provider.Store
}

// Backends lists every backend, for tests that should run against each:
//
//	for _, b := range storetest.Backends() {
//		t.Run(b.Name, func(t *testing.T) { s := b.Open(t); ... })
//	}
func Backends() []Backend {
	return []Backend{
		{Name: "sqlite", Open: OpenSQLite},
		{Name: "postgres", Open: OpenPostgres},
	}
}

// OpenSQLite returns a migrated SQLite store in a file of its own under
// tb.TempDir(), closed when the test ends. A file rather than :memory: so
// the read and write pools are both exercised, as in production.
func OpenSQLite(tb testing.TB) provider.Store {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := sqlite.Open(ctx, filepath.Join(tb.TempDir(), "manaauth.db"))
	if err != nil {
		tb.Fatalf("open sqlite: %v", err)
	}
	tb.Cleanup(func() {
		if err := s.Close(); err != nil {
			tb.Errorf("close sqlite: %v", err)
		}
	})
	if err := s.Migrate(ctx); err != nil {
		tb.Fatalf("migrate sqlite: %v", err)
	}
	return s
}

// OpenPostgres returns a migrated PostgreSQL store on a database of its own
// (see NewPostgresDatabase), closed and dropped when the test ends.
func OpenPostgres(tb testing.TB) provider.Store {
	tb.Helper()
	dsn := NewPostgresDatabase(tb)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := postgres.Open(ctx, dsn)
	if err != nil {
		tb.Fatalf("open postgres: %v", err)
	}
	// Registered after the database's cleanup, so it runs before the drop.
	tb.Cleanup(func() { _ = s.Close() })
	if err := s.Migrate(ctx); err != nil {
		tb.Fatalf("migrate postgres: %v", err)
	}
	return s
}

// NewPostgresDatabase creates an empty database named manaauth_t_<random>
// on the server of TEST_DATABASE_URL, drops it when the test ends, and
// returns its DSN. A database per test, rather than a schema or a
// transaction, keeps tests independent even when they commit, migrate or
// run in parallel.
//
// Without TEST_DATABASE_URL the test is skipped, except under CI=true,
// where a silently skipped backend would hide its bugs, so it fails.
func NewPostgresDatabase(tb testing.TB) string {
	tb.Helper()
	admin := os.Getenv("TEST_DATABASE_URL")
	if admin == "" {
		if os.Getenv("CI") == "true" {
			tb.Fatal("TEST_DATABASE_URL is not set but CI=true: the PostgreSQL backend must be tested in CI " +
				"(e.g. TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable)")
		}
		tb.Skip("TEST_DATABASE_URL not set; PostgreSQL tests skipped")
	}
	var b [8]byte
	_, _ = rand.Read(b[:])
	name := "manaauth_t_" + hex.EncodeToString(b[:])

	adminExec(tb, admin, "CREATE DATABASE "+name)
	tb.Cleanup(func() { adminExec(tb, admin, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)") })

	if strings.HasPrefix(admin, "postgres://") || strings.HasPrefix(admin, "postgresql://") {
		u, err := url.Parse(admin)
		if err != nil {
			tb.Fatalf("TEST_DATABASE_URL: %v", err)
		}
		u.Path = "/" + name
		return u.String()
	}
	return admin + " dbname=" + name // keyword/value form: the last dbname wins
}

func adminExec(tb testing.TB, dsn, sql string) {
	tb.Helper()
	// Not tb.Context(): cleanups run after it is cancelled.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		tb.Fatalf("connect to TEST_DATABASE_URL: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql); err != nil {
		tb.Fatalf("%s: %v", sql, err)
	}
}

// MigratedPostgresDatabase is NewPostgresDatabase with every migration
// applied, for tests of other stores (credits) that share the schema.
func MigratedPostgresDatabase(tb testing.TB) string {
	tb.Helper()
	dsn := NewPostgresDatabase(tb)
	ctx := context.Background()
	s, err := postgres.Open(ctx, dsn)
	if err != nil {
		tb.Fatalf("open postgres: %v", err)
	}
	defer s.Close()
	if err := s.Migrate(ctx); err != nil {
		tb.Fatalf("migrate postgres: %v", err)
	}
	return dsn
}
