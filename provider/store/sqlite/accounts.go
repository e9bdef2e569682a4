package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/manacore/mana-core-auth/internal/database"
	"github.com/manacore/mana-core-auth/provider"
)

// Token hashes and recovery code hashes stay out of error messages like
// the other secrets; purposes and user ids are quoted.

const tokenCols = `hash, purpose, user_id, redirect_to, created_at, expires_at`

func scanToken(row interface{ Scan(...any) error }) (*provider.OneTimeToken, error) {
	var x provider.OneTimeToken
	if err := row.Scan(&x.Hash, &x.Purpose, &x.UserID, &x.RedirectTo,
		database.ScanMillis(&x.CreatedAt), database.ScanMillis(&x.ExpiresAt)); err != nil {
		return nil, mapErr(err)
	}
	return &x, nil
}

func (s *Store) CreateToken(ctx context.Context, x *provider.OneTimeToken) error {
	_, err := s.writer(ctx).ExecContext(ctx, `INSERT INTO one_time_tokens (`+tokenCols+`)
		VALUES (?, ?, ?, ?, ?, ?)`,
		x.Hash, x.Purpose, x.UserID, x.RedirectTo, database.Millis(x.CreatedAt), database.Millis(x.ExpiresAt))
	if err != nil {
		return fmt.Errorf("create %q token of user %q: %w", x.Purpose, x.UserID, mapErr(err))
	}
	return nil
}

// ConsumeToken is one DELETE on the single write connection, so of
// concurrent consumers the first deletes the row and the others match
// nothing (a second process waits for the write lock the same way).
func (s *Store) ConsumeToken(ctx context.Context, purpose, hash string, now time.Time) (*provider.OneTimeToken, error) {
	x, err := scanToken(s.writer(ctx).QueryRowContext(ctx, `DELETE FROM one_time_tokens
		WHERE hash = ? AND purpose = ? AND expires_at > ? RETURNING `+tokenCols,
		hash, purpose, database.Millis(now)))
	if err != nil {
		return nil, fmt.Errorf("consume %q token: %w", purpose, err)
	}
	return x, nil
}

func (s *Store) DeleteUserTokens(ctx context.Context, userID, purpose string) error {
	if _, err := s.writer(ctx).ExecContext(ctx,
		`DELETE FROM one_time_tokens WHERE user_id = ? AND purpose = ?`, userID, purpose); err != nil {
		return fmt.Errorf("delete %q tokens of user %q: %w", purpose, userID, mapErr(err))
	}
	return nil
}

const eventCols = `id, user_id, type, ip, user_agent, detail, created_at`

func scanEvent(row interface{ Scan(...any) error }) (*provider.SecurityEvent, error) {
	var (
		e      provider.SecurityEvent
		detail string
	)
	if err := row.Scan(&e.ID, &e.UserID, &e.Type, &e.IP, &e.UserAgent, &detail,
		database.ScanMillis(&e.CreatedAt)); err != nil {
		return nil, mapErr(err)
	}
	var err error
	if e.Detail, err = decodeDetail(detail); err != nil {
		return nil, err
	}
	return &e, nil
}

func (s *Store) AddEvent(ctx context.Context, e *provider.SecurityEvent) error {
	_, err := s.writer(ctx).ExecContext(ctx, `INSERT INTO security_events (`+eventCols+`)
		VALUES (?, ?, ?, ?, ?, ?, ?)`,
		e.ID, e.UserID, e.Type, e.IP, e.UserAgent, encodeDetail(e.Detail), database.Millis(e.CreatedAt))
	if err != nil {
		return fmt.Errorf("add %q event of user %q: %w", e.Type, e.UserID, mapErr(err))
	}
	return nil
}

func (s *Store) ListEvents(ctx context.Context, userID string, limit int) ([]*provider.SecurityEvent, error) {
	if limit < 1 { // SQLite would read LIMIT -1 as "no limit"
		return nil, nil
	}
	rows, err := s.reader(ctx).QueryContext(ctx, `SELECT `+eventCols+` FROM security_events
		WHERE user_id = ? ORDER BY created_at DESC, id DESC LIMIT ?`, userID, limit)
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
func encodeDetail(m map[string]string) string {
	if len(m) == 0 {
		return "{}"
	}
	b, _ := json.Marshal(m) // map[string]string always marshals
	return string(b)
}

// decodeDetail returns nil for an empty object, as both backends do.
func decodeDetail(raw string) (map[string]string, error) {
	var m map[string]string
	if err := json.Unmarshal([]byte(raw), &m); err != nil {
		return nil, fmt.Errorf("event detail: %w", err)
	}
	if len(m) == 0 {
		return nil, nil
	}
	return m, nil
}

const totpCols = `user_id, secret_enc, enabled, last_step, recovery_hashes, created_at, enabled_at`

func (s *Store) GetTOTP(ctx context.Context, userID string) (*provider.TOTP, error) {
	var (
		x         provider.TOTP
		enabledAt sql.NullInt64
	)
	err := s.reader(ctx).QueryRowContext(ctx, `SELECT `+totpCols+` FROM totp WHERE user_id = ?`, userID).Scan(
		&x.UserID, &x.SecretEnc, &x.Enabled, &x.LastStep, listScanner{&x.RecoveryHashes},
		database.ScanMillis(&x.CreatedAt), &enabledAt)
	if err != nil {
		return nil, fmt.Errorf("get totp of user %q: %w", userID, mapErr(err))
	}
	x.SecretEnc, x.EnabledAt = nilIfEmpty(x.SecretEnc), database.FromMillisPtr(enabledAt)
	return &x, nil
}

func (s *Store) PutTOTP(ctx context.Context, x *provider.TOTP) error {
	_, err := s.writer(ctx).ExecContext(ctx, `INSERT INTO totp (`+totpCols+`)
		VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (user_id) DO UPDATE SET secret_enc = excluded.secret_enc,
			enabled = excluded.enabled, last_step = excluded.last_step,
			recovery_hashes = excluded.recovery_hashes, created_at = excluded.created_at,
			enabled_at = excluded.enabled_at`,
		x.UserID, blob(x.SecretEnc), x.Enabled, x.LastStep, jsonList(x.RecoveryHashes),
		database.Millis(x.CreatedAt), database.MillisPtr(x.EnabledAt))
	if err != nil {
		return fmt.Errorf("put totp of user %q: %w", x.UserID, mapErr(err))
	}
	return nil
}

func (s *Store) DeleteTOTP(ctx context.Context, userID string) error {
	res, err := s.writer(ctx).ExecContext(ctx, `DELETE FROM totp WHERE user_id = ?`, userID)
	return affected(fmt.Sprintf("delete totp of user %q", userID), res, err)
}

// AdvanceTOTPStep is one conditional UPDATE; writers are serialised, so of
// two concurrent calls for one step the second matches nothing. Only that
// path pays a second query, to tell a replay from a missing enrolment.
func (s *Store) AdvanceTOTPStep(ctx context.Context, userID string, step int64) error {
	res, err := s.writer(ctx).ExecContext(ctx,
		`UPDATE totp SET last_step = ? WHERE user_id = ? AND last_step < ?`, step, userID, step)
	err = affected("", res, err)
	if err == nil {
		return nil
	}
	if !errors.Is(err, provider.ErrNotFound) {
		return fmt.Errorf("advance totp step of user %q: %w", userID, err)
	}
	var exists bool
	if err := s.reader(ctx).QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM totp WHERE user_id = ?)`,
		userID).Scan(&exists); err != nil {
		return fmt.Errorf("advance totp step of user %q: %w", userID, mapErr(err))
	}
	if !exists {
		return fmt.Errorf("advance totp step of user %q: %w", userID, provider.ErrNotFound)
	}
	return fmt.Errorf("advance totp step of user %q: step already used: %w", userID, provider.ErrConflict)
}

// UseRecoveryCode reads, edits and writes the list in one immediate
// transaction (or the caller's): it holds the write lock from the read on,
// so a concurrent use of the same code, in this process or another, sees
// the list without it.
func (s *Store) UseRecoveryCode(ctx context.Context, userID, hash string) error {
	err := s.inTx(ctx, func(q database.SQLQuerier) error {
		var hashes []string
		err := q.QueryRowContext(ctx, `SELECT recovery_hashes FROM totp WHERE user_id = ?`, userID).
			Scan(listScanner{&hashes})
		if err != nil {
			return mapErr(err)
		}
		rest := slices.DeleteFunc(slices.Clone(hashes), func(h string) bool { return h == hash })
		if len(rest) == len(hashes) {
			return provider.ErrNotFound
		}
		_, err = q.ExecContext(ctx, `UPDATE totp SET recovery_hashes = ? WHERE user_id = ?`,
			jsonList(rest), userID)
		return mapErr(err)
	})
	if err != nil {
		return fmt.Errorf("use recovery code of user %q: %w", userID, err)
	}
	return nil
}

func (s *Store) DeleteUserSessions(ctx context.Context, userID, exceptID string) ([]string, error) {
	rows, err := s.writer(ctx).QueryContext(ctx,
		`DELETE FROM sessions WHERE user_id = ? AND id <> ? RETURNING id`, userID, exceptID)
	if err != nil {
		return nil, fmt.Errorf("delete sessions of user %q: %w", userID, mapErr(err))
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("delete sessions of user %q: %w", userID, mapErr(err))
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("delete sessions of user %q: %w", userID, mapErr(err))
	}
	slices.Sort(ids)
	return ids, nil
}
