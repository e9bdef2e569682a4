package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/manacore/mana-core-auth/internal/database"
	"github.com/manacore/mana-core-auth/provider"
)

// issue 11, part B (erasure).

var _ provider.ErasureStore = (*Store)(nil)

// inTx runs fn in the transaction of ctx, or in one of its own.
func (s *Store) inTx(ctx context.Context, fn func(ctx context.Context) error) error {
	tx, err := s.BeginTx(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = s.Rollback(tx) }()
	if err := fn(tx); err != nil {
		return err
	}
	return s.Commit(tx)
}

func (s *Store) EraseUserData(ctx context.Context, userID string, t provider.Tombstone) (provider.ErasedCounts, error) {
	var c provider.ErasedCounts
	err := s.inTx(ctx, func(ctx context.Context) error {
		c = provider.ErasedCounts{}
		q := s.db(ctx)
		// The user row first: it is locked until the end, so a concurrent
		// login or registration of this id waits for the erasure.
		var hadPassword bool
		if err := q.QueryRow(ctx, `SELECT password_hash <> '' FROM auth.users WHERE id = $1 FOR UPDATE`, userID).
			Scan(&hadPassword); err != nil {
			return mapErr(err)
		}
		if hadPassword {
			c.Accounts = 1
		}
		if err := q.QueryRow(ctx, `WITH gone AS (DELETE FROM auth.sessions WHERE user_id = $1 RETURNING device_id)
			SELECT count(*), count(*) FILTER (WHERE device_id <> '') FROM gone`, userID).Scan(&c.Sessions, &c.Devices); err != nil {
			return mapErr(err)
		}
		if _, err := q.Exec(ctx, `DELETE FROM auth.grant_grace WHERE request_id IN
			(SELECT request_id FROM auth.grants WHERE subject = $1)`, userID); err != nil {
			return mapErr(err)
		}
		steps := []struct {
			n   *int64
			sql string
		}{
			{&c.Tokens, `DELETE FROM auth.grants WHERE subject = $1`},
			{&c.Consents, `DELETE FROM auth.consents WHERE user_id = $1`},
			{&c.TwoFactor, `DELETE FROM auth.totp WHERE user_id = $1`},
			{&c.Passkeys, `DELETE FROM auth.passkeys WHERE user_id = $1`}, // issue 15 (passkeys)
			{&c.VerificationTokens, `DELETE FROM auth.one_time_tokens WHERE user_id = $1`},
			{&c.Events, `UPDATE auth.security_events SET ip = '', user_agent = '', detail = detail - 'email'
				WHERE user_id = $1 AND (ip <> '' OR user_agent <> '' OR detail ? 'email')`},
		}
		for _, st := range steps {
			tag, err := q.Exec(ctx, st.sql, userID)
			if err != nil {
				return mapErr(err)
			}
			*st.n = tag.RowsAffected()
		}
		tag, err := q.Exec(ctx, `UPDATE auth.users SET email = $2, email_verified = false, name = '', picture = '', password_hash = '',
			deleted_at = $3, updated_at = $3 WHERE id = $1`, userID, t.Email, database.PGTime(t.DeletedAt))
		return affected("tombstone", tag, err)
	})
	if err != nil {
		return provider.ErasedCounts{}, fmt.Errorf("erase user %q: %w", userID, err)
	}
	return c, nil
}

const erasureCols = `id, subject, requested_by, requested_at, auth_deleted, auth_at, completed_at`

const partCols = `erasure_id, backend_id, backend_name, user_id, status, attempts, last_error, next_attempt_at,
	lease_until, deleted_count, done_at`

func scanErasure(row pgx.Row) (*provider.ErasureJob, error) {
	var j provider.ErasureJob
	if err := row.Scan(&j.ID, &j.Subject, &j.RequestedBy, &j.RequestedAt, &j.AuthDeleted, &j.AuthAt, &j.CompletedAt); err != nil {
		return nil, mapErr(err)
	}
	j.RequestedAt, j.AuthAt, j.CompletedAt = j.RequestedAt.UTC(), database.UTCPtr(j.AuthAt), database.UTCPtr(j.CompletedAt)
	return &j, nil
}

func scanPart(row pgx.Row) (*provider.ErasurePart, error) {
	var p provider.ErasurePart
	if err := row.Scan(&p.ErasureID, &p.BackendID, &p.BackendName, &p.UserID, &p.Status, &p.Attempts, &p.LastError,
		&p.NextAttemptAt, &p.LeaseUntil, &p.DeletedCount, &p.DoneAt); err != nil {
		return nil, mapErr(err)
	}
	p.NextAttemptAt, p.LeaseUntil, p.DoneAt = p.NextAttemptAt.UTC(), database.UTCPtr(p.LeaseUntil), database.UTCPtr(p.DoneAt)
	return &p, nil
}

func (s *Store) CreateErasure(ctx context.Context, j *provider.ErasureJob) error {
	err := s.inTx(ctx, func(ctx context.Context) error {
		q := s.db(ctx)
		if _, err := q.Exec(ctx, `INSERT INTO auth.erasures (`+erasureCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
			j.ID, j.Subject, j.RequestedBy, database.PGTime(j.RequestedAt), j.AuthDeleted,
			database.PGTimePtr(j.AuthAt), database.PGTimePtr(j.CompletedAt)); err != nil {
			return mapErr(err)
		}
		for _, p := range j.Parts {
			if _, err := q.Exec(ctx, `INSERT INTO auth.erasure_parts (`+partCols+`)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
				j.ID, p.BackendID, p.BackendName, p.UserID, p.Status, p.Attempts, p.LastError,
				database.PGTime(p.NextAttemptAt), database.PGTimePtr(p.LeaseUntil), p.DeletedCount, database.PGTimePtr(p.DoneAt)); err != nil {
				return mapErr(err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("create erasure %q: %w", j.ID, err)
	}
	return nil
}

func (s *Store) parts(ctx context.Context, where string, arg any) ([]*provider.ErasurePart, error) {
	rows, err := s.db(ctx).Query(ctx, `SELECT `+partCols+` FROM auth.erasure_parts WHERE `+where, arg)
	if err != nil {
		return nil, mapErr(err)
	}
	return collect(rows, scanPart)
}

func (s *Store) GetErasure(ctx context.Context, id string) (*provider.ErasureJob, error) {
	j, err := scanErasure(s.db(ctx).QueryRow(ctx, `SELECT `+erasureCols+` FROM auth.erasures WHERE id = $1`, id))
	if err == nil {
		j.Parts, err = s.parts(ctx, `erasure_id = $1 ORDER BY backend_id`, id)
	}
	if err != nil {
		return nil, fmt.Errorf("get erasure %q: %w", id, err)
	}
	return j, nil
}

func (s *Store) ListErasures(ctx context.Context, subject string) ([]*provider.ErasureJob, error) {
	rows, err := s.db(ctx).Query(ctx, `SELECT `+erasureCols+` FROM auth.erasures WHERE subject = $1
		ORDER BY requested_at DESC, id DESC`, subject)
	if err != nil {
		return nil, fmt.Errorf("list erasures: %w", mapErr(err))
	}
	jobs, err := collect(rows, scanErasure)
	if err != nil {
		return nil, fmt.Errorf("list erasures: %w", err)
	}
	for _, j := range jobs {
		if j.Parts, err = s.parts(ctx, `erasure_id = $1 ORDER BY backend_id`, j.ID); err != nil {
			return nil, fmt.Errorf("list erasures: %w", err)
		}
	}
	return jobs, nil
}

func (s *Store) PendingErasureParts(ctx context.Context, userID string) ([]*provider.ErasurePart, error) {
	out, err := s.parts(ctx, `user_id = $1 AND status = 'pending' ORDER BY erasure_id, backend_id`, userID)
	if err != nil {
		return nil, fmt.Errorf("pending erasure parts of %q: %w", userID, err)
	}
	return out, nil
}

// ClaimErasureParts is one statement, as ClaimLogoutJobs: the CTE locks
// the due parts and skips those another claimer holds; the outer WHERE
// repeats the lease check, which READ COMMITTED re-evaluates on a row a
// concurrent claim committed meanwhile. MATERIALIZED keeps the planner
// from rescanning the LIMITed subquery per joined row (each rescan would
// lock further rows and lease more than limit).
func (s *Store) ClaimErasureParts(ctx context.Context, now time.Time, limit int, lease time.Duration) ([]*provider.ErasurePart, error) {
	if limit < 1 {
		return nil, nil
	}
	const free = `status = 'pending' AND next_attempt_at <= $1 AND (lease_until IS NULL OR lease_until <= $1)`
	rows, err := s.db(ctx).Query(ctx, `WITH due AS MATERIALIZED (
			SELECT erasure_id AS e, backend_id AS b FROM auth.erasure_parts WHERE `+free+`
			ORDER BY next_attempt_at, erasure_id, backend_id LIMIT $3 FOR UPDATE SKIP LOCKED)
		UPDATE auth.erasure_parts p SET lease_until = $2 FROM due
		WHERE p.erasure_id = due.e AND p.backend_id = due.b AND `+free+`
		RETURNING `+partCols,
		database.PGTime(now), database.PGTime(now.Add(lease)), limit)
	if err != nil {
		return nil, fmt.Errorf("claim erasure parts: %w", mapErr(err))
	}
	out, err := collect(rows, scanPart)
	if err != nil {
		return nil, fmt.Errorf("claim erasure parts: %w", err)
	}
	return out, nil
}

// CompleteErasurePart locks the job row first, so of two replicas that
// finish the last two parts of one job at once the second sees the first's
// part done and completes the job (without the lock each would still see
// the other's part pending, and neither would).
func (s *Store) CompleteErasurePart(ctx context.Context, erasureID, backendID string, deleted int64, at time.Time) (bool, error) {
	var completed bool
	err := s.inTx(ctx, func(ctx context.Context) error {
		q := s.db(ctx)
		var id string
		if err := q.QueryRow(ctx, `SELECT id FROM auth.erasures WHERE id = $1 FOR UPDATE`, erasureID).Scan(&id); err != nil {
			return mapErr(err)
		}
		tag, err := q.Exec(ctx, `UPDATE auth.erasure_parts SET status = 'done', user_id = '', lease_until = NULL,
			deleted_count = $3, done_at = $4 WHERE erasure_id = $1 AND backend_id = $2 AND status = 'pending'`,
			erasureID, backendID, deleted, database.PGTime(at))
		if err := affected("", tag, err); err != nil {
			return err
		}
		tag, err = q.Exec(ctx, `UPDATE auth.erasures SET completed_at = $2
			WHERE id = $1 AND completed_at IS NULL AND auth_at IS NOT NULL
			  AND NOT EXISTS (SELECT 1 FROM auth.erasure_parts WHERE erasure_id = $1 AND status = 'pending')`,
			erasureID, database.PGTime(at))
		if err != nil {
			return mapErr(err)
		}
		completed = tag.RowsAffected() == 1
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("complete erasure part %q/%q: %w", erasureID, backendID, err)
	}
	return completed, nil
}

func (s *Store) ReleaseErasurePart(ctx context.Context, erasureID, backendID string, leasedUntil time.Time) error {
	tag, err := s.db(ctx).Exec(ctx, `UPDATE auth.erasure_parts SET lease_until = NULL
		WHERE erasure_id = $1 AND backend_id = $2 AND status = 'pending' AND lease_until = $3`,
		erasureID, backendID, database.PGTime(leasedUntil))
	return affected(fmt.Sprintf("release erasure part %q/%q", erasureID, backendID), tag, err)
}

func (s *Store) RetryErasurePart(ctx context.Context, erasureID, backendID string, next time.Time, lastError string) error {
	tag, err := s.db(ctx).Exec(ctx, `UPDATE auth.erasure_parts
		SET attempts = attempts + 1, next_attempt_at = $3, last_error = $4, lease_until = NULL
		WHERE erasure_id = $1 AND backend_id = $2 AND status = 'pending'`,
		erasureID, backendID, database.PGTime(next), lastError)
	return affected(fmt.Sprintf("retry erasure part %q/%q", erasureID, backendID), tag, err)
}
