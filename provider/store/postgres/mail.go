package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/manacore/mana-core-auth/internal/database"
	"github.com/manacore/mana-core-auth/provider"
)

// The mail outbox (provider.MailQueue). Job ids are quoted in errors;
// payloads never appear in one.

const mailCols = `id, kind, payload, attempts, next_attempt_at, created_at, last_error`

func scanMailJob(row pgx.Row) (*provider.MailJob, error) {
	var j provider.MailJob
	if err := row.Scan(&j.ID, &j.Kind, &j.Payload, &j.Attempts, &j.NextAttemptAt, &j.CreatedAt, &j.LastError); err != nil {
		return nil, mapErr(err)
	}
	j.Payload = nilIfEmpty(j.Payload)
	j.NextAttemptAt, j.CreatedAt = j.NextAttemptAt.UTC(), j.CreatedAt.UTC()
	return &j, nil
}

func (s *Store) EnqueueMail(ctx context.Context, j *provider.MailJob) error {
	_, err := s.db(ctx).Exec(ctx, `INSERT INTO auth.mail_jobs (`+mailCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		j.ID, j.Kind, blob(j.Payload), j.Attempts, database.PGTime(j.NextAttemptAt), database.PGTime(j.CreatedAt), j.LastError)
	if err != nil {
		return fmt.Errorf("enqueue mail job %q: %w", j.ID, mapErr(err))
	}
	return nil
}

// ClaimMailJobs is one statement, as ClaimLogoutJobs: the CTE locks the
// due rows it picks and skips rows another claimer holds; the outer SELECT
// gives the claim order, which UPDATE ... RETURNING does not keep.
// MATERIALIZED: see ClaimLogoutJobs.
func (s *Store) ClaimMailJobs(ctx context.Context, now time.Time, limit int, lease time.Duration) ([]*provider.MailJob, error) {
	if limit < 1 {
		return nil, nil
	}
	rows, err := s.db(ctx).Query(ctx, `WITH due AS MATERIALIZED (
			SELECT seq AS due_seq, next_attempt_at AS due_at FROM auth.mail_jobs WHERE next_attempt_at <= $1
			ORDER BY next_attempt_at, seq LIMIT $3 FOR UPDATE SKIP LOCKED),
		claimed AS (
			UPDATE auth.mail_jobs SET next_attempt_at = $2 FROM due WHERE seq = due.due_seq
			RETURNING `+mailCols+`, seq, due.due_at)
		SELECT `+mailCols+` FROM claimed ORDER BY due_at, seq`,
		database.PGTime(now), database.PGTime(now.Add(lease)), limit)
	if err != nil {
		return nil, fmt.Errorf("claim mail jobs: %w", mapErr(err))
	}
	out, err := collect(rows, scanMailJob)
	if err != nil {
		return nil, fmt.Errorf("claim mail jobs: %w", err)
	}
	return out, nil
}

func (s *Store) UpdateMailJob(ctx context.Context, id, kind string, payload []byte) error {
	tag, err := s.db(ctx).Exec(ctx, `UPDATE auth.mail_jobs SET kind = $2, payload = $3 WHERE id = $1`, id, kind, blob(payload))
	return affected(fmt.Sprintf("update mail job %q", id), tag, err)
}

func (s *Store) CompleteMailJob(ctx context.Context, id string) error {
	tag, err := s.db(ctx).Exec(ctx, `DELETE FROM auth.mail_jobs WHERE id = $1`, id)
	return affected(fmt.Sprintf("complete mail job %q", id), tag, err)
}

func (s *Store) ReleaseMailJob(ctx context.Context, id string, leasedUntil, now time.Time) error {
	tag, err := s.db(ctx).Exec(ctx, `UPDATE auth.mail_jobs SET next_attempt_at = $3
		WHERE id = $1 AND next_attempt_at = $2`, id, database.PGTime(leasedUntil), database.PGTime(now))
	return affected(fmt.Sprintf("release mail job %q", id), tag, err)
}

func (s *Store) RetryMailJob(ctx context.Context, id string, next time.Time, lastError string) error {
	tag, err := s.db(ctx).Exec(ctx, `UPDATE auth.mail_jobs
		SET attempts = attempts + 1, next_attempt_at = $2, last_error = $3 WHERE id = $1`,
		id, database.PGTime(next), lastError)
	return affected(fmt.Sprintf("retry mail job %q", id), tag, err)
}
