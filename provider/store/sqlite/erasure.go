package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/manacore/mana-core-auth/internal/database"
	"github.com/manacore/mana-core-auth/provider"
)

// issue 11, part B (erasure).

var _ provider.ErasureStore = (*Store)(nil)

func (s *Store) EraseUserData(ctx context.Context, userID string, t provider.Tombstone) (provider.ErasedCounts, error) {
	var c provider.ErasedCounts
	err := s.inTx(ctx, func(q database.SQLQuerier) error {
		c = provider.ErasedCounts{}
		var hadPassword bool
		if err := q.QueryRowContext(ctx, `SELECT password_hash <> '' FROM users WHERE id = ?`, userID).Scan(&hadPassword); err != nil {
			return mapErr(err)
		}
		if hadPassword {
			c.Accounts = 1
		}
		if err := q.QueryRowContext(ctx, `SELECT count(*), count(*) FILTER (WHERE device_id <> '') FROM sessions WHERE user_id = ?`,
			userID).Scan(&c.Sessions, &c.Devices); err != nil {
			return mapErr(err)
		}
		if _, err := q.ExecContext(ctx, `DELETE FROM grant_grace WHERE request_id IN
			(SELECT request_id FROM grants WHERE subject = ?)`, userID); err != nil {
			return mapErr(err)
		}
		var sessions int64
		steps := []struct {
			n   *int64
			sql string
		}{
			{&sessions, `DELETE FROM sessions WHERE user_id = ?`},
			{&c.Tokens, `DELETE FROM grants WHERE subject = ?`},
			{&c.Consents, `DELETE FROM consents WHERE user_id = ?`},
			{&c.TwoFactor, `DELETE FROM totp WHERE user_id = ?`},
			{&c.Passkeys, `DELETE FROM passkeys WHERE user_id = ?`}, // issue 15 (passkeys)
			{&c.VerificationTokens, `DELETE FROM one_time_tokens WHERE user_id = ?`},
			{&c.Events, `UPDATE security_events SET ip = '', user_agent = '', detail = json_remove(detail, '$.email')
				WHERE user_id = ? AND (ip <> '' OR user_agent <> '' OR json_type(detail, '$.email') IS NOT NULL)`},
		}
		for _, st := range steps {
			res, err := q.ExecContext(ctx, st.sql, userID)
			if err != nil {
				return mapErr(err)
			}
			if *st.n, err = res.RowsAffected(); err != nil {
				return mapErr(err)
			}
		}
		res, err := q.ExecContext(ctx, `UPDATE users SET email = ?, email_verified = 0, name = '', picture = '', password_hash = '',
			deleted_at = ?, updated_at = ? WHERE id = ?`,
			strings.ToLower(t.Email), database.Millis(t.DeletedAt), database.Millis(t.DeletedAt), userID)
		return affected("tombstone", res, err)
	})
	if err != nil {
		return provider.ErasedCounts{}, fmt.Errorf("erase user %q: %w", userID, err)
	}
	return c, nil
}

const erasureCols = `id, subject, requested_by, requested_at, auth_deleted, auth_at, completed_at`

const partCols = `erasure_id, backend_id, backend_name, user_id, status, attempts, last_error, next_attempt_at,
	lease_until, deleted_count, done_at`

type scanner = interface{ Scan(...any) error }

func scanErasure(row scanner) (*provider.ErasureJob, error) {
	var (
		j                 provider.ErasureJob
		authAt, completed sql.NullInt64
	)
	if err := row.Scan(&j.ID, &j.Subject, &j.RequestedBy, database.ScanMillis(&j.RequestedAt), &j.AuthDeleted,
		&authAt, &completed); err != nil {
		return nil, mapErr(err)
	}
	j.AuthAt, j.CompletedAt = database.FromMillisPtr(authAt), database.FromMillisPtr(completed)
	return &j, nil
}

func scanPart(row scanner) (*provider.ErasurePart, error) {
	var (
		p           provider.ErasurePart
		lease, done sql.NullInt64
	)
	if err := row.Scan(&p.ErasureID, &p.BackendID, &p.BackendName, &p.UserID, &p.Status, &p.Attempts, &p.LastError,
		database.ScanMillis(&p.NextAttemptAt), &lease, &p.DeletedCount, &done); err != nil {
		return nil, mapErr(err)
	}
	p.LeaseUntil, p.DoneAt = database.FromMillisPtr(lease), database.FromMillisPtr(done)
	return &p, nil
}

func (s *Store) CreateErasure(ctx context.Context, j *provider.ErasureJob) error {
	err := s.inTx(ctx, func(q database.SQLQuerier) error {
		if _, err := q.ExecContext(ctx, `INSERT INTO erasures (`+erasureCols+`) VALUES (?, ?, ?, ?, ?, ?, ?)`,
			j.ID, j.Subject, j.RequestedBy, database.Millis(j.RequestedAt), j.AuthDeleted,
			database.MillisPtr(j.AuthAt), database.MillisPtr(j.CompletedAt)); err != nil {
			return mapErr(err)
		}
		for _, p := range j.Parts {
			if _, err := q.ExecContext(ctx, `INSERT INTO erasure_parts (`+partCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
				j.ID, p.BackendID, p.BackendName, p.UserID, p.Status, p.Attempts, p.LastError,
				database.Millis(p.NextAttemptAt), database.MillisPtr(p.LeaseUntil), p.DeletedCount, database.MillisPtr(p.DoneAt)); err != nil {
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

func (s *Store) parts(ctx context.Context, where string, args ...any) ([]*provider.ErasurePart, error) {
	rows, err := s.reader(ctx).QueryContext(ctx, `SELECT `+partCols+` FROM erasure_parts WHERE `+where, args...)
	if err != nil {
		return nil, mapErr(err)
	}
	return collect(rows, scanPart)
}

func (s *Store) GetErasure(ctx context.Context, id string) (*provider.ErasureJob, error) {
	j, err := scanErasure(s.reader(ctx).QueryRowContext(ctx, `SELECT `+erasureCols+` FROM erasures WHERE id = ?`, id))
	if err == nil {
		j.Parts, err = s.parts(ctx, `erasure_id = ? ORDER BY backend_id`, id)
	}
	if err != nil {
		return nil, fmt.Errorf("get erasure %q: %w", id, err)
	}
	return j, nil
}

func (s *Store) ListErasures(ctx context.Context, subject string) ([]*provider.ErasureJob, error) {
	rows, err := s.reader(ctx).QueryContext(ctx, `SELECT `+erasureCols+` FROM erasures WHERE subject = ?
		ORDER BY requested_at DESC, id DESC`, subject)
	if err != nil {
		return nil, fmt.Errorf("list erasures: %w", mapErr(err))
	}
	jobs, err := collect(rows, scanErasure)
	if err != nil {
		return nil, fmt.Errorf("list erasures: %w", err)
	}
	for _, j := range jobs {
		if j.Parts, err = s.parts(ctx, `erasure_id = ? ORDER BY backend_id`, j.ID); err != nil {
			return nil, fmt.Errorf("list erasures: %w", err)
		}
	}
	return jobs, nil
}

func (s *Store) PendingErasureParts(ctx context.Context, userID string) ([]*provider.ErasurePart, error) {
	out, err := s.parts(ctx, `user_id = ? AND status = 'pending' ORDER BY erasure_id, backend_id`, userID)
	if err != nil {
		return nil, fmt.Errorf("pending erasure parts of %q: %w", userID, err)
	}
	return out, nil
}

// ClaimErasureParts reads and leases the due parts inside one immediate
// transaction (or the caller's), so a concurrent claim finds them leased.
func (s *Store) ClaimErasureParts(ctx context.Context, now time.Time, limit int, lease time.Duration) ([]*provider.ErasurePart, error) {
	if limit < 1 {
		return nil, nil
	}
	var out []*provider.ErasurePart
	err := s.inTx(ctx, func(q database.SQLQuerier) error {
		rows, err := q.QueryContext(ctx, `SELECT `+partCols+` FROM erasure_parts
			WHERE status = 'pending' AND next_attempt_at <= ? AND (lease_until IS NULL OR lease_until <= ?)
			ORDER BY next_attempt_at, erasure_id, backend_id LIMIT ?`, database.Millis(now), database.Millis(now), limit)
		if err != nil {
			return mapErr(err)
		}
		if out, err = collect(rows, scanPart); err != nil {
			return err
		}
		until := database.FromMillis(database.Millis(now.Add(lease)))
		for _, p := range out {
			if _, err := q.ExecContext(ctx, `UPDATE erasure_parts SET lease_until = ? WHERE erasure_id = ? AND backend_id = ?`,
				database.Millis(until), p.ErasureID, p.BackendID); err != nil {
				return mapErr(err)
			}
			p.LeaseUntil = &until
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("claim erasure parts: %w", err)
	}
	return out, nil
}

// CompleteErasurePart runs in one immediate transaction: SQLite has one
// writer, so the check for the job's last pending part cannot race.
func (s *Store) CompleteErasurePart(ctx context.Context, erasureID, backendID string, deleted int64, at time.Time) (bool, error) {
	var completed bool
	err := s.inTx(ctx, func(q database.SQLQuerier) error {
		res, err := q.ExecContext(ctx, `UPDATE erasure_parts SET status = 'done', user_id = '', lease_until = NULL,
			deleted_count = ?, done_at = ? WHERE erasure_id = ? AND backend_id = ? AND status = 'pending'`,
			deleted, database.Millis(at), erasureID, backendID)
		if err := affected("", res, err); err != nil {
			return err
		}
		res, err = q.ExecContext(ctx, `UPDATE erasures SET completed_at = ?
			WHERE id = ? AND completed_at IS NULL AND auth_at IS NOT NULL
			  AND NOT EXISTS (SELECT 1 FROM erasure_parts WHERE erasure_id = ? AND status = 'pending')`,
			database.Millis(at), erasureID, erasureID)
		if err != nil {
			return mapErr(err)
		}
		n, err := res.RowsAffected()
		completed = n == 1
		return mapErr(err)
	})
	if err != nil {
		return false, fmt.Errorf("complete erasure part %q/%q: %w", erasureID, backendID, err)
	}
	return completed, nil
}

func (s *Store) ReleaseErasurePart(ctx context.Context, erasureID, backendID string, leasedUntil time.Time) error {
	res, err := s.writer(ctx).ExecContext(ctx, `UPDATE erasure_parts SET lease_until = NULL
		WHERE erasure_id = ? AND backend_id = ? AND status = 'pending' AND lease_until = ?`,
		erasureID, backendID, database.Millis(leasedUntil))
	return affected(fmt.Sprintf("release erasure part %q/%q", erasureID, backendID), res, err)
}

func (s *Store) RetryErasurePart(ctx context.Context, erasureID, backendID string, next time.Time, lastError string) error {
	res, err := s.writer(ctx).ExecContext(ctx, `UPDATE erasure_parts
		SET attempts = attempts + 1, next_attempt_at = ?, last_error = ?, lease_until = NULL
		WHERE erasure_id = ? AND backend_id = ? AND status = 'pending'`,
		database.Millis(next), lastError, erasureID, backendID)
	return affected(fmt.Sprintf("retry erasure part %q/%q", erasureID, backendID), res, err)
}
