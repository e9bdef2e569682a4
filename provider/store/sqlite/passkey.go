package sqlite

// issue 15 (passkeys): WebAuthn credentials and ceremony challenges.

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/manacore/mana-core-auth/internal/database"
	"github.com/manacore/mana-core-auth/provider"
)

const passkeyCols = `id, user_id, credential_id, public_key, attestation_type, aaguid, transports, sign_count,
	backup_eligible, backup_state, name, created_at, last_used_at`

func scanPasskey(row interface{ Scan(...any) error }) (*provider.Passkey, error) {
	var (
		p     provider.Passkey
		count int64
		used  sql.NullInt64
	)
	if err := row.Scan(&p.ID, &p.UserID, &p.CredentialID, &p.PublicKey, &p.AttestationType, &p.AAGUID,
		listScanner{&p.Transports}, &count, &p.BackupEligible, &p.BackupState, &p.Name,
		database.ScanMillis(&p.CreatedAt), &used); err != nil {
		return nil, mapErr(err)
	}
	p.SignCount = uint32(count)
	p.CredentialID, p.PublicKey, p.AAGUID = nilIfEmpty(p.CredentialID), nilIfEmpty(p.PublicKey), nilIfEmpty(p.AAGUID)
	p.LastUsedAt = database.FromMillisPtr(used)
	return &p, nil
}

func (s *Store) CreatePasskey(ctx context.Context, p *provider.Passkey) error {
	_, err := s.writer(ctx).ExecContext(ctx, `INSERT INTO passkeys (`+passkeyCols+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		p.ID, p.UserID, blob(p.CredentialID), blob(p.PublicKey), p.AttestationType, blob(p.AAGUID), jsonList(p.Transports),
		int64(p.SignCount), p.BackupEligible, p.BackupState, p.Name, database.Millis(p.CreatedAt), database.MillisPtr(p.LastUsedAt))
	if err != nil {
		return fmt.Errorf("create passkey %q of user %q: %w", p.ID, p.UserID, mapErr(err))
	}
	return nil
}

func (s *Store) ListPasskeys(ctx context.Context, userID string) ([]*provider.Passkey, error) {
	rows, err := s.reader(ctx).QueryContext(ctx, `SELECT `+passkeyCols+` FROM passkeys
		WHERE user_id = ? ORDER BY created_at, id`, userID)
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
	p, err := scanPasskey(s.reader(ctx).QueryRowContext(ctx, `SELECT `+passkeyCols+` FROM passkeys
		WHERE credential_id = ?`, blob(credentialID)))
	if err != nil {
		return nil, fmt.Errorf("get passkey by credential id: %w", err)
	}
	return p, nil
}

// UsePasskey is one conditional UPDATE; writers are serialised, so of two
// concurrent assertions with the same old count the second matches
// nothing. Only that path pays a second query, to tell a lost race from a
// missing passkey.
func (s *Store) UsePasskey(ctx context.Context, id string, oldCount, newCount uint32, backupState bool, at time.Time) error {
	res, err := s.writer(ctx).ExecContext(ctx, `UPDATE passkeys SET sign_count = ?, backup_state = ?, last_used_at = ?
		WHERE id = ? AND sign_count = ?`, int64(newCount), backupState, database.Millis(at), id, int64(oldCount))
	err = affected("", res, err)
	if err == nil {
		return nil
	}
	if !errors.Is(err, provider.ErrNotFound) {
		return fmt.Errorf("use passkey %q: %w", id, err)
	}
	var exists bool
	if err := s.reader(ctx).QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM passkeys WHERE id = ?)`, id).
		Scan(&exists); err != nil {
		return fmt.Errorf("use passkey %q: %w", id, mapErr(err))
	}
	if !exists {
		return fmt.Errorf("use passkey %q: %w", id, provider.ErrNotFound)
	}
	return fmt.Errorf("use passkey %q: sign count changed: %w", id, provider.ErrConflict)
}

func (s *Store) RenamePasskey(ctx context.Context, userID, id, name string) error {
	res, err := s.writer(ctx).ExecContext(ctx, `UPDATE passkeys SET name = ? WHERE user_id = ? AND id = ?`, name, userID, id)
	return affected(fmt.Sprintf("rename passkey %q of user %q", id, userID), res, err)
}

func (s *Store) DeletePasskey(ctx context.Context, userID, id string) error {
	res, err := s.writer(ctx).ExecContext(ctx, `DELETE FROM passkeys WHERE user_id = ? AND id = ?`, userID, id)
	return affected(fmt.Sprintf("delete passkey %q of user %q", id, userID), res, err)
}

const challengeCols = `id, kind, user_id, data, expires_at`

func (s *Store) PutChallenge(ctx context.Context, c *provider.WebAuthnChallenge) error {
	_, err := s.writer(ctx).ExecContext(ctx, `INSERT INTO webauthn_challenges (`+challengeCols+`)
		VALUES (?, ?, ?, ?, ?)`, c.ID, c.Kind, c.UserID, blob(c.Data), database.Millis(c.ExpiresAt))
	if err != nil {
		return fmt.Errorf("put %q challenge: %w", c.Kind, mapErr(err))
	}
	return nil
}

// TakeChallenge is one DELETE … RETURNING on the single write connection,
// so of concurrent takers the first deletes the row and the others match
// nothing.
func (s *Store) TakeChallenge(ctx context.Context, id, kind string, now time.Time) (*provider.WebAuthnChallenge, error) {
	var c provider.WebAuthnChallenge
	err := s.writer(ctx).QueryRowContext(ctx, `DELETE FROM webauthn_challenges
		WHERE id = ? AND kind = ? AND expires_at > ? RETURNING `+challengeCols, id, kind, database.Millis(now)).
		Scan(&c.ID, &c.Kind, &c.UserID, &c.Data, database.ScanMillis(&c.ExpiresAt))
	if err != nil {
		return nil, fmt.Errorf("take %q challenge: %w", kind, mapErr(err))
	}
	return &c, nil
}
