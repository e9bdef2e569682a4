package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/manacore/mana-core-auth/internal/database"
	"github.com/manacore/mana-core-auth/provider"
)

// issue 14: the import of the old service, a batch at a time in the
// caller's transaction (or one of its own).

func (s *Store) ImportUsers(ctx context.Context, users []*provider.User) ([]provider.ImportResult, error) {
	out := make([]provider.ImportResult, len(users))
	err := s.inTx(ctx, func(q database.SQLQuerier) error {
		for i, u := range users {
			res, err := q.ExecContext(ctx, `INSERT INTO users (`+userCols+`)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
				u.ID, strings.ToLower(u.Email), u.EmailVerified, u.Name, u.Role, u.PasswordHash, u.Disabled,
				database.Millis(u.CreatedAt), database.Millis(u.UpdatedAt), database.MillisPtr(u.DeletedAt), u.Picture)
			if err != nil {
				return err
			}
			if n, _ := res.RowsAffected(); n == 1 {
				continue
			}
			// Not inserted: there already by id, or the email is taken.
			var one int
			switch err := q.QueryRowContext(ctx, `SELECT 1 FROM users WHERE id = ?`, u.ID).Scan(&one); {
			case err == nil:
				out[i] = provider.ImportExists
			case errors.Is(err, sql.ErrNoRows):
				out[i] = provider.ImportConflict
			default:
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("import users: %w", err)
	}
	return out, nil
}

func (s *Store) ImportSessions(ctx context.Context, sessions []*provider.ImportedSession) ([]provider.ImportResult, error) {
	out := make([]provider.ImportResult, len(sessions))
	err := s.inTx(ctx, func(q database.SQLQuerier) error {
		for i, x := range sessions {
			res, err := q.ExecContext(ctx, `INSERT INTO sessions (`+sessionCols+`)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
				x.ID, x.UserID, database.Millis(x.CreatedAt), database.Millis(x.LastSeenAt), database.Millis(x.ExpiresAt), database.Millis(x.AuthTime),
				x.IP, x.UserAgent, x.DeviceID, x.DeviceName, jsonList(x.AuthMethods), x.RememberMe)
			if err != nil {
				return err
			}
			if n, _ := res.RowsAffected(); n == 0 {
				// The token only with its session: a second run inserts neither.
				out[i] = provider.ImportExists
				continue
			}
			if _, err := q.ExecContext(ctx, `INSERT INTO imported_refresh_tokens (token_hash, session_id, expires_at)
				VALUES (?, ?, ?) ON CONFLICT DO NOTHING`, x.TokenHash, x.ID, database.Millis(x.ExpiresAt)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("import sessions: %w", err)
	}
	return out, nil
}

func (s *Store) ImportedRefreshToken(ctx context.Context, hash string, now time.Time) (*provider.ImportedRefreshToken, error) {
	var (
		x    provider.ImportedRefreshToken
		used sql.NullInt64
	)
	err := s.reader(ctx).QueryRowContext(ctx, `SELECT token_hash, session_id, expires_at, used_at, request_id
		FROM imported_refresh_tokens WHERE token_hash = ? AND expires_at > ?`, hash, database.Millis(now)).
		Scan(&x.TokenHash, &x.SessionID, database.ScanMillis(&x.ExpiresAt), &used, &x.RequestID)
	if err != nil {
		return nil, fmt.Errorf("get imported refresh token: %w", mapErr(err))
	}
	if used.Valid {
		t := time.UnixMilli(used.Int64).UTC()
		x.UsedAt = &t
	}
	return &x, nil
}

// UseImportedRefreshToken is one conditional UPDATE on the single writer.
func (s *Store) UseImportedRefreshToken(ctx context.Context, hash, requestID string, at time.Time) error {
	err := s.inTx(ctx, func(q database.SQLQuerier) error {
		res, err := q.ExecContext(ctx, `UPDATE imported_refresh_tokens SET used_at = ?, request_id = ?
			WHERE token_hash = ? AND used_at IS NULL`, database.Millis(at), requestID, hash)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 1 {
			return nil
		}
		var one int
		if err := q.QueryRowContext(ctx, `SELECT 1 FROM imported_refresh_tokens WHERE token_hash = ?`, hash).Scan(&one); err != nil {
			return err
		}
		return provider.ErrConflict
	})
	if err != nil {
		return fmt.Errorf("use imported refresh token: %w", err)
	}
	return nil
}
