package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/manacore/mana-core-auth/credits"
)

// issue 11, part B (erasure).

var _ credits.Detacher = (*Store)(nil)

// Detach implements credits.Detacher. It runs as the table owner, not
// scoped to the user: row-level security would refuse moving a row to
// another user id. Locking the balance row first makes a concurrent Book
// of the user wait, so no booking lands half under the old id.
func (s *Store) Detach(ctx context.Context, userID, pseudonym string) (int64, error) {
	var moved int64
	err := pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{}, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT 1 FROM credits.balances WHERE user_id = $1 FOR UPDATE`, userID); err != nil {
			return mapErr(err)
		}
		tag, err := tx.Exec(ctx, `UPDATE credits.transactions SET user_id = $2 WHERE user_id = $1`, userID, pseudonym)
		if err != nil {
			return mapErr(err)
		}
		moved = tag.RowsAffected()
		for _, q := range []string{
			`UPDATE credits.postings SET account = 'user:' || $2 || ':free' WHERE account = 'user:' || $1 || ':free'`,
			`UPDATE credits.postings SET account = 'user:' || $2 || ':paid' WHERE account = 'user:' || $1 || ':paid'`,
			`UPDATE credits.balances SET user_id = $2 WHERE user_id = $1`,
			`UPDATE credits.usage_stats SET user_id = $2 WHERE user_id = $1`,
			`UPDATE credits.purchases SET user_id = $2 WHERE user_id = $1`,
		} {
			if _, err := tx.Exec(ctx, q, userID, pseudonym); err != nil {
				return mapErr(err)
			}
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return moved, nil
}
