package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/manacore/mana-core-auth/internal/database"
	"github.com/manacore/mana-core-auth/provider"
)

// issue 14: the import of the old service. Each batch is one pgx batch:
// one round trip for thousands of rows, where a statement at a time would
// spend most of a 100,000-user import waiting on the network.

func (s *Store) ImportUsers(ctx context.Context, users []*provider.User) ([]provider.ImportResult, error) {
	b := &pgx.Batch{}
	for _, u := range users {
		b.Queue(`INSERT INTO auth.users (`+userCols+`)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT DO NOTHING`,
			u.ID, strings.ToLower(u.Email), u.EmailVerified, u.Name, u.Role, u.PasswordHash, u.Disabled,
			database.PGTime(u.CreatedAt), database.PGTime(u.UpdatedAt), database.PGTimePtr(u.DeletedAt), u.Picture)
	}
	out, err := s.importBatch(ctx, b, len(users))
	if err != nil {
		return nil, fmt.Errorf("import users: %w", err)
	}
	// What was not inserted is there already by id, or its email is taken.
	var missed []string
	for i, r := range out {
		if r != provider.ImportInserted {
			missed = append(missed, users[i].ID)
		}
	}
	if len(missed) == 0 {
		return out, nil
	}
	rows, err := s.db(ctx).Query(ctx, `SELECT id FROM auth.users WHERE id = ANY($1)`, missed)
	if err != nil {
		return nil, fmt.Errorf("import users: find existing: %w", mapErr(err))
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("import users: find existing: %w", mapErr(err))
	}
	taken := make(map[string]bool, len(ids))
	for _, id := range ids {
		taken[id] = true
	}
	for i, r := range out {
		if r != provider.ImportInserted && !taken[users[i].ID] {
			out[i] = provider.ImportConflict
		}
	}
	return out, nil
}

func (s *Store) ImportSessions(ctx context.Context, sessions []*provider.ImportedSession) ([]provider.ImportResult, error) {
	b := &pgx.Batch{}
	for _, x := range sessions {
		// The token only with its session: a second run inserts neither.
		b.Queue(`WITH s AS (
				INSERT INTO auth.sessions (`+sessionCols+`)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) ON CONFLICT DO NOTHING RETURNING id)
			INSERT INTO auth.imported_refresh_tokens (token_hash, session_id, expires_at)
			SELECT $13, id, $5 FROM s ON CONFLICT DO NOTHING`,
			x.ID, x.UserID, database.PGTime(x.CreatedAt), database.PGTime(x.LastSeenAt), database.PGTime(x.ExpiresAt), database.PGTime(x.AuthTime),
			x.IP, x.UserAgent, x.DeviceID, x.DeviceName, list(x.AuthMethods), x.RememberMe, x.TokenHash)
	}
	out, err := s.importBatch(ctx, b, len(sessions))
	if err != nil {
		return nil, fmt.Errorf("import sessions: %w", err)
	}
	return out, nil
}

// importBatch sends b and reads one result per statement: a row written
// is ImportInserted, none ImportExists.
func (s *Store) importBatch(ctx context.Context, b *pgx.Batch, n int) ([]provider.ImportResult, error) {
	out := make([]provider.ImportResult, n)
	if n == 0 {
		return out, nil
	}
	br := s.db(ctx).SendBatch(ctx, b)
	for i := range out {
		tag, err := br.Exec()
		if err != nil {
			_ = br.Close()
			return nil, mapErr(err)
		}
		if tag.RowsAffected() == 0 {
			out[i] = provider.ImportExists
		}
	}
	return out, mapErr(br.Close())
}

func (s *Store) ImportedRefreshToken(ctx context.Context, hash string, now time.Time) (*provider.ImportedRefreshToken, error) {
	var (
		x    provider.ImportedRefreshToken
		used *time.Time
	)
	err := s.db(ctx).QueryRow(ctx, `SELECT token_hash, session_id, expires_at, used_at, request_id
		FROM auth.imported_refresh_tokens WHERE token_hash = $1 AND expires_at > $2`, hash, database.PGTime(now)).
		Scan(&x.TokenHash, &x.SessionID, &x.ExpiresAt, &used, &x.RequestID)
	if err != nil {
		return nil, fmt.Errorf("get imported refresh token: %w", mapErr(err))
	}
	x.ExpiresAt = x.ExpiresAt.UTC()
	if used != nil {
		u := used.UTC()
		x.UsedAt = &u
	}
	return &x, nil
}

// UseImportedRefreshToken is one conditional UPDATE: of two concurrent
// exchanges the second waits on the row lock, then matches nothing.
func (s *Store) UseImportedRefreshToken(ctx context.Context, hash, requestID string, at time.Time) error {
	tag, err := s.db(ctx).Exec(ctx, `UPDATE auth.imported_refresh_tokens SET used_at = $2, request_id = $3
		WHERE token_hash = $1 AND used_at IS NULL`, hash, database.PGTime(at), requestID)
	if err != nil {
		return fmt.Errorf("use imported refresh token: %w", mapErr(err))
	}
	if tag.RowsAffected() == 1 {
		return nil
	}
	var one int
	err = s.db(ctx).QueryRow(ctx, `SELECT 1 FROM auth.imported_refresh_tokens WHERE token_hash = $1`, hash).Scan(&one)
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("use imported refresh token: %w", provider.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("use imported refresh token: %w", mapErr(err))
	}
	return fmt.Errorf("use imported refresh token: %w", provider.ErrConflict)
}
