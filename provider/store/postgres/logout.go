package postgres

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/manacore/mana-core-auth/internal/database"
	"github.com/manacore/mana-core-auth/provider"
)

// Session ids stay out of error messages like the other bearer values;
// job and client ids are quoted.

func (s *Store) SessionClients(ctx context.Context, sessionID string) ([]string, error) {
	if sessionID == "" {
		return nil, nil
	}
	rows, err := s.db(ctx).Query(ctx,
		`SELECT DISTINCT client_id FROM auth.grants WHERE session_id = $1 ORDER BY client_id`, sessionID)
	if err != nil {
		return nil, fmt.Errorf("list clients of session: %w", mapErr(err))
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("list clients of session: %w", mapErr(err))
	}
	return nilIfEmpty(ids), nil
}

const logoutCols = `id, client_id, uri, session_id, subject, attempts, next_attempt_at, created_at, last_error`

func scanLogoutJob(row pgx.Row) (*provider.LogoutJob, error) {
	var j provider.LogoutJob
	if err := row.Scan(&j.ID, &j.ClientID, &j.URI, &j.SessionID, &j.Subject, &j.Attempts,
		&j.NextAttemptAt, &j.CreatedAt, &j.LastError); err != nil {
		return nil, mapErr(err)
	}
	j.NextAttemptAt, j.CreatedAt = j.NextAttemptAt.UTC(), j.CreatedAt.UTC()
	return &j, nil
}

// EnqueueLogouts inserts every job with one statement over parallel arrays,
// so the batch is atomic and the SQL text is the same whatever its size.
// It has no ON CONFLICT (that would insert the jobs whose ids are free), so
// inside a caller's transaction it runs under a savepoint, as UpdateUser
// does: a taken id then fails this call only.
func (s *Store) EnqueueLogouts(ctx context.Context, jobs []*provider.LogoutJob) error {
	if len(jobs) == 0 {
		return nil
	}
	tx := s.pg.Tx(ctx)
	if tx == nil {
		return enqueueLogouts(ctx, s.pg.Pool(), jobs)
	}
	sp, err := tx.Begin(ctx)
	if err != nil {
		return fmt.Errorf("enqueue %d logout jobs: %w", len(jobs), mapErr(err))
	}
	if err := enqueueLogouts(ctx, sp, jobs); err != nil {
		_ = sp.Rollback(ctx)
		return err
	}
	if err := sp.Commit(ctx); err != nil {
		return fmt.Errorf("enqueue %d logout jobs: %w", len(jobs), mapErr(err))
	}
	return nil
}

func enqueueLogouts(ctx context.Context, db database.PGQuerier, jobs []*provider.LogoutJob) error {
	n := len(jobs)
	var (
		ids, clients, uris, sessions = make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		subjects, lastErrors         = make([]string, n), make([]string, n)
		attempts                     = make([]int32, n)
		next, created                = make([]time.Time, n), make([]time.Time, n)
	)
	for i, j := range jobs {
		ids[i], clients[i], uris[i], sessions[i] = j.ID, j.ClientID, j.URI, j.SessionID
		subjects[i], lastErrors[i], attempts[i] = j.Subject, j.LastError, int32(j.Attempts)
		next[i], created[i] = database.PGTime(j.NextAttemptAt), database.PGTime(j.CreatedAt)
	}
	_, err := db.Exec(ctx, `INSERT INTO auth.logout_jobs (`+logoutCols+`)
		SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[],
			$6::integer[], $7::timestamptz[], $8::timestamptz[], $9::text[])`,
		ids, clients, uris, sessions, subjects, attempts, next, created, lastErrors)
	if err != nil {
		return fmt.Errorf("enqueue %d logout jobs: %w", n, mapErr(err))
	}
	return nil
}

// ClaimLogoutJobs is one statement: the CTE locks the due rows it picks
// and skips rows another claimer holds; a row a concurrent claim committed
// meanwhile is re-checked against its new next_attempt_at and dropped
// (READ COMMITTED re-evaluates the WHERE of a locked row). The CTE is
// MATERIALIZED so it runs once: as a plain subquery the planner may
// evaluate it again (say, as the inner side of a join), lock further rows
// and lease more than limit.
func (s *Store) ClaimLogoutJobs(ctx context.Context, now time.Time, limit int, lease time.Duration) ([]*provider.LogoutJob, error) {
	if limit < 1 {
		return nil, nil
	}
	rows, err := s.db(ctx).Query(ctx, `WITH due AS MATERIALIZED (
			SELECT id AS due_id FROM auth.logout_jobs WHERE next_attempt_at <= $1
			ORDER BY next_attempt_at, id LIMIT $3 FOR UPDATE SKIP LOCKED)
		UPDATE auth.logout_jobs SET next_attempt_at = $2 FROM due
		WHERE id = due.due_id AND next_attempt_at <= $1
		RETURNING `+logoutCols,
		database.PGTime(now), database.PGTime(now.Add(lease)), limit)
	if err != nil {
		return nil, fmt.Errorf("claim logout jobs: %w", mapErr(err))
	}
	out, err := collect(rows, scanLogoutJob)
	if err != nil {
		return nil, fmt.Errorf("claim logout jobs: %w", err)
	}
	sortLogoutJobs(out)
	return out, nil
}

func (s *Store) CompleteLogoutJob(ctx context.Context, id string) error {
	tag, err := s.db(ctx).Exec(ctx, `DELETE FROM auth.logout_jobs WHERE id = $1`, id)
	return affected(fmt.Sprintf("complete logout job %q", id), tag, err)
}

func (s *Store) RetryLogoutJob(ctx context.Context, id string, next time.Time, lastError string) error {
	tag, err := s.db(ctx).Exec(ctx, `UPDATE auth.logout_jobs
		SET attempts = attempts + 1, next_attempt_at = $2, last_error = $3 WHERE id = $1`,
		id, database.PGTime(next), lastError)
	return affected(fmt.Sprintf("retry logout job %q", id), tag, err)
}

func (s *Store) ReleaseLogoutJob(ctx context.Context, id string, leasedUntil, now time.Time) error {
	tag, err := s.db(ctx).Exec(ctx, `UPDATE auth.logout_jobs SET next_attempt_at = $3
		WHERE id = $1 AND next_attempt_at = $2`, id, database.PGTime(leasedUntil), database.PGTime(now))
	return affected(fmt.Sprintf("release logout job %q", id), tag, err)
}

// sortLogoutJobs puts claimed jobs in the documented order (RETURNING has
// none).
func sortLogoutJobs(jobs []*provider.LogoutJob) {
	slices.SortFunc(jobs, func(a, b *provider.LogoutJob) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
}
