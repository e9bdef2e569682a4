package betterauth_test

import (
	"context"
	_ "embed"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/manacore/mana-core-auth/internal/database/databasetest"
)

//go:embed testdata/oldschema.sql
var oldSchema string

// oldDatabase creates a scratch PostgreSQL database with the old service's
// schema (testdata/oldschema.sql) and returns its URL and a connection to
// it for inserting fixtures; both go away when the test ends.
func oldDatabase(t testing.TB) (string, *pgx.Conn) {
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

// mustExec runs fixture SQL on the old database.
func mustExec(t testing.TB, conn *pgx.Conn, sql string, args ...any) {
	t.Helper()
	if _, err := conn.Exec(context.Background(), sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}
