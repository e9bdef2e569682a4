// Package betterauthtest gives tests a scratch PostgreSQL database shaped
// like the old service's (oldschema.sql, written from the description in
// seed-behaviour.md section 6), for the import's tests in this module.
package betterauthtest

import (
	"context"
	_ "embed"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/manacore/mana-core-auth/internal/database/databasetest"
)

//go:embed oldschema.sql
var oldSchema string

// OldDatabase creates a scratch PostgreSQL database with the old service's
// schema and returns its URL and a connection to it for inserting
// fixtures; both go away when the test ends. Without PostgreSQL the test
// is skipped, or fails under CI=true (databasetest.NewPostgresDatabase).
func OldDatabase(t testing.TB) (string, *pgx.Conn) {
	t.Helper()
	dsn := databasetest.NewPostgresDatabase(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("connect to the old database: %v", err)
	}
	t.Cleanup(func() { _ = conn.Close(context.Background()) })
	if _, err := conn.Exec(ctx, oldSchema); err != nil {
		t.Fatalf("create the old schema: %v", err)
	}
	return dsn, conn
}

// Exec runs fixture SQL on the old database.
func Exec(t testing.TB, conn *pgx.Conn, sql string, args ...any) {
	t.Helper()
	if _, err := conn.Exec(context.Background(), sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}
