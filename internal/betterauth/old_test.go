package betterauth_test

import (
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/manacore/mana-core-auth/internal/betterauth/betterauthtest"
)

// oldDatabase and mustExec are betterauthtest's, by the names this
// package's tests use.
func oldDatabase(t testing.TB) (string, *pgx.Conn) { return betterauthtest.OldDatabase(t) }

func mustExec(t testing.TB, conn *pgx.Conn, sql string, args ...any) {
	t.Helper()
	betterauthtest.Exec(t, conn, sql, args...)
}
