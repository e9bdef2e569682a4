package betterauth_test

import (
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/manacore/mana-core-auth/internal/betterauth"
)

// seedOldBulk fills the old database with n users and their accounts,
// sessions, balances, transactions and usage (betterauth.SeedOldBulk, in
// bulk_internal_test.go, says exactly what): for the 100,000-user timing.
func seedOldBulk(t testing.TB, conn *pgx.Conn, n int) {
	t.Helper()
	betterauth.SeedOldBulk(t, conn, n)
}

// The seed makes what it says, so the timing measures real rows.
func TestSeedOldBulk(t *testing.T) {
	_, conn := oldDatabase(t)
	seedOldBulk(t, conn, 10)
	for table, want := range map[string]int{"auth.users": 10, "auth.accounts": 10, "auth.sessions": 10,
		"credits.balances": 10, "credits.transactions": 30, "credits.usage_stats": 10} {
		var n int
		if err := conn.QueryRow(t.Context(), `SELECT count(*) FROM `+table).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != want {
			t.Errorf("%s: %d rows, want %d", table, n, want)
		}
	}
	var short int
	if err := conn.QueryRow(t.Context(), `SELECT count(*) FROM auth.sessions WHERE length(refresh_token) <> 64`).Scan(&short); err != nil || short != 0 {
		t.Errorf("%d refresh tokens not 64 characters (%v)", short, err)
	}
}
