package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/manacore/mana-core-auth/credits/store/postgres"
	"github.com/manacore/mana-core-auth/internal/database"
	"github.com/manacore/mana-core-auth/internal/database/databasetest"
)

// rlsTables are the user-owned credits tables under row-level security,
// each with a query counting the rows of the user $1.
var rlsTables = map[string]string{
	"balances":     `SELECT count(*) FROM credits.balances WHERE user_id = $1`,
	"transactions": `SELECT count(*) FROM credits.transactions WHERE user_id = $1`,
	"postings": `SELECT count(*) FROM credits.postings p
		WHERE p.account LIKE 'user:' || $1 || ':%'`,
	"usage_stats": `SELECT count(*) FROM credits.usage_stats WHERE user_id = $1`,
	"purchases":   `SELECT count(*) FROM credits.purchases WHERE user_id = $1`,
}

// seedLedger writes, as the owner, one complete ledger for user: balance,
// transaction with two postings, usage row and purchase.
func seedLedger(t *testing.T, ctx context.Context, pool *pgxpool.Pool, user string) {
	t.Helper()
	now := time.Now().UTC().Truncate(time.Millisecond)
	stmts := []struct {
		sql  string
		args []any
	}{
		{`INSERT INTO credits.balances (user_id, paid, free, created_at, updated_at) VALUES ($1, 0, 10, $2, $2)`,
			[]any{user, now}},
		{`INSERT INTO credits.transactions (id, user_id, type, amount, created_at) VALUES ($1, $2, 'grant', 10, $3)`,
			[]any{"tx-" + user, user, now}},
		{`INSERT INTO credits.postings (transaction_id, seq, account, amount) VALUES ($1, 0, 'user:' || $2 || ':free', 10)`,
			[]any{"tx-" + user, user}},
		{`INSERT INTO credits.postings (transaction_id, seq, account, amount) VALUES ($1, 1, 'user:' || $2 || ':grants', -10)`,
			[]any{"tx-" + user, user}},
		{`INSERT INTO credits.usage_stats (user_id, app_id, day, credits_used, uses) VALUES ($1, 'app', '2026-01-01', 3, 1)`,
			[]any{user}},
		{`INSERT INTO credits.purchases (id, user_id, package_id, credits, amount_cents, currency, created_at)
			VALUES ($1, $2, 'credits-500', 500, 500, 'eur', $3)`, []any{"pur-" + user, user, now}},
	}
	for _, st := range stmts {
		if _, err := pool.Exec(ctx, st.sql, st.args...); err != nil {
			t.Fatalf("seed %s: %s: %v", user, st.sql, err)
		}
	}
}

// countAs counts user's rows of every table in one transaction that first
// runs SET LOCAL ROLE and, when scopedTo is not nil, set_config of
// app.user_id, exactly as the store scopes its user transactions.
func countAs(t *testing.T, ctx context.Context, pool *pgxpool.Pool, scopedTo *string, user string) map[string]int {
	t.Helper()
	got := map[string]int{}
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SET LOCAL ROLE `+postgres.AppRole); err != nil {
			return err
		}
		if scopedTo != nil {
			if _, err := tx.Exec(ctx, `SELECT set_config('app.user_id', $1, true)`, *scopedTo); err != nil {
				return err
			}
		}
		for name, q := range rlsTables {
			var n int
			if err := tx.QueryRow(ctx, q, user).Scan(&n); err != nil {
				return err
			}
			got[name] = n
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func TestRowLevelSecurity(t *testing.T) {
	ctx := context.Background()
	pool := databasetest.Open(t, database.Postgres).Postgres().Pool()

	a, b := "user-a", "user-b"
	seedLedger(t, ctx, pool, a)
	seedLedger(t, ctx, pool, b)

	// The owner (the DATABASE_URL user) is not confined: system-wide work
	// such as Verify sees every user.
	for name, q := range rlsTables {
		for _, u := range []string{a, b} {
			var n int
			if err := pool.QueryRow(ctx, q, u).Scan(&n); err != nil {
				t.Fatal(err)
			}
			if n == 0 {
				t.Fatalf("owner sees no %s rows of %s", name, u)
			}
		}
	}

	// Scoped to A: A's rows are visible, B's are not, in every table.
	for name, n := range countAs(t, ctx, pool, &a, a) {
		if n == 0 {
			t.Errorf("scoped to A: %s: A's own rows invisible", name)
		}
	}
	for name, n := range countAs(t, ctx, pool, &a, b) {
		if n != 0 {
			t.Errorf("scoped to A: %s: sees %d of B's rows, want 0", name, n)
		}
	}
	// Unfiltered queries under A's scope return only A's rows.
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SET LOCAL ROLE `+postgres.AppRole); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `SELECT set_config('app.user_id', $1, true)`, a); err != nil {
			return err
		}
		for _, q := range []string{
			`SELECT count(*) FROM credits.balances WHERE user_id <> $1`,
			`SELECT count(*) FROM credits.transactions WHERE user_id <> $1`,
			`SELECT count(*) FROM credits.postings WHERE account NOT LIKE 'user:' || $1 || ':%' AND amount > 0`,
			`SELECT count(*) FROM credits.usage_stats WHERE user_id <> $1`,
			`SELECT count(*) FROM credits.purchases WHERE user_id <> $1`,
		} {
			var n int
			if err := tx.QueryRow(ctx, q, a).Scan(&n); err != nil {
				return err
			}
			if n != 0 {
				t.Errorf("scoped to A: %q = %d, want 0", q, n)
			}
		}
		// Writing a row for B is rejected by the policies' WITH CHECK.
		_, err := tx.Exec(ctx, `SAVEPOINT w`)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO credits.balances (user_id, created_at, updated_at)
			VALUES ('user-c', now(), now())`); err == nil {
			t.Error("scoped to A: inserting another user's balance succeeded")
		}
		_, err = tx.Exec(ctx, `ROLLBACK TO SAVEPOINT w`)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}

	// The role without app.user_id sees nothing at all.
	for _, u := range []string{a, b} {
		for name, n := range countAs(t, ctx, pool, nil, u) {
			if n != 0 {
				t.Errorf("role without app.user_id: %s: sees %d of %s's rows, want 0", name, n, u)
			}
		}
	}

	// Both settings are transaction-local: on the same connection the next
	// transaction is the owner again with no app.user_id.
	conn, err := pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	var owner string
	if err := conn.QueryRow(ctx, `SELECT current_user`).Scan(&owner); err != nil {
		t.Fatal(err)
	}
	err = pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SET LOCAL ROLE `+postgres.AppRole); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `SELECT set_config('app.user_id', $1, true)`, a)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	var (
		role string
		uid  *string
	)
	if err := conn.QueryRow(ctx, `SELECT current_user, nullif(current_setting('app.user_id', true), '')`).Scan(&role, &uid); err != nil {
		t.Fatal(err)
	}
	if role != owner || uid != nil {
		t.Fatalf("after COMMIT: current_user %q app.user_id %v, want %q and unset", role, uid, owner)
	}
}

// TestStoreRunsScoped checks the store's user-scoped reads go through the
// policies: a row the owner writes for A under B's user id is not in A's
// results, and A's reads still see A's own rows.
func TestStoreRunsScoped(t *testing.T) {
	ctx := context.Background()
	db := databasetest.Open(t, database.Postgres)
	pool := db.Postgres().Pool()
	seedLedger(t, ctx, pool, "user-a")
	seedLedger(t, ctx, pool, "user-b")
	s := postgres.New(db.Postgres())

	bal, err := s.Balance(ctx, "user-a")
	if err != nil || bal.Free != 10 {
		t.Fatalf("Balance(A) = %+v, %v", bal, err)
	}
	txs, err := s.Transactions(ctx, "user-a", 10, 0)
	if err != nil || len(txs) != 1 || len(txs[0].Postings) != 2 {
		t.Fatalf("Transactions(A) = %+v, %v", txs, err)
	}
	// Inside the store's scope, the session really is the app role.
	var role, uid string
	if err := pool.QueryRow(ctx, `SELECT current_user, coalesce(current_setting('app.user_id', true), '')`).Scan(&role, &uid); err != nil {
		t.Fatal(err)
	}
	if role == postgres.AppRole || uid != "" {
		t.Fatalf("pool connection leaked scope: role %q app.user_id %q", role, uid)
	}
}
