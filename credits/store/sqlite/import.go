package sqlite

// issue 14 (credits import): bulk writes for `manaauth import better-auth`.

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/manacore/mana-core-auth/credits"
	"github.com/manacore/mana-core-auth/internal/database"
)

var _ credits.Importer = (*Store)(nil)

// Import implements credits.Importer in one transaction on the write
// connection: the import holds SQLite's write lock until it commits.
func (s *Store) Import(ctx context.Context, commit bool, fn func(credits.ImportTx) error) error {
	// Hundreds of thousands of rows go into indexes on random keys (UUIDs):
	// with SQLite's default page cache (2 MiB) most inserts would miss it,
	// which made 100,000 users' credits take twice as long. The cache is
	// per connection, so it is restored when the import is done, after
	// the transaction has given the one write connection back.
	var cache int64
	if err := s.write.QueryRowContext(ctx, `PRAGMA cache_size`).Scan(&cache); err != nil {
		return mapErr(err)
	}
	defer func() {
		_, _ = s.write.ExecContext(context.WithoutCancel(ctx), fmt.Sprintf(`PRAGMA cache_size = %d`, cache))
	}()
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return mapErr(err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	if _, err := tx.ExecContext(ctx, fmt.Sprintf(`PRAGMA cache_size = %d`, importCacheKiB)); err != nil {
		return mapErr(err)
	}
	if err := fn(importTx{tx: tx, stmts: map[string]*sql.Stmt{}}); err != nil {
		return err
	}
	if !commit {
		return mapErr(tx.Rollback())
	}
	return mapErr(tx.Commit())
}

type importTx struct {
	tx *sql.Tx
	// stmts holds the statements prepared in tx by text: full batches of
	// one table repeat the same statement, and parsing a statement of
	// thousands of parameters anew each time was a sixth of the import.
	stmts map[string]*sql.Stmt
}

// importCacheKiB is the page cache of the import's connection, as
// PRAGMA cache_size takes it (negative: KiB): 256 MiB at most, used only
// as the pages are touched.
const importCacheKiB = -256 * 1024

// maxParams bounds the parameters of one statement: SQLite's limit is
// 32766; a few thousand already make the per-statement cost negligible.
const maxParams = 4000

// insertNew inserts rows of len(cols) values each with multi-row INSERTs
// that skip rows whose key is taken (ON CONFLICT DO NOTHING, on any unique
// index) and returns, per row, whether it was inserted. keyCols are the
// columns that identify a row (RETURNING them); key computes the same
// from a row.
func (it importTx) insertNew(ctx context.Context, table string, cols, keyCols []string, rows [][]any, key func([]any) string) ([]bool, error) {
	inserted := make(map[string]bool, len(rows))
	per := max(1, maxParams/len(cols))
	tuple := "(" + strings.TrimSuffix(strings.Repeat("?, ", len(cols)), ", ") + ")"
	for start := 0; start < len(rows); start += per {
		batch := rows[start:min(start+per, len(rows))]
		var q strings.Builder
		q.WriteString("INSERT INTO " + table + " (" + strings.Join(cols, ", ") + ") VALUES ")
		args := make([]any, 0, len(batch)*len(cols))
		for i, r := range batch {
			if i > 0 {
				q.WriteString(", ")
			}
			q.WriteString(tuple)
			args = append(args, r...)
		}
		q.WriteString(" ON CONFLICT DO NOTHING RETURNING " + strings.Join(keyCols, ", "))
		stmt, err := it.prepare(ctx, q.String())
		if err != nil {
			return nil, fmt.Errorf("insert into %s: %w", table, err)
		}
		res, err := stmt.QueryContext(ctx, args...)
		if err != nil {
			return nil, fmt.Errorf("insert into %s: %w", table, mapErr(err))
		}
		vals := make([]string, len(keyCols))
		ptrs := make([]any, len(keyCols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		for res.Next() {
			if err := res.Scan(ptrs...); err != nil {
				res.Close()
				return nil, mapErr(err)
			}
			inserted[strings.Join(vals, "\x00")] = true
		}
		err = res.Err()
		res.Close()
		if err != nil {
			return nil, fmt.Errorf("insert into %s: %w", table, mapErr(err))
		}
	}
	out := make([]bool, len(rows))
	for i, r := range rows {
		out[i] = inserted[key(r)]
	}
	return out, nil
}

// prepare returns the statement q prepared in the import's transaction
// (closed with it).
func (it importTx) prepare(ctx context.Context, q string) (*sql.Stmt, error) {
	if st := it.stmts[q]; st != nil {
		return st, nil
	}
	st, err := it.tx.PrepareContext(ctx, q)
	if err != nil {
		return nil, mapErr(err)
	}
	it.stmts[q] = st
	return st, nil
}

func firstKey(r []any) string { return r[0].(string) }

// PackageIDs implements credits.ImportTx.
func (it importTx) PackageIDs(ctx context.Context) (map[string]bool, error) {
	rows, err := it.tx.QueryContext(ctx, `SELECT id FROM credit_packages`)
	if err != nil {
		return nil, mapErr(err)
	}
	defer rows.Close()
	out := map[string]bool{}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, mapErr(err)
		}
		out[id] = true
	}
	return out, mapErr(rows.Err())
}

// AddPackages implements credits.ImportTx.
func (it importTx) AddPackages(ctx context.Context, ps []credits.Package) ([]bool, error) {
	rows := make([][]any, len(ps))
	for i, p := range ps {
		if p.Currency == "" {
			p.Currency = "eur"
		}
		rows[i] = []any{p.ID, p.Name, p.Credits, p.PriceCents, p.Currency, p.Active, p.SortOrder, database.Millis(p.CreatedAt)}
	}
	return it.insertNew(ctx, "credit_packages",
		[]string{"id", "name", "credits", "price_cents", "currency", "active", "sort_order", "created_at"},
		[]string{"id"}, rows, firstKey)
}

// AddBalances implements credits.ImportTx.
func (it importTx) AddBalances(ctx context.Context, bs []credits.Balance, at time.Time) ([]bool, error) {
	rows := make([][]any, len(bs))
	ms := database.Millis(at)
	for i, b := range bs {
		rows[i] = []any{b.UserID, b.Paid, b.Free, b.TotalEarned, b.TotalSpent, b.LastDailyGrant, b.SignupGranted, b.Version, ms, ms}
	}
	return it.insertNew(ctx, "credit_balances",
		[]string{"user_id", "paid", "free", "total_earned", "total_spent", "last_daily_grant", "signup_granted", "version", "created_at", "updated_at"},
		[]string{"user_id"}, rows, firstKey)
}

// AddTransactions implements credits.ImportTx.
func (it importTx) AddTransactions(ctx context.Context, txs []credits.Transaction) ([]bool, error) {
	rows := make([][]any, len(txs))
	for i, t := range txs {
		rows[i] = []any{t.ID, t.UserID, string(t.Type), t.Amount, t.AppID, t.Description, t.IdempotencyKey, t.GrantDay,
			string(t.Metadata), database.Millis(t.CreatedAt)}
	}
	ok, err := it.insertNew(ctx, "credit_transactions",
		[]string{"id", "user_id", "type", "amount", "app_id", "description", "idempotency_key", "grant_day", "metadata", "created_at"},
		[]string{"id"}, rows, firstKey)
	if err != nil {
		return nil, err
	}
	var postings [][]any
	for i, t := range txs {
		if !ok[i] {
			continue
		}
		for seq, p := range t.Postings {
			postings = append(postings, []any{t.ID, seq, p.Account, p.Amount})
		}
	}
	if _, err := it.insertNew(ctx, "credit_postings", []string{"transaction_id", "seq", "account", "amount"},
		[]string{"transaction_id"}, postings, firstKey); err != nil {
		return nil, err
	}
	return ok, nil
}

// AddPurchases implements credits.ImportTx.
func (it importTx) AddPurchases(ctx context.Context, ps []credits.Purchase) ([]bool, error) {
	rows := make([][]any, len(ps))
	for i, p := range ps {
		rows[i] = []any{p.ID, p.UserID, p.PackageID, p.Credits, p.AmountCents, p.Currency, string(p.Status),
			nullStr(p.StripePaymentIntentID), nullStr(p.StripeCheckoutSessionID), database.Millis(p.CreatedAt), nullMilli(p.CompletedAt)}
	}
	return it.insertNew(ctx, "credit_purchases",
		[]string{"id", "user_id", "package_id", "credits", "amount_cents", "currency", "status",
			"stripe_payment_intent_id", "stripe_checkout_session_id", "created_at", "completed_at"},
		[]string{"id"}, rows, firstKey)
}

// AddUsage implements credits.ImportTx.
func (it importTx) AddUsage(ctx context.Context, us []credits.UsageStat) ([]bool, error) {
	rows := make([][]any, len(us))
	for i, u := range us {
		rows[i] = []any{u.UserID, u.AppID, u.Day, u.CreditsUsed, u.Uses}
	}
	return it.insertNew(ctx, "credit_usage_stats", []string{"user_id", "app_id", "day", "credits_used", "uses"},
		[]string{"user_id", "app_id", "day"}, rows,
		func(r []any) string { return r[0].(string) + "\x00" + r[1].(string) + "\x00" + r[2].(string) })
}
