package sqlite

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/manacore/mana-core-auth/internal/database"
	"github.com/manacore/mana-core-auth/provider"
)

// Session ids stay out of error messages like the other bearer values;
// job and client ids are quoted.

func (s *Store) SessionClients(ctx context.Context, sessionID string) ([]string, error) {
	if sessionID == "" {
		return nil, nil
	}
	rows, err := s.reader(ctx).QueryContext(ctx,
		`SELECT DISTINCT client_id FROM grants WHERE session_id = ? ORDER BY client_id`, sessionID)
	if err != nil {
		return nil, fmt.Errorf("list clients of session: %w", mapErr(err))
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("list clients of session: %w", mapErr(err))
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list clients of session: %w", mapErr(err))
	}
	return ids, nil
}

const logoutCols = `id, client_id, uri, session_id, subject, attempts, next_attempt_at, created_at, last_error`

func scanLogoutJob(row interface{ Scan(...any) error }) (*provider.LogoutJob, error) {
	var j provider.LogoutJob
	if err := row.Scan(&j.ID, &j.ClientID, &j.URI, &j.SessionID, &j.Subject, &j.Attempts,
		database.ScanMillis(&j.NextAttemptAt), database.ScanMillis(&j.CreatedAt), &j.LastError); err != nil {
		return nil, mapErr(err)
	}
	return &j, nil
}

// enqueueChunk keeps one INSERT under SQLite's limit of 32766 bound
// parameters (9 per job).
const enqueueChunk = 500

// EnqueueLogouts inserts a batch with one multi-row INSERT, which SQLite
// applies entirely or not at all (a constraint violation aborts the
// statement, not the transaction). The rare batch larger than one
// statement runs under a savepoint, in the caller's transaction or an
// immediate one of its own.
func (s *Store) EnqueueLogouts(ctx context.Context, jobs []*provider.LogoutJob) error {
	if len(jobs) == 0 {
		return nil
	}
	var err error
	if len(jobs) <= enqueueChunk {
		err = enqueueLogouts(ctx, s.writer(ctx), jobs)
	} else {
		err = s.inTx(ctx, func(q database.SQLQuerier) error {
			if _, err := q.ExecContext(ctx, `SAVEPOINT enqueue_logouts`); err != nil {
				return mapErr(err)
			}
			for chunk := range slices.Chunk(jobs, enqueueChunk) {
				if err := enqueueLogouts(ctx, q, chunk); err != nil {
					_, _ = q.ExecContext(ctx, `ROLLBACK TO enqueue_logouts`)
					_, _ = q.ExecContext(ctx, `RELEASE enqueue_logouts`)
					return err
				}
			}
			_, err := q.ExecContext(ctx, `RELEASE enqueue_logouts`)
			return mapErr(err)
		})
	}
	if err != nil {
		return fmt.Errorf("enqueue %d logout jobs: %w", len(jobs), err)
	}
	return nil
}

func enqueueLogouts(ctx context.Context, q database.SQLQuerier, jobs []*provider.LogoutJob) error {
	args := make([]any, 0, 9*len(jobs))
	for _, j := range jobs {
		args = append(args, j.ID, j.ClientID, j.URI, j.SessionID, j.Subject, j.Attempts,
			database.Millis(j.NextAttemptAt), database.Millis(j.CreatedAt), j.LastError)
	}
	values := strings.Repeat(", (?, ?, ?, ?, ?, ?, ?, ?, ?)", len(jobs))[2:]
	_, err := q.ExecContext(ctx, `INSERT INTO logout_jobs (`+logoutCols+`) VALUES `+values, args...)
	return mapErr(err)
}

// ClaimLogoutJobs runs in one immediate transaction (or the caller's): it
// holds the write lock from picking the due rows to moving them, so a
// concurrent claim, in this process or another, finds them leased.
func (s *Store) ClaimLogoutJobs(ctx context.Context, now time.Time, limit int, lease time.Duration) ([]*provider.LogoutJob, error) {
	if limit < 1 { // SQLite would read LIMIT -1 as "no limit"
		return nil, nil
	}
	var out []*provider.LogoutJob
	err := s.inTx(ctx, func(q database.SQLQuerier) error {
		rows, err := q.QueryContext(ctx, `UPDATE logout_jobs SET next_attempt_at = ?
			WHERE id IN (SELECT id FROM logout_jobs WHERE next_attempt_at <= ?
				ORDER BY next_attempt_at, id LIMIT ?)
			RETURNING `+logoutCols,
			database.Millis(now.Add(lease)), database.Millis(now), limit)
		if err != nil {
			return mapErr(err)
		}
		out, err = collect(rows, scanLogoutJob)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("claim logout jobs: %w", err)
	}
	slices.SortFunc(out, func(a, b *provider.LogoutJob) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
	return out, nil
}

func (s *Store) CompleteLogoutJob(ctx context.Context, id string) error {
	res, err := s.writer(ctx).ExecContext(ctx, `DELETE FROM logout_jobs WHERE id = ?`, id)
	return affected(fmt.Sprintf("complete logout job %q", id), res, err)
}

func (s *Store) ReleaseLogoutJob(ctx context.Context, id string, leasedUntil, now time.Time) error {
	res, err := s.writer(ctx).ExecContext(ctx, `UPDATE logout_jobs SET next_attempt_at = ?
		WHERE id = ? AND next_attempt_at = ?`, database.Millis(now), id, database.Millis(leasedUntil))
	return affected(fmt.Sprintf("release logout job %q", id), res, err)
}

func (s *Store) RetryLogoutJob(ctx context.Context, id string, next time.Time, lastError string) error {
	res, err := s.writer(ctx).ExecContext(ctx, `UPDATE logout_jobs
		SET attempts = attempts + 1, next_attempt_at = ?, last_error = ? WHERE id = ?`,
		database.Millis(next), lastError, id)
	return affected(fmt.Sprintf("retry logout job %q", id), res, err)
}
