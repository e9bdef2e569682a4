package postgres

// issue 14 (credits import): bulk writes for `manaauth import better-auth`.

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/manacore/mana-core-auth/credits"
	"github.com/manacore/mana-core-auth/internal/database"
)

var _ credits.Importer = (*Store)(nil)

// Import implements credits.Importer in one transaction. It runs as the
// table owner, like Verify and the webhooks: it writes every user's rows.
func (s *Store) Import(ctx context.Context, commit bool, fn func(credits.ImportTx) error) error {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return mapErr(err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	if err := fn(importTx{tx}); err != nil {
		return err
	}
	if !commit {
		return mapErr(tx.Rollback(ctx))
	}
	return mapErr(tx.Commit(ctx))
}

type importTx struct{ tx pgx.Tx }

// batchRows bounds the rows of one statement: each batch is one round
// trip of parallel arrays, so a few thousand rows amortise it well.
const batchRows = 5000

// column is one column of a bulk insert: its name, its array type, and
// its value in each row.
type column struct {
	name, typ string
	vals      func(from, to int) any
}

// insertNew inserts n rows given as columns with INSERT … SELECT FROM
// unnest(arrays), one statement per batch, skipping rows whose key is
// taken (ON CONFLICT DO NOTHING, on any unique index), and returns per row
// whether it was inserted. keyCols (text columns) identify a row and key
// computes the same from row i.
func (it importTx) insertNew(ctx context.Context, table string, n int, cols []column, keyCols []string, key func(i int) string) ([]bool, error) {
	names := make([]string, len(cols))
	params := make([]string, len(cols))
	for i, c := range cols {
		names[i] = c.name
		params[i] = fmt.Sprintf("$%d::%s[]", i+1, c.typ)
	}
	q := "INSERT INTO " + table + " (" + strings.Join(names, ", ") + ") SELECT * FROM unnest(" +
		strings.Join(params, ", ") + ") ON CONFLICT DO NOTHING RETURNING " + strings.Join(keyCols, ", ")
	inserted := make(map[string]bool, n)
	for from := 0; from < n; from += batchRows {
		to := min(from+batchRows, n)
		args := make([]any, len(cols))
		for i, c := range cols {
			args[i] = c.vals(from, to)
		}
		rows, err := it.tx.Query(ctx, q, args...)
		if err != nil {
			return nil, fmt.Errorf("insert into %s: %w", table, mapErr(err))
		}
		vals := make([]string, len(keyCols))
		ptrs := make([]any, len(keyCols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		for rows.Next() {
			if err := rows.Scan(ptrs...); err != nil {
				rows.Close()
				return nil, mapErr(err)
			}
			inserted[strings.Join(vals, "\x00")] = true
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("insert into %s: %w", table, mapErr(err))
		}
	}
	out := make([]bool, n)
	for i := range out {
		out[i] = inserted[key(i)]
	}
	return out, nil
}

// col builds a column from a slice and a field of its elements.
func col[E, V any](name, typ string, rows []E, field func(E) V) column {
	return column{name: name, typ: typ, vals: func(from, to int) any {
		out := make([]V, 0, to-from)
		for _, r := range rows[from:to] {
			out = append(out, field(r))
		}
		return out
	}}
}

// PackageIDs implements credits.ImportTx.
func (it importTx) PackageIDs(ctx context.Context) (map[string]bool, error) {
	rows, err := it.tx.Query(ctx, `SELECT id FROM credits.packages`)
	if err != nil {
		return nil, mapErr(err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, mapErr(err)
	}
	out := make(map[string]bool, len(ids))
	for _, id := range ids {
		out[id] = true
	}
	return out, nil
}

// AddPackages implements credits.ImportTx.
func (it importTx) AddPackages(ctx context.Context, ps []credits.Package) ([]bool, error) {
	return it.insertNew(ctx, "credits.packages", len(ps), []column{
		col("id", "text", ps, func(p credits.Package) string { return p.ID }),
		col("name", "text", ps, func(p credits.Package) string { return p.Name }),
		col("credits", "bigint", ps, func(p credits.Package) int64 { return p.Credits }),
		col("price_cents", "bigint", ps, func(p credits.Package) int64 { return p.PriceCents }),
		col("currency", "text", ps, func(p credits.Package) string {
			if p.Currency == "" {
				return "eur"
			}
			return p.Currency
		}),
		col("active", "boolean", ps, func(p credits.Package) bool { return p.Active }),
		col("sort_order", "integer", ps, func(p credits.Package) int32 { return int32(p.SortOrder) }),
		col("created_at", "timestamptz", ps, func(p credits.Package) time.Time { return database.PGTime(p.CreatedAt) }),
	}, []string{"id"}, func(i int) string { return ps[i].ID })
}

// AddBalances implements credits.ImportTx.
func (it importTx) AddBalances(ctx context.Context, bs []credits.Balance, at time.Time) ([]bool, error) {
	at = database.PGTime(at)
	return it.insertNew(ctx, "credits.balances", len(bs), []column{
		col("user_id", "text", bs, func(b credits.Balance) string { return b.UserID }),
		col("paid", "bigint", bs, func(b credits.Balance) int64 { return b.Paid }),
		col("free", "bigint", bs, func(b credits.Balance) int64 { return b.Free }),
		col("total_earned", "bigint", bs, func(b credits.Balance) int64 { return b.TotalEarned }),
		col("total_spent", "bigint", bs, func(b credits.Balance) int64 { return b.TotalSpent }),
		col("last_daily_grant", "text", bs, func(b credits.Balance) string { return b.LastDailyGrant }),
		col("signup_granted", "boolean", bs, func(b credits.Balance) bool { return b.SignupGranted }),
		col("version", "bigint", bs, func(b credits.Balance) int64 { return b.Version }),
		col("created_at", "timestamptz", bs, func(credits.Balance) time.Time { return at }),
		col("updated_at", "timestamptz", bs, func(credits.Balance) time.Time { return at }),
	}, []string{"user_id"}, func(i int) string { return bs[i].UserID })
}

// AddTransactions implements credits.ImportTx.
func (it importTx) AddTransactions(ctx context.Context, txs []credits.Transaction) ([]bool, error) {
	ok, err := it.insertNew(ctx, "credits.transactions", len(txs), []column{
		col("id", "text", txs, func(t credits.Transaction) string { return t.ID }),
		col("user_id", "text", txs, func(t credits.Transaction) string { return t.UserID }),
		col("type", "text", txs, func(t credits.Transaction) string { return string(t.Type) }),
		col("amount", "bigint", txs, func(t credits.Transaction) int64 { return t.Amount }),
		col("app_id", "text", txs, func(t credits.Transaction) string { return t.AppID }),
		col("description", "text", txs, func(t credits.Transaction) string { return t.Description }),
		col("idempotency_key", "text", txs, func(t credits.Transaction) string { return t.IdempotencyKey }),
		col("grant_day", "text", txs, func(t credits.Transaction) string { return t.GrantDay }),
		col("metadata", "text", txs, func(t credits.Transaction) string { return string(t.Metadata) }),
		col("created_at", "timestamptz", txs, func(t credits.Transaction) time.Time { return database.PGTime(t.CreatedAt) }),
	}, []string{"id"}, func(i int) string { return txs[i].ID })
	if err != nil {
		return nil, err
	}
	type posting struct {
		tx  string
		seq int32
		credits.Posting
	}
	var ps []posting
	for i, t := range txs {
		if !ok[i] {
			continue
		}
		for seq, p := range t.Postings {
			ps = append(ps, posting{t.ID, int32(seq), p})
		}
	}
	// COPY, not INSERT: postings of transactions inserted just now cannot
	// conflict with anything, and COPY is the fastest way in.
	if _, err := it.tx.CopyFrom(ctx, pgx.Identifier{"credits", "postings"},
		[]string{"transaction_id", "seq", "account", "amount"},
		pgx.CopyFromSlice(len(ps), func(i int) ([]any, error) {
			return []any{ps[i].tx, ps[i].seq, ps[i].Account, ps[i].Amount}, nil
		})); err != nil {
		return nil, fmt.Errorf("copy into credits.postings: %w", mapErr(err))
	}
	return ok, nil
}

// AddPurchases implements credits.ImportTx.
func (it importTx) AddPurchases(ctx context.Context, ps []credits.Purchase) ([]bool, error) {
	return it.insertNew(ctx, "credits.purchases", len(ps), []column{
		col("id", "text", ps, func(p credits.Purchase) string { return p.ID }),
		col("user_id", "text", ps, func(p credits.Purchase) string { return p.UserID }),
		col("package_id", "text", ps, func(p credits.Purchase) string { return p.PackageID }),
		col("credits", "bigint", ps, func(p credits.Purchase) int64 { return p.Credits }),
		col("amount_cents", "bigint", ps, func(p credits.Purchase) int64 { return p.AmountCents }),
		col("currency", "text", ps, func(p credits.Purchase) string { return p.Currency }),
		col("status", "text", ps, func(p credits.Purchase) string { return string(p.Status) }),
		col("stripe_payment_intent_id", "text", ps, func(p credits.Purchase) *string { return nullStr(p.StripePaymentIntentID) }),
		col("stripe_checkout_session_id", "text", ps, func(p credits.Purchase) *string { return nullStr(p.StripeCheckoutSessionID) }),
		col("created_at", "timestamptz", ps, func(p credits.Purchase) time.Time { return database.PGTime(p.CreatedAt) }),
		col("completed_at", "timestamptz", ps, func(p credits.Purchase) *time.Time { return nullTime(p.CompletedAt) }),
	}, []string{"id"}, func(i int) string { return ps[i].ID })
}

// AddUsage implements credits.ImportTx.
func (it importTx) AddUsage(ctx context.Context, us []credits.UsageStat) ([]bool, error) {
	return it.insertNew(ctx, "credits.usage_stats", len(us), []column{
		col("user_id", "text", us, func(u credits.UsageStat) string { return u.UserID }),
		col("app_id", "text", us, func(u credits.UsageStat) string { return u.AppID }),
		col("day", "text", us, func(u credits.UsageStat) string { return u.Day }),
		col("credits_used", "bigint", us, func(u credits.UsageStat) int64 { return u.CreditsUsed }),
		col("uses", "bigint", us, func(u credits.UsageStat) int64 { return u.Uses }),
	}, []string{"user_id", "app_id", "day"}, func(i int) string {
		return us[i].UserID + "\x00" + us[i].AppID + "\x00" + us[i].Day
	})
}
