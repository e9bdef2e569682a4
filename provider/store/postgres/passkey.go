package postgres

// issue 15 (passkeys): WebAuthn credentials and ceremony challenges.

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/manacore/mana-core-auth/internal/database"
	"github.com/manacore/mana-core-auth/provider"
)

const passkeyCols = `id, user_id, credential_id, public_key, attestation_type, aaguid, transports, sign_count,
	backup_eligible, backup_state, name, created_at, last_used_at`

func scanPasskey(row pgx.Row) (*provider.Passkey, error) {
	var (
		p     provider.Passkey
		count int64
	)
	if err := row.Scan(&p.ID, &p.UserID, &p.CredentialID, &p.PublicKey, &p.AttestationType, &p.AAGUID, &p.Transports,
		&count, &p.BackupEligible, &p.BackupState, &p.Name, &p.CreatedAt, &p.LastUsedAt); err != nil {
		return nil, mapErr(err)
	}
	p.SignCount = uint32(count)
	p.AAGUID, p.Transports = nilIfEmpty(p.AAGUID), nilIfEmpty(p.Transports)
	p.CreatedAt, p.LastUsedAt = p.CreatedAt.UTC(), database.UTCPtr(p.LastUsedAt)
	return &p, nil
}

func (s *Store) CreatePasskey(ctx context.Context, p *provider.Passkey) error {
	// ON CONFLICT DO NOTHING rather than a unique violation: inside the
	// caller's transaction a failed statement would abort it.
	tag, err := s.db(ctx).Exec(ctx, `INSERT INTO auth.passkeys (`+passkeyCols+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) ON CONFLICT DO NOTHING`,
		p.ID, p.UserID, blob(p.CredentialID), blob(p.PublicKey), p.AttestationType, blob(p.AAGUID), list(p.Transports),
		int64(p.SignCount), p.BackupEligible, p.BackupState, p.Name, database.PGTime(p.CreatedAt), database.PGTimePtr(p.LastUsedAt))
	return inserted(fmt.Sprintf("create passkey %q of user %q", p.ID, p.UserID), tag, err)
}

func (s *Store) ListPasskeys(ctx context.Context, userID string) ([]*provider.Passkey, error) {
	rows, err := s.db(ctx).Query(ctx, `SELECT `+passkeyCols+` FROM auth.passkeys
		WHERE user_id = $1 ORDER BY created_at, id`, userID)
	if err != nil {
		return nil, fmt.Errorf("list passkeys of user %q: %w", userID, mapErr(err))
	}
	out, err := collect(rows, scanPasskey)
	if err != nil {
		return nil, fmt.Errorf("list passkeys of user %q: %w", userID, err)
	}
	return out, nil
}

func (s *Store) PasskeyByCredentialID(ctx context.Context, credentialID []byte) (*provider.Passkey, error) {
	p, err := scanPasskey(s.db(ctx).QueryRow(ctx, `SELECT `+passkeyCols+` FROM auth.passkeys
		WHERE credential_id = $1`, blob(credentialID)))
	if err != nil {
		return nil, fmt.Errorf("get passkey by credential id: %w", err)
	}
	return p, nil
}

// UsePasskey is one conditional UPDATE: of two concurrent assertions with
// the same old count the second waits on the row lock, then matches
// nothing. Only that path pays a second query, to tell a lost race from a
// missing passkey.
func (s *Store) UsePasskey(ctx context.Context, id string, oldCount, newCount uint32, backupState bool, at time.Time) error {
	db := s.db(ctx)
	tag, err := db.Exec(ctx, `UPDATE auth.passkeys SET sign_count = $3, backup_state = $4, last_used_at = $5
		WHERE id = $1 AND sign_count = $2`, id, int64(oldCount), int64(newCount), backupState, database.PGTime(at))
	if err != nil {
		return fmt.Errorf("use passkey %q: %w", id, mapErr(err))
	}
	if tag.RowsAffected() == 1 {
		return nil
	}
	var one int
	err = db.QueryRow(ctx, `SELECT 1 FROM auth.passkeys WHERE id = $1`, id).Scan(&one)
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("use passkey %q: %w", id, provider.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("use passkey %q: %w", id, mapErr(err))
	}
	return fmt.Errorf("use passkey %q: sign count changed: %w", id, provider.ErrConflict)
}

func (s *Store) RenamePasskey(ctx context.Context, userID, id, name string) error {
	tag, err := s.db(ctx).Exec(ctx, `UPDATE auth.passkeys SET name = $3 WHERE user_id = $1 AND id = $2`, userID, id, name)
	return affected(fmt.Sprintf("rename passkey %q of user %q", id, userID), tag, err)
}

func (s *Store) DeletePasskey(ctx context.Context, userID, id string) error {
	tag, err := s.db(ctx).Exec(ctx, `DELETE FROM auth.passkeys WHERE user_id = $1 AND id = $2`, userID, id)
	return affected(fmt.Sprintf("delete passkey %q of user %q", id, userID), tag, err)
}

const challengeCols = `id, kind, user_id, data, expires_at`

func (s *Store) PutChallenge(ctx context.Context, c *provider.WebAuthnChallenge) error {
	tag, err := s.db(ctx).Exec(ctx, `INSERT INTO auth.webauthn_challenges (`+challengeCols+`)
		VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING`,
		c.ID, c.Kind, c.UserID, blob(c.Data), database.PGTime(c.ExpiresAt))
	return inserted(fmt.Sprintf("put %q challenge", c.Kind), tag, err)
}

// TakeChallenge is one DELETE … RETURNING: of concurrent takers the first
// deletes the row and the others, after waiting on its lock, match nothing.
func (s *Store) TakeChallenge(ctx context.Context, id, kind string, now time.Time) (*provider.WebAuthnChallenge, error) {
	var c provider.WebAuthnChallenge
	err := s.db(ctx).QueryRow(ctx, `DELETE FROM auth.webauthn_challenges
		WHERE id = $1 AND kind = $2 AND expires_at > $3 RETURNING `+challengeCols, id, kind, database.PGTime(now)).
		Scan(&c.ID, &c.Kind, &c.UserID, &c.Data, &c.ExpiresAt)
	if err != nil {
		return nil, fmt.Errorf("take %q challenge: %w", kind, mapErr(err))
	}
	c.ExpiresAt = c.ExpiresAt.UTC()
	return &c, nil
}
