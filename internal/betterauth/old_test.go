package betterauth_test

import (
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/manacore/mana-core-auth/internal/betterauth/betterauthtest"
)

// oldDatabase is betterauthtest's, by the name this package's tests use.
func oldDatabase(t testing.TB) (string, *pgx.Conn) { return betterauthtest.OldDatabase(t) }
