package sqlite

import (
	"context"

	"github.com/manacore/mana-core-auth/credits"
)

// issue 11, part B (erasure).

var _ credits.Detacher = (*Store)(nil)

// Detach implements credits.Detacher in one transaction on the write
// connection, which also serialises it with every Book.
func (s *Store) Detach(ctx context.Context, userID, pseudonym string) (int64, error) {
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return 0, mapErr(err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	res, err := tx.ExecContext(ctx, `UPDATE credit_transactions SET user_id = ? WHERE user_id = ?`, pseudonym, userID)
	if err != nil {
		return 0, mapErr(err)
	}
	moved, err := res.RowsAffected()
	if err != nil {
		return 0, mapErr(err)
	}
	for _, q := range []string{
		`UPDATE credit_postings SET account = 'user:' || ?2 || ':free' WHERE account = 'user:' || ?1 || ':free'`,
		`UPDATE credit_postings SET account = 'user:' || ?2 || ':paid' WHERE account = 'user:' || ?1 || ':paid'`,
		`UPDATE credit_balances SET user_id = ?2 WHERE user_id = ?1`,
		`UPDATE credit_usage_stats SET user_id = ?2 WHERE user_id = ?1`,
		`UPDATE credit_purchases SET user_id = ?2 WHERE user_id = ?1`,
	} {
		if _, err := tx.ExecContext(ctx, q, userID, pseudonym); err != nil {
			return 0, mapErr(err)
		}
	}
	if err := tx.Commit(); err != nil {
		return 0, mapErr(err)
	}
	return moved, nil
}
