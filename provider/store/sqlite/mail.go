package sqlite

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/manacore/mana-core-auth/internal/database"
	"github.com/manacore/mana-core-auth/provider"
)

// The mail outbox (provider.MailQueue). Job ids are quoted in errors;
// payloads never appear in one.

const mailCols = `id, kind, payload, attempts, next_attempt_at, created_at, last_error`

func scanMailJob(row interface{ Scan(...any) error }) (*provider.MailJob, error) {
	var j provider.MailJob
	if err := row.Scan(&j.ID, &j.Kind, &j.Payload, &j.Attempts,
		database.ScanMillis(&j.NextAttemptAt), database.ScanMillis(&j.CreatedAt), &j.LastError); err != nil {
		return nil, mapErr(err)
	}
	j.Payload = nilIfEmpty(j.Payload)
	return &j, nil
}

func (s *Store) EnqueueMail(ctx context.Context, j *provider.MailJob) error {
	_, err := s.writer(ctx).ExecContext(ctx, `INSERT INTO mail_jobs (`+mailCols+`) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		j.ID, j.Kind, blob(j.Payload), j.Attempts, database.Millis(j.NextAttemptAt), database.Millis(j.CreatedAt), j.LastError)
	if err != nil {
		return fmt.Errorf("enqueue mail job %q: %w", j.ID, mapErr(err))
	}
	return nil
}

// ClaimMailJobs picks and moves the due rows inside one immediate
// transaction (or the caller's), so a concurrent claim finds them leased.
// It reads before it writes because UPDATE ... RETURNING has no order.
func (s *Store) ClaimMailJobs(ctx context.Context, now time.Time, limit int, lease time.Duration) ([]*provider.MailJob, error) {
	if limit < 1 { // SQLite would read LIMIT -1 as "no limit"
		return nil, nil
	}
	var out []*provider.MailJob
	err := s.inTx(ctx, func(q database.SQLQuerier) error {
		rows, err := q.QueryContext(ctx, `SELECT `+mailCols+` FROM mail_jobs WHERE next_attempt_at <= ?
			ORDER BY next_attempt_at, seq LIMIT ?`, database.Millis(now), limit)
		if err != nil {
			return mapErr(err)
		}
		if out, err = collect(rows, scanMailJob); err != nil || len(out) == 0 {
			return err
		}
		until := now.Add(lease)
		args := []any{database.Millis(until)}
		for _, j := range out {
			args = append(args, j.ID)
			j.NextAttemptAt = database.FromMillis(database.Millis(until))
		}
		_, err = q.ExecContext(ctx, `UPDATE mail_jobs SET next_attempt_at = ? WHERE id IN (`+
			strings.Repeat(", ?", len(out))[2:]+`)`, args...)
		return mapErr(err)
	})
	if err != nil {
		return nil, fmt.Errorf("claim mail jobs: %w", err)
	}
	return out, nil
}

func (s *Store) UpdateMailJob(ctx context.Context, id, kind string, payload []byte) error {
	res, err := s.writer(ctx).ExecContext(ctx, `UPDATE mail_jobs SET kind = ?, payload = ? WHERE id = ?`, kind, blob(payload), id)
	return affected(fmt.Sprintf("update mail job %q", id), res, err)
}

func (s *Store) CompleteMailJob(ctx context.Context, id string) error {
	res, err := s.writer(ctx).ExecContext(ctx, `DELETE FROM mail_jobs WHERE id = ?`, id)
	return affected(fmt.Sprintf("complete mail job %q", id), res, err)
}

func (s *Store) ReleaseMailJob(ctx context.Context, id string, leasedUntil, now time.Time) error {
	res, err := s.writer(ctx).ExecContext(ctx, `UPDATE mail_jobs SET next_attempt_at = ?
		WHERE id = ? AND next_attempt_at = ?`, database.Millis(now), id, database.Millis(leasedUntil))
	return affected(fmt.Sprintf("release mail job %q", id), res, err)
}

func (s *Store) RetryMailJob(ctx context.Context, id string, next time.Time, lastError string) error {
	res, err := s.writer(ctx).ExecContext(ctx, `UPDATE mail_jobs
		SET attempts = attempts + 1, next_attempt_at = ?, last_error = ? WHERE id = ?`,
		database.Millis(next), lastError, id)
	return affected(fmt.Sprintf("retry mail job %q", id), res, err)
}
