package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/manacore/mana-core-auth/internal/database"
	"github.com/manacore/mana-core-auth/provider"
)

// Token hashes and recovery code hashes stay out of error messages like
// the other secrets; purposes and user ids are quoted.

const tokenCols = `hash, purpose, user_id, redirect_to, created_at, expires_at`

func scanToken(row pgx.Row) (*provider.OneTimeToken, error) {
	var x provider.OneTimeToken
	if err := row.Scan(&x.Hash, &x.Purpose, &x.UserID, &x.RedirectTo, &x.CreatedAt, &x.ExpiresAt); err != nil {
		return nil, mapErr(err)
	}
	x.CreatedAt, x.ExpiresAt = x.CreatedAt.UTC(), x.ExpiresAt.UTC()
	return &x, nil
}

func (s *Store) CreateToken(ctx context.Context, x *provider.OneTimeToken) error {
	tag, err := s.db(ctx).Exec(ctx, `INSERT INTO auth.one_time_tokens (`+tokenCols+`)
		VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING`,
		x.Hash, x.Purpose, x.UserID, x.RedirectTo, database.PGTime(x.CreatedAt), database.PGTime(x.ExpiresAt))
	return inserted(fmt.Sprintf("create %q token of user %q", x.Purpose, x.UserID), tag, err)
}

// ConsumeToken is one DELETE: a concurrent consumer blocks on the row lock,
// then finds the row gone and matches nothing.
func (s *Store) ConsumeToken(ctx context.Context, purpose, hash string, now time.Time) (*provider.OneTimeToken, error) {
	x, err := scanToken(s.db(ctx).QueryRow(ctx, `DELETE FROM auth.one_time_tokens
		WHERE hash = $1 AND purpose = $2 AND expires_at > $3 RETURNING `+tokenCols,
		hash, purpose, database.PGTime(now)))
	if err != nil {
		return nil, fmt.Errorf("consume %q token: %w", purpose, err)
	}
	return x, nil
}

func (s *Store) DeleteUserTokens(ctx context.Context, userID, purpose string) error {
	if _, err := s.db(ctx).Exec(ctx,
		`DELETE FROM auth.one_time_tokens WHERE user_id = $1 AND purpose = $2`, userID, purpose); err != nil {
		return fmt.Errorf("delete %q tokens of user %q: %w", purpose, userID, mapErr(err))
	}
	return nil
}

const eventCols = `id, user_id, type, ip, user_agent, detail, created_at`

func scanEvent(row pgx.Row) (*provider.SecurityEvent, error) {
	var (
		e      provider.SecurityEvent
		detail []byte
	)
	if err := row.Scan(&e.ID, &e.UserID, &e.Type, &e.IP, &e.UserAgent, &detail, &e.CreatedAt); err != nil {
		return nil, mapErr(err)
	}
	var err error
	if e.Detail, err = decodeDetail(detail); err != nil {
		return nil, err
	}
	e.CreatedAt = e.CreatedAt.UTC()
	return &e, nil
}

func (s *Store) AddEvent(ctx context.Context, e *provider.SecurityEvent) error {
	tag, err := s.db(ctx).Exec(ctx, `INSERT INTO auth.security_events (`+eventCols+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING`,
		e.ID, e.UserID, e.Type, e.IP, e.UserAgent, encodeDetail(e.Detail), database.PGTime(e.CreatedAt))
	return inserted(fmt.Sprintf("add %q event of user %q", e.Type, e.UserID), tag, err)
}

func (s *Store) ListEvents(ctx context.Context, userID string, limit int) ([]*provider.SecurityEvent, error) {
	if limit < 1 {
		return nil, nil
	}
	rows, err := s.db(ctx).Query(ctx, `SELECT `+eventCols+` FROM auth.security_events
		WHERE user_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2`, userID, limit)
	if err != nil {
		return nil, fmt.Errorf("list events of user %q: %w", userID, mapErr(err))
	}
	out, err := collect(rows, scanEvent)
	if err != nil {
		return nil, fmt.Errorf("list events of user %q: %w", userID, err)
	}
	return out, nil
}

// encodeDetail writes an empty or nil map as {} (the column is NOT NULL).
// The JSON goes in as text: pgx sends a string for a jsonb parameter as is.
func encodeDetail(m map[string]string) string {
	if len(m) == 0 {
		return "{}"
	}
	b, _ := json.Marshal(m) // map[string]string always marshals
	return string(b)
}

// decodeDetail returns nil for an empty object, as both backends do.
func decodeDetail(raw []byte) (map[string]string, error) {
	var m map[string]string
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("event detail: %w", err)
	}
	if len(m) == 0 {
		return nil, nil
	}
	return m, nil
}

const totpCols = `user_id, secret_enc, enabled, last_step, recovery_hashes, created_at, enabled_at`

func (s *Store) GetTOTP(ctx context.Context, userID string) (*provider.TOTP, error) {
	var x provider.TOTP
	err := s.db(ctx).QueryRow(ctx, `SELECT `+totpCols+` FROM auth.totp WHERE user_id = $1`, userID).Scan(
		&x.UserID, &x.SecretEnc, &x.Enabled, &x.LastStep, &x.RecoveryHashes, &x.CreatedAt, &x.EnabledAt)
	if err != nil {
		return nil, fmt.Errorf("get totp of user %q: %w", userID, mapErr(err))
	}
	x.SecretEnc, x.RecoveryHashes = nilIfEmpty(x.SecretEnc), nilIfEmpty(x.RecoveryHashes)
	x.CreatedAt, x.EnabledAt = x.CreatedAt.UTC(), database.UTCPtr(x.EnabledAt)
	return &x, nil
}

func (s *Store) PutTOTP(ctx context.Context, x *provider.TOTP) error {
	_, err := s.db(ctx).Exec(ctx, `INSERT INTO auth.totp (`+totpCols+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7)
		ON CONFLICT (user_id) DO UPDATE SET secret_enc = excluded.secret_enc,
			enabled = excluded.enabled, last_step = excluded.last_step,
			recovery_hashes = excluded.recovery_hashes, created_at = excluded.created_at,
			enabled_at = excluded.enabled_at`,
		x.UserID, blob(x.SecretEnc), x.Enabled, x.LastStep, list(x.RecoveryHashes),
		database.PGTime(x.CreatedAt), database.PGTimePtr(x.EnabledAt))
	if err != nil {
		return fmt.Errorf("put totp of user %q: %w", x.UserID, mapErr(err))
	}
	return nil
}

func (s *Store) DeleteTOTP(ctx context.Context, userID string) error {
	tag, err := s.db(ctx).Exec(ctx, `DELETE FROM auth.totp WHERE user_id = $1`, userID)
	return affected(fmt.Sprintf("delete totp of user %q", userID), tag, err)
}

// AdvanceTOTPStep is one conditional UPDATE, like RotateGrant: of two
// concurrent calls for one step the second re-checks last_step against the
// committed row and matches nothing. Only that path pays a second query, to
// tell a replay from a missing enrolment.
func (s *Store) AdvanceTOTPStep(ctx context.Context, userID string, step int64) error {
	db := s.db(ctx)
	tag, err := db.Exec(ctx, `UPDATE auth.totp SET last_step = $2
		WHERE user_id = $1 AND last_step < $2`, userID, step)
	if err != nil {
		return fmt.Errorf("advance totp step of user %q: %w", userID, mapErr(err))
	}
	if tag.RowsAffected() == 1 {
		return nil
	}
	var exists bool
	if err := db.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM auth.totp WHERE user_id = $1)`,
		userID).Scan(&exists); err != nil {
		return fmt.Errorf("advance totp step of user %q: %w", userID, mapErr(err))
	}
	if !exists {
		return fmt.Errorf("advance totp step of user %q: %w", userID, provider.ErrNotFound)
	}
	return fmt.Errorf("advance totp step of user %q: step already used: %w", userID, provider.ErrConflict)
}

// UseRecoveryCode is one conditional UPDATE: a concurrent use of the same
// code waits for the row lock and then no longer finds the hash in the
// array, and concurrent uses of different codes each remove theirs from the
// latest version of the row.
func (s *Store) UseRecoveryCode(ctx context.Context, userID, hash string) error {
	tag, err := s.db(ctx).Exec(ctx, `UPDATE auth.totp
		SET recovery_hashes = array_remove(recovery_hashes, $2)
		WHERE user_id = $1 AND $2 = ANY (recovery_hashes)`, userID, hash)
	return affected(fmt.Sprintf("use recovery code of user %q", userID), tag, err)
}

func (s *Store) DeleteUserSessions(ctx context.Context, userID, exceptID string) ([]string, error) {
	rows, err := s.db(ctx).Query(ctx,
		`DELETE FROM auth.sessions WHERE user_id = $1 AND id <> $2 RETURNING id`, userID, exceptID)
	if err != nil {
		return nil, fmt.Errorf("delete sessions of user %q: %w", userID, mapErr(err))
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("delete sessions of user %q: %w", userID, mapErr(err))
	}
	slices.Sort(ids)
	return nilIfEmpty(ids), nil
}
