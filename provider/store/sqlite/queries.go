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

// Secrets stay out of error messages: session ids and grant or grace
// signatures are bearer credentials (or hashes of them), so only user,
// client and key ids are quoted.

const userCols = `id, email, email_verified, name, role, password_hash, disabled, created_at, updated_at, deleted_at, picture`

func scanUser(row interface{ Scan(...any) error }) (*provider.User, error) {
	var u provider.User
	var deleted sql.NullInt64
	if err := row.Scan(&u.ID, &u.Email, &u.EmailVerified, &u.Name, &u.Role, &u.PasswordHash, &u.Disabled,
		database.ScanMillis(&u.CreatedAt), database.ScanMillis(&u.UpdatedAt), &deleted, &u.Picture); err != nil {
		return nil, mapErr(err)
	}
	u.DeletedAt = database.FromMillisPtr(deleted)
	return &u, nil
}

// CreateUser inserts u with its email lower-cased (u itself is not changed).
func (s *Store) CreateUser(ctx context.Context, u *provider.User) error {
	_, err := s.writer(ctx).ExecContext(ctx, `INSERT INTO users (`+userCols+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		u.ID, strings.ToLower(u.Email), u.EmailVerified, u.Name, u.Role, u.PasswordHash, u.Disabled,
		database.Millis(u.CreatedAt), database.Millis(u.UpdatedAt), database.MillisPtr(u.DeletedAt), u.Picture)
	if err != nil {
		return fmt.Errorf("create user %q: %w", u.ID, mapErr(err))
	}
	return nil
}

func (s *Store) GetUser(ctx context.Context, id string) (*provider.User, error) {
	u, err := scanUser(s.reader(ctx).QueryRowContext(ctx,
		`SELECT `+userCols+` FROM users WHERE id = ?`, id))
	if err != nil {
		return nil, fmt.Errorf("get user %q: %w", id, err)
	}
	return u, nil
}

// GetUserByEmail compares Go-lower-cased input against lower(email): the
// stored value is already Go-lower-cased, and the expression matches the
// unique index so the lookup uses it.
func (s *Store) GetUserByEmail(ctx context.Context, email string) (*provider.User, error) {
	u, err := scanUser(s.reader(ctx).QueryRowContext(ctx,
		`SELECT `+userCols+` FROM users WHERE lower(email) = lower(?)`, strings.ToLower(email)))
	if err != nil {
		return nil, fmt.Errorf("get user by email: %w", err)
	}
	return u, nil
}

// UpdateUser overwrites the mutable fields; the email is lower-cased.
func (s *Store) UpdateUser(ctx context.Context, u *provider.User) error {
	res, err := s.writer(ctx).ExecContext(ctx, `UPDATE users
		SET email = ?, email_verified = ?, name = ?, role = ?, password_hash = ?, disabled = ?, updated_at = ?, picture = ?
		WHERE id = ?`,
		strings.ToLower(u.Email), u.EmailVerified, u.Name, u.Role, u.PasswordHash, u.Disabled, database.Millis(u.UpdatedAt), u.Picture, u.ID)
	return affected(fmt.Sprintf("update user %q", u.ID), res, err)
}

func (s *Store) CountUsers(ctx context.Context) (int, error) {
	var n int
	if err := s.reader(ctx).QueryRowContext(ctx, `SELECT count(*) FROM users`).Scan(&n); err != nil {
		return 0, fmt.Errorf("count users: %w", mapErr(err))
	}
	return n, nil
}

const clientCols = `id, name, secret_hash, public, redirect_uris, post_logout_redirect_uris,
	grant_types, response_types, scopes, audience, trusted, logo_uri, backchannel_logout_uri,
	id_token_alg, created_at, disabled`

func scanClient(row interface{ Scan(...any) error }) (*provider.Client, error) {
	var c provider.Client
	if err := row.Scan(&c.ID, &c.Name, &c.SecretHash, &c.Public, listScanner{&c.RedirectURIs},
		listScanner{&c.PostLogoutRedirectURIs}, listScanner{&c.GrantTypes},
		listScanner{&c.ResponseTypes}, listScanner{&c.Scopes}, listScanner{&c.Audience},
		&c.Trusted, &c.LogoURI, &c.BackchannelLogoutURI, &c.IDTokenAlg,
		database.ScanMillis(&c.CreatedAt), &c.Disabled); err != nil {
		return nil, mapErr(err)
	}
	return &c, nil
}

func (s *Store) CreateClient(ctx context.Context, c *provider.Client) error {
	_, err := s.writer(ctx).ExecContext(ctx, `INSERT INTO clients (`+clientCols+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		c.ID, c.Name, c.SecretHash, c.Public, jsonList(c.RedirectURIs),
		jsonList(c.PostLogoutRedirectURIs), jsonList(c.GrantTypes), jsonList(c.ResponseTypes),
		jsonList(c.Scopes), jsonList(c.Audience), c.Trusted, c.LogoURI, c.BackchannelLogoutURI,
		c.IDTokenAlg, database.Millis(c.CreatedAt), c.Disabled)
	if err != nil {
		return fmt.Errorf("create client %q: %w", c.ID, mapErr(err))
	}
	return nil
}

func (s *Store) GetClient(ctx context.Context, id string) (*provider.Client, error) {
	c, err := scanClient(s.reader(ctx).QueryRowContext(ctx,
		`SELECT `+clientCols+` FROM clients WHERE id = ?`, id))
	if err != nil {
		return nil, fmt.Errorf("get client %q: %w", id, err)
	}
	return c, nil
}

func (s *Store) ListClients(ctx context.Context) ([]*provider.Client, error) {
	rows, err := s.reader(ctx).QueryContext(ctx, `SELECT `+clientCols+` FROM clients ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("list clients: %w", mapErr(err))
	}
	out, err := collect(rows, scanClient)
	if err != nil {
		return nil, fmt.Errorf("list clients: %w", err)
	}
	return out, nil
}

// DeleteClient deletes the client row first so that an unknown id fails
// before anything else is touched, then its grants, their grace entries and
// its consents, all in one transaction.
func (s *Store) DeleteClient(ctx context.Context, id string) error {
	err := s.inTx(ctx, func(q database.SQLQuerier) error {
		res, err := q.ExecContext(ctx, `DELETE FROM clients WHERE id = ?`, id)
		if err := affected("", res, err); err != nil {
			return err
		}
		for _, stmt := range []string{
			`DELETE FROM grant_grace WHERE signature IN (SELECT signature FROM grants WHERE client_id = ?)`,
			`DELETE FROM grants WHERE client_id = ?`,
			`DELETE FROM consents WHERE client_id = ?`,
		} {
			if _, err := q.ExecContext(ctx, stmt, id); err != nil {
				return mapErr(err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("delete client %q: %w", id, err)
	}
	return nil
}

const sessionCols = `id, user_id, created_at, last_seen_at, expires_at, auth_time, ip,
	user_agent, device_id, device_name, auth_methods, remember_me`

func scanSession(row interface{ Scan(...any) error }) (*provider.Session, error) {
	var x provider.Session
	if err := row.Scan(&x.ID, &x.UserID, database.ScanMillis(&x.CreatedAt), database.ScanMillis(&x.LastSeenAt),
		database.ScanMillis(&x.ExpiresAt), database.ScanMillis(&x.AuthTime), &x.IP, &x.UserAgent, &x.DeviceID,
		&x.DeviceName, listScanner{&x.AuthMethods}, &x.RememberMe); err != nil {
		return nil, mapErr(err)
	}
	return &x, nil
}

func (s *Store) CreateSession(ctx context.Context, x *provider.Session) error {
	_, err := s.writer(ctx).ExecContext(ctx, `INSERT INTO sessions (`+sessionCols+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		x.ID, x.UserID, database.Millis(x.CreatedAt), database.Millis(x.LastSeenAt), database.Millis(x.ExpiresAt), database.Millis(x.AuthTime),
		x.IP, x.UserAgent, x.DeviceID, x.DeviceName, jsonList(x.AuthMethods), x.RememberMe)
	if err != nil {
		return fmt.Errorf("create session of user %q: %w", x.UserID, mapErr(err))
	}
	return nil
}

func (s *Store) GetSession(ctx context.Context, id string, now time.Time) (*provider.Session, error) {
	x, err := scanSession(s.reader(ctx).QueryRowContext(ctx,
		`SELECT `+sessionCols+` FROM sessions WHERE id = ? AND expires_at > ?`, id, database.Millis(now)))
	if err != nil {
		return nil, fmt.Errorf("get session: %w", err)
	}
	return x, nil
}

// TouchSession returns ErrNotFound for an unknown id.
func (s *Store) TouchSession(ctx context.Context, id string, lastSeen, expires time.Time) error {
	res, err := s.writer(ctx).ExecContext(ctx,
		`UPDATE sessions SET last_seen_at = ?, expires_at = ? WHERE id = ?`,
		database.Millis(lastSeen), database.Millis(expires), id)
	return affected("touch session", res, err)
}

// UpdateSessionAuth returns ErrNotFound for an unknown id.
func (s *Store) UpdateSessionAuth(ctx context.Context, id string, authTime time.Time, methods []string) error {
	res, err := s.writer(ctx).ExecContext(ctx,
		`UPDATE sessions SET auth_time = ?, auth_methods = ? WHERE id = ?`,
		database.Millis(authTime), jsonList(methods), id)
	return affected("update session auth", res, err)
}

func (s *Store) DeleteSession(ctx context.Context, id string) error {
	res, err := s.writer(ctx).ExecContext(ctx, `DELETE FROM sessions WHERE id = ?`, id)
	return affected("delete session", res, err)
}

// LockSession reports whether the session row exists, expired or not.
// The caller's transaction holds SQLite's one writer, so nothing can end
// the session until it commits.
func (s *Store) LockSession(ctx context.Context, id string) error {
	var one int
	err := s.writer(ctx).QueryRowContext(ctx, `SELECT 1 FROM sessions WHERE id = ?`, id).Scan(&one)
	if err != nil {
		return fmt.Errorf("lock session: %w", mapErr(err))
	}
	return nil
}

func (s *Store) ListSessions(ctx context.Context, userID string, now time.Time) ([]*provider.Session, error) {
	rows, err := s.reader(ctx).QueryContext(ctx, `SELECT `+sessionCols+` FROM sessions
		WHERE user_id = ? AND expires_at > ? ORDER BY created_at DESC, id DESC`, userID, database.Millis(now))
	if err != nil {
		return nil, fmt.Errorf("list sessions of user %q: %w", userID, mapErr(err))
	}
	out, err := collect(rows, scanSession)
	if err != nil {
		return nil, fmt.Errorf("list sessions of user %q: %w", userID, err)
	}
	return out, nil
}

const keyCols = `id, alg, public_jwk, private_enc, created_at, active_at, retired_at, expires_at`

func scanKey(row interface{ Scan(...any) error }) (*provider.Key, error) {
	var (
		k                  provider.Key
		retired, expiresAt sql.NullInt64
	)
	if err := row.Scan(&k.ID, &k.Alg, &k.PublicJWK, &k.PrivateEnc, database.ScanMillis(&k.CreatedAt),
		database.ScanMillis(&k.ActiveAt), &retired, &expiresAt); err != nil {
		return nil, mapErr(err)
	}
	k.PublicJWK, k.PrivateEnc = nilIfEmpty(k.PublicJWK), nilIfEmpty(k.PrivateEnc)
	k.RetiredAt, k.ExpiresAt = database.FromMillisPtr(retired), database.FromMillisPtr(expiresAt)
	return &k, nil
}

// InsertKey returns ErrAlreadyExists when the kid is taken.
func (s *Store) InsertKey(ctx context.Context, k *provider.Key) error {
	_, err := s.writer(ctx).ExecContext(ctx, `INSERT INTO keys (`+keyCols+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		k.ID, k.Alg, blob(k.PublicJWK), blob(k.PrivateEnc), database.Millis(k.CreatedAt), database.Millis(k.ActiveAt),
		database.MillisPtr(k.RetiredAt), database.MillisPtr(k.ExpiresAt))
	if err != nil {
		return fmt.Errorf("insert key %q: %w", k.ID, mapErr(err))
	}
	return nil
}

// InsertKeyIfDue runs in one immediate transaction, which the write lock
// serialises against every other writer of the file.
func (s *Store) InsertKeyIfDue(ctx context.Context, k *provider.Key, since time.Time) (bool, error) {
	var done bool
	err := s.inTx(ctx, func(q database.SQLQuerier) error {
		var newer bool
		if err := q.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM keys WHERE alg = ? AND created_at > ?)`,
			k.Alg, database.Millis(since)).Scan(&newer); err != nil {
			return mapErr(err)
		}
		if newer {
			return nil
		}
		if _, err := q.ExecContext(ctx, `INSERT INTO keys (`+keyCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			k.ID, k.Alg, blob(k.PublicJWK), blob(k.PrivateEnc), database.Millis(k.CreatedAt), database.Millis(k.ActiveAt),
			database.MillisPtr(k.RetiredAt), database.MillisPtr(k.ExpiresAt)); err != nil {
			return mapErr(err)
		}
		done = true
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("insert key %q if due: %w", k.ID, err)
	}
	return done, nil
}

func (s *Store) ListKeys(ctx context.Context) ([]*provider.Key, error) {
	rows, err := s.reader(ctx).QueryContext(ctx, `SELECT `+keyCols+` FROM keys ORDER BY created_at, id`)
	if err != nil {
		return nil, fmt.Errorf("list keys: %w", mapErr(err))
	}
	out, err := collect(rows, scanKey)
	if err != nil {
		return nil, fmt.Errorf("list keys: %w", err)
	}
	return out, nil
}

func (s *Store) UpdateKeyTimes(ctx context.Context, id string, retiredAt, expiresAt *time.Time) error {
	res, err := s.writer(ctx).ExecContext(ctx,
		`UPDATE keys SET retired_at = ?, expires_at = ? WHERE id = ?`,
		database.MillisPtr(retiredAt), database.MillisPtr(expiresAt), id)
	return affected(fmt.Sprintf("update key %q", id), res, err)
}

func (s *Store) DeleteKey(ctx context.Context, id string) error {
	res, err := s.writer(ctx).ExecContext(ctx, `DELETE FROM keys WHERE id = ?`, id)
	return affected(fmt.Sprintf("delete key %q", id), res, err)
}

func (s *Store) GetConsent(ctx context.Context, userID, clientID string) (*provider.Consent, error) {
	c := provider.Consent{UserID: userID, ClientID: clientID}
	err := s.reader(ctx).QueryRowContext(ctx, `SELECT scopes, granted_at FROM consents
		WHERE user_id = ? AND client_id = ?`, userID, clientID).Scan(
		listScanner{&c.Scopes}, database.ScanMillis(&c.GrantedAt))
	if err != nil {
		return nil, fmt.Errorf("get consent of user %q for client %q: %w", userID, clientID, mapErr(err))
	}
	return &c, nil
}

func (s *Store) SaveConsent(ctx context.Context, c *provider.Consent) error {
	_, err := s.writer(ctx).ExecContext(ctx, `INSERT INTO consents (user_id, client_id, scopes, granted_at)
		VALUES (?, ?, ?, ?)
		ON CONFLICT (user_id, client_id) DO UPDATE SET scopes = excluded.scopes, granted_at = excluded.granted_at`,
		c.UserID, c.ClientID, jsonList(c.Scopes), database.Millis(c.GrantedAt))
	if err != nil {
		return fmt.Errorf("save consent of user %q for client %q: %w", c.UserID, c.ClientID, mapErr(err))
	}
	return nil
}

func (s *Store) DeleteConsent(ctx context.Context, userID, clientID string) error {
	res, err := s.writer(ctx).ExecContext(ctx,
		`DELETE FROM consents WHERE user_id = ? AND client_id = ?`, userID, clientID)
	return affected(fmt.Sprintf("delete consent of user %q for client %q", userID, clientID), res, err)
}

func (s *Store) CreateGrant(ctx context.Context, g *provider.Grant) error {
	_, err := s.writer(ctx).ExecContext(ctx, `INSERT INTO grants (kind, signature, request_id, client_id,
		subject, session_id, active, rotated_at, requested_at, expires_at, data, paired_signature)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		g.Kind, g.Signature, g.RequestID, g.ClientID, g.Subject, g.SessionID, g.Active,
		database.MillisPtr(g.RotatedAt), database.Millis(g.RequestedAt), database.Millis(g.ExpiresAt), blob(g.Data), g.PairedSignature)
	if err != nil {
		return fmt.Errorf("create %s grant: %w", g.Kind, mapErr(err))
	}
	return nil
}

func (s *Store) GetGrant(ctx context.Context, kind, signature string) (*provider.Grant, error) {
	g := provider.Grant{Kind: kind, Signature: signature}
	var rotated sql.NullInt64
	err := s.reader(ctx).QueryRowContext(ctx, `SELECT request_id, client_id, subject, session_id, active,
		rotated_at, requested_at, expires_at, data, paired_signature
		FROM grants WHERE kind = ? AND signature = ?`, kind, signature).Scan(
		&g.RequestID, &g.ClientID, &g.Subject, &g.SessionID, &g.Active, &rotated,
		database.ScanMillis(&g.RequestedAt), database.ScanMillis(&g.ExpiresAt), &g.Data, &g.PairedSignature)
	if err != nil {
		return nil, fmt.Errorf("get %s grant: %w", kind, mapErr(err))
	}
	g.RotatedAt, g.Data = database.FromMillisPtr(rotated), nilIfEmpty(g.Data)
	return &g, nil
}

func (s *Store) DeleteGrant(ctx context.Context, kind, signature string) error {
	res, err := s.writer(ctx).ExecContext(ctx,
		`DELETE FROM grants WHERE kind = ? AND signature = ?`, kind, signature)
	return affected("delete "+kind+" grant", res, err)
}

func (s *Store) DeactivateGrant(ctx context.Context, kind, signature string) error {
	res, err := s.writer(ctx).ExecContext(ctx,
		`UPDATE grants SET active = 0 WHERE kind = ? AND signature = ?`, kind, signature)
	return affected("deactivate "+kind+" grant", res, err)
}

// RotateGrant is one conditional UPDATE; writers are serialised, so of two
// concurrent rotations the second matches no active row. Only that losing
// path pays a second query, to tell a lost race from an unknown signature.
func (s *Store) RotateGrant(ctx context.Context, kind, signature string, at time.Time) (string, error) {
	var paired string
	err := s.writer(ctx).QueryRowContext(ctx, `UPDATE grants SET active = 0, rotated_at = ?
		WHERE kind = ? AND signature = ? AND active RETURNING paired_signature`, database.Millis(at), kind, signature).Scan(&paired)
	if err == nil {
		return paired, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("rotate %s grant: %w", kind, mapErr(err))
	}
	var exists bool
	if err := s.reader(ctx).QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM grants
		WHERE kind = ? AND signature = ?)`, kind, signature).Scan(&exists); err != nil {
		return "", fmt.Errorf("rotate %s grant: %w", kind, mapErr(err))
	}
	if !exists {
		return "", fmt.Errorf("rotate %s grant: %w", kind, provider.ErrNotFound)
	}
	return "", fmt.Errorf("rotate %s grant: no longer active: %w", kind, provider.ErrConflict)
}

// revoke deletes the grace entries of every grant matching where (including
// grants already inactive: a rotated refresh token is inactive and its grace
// entry is exactly what must stop working), then deactivates the active ones.
func (s *Store) revoke(ctx context.Context, withGrace bool, where string, args ...any) (int, error) {
	var n int64
	err := s.inTx(ctx, func(q database.SQLQuerier) error {
		if withGrace {
			if _, err := q.ExecContext(ctx,
				`DELETE FROM grant_grace WHERE signature IN (SELECT signature FROM grants WHERE `+where+`)`,
				args...); err != nil {
				return mapErr(err)
			}
		}
		res, err := q.ExecContext(ctx, `UPDATE grants SET active = 0 WHERE active AND `+where, args...)
		if err != nil {
			return mapErr(err)
		}
		n, err = res.RowsAffected()
		return err
	})
	return int(n), err
}

func (s *Store) RevokeRequest(ctx context.Context, kind, requestID string) error {
	// Only refresh tokens have grace entries; skipping the lookup for other
	// kinds keeps rotation cheap however long the family is.
	if _, err := s.revoke(ctx, kind == provider.KindRefreshToken, `kind = ? AND request_id = ?`, kind, requestID); err != nil {
		return fmt.Errorf("revoke %s grants of request: %w", kind, err)
	}
	return nil
}

// RevokeSession treats an empty id as matching nothing: grants without a
// browser session (client_credentials) store "" and must not be swept up.
func (s *Store) RevokeSession(ctx context.Context, sessionID string) (int, error) {
	if sessionID == "" {
		return 0, nil
	}
	n, err := s.revoke(ctx, true, `session_id = ?`, sessionID)
	if err != nil {
		return 0, fmt.Errorf("revoke grants of session: %w", err)
	}
	return n, nil
}

// RevokeSubject treats an empty subject as matching nothing, like RevokeSession.
func (s *Store) RevokeSubject(ctx context.Context, subject string) (int, error) {
	if subject == "" {
		return 0, nil
	}
	n, err := s.revoke(ctx, true, `subject = ?`, subject)
	if err != nil {
		return 0, fmt.Errorf("revoke grants of user %q: %w", subject, err)
	}
	return n, nil
}

func (s *Store) PutGrace(ctx context.Context, e *provider.GraceEntry) error {
	_, err := s.writer(ctx).ExecContext(ctx, `INSERT INTO grant_grace (signature, request_id, payload, expires_at)
		VALUES (?, ?, ?, ?)
		ON CONFLICT (signature) DO UPDATE SET request_id = excluded.request_id,
			payload = excluded.payload, expires_at = excluded.expires_at`,
		e.Signature, e.RequestID, blob(e.Payload), database.Millis(e.ExpiresAt))
	if err != nil {
		return fmt.Errorf("put grace entry: %w", mapErr(err))
	}
	return nil
}

func (s *Store) GetGrace(ctx context.Context, signature string, now time.Time) (*provider.GraceEntry, error) {
	e := provider.GraceEntry{Signature: signature}
	err := s.reader(ctx).QueryRowContext(ctx, `SELECT request_id, payload, expires_at FROM grant_grace
		WHERE signature = ? AND expires_at > ?`, signature, database.Millis(now)).Scan(
		&e.RequestID, &e.Payload, database.ScanMillis(&e.ExpiresAt))
	if err != nil {
		return nil, fmt.Errorf("get grace entry: %w", mapErr(err))
	}
	e.Payload = nilIfEmpty(e.Payload)
	return &e, nil
}

func (s *Store) DeleteExpired(ctx context.Context, before time.Time) (int, error) {
	var n int64
	err := s.inTx(ctx, func(q database.SQLQuerier) error {
		if _, err := q.ExecContext(ctx, `DELETE FROM grant_grace WHERE expires_at <= ?`, database.Millis(before)); err != nil {
			return mapErr(err)
		}
		if _, err := q.ExecContext(ctx, `DELETE FROM sessions WHERE expires_at <= ?`, database.Millis(before)); err != nil {
			return mapErr(err)
		}
		if _, err := q.ExecContext(ctx, `DELETE FROM one_time_tokens WHERE expires_at <= ?`, database.Millis(before)); err != nil {
			return mapErr(err)
		}
		if _, err := q.ExecContext(ctx, `DELETE FROM imported_refresh_tokens WHERE expires_at <= ?`, database.Millis(before)); err != nil {
			return mapErr(err)
		}
		// issue 15 (passkeys): ceremonies never finished.
		if _, err := q.ExecContext(ctx, `DELETE FROM webauthn_challenges WHERE expires_at <= ?`, database.Millis(before)); err != nil {
			return mapErr(err)
		}
		res, err := q.ExecContext(ctx, `DELETE FROM grants WHERE expires_at < ?`, database.Millis(before))
		if err != nil {
			return mapErr(err)
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("delete expired grants: %w", err)
	}
	return int(n), nil
}

// affected finishes a keyed UPDATE or DELETE: no row means ErrNotFound. An
// empty op leaves the wrapping to the caller.
func affected(op string, res sql.Result, err error) error {
	if err == nil {
		var n int64
		if n, err = res.RowsAffected(); err == nil && n == 0 {
			err = provider.ErrNotFound
		}
	}
	if err != nil && op != "" {
		return fmt.Errorf("%s: %w", op, mapErr(err))
	}
	return mapErr(err)
}

func collect[T any](rows *sql.Rows, scan func(interface{ Scan(...any) error }) (*T, error)) ([]*T, error) {
	defer rows.Close()
	var out []*T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, mapErr(err)
	}
	return out, nil
}

// Stats counts with one statement on a reader connection.
func (s *Store) Stats(ctx context.Context, now time.Time) (provider.Stats, error) {
	day, week, month := provider.StatsPeriods(now)
	var st provider.Stats
	err := s.reader(ctx).QueryRowContext(ctx, `SELECT
			count(*), coalesce(sum(email_verified), 0),
			coalesce(sum(created_at >= ?), 0), coalesce(sum(created_at >= ?), 0), coalesce(sum(created_at >= ?), 0),
			(SELECT count(*) FROM logout_jobs), (SELECT count(*) FROM mail_jobs),
			(SELECT count(*) FROM erasure_parts WHERE status = 'pending')
		FROM users WHERE deleted_at IS NULL`, database.Millis(day), database.Millis(week), database.Millis(month)).Scan(
		&st.Users, &st.VerifiedUsers, &st.CreatedToday, &st.CreatedThisWeek, &st.CreatedThisMonth,
		&st.LogoutJobs, &st.MailJobs, &st.ErasureParts)
	if err != nil {
		return provider.Stats{}, fmt.Errorf("stats: %w", mapErr(err))
	}
	return st, nil
}
