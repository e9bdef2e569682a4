// Package sqlite implements credits.Store on SQLite (tables credit_*,
// created by migrations/sqlite/0004_credits.sql).
//
// Writes go through the process's one SQLite write connection (opened with
// _txlock=immediate by internal/database and shared with the provider
// store), so every Book holds SQLite's write lock from its first read to its
// commit: writers are serialised and never overdraw.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/manacore/mana-core-auth/credits"
	"github.com/manacore/mana-core-auth/internal/database"
)

// Store implements credits.Store on SQLite.
type Store struct {
	write *sql.DB
	read  *sql.DB
}

var _ credits.Store = (*Store)(nil)

// New returns a store on the process's SQLite handle, which its opener
// migrates and closes. Its writes queue on the handle's one write
// connection together with the provider's.
func New(db *database.SQLiteDB) *Store { return &Store{write: db.WritePool(), read: db.ReadPool()} }

const balanceCols = `user_id, paid, free, total_earned, total_spent, last_daily_grant, signup_granted, version`

func scanBalance(row *sql.Row) (credits.Balance, error) {
	var b credits.Balance
	err := row.Scan(&b.UserID, &b.Paid, &b.Free, &b.TotalEarned, &b.TotalSpent, &b.LastDailyGrant, &b.SignupGranted, &b.Version)
	return b, mapErr(err)
}

// Balance implements credits.Store.
func (s *Store) Balance(ctx context.Context, userID string) (credits.Balance, error) {
	return scanBalance(s.read.QueryRowContext(ctx, `SELECT `+balanceCols+` FROM credit_balances WHERE user_id = ?`, userID))
}

// Book implements credits.Store.
func (s *Store) Book(ctx context.Context, userID, key string, decide credits.Decider) (credits.Transaction, credits.Balance, bool, error) {
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return credits.Transaction{}, credits.Balance{}, false, mapErr(err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	out, after, replay, err := s.book(ctx, tx, userID, key, decide)
	if err != nil {
		return credits.Transaction{}, credits.Balance{}, false, err
	}
	if err := tx.Commit(); err != nil {
		return credits.Transaction{}, credits.Balance{}, false, mapErr(err)
	}
	return out, after, replay, nil
}

func (s *Store) book(ctx context.Context, tx *sql.Tx, userID, key string, decide credits.Decider) (credits.Transaction, credits.Balance, bool, error) {
	now := database.Millis(time.Now())
	if _, err := tx.ExecContext(ctx, `INSERT INTO credit_balances (user_id, created_at, updated_at)
		VALUES (?, ?, ?) ON CONFLICT DO NOTHING`, userID, now, now); err != nil {
		return credits.Transaction{}, credits.Balance{}, false, mapErr(err)
	}
	cur, err := scanBalance(tx.QueryRowContext(ctx, `SELECT `+balanceCols+` FROM credit_balances WHERE user_id = ?`, userID))
	if err != nil {
		return credits.Transaction{}, credits.Balance{}, false, err
	}
	if key != "" {
		txs, err := queryTxs(ctx, tx, `WHERE user_id = ? AND idempotency_key = ?`, userID, key)
		if err != nil {
			return credits.Transaction{}, credits.Balance{}, false, err
		}
		if len(txs) > 0 {
			return txs[0], cur, true, nil
		}
	}
	bk, err := decide(cur)
	if err != nil {
		return credits.Transaction{}, credits.Balance{}, false, err
	}
	if bk == nil {
		return credits.Transaction{}, cur, false, nil
	}
	nb, t := bk.Balance, bk.Tx
	res, err := tx.ExecContext(ctx, `UPDATE credit_balances SET paid = ?, free = ?, total_earned = ?,
		total_spent = ?, last_daily_grant = ?, signup_granted = ?, version = version + 1, updated_at = ?
		WHERE user_id = ? AND version = ?`,
		nb.Paid, nb.Free, nb.TotalEarned, nb.TotalSpent, nb.LastDailyGrant, nb.SignupGranted, now, userID, cur.Version)
	if err != nil {
		return credits.Transaction{}, credits.Balance{}, false, mapErr(err)
	}
	if n, err := res.RowsAffected(); err != nil || n != 1 {
		return credits.Transaction{}, credits.Balance{}, false, errors.Join(credits.ErrConflict, err)
	}
	t.UserID = userID
	t.CreatedAt = t.CreatedAt.UTC().Truncate(time.Millisecond)
	if _, err := tx.ExecContext(ctx, `INSERT INTO credit_transactions
		(id, user_id, type, amount, app_id, description, idempotency_key, grant_day, metadata, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		t.ID, userID, string(t.Type), t.Amount, t.AppID, t.Description, t.IdempotencyKey, t.GrantDay,
		string(t.Metadata), database.Millis(t.CreatedAt)); err != nil {
		return credits.Transaction{}, credits.Balance{}, false, mapErr(err)
	}
	for i, p := range t.Postings {
		if _, err := tx.ExecContext(ctx, `INSERT INTO credit_postings (transaction_id, seq, account, amount)
			VALUES (?, ?, ?, ?)`, t.ID, i, p.Account, p.Amount); err != nil {
			return credits.Transaction{}, credits.Balance{}, false, mapErr(err)
		}
	}
	if bk.UsageDay != "" {
		if _, err := tx.ExecContext(ctx, `INSERT INTO credit_usage_stats (user_id, app_id, day, credits_used, uses)
			VALUES (?, ?, ?, ?, 1) ON CONFLICT (user_id, app_id, day) DO UPDATE
			SET credits_used = credits_used + excluded.credits_used, uses = uses + 1`,
			userID, t.AppID, bk.UsageDay, -t.Amount); err != nil {
			return credits.Transaction{}, credits.Balance{}, false, mapErr(err)
		}
	}
	nb.Version = cur.Version + 1
	return t, nb, false, nil
}

// queryTxs loads transactions matching where (with args) and their postings.
func queryTxs(ctx context.Context, q database.SQLQuerier, where string, args ...any) ([]credits.Transaction, error) {
	rows, err := q.QueryContext(ctx, `SELECT id, user_id, type, amount, app_id, description, idempotency_key,
		grant_day, metadata, created_at FROM credit_transactions `+where, args...)
	if err != nil {
		return nil, mapErr(err)
	}
	var out []credits.Transaction
	for rows.Next() {
		var (
			t       credits.Transaction
			typ     string
			meta    string
			created int64
		)
		if err := rows.Scan(&t.ID, &t.UserID, &typ, &t.Amount, &t.AppID, &t.Description, &t.IdempotencyKey,
			&t.GrantDay, &meta, &created); err != nil {
			rows.Close()
			return nil, mapErr(err)
		}
		t.Type = credits.Type(typ)
		if meta != "" {
			t.Metadata = []byte(meta)
		}
		t.CreatedAt = database.FromMillis(created)
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, mapErr(err)
	}
	rows.Close()
	for i := range out {
		prows, err := q.QueryContext(ctx, `SELECT account, amount FROM credit_postings
			WHERE transaction_id = ? ORDER BY seq`, out[i].ID)
		if err != nil {
			return nil, mapErr(err)
		}
		for prows.Next() {
			var p credits.Posting
			if err := prows.Scan(&p.Account, &p.Amount); err != nil {
				prows.Close()
				return nil, mapErr(err)
			}
			out[i].Postings = append(out[i].Postings, p)
		}
		err = prows.Err()
		prows.Close()
		if err != nil {
			return nil, mapErr(err)
		}
	}
	return out, nil
}

// Transactions implements credits.Store.
func (s *Store) Transactions(ctx context.Context, userID string, limit, offset int) ([]credits.Transaction, error) {
	return queryTxs(ctx, s.read, `WHERE user_id = ? ORDER BY created_at DESC, rowid DESC LIMIT ? OFFSET ?`,
		userID, limit, offset)
}

// TransactionByKey implements credits.Store.
func (s *Store) TransactionByKey(ctx context.Context, userID, key string) (credits.Transaction, error) {
	txs, err := queryTxs(ctx, s.read, `WHERE user_id = ? AND idempotency_key = ?`, userID, key)
	if err != nil {
		return credits.Transaction{}, err
	}
	if len(txs) == 0 {
		return credits.Transaction{}, credits.ErrNotFound
	}
	return txs[0], nil
}

// Usage implements credits.Store.
func (s *Store) Usage(ctx context.Context, userID string) ([]credits.UsageStat, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT user_id, app_id, day, credits_used, uses FROM credit_usage_stats
		WHERE user_id = ? ORDER BY day DESC, app_id`, userID)
	if err != nil {
		return nil, mapErr(err)
	}
	defer rows.Close()
	var out []credits.UsageStat
	for rows.Next() {
		var u credits.UsageStat
		if err := rows.Scan(&u.UserID, &u.AppID, &u.Day, &u.CreditsUsed, &u.Uses); err != nil {
			return nil, mapErr(err)
		}
		out = append(out, u)
	}
	return out, mapErr(rows.Err())
}

// Verify implements credits.Store. It reads in one transaction on the read
// pool, so balances and postings come from the same WAL snapshot.
func (s *Store) Verify(ctx context.Context) ([]credits.Mismatch, error) {
	tx, err := s.read.BeginTx(ctx, &sql.TxOptions{ReadOnly: s.read != s.write})
	if err != nil {
		return nil, mapErr(err)
	}
	defer tx.Rollback() //nolint:errcheck // read-only
	var out []credits.Mismatch
	rows, err := tx.QueryContext(ctx, `SELECT user_id, paid, free, lp, lf FROM (
			SELECT b.user_id, b.paid, b.free,
				COALESCE((SELECT sum(amount) FROM credit_postings WHERE account = 'user:' || b.user_id || ':paid'), 0) AS lp,
				COALESCE((SELECT sum(amount) FROM credit_postings WHERE account = 'user:' || b.user_id || ':free'), 0) AS lf
			FROM credit_balances b)
		WHERE paid <> lp OR free <> lf ORDER BY user_id`)
	if err != nil {
		return nil, mapErr(err)
	}
	for rows.Next() {
		var (
			user                         string
			paid, free, ledgerP, ledgerF int64
		)
		if err := rows.Scan(&user, &paid, &free, &ledgerP, &ledgerF); err != nil {
			rows.Close()
			return nil, mapErr(err)
		}
		if paid != ledgerP {
			out = append(out, credits.Mismatch{UserID: user, Field: "paid", Cached: paid, Ledger: ledgerP})
		}
		if free != ledgerF {
			out = append(out, credits.Mismatch{UserID: user, Field: "free", Cached: free, Ledger: ledgerF})
		}
	}
	if err := rows.Err(); err != nil {
		return nil, mapErr(err)
	}
	rows.Close()
	rows, err = tx.QueryContext(ctx, `SELECT t.user_id, p.transaction_id, sum(p.amount)
		FROM credit_postings p JOIN credit_transactions t ON t.id = p.transaction_id
		GROUP BY t.user_id, p.transaction_id HAVING sum(p.amount) <> 0 ORDER BY p.transaction_id`)
	if err != nil {
		return nil, mapErr(err)
	}
	defer rows.Close()
	for rows.Next() {
		m := credits.Mismatch{Field: "postings"}
		if err := rows.Scan(&m.UserID, &m.TransactionID, &m.Ledger); err != nil {
			return nil, mapErr(err)
		}
		out = append(out, m)
	}
	return out, mapErr(rows.Err())
}

func mapErr(err error) error {
	return database.Sentinels{NotFound: credits.ErrNotFound, AlreadyExists: credits.ErrAlreadyExists, Conflict: credits.ErrConflict}.Map(err)
}
