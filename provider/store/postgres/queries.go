package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/manacore/mana-core-auth/internal/database"
	"github.com/manacore/mana-core-auth/provider"
)

// Inserts use ON CONFLICT DO NOTHING and report a taken key from the row
// count. A unique violation raised as an error would abort a caller's whole
// transaction, where SQLite only aborts the statement; this keeps the two
// backends alike (a caller may catch ErrAlreadyExists and carry on) and
// costs nothing on the hot path.
//
// Secrets stay out of error messages: session ids and grant or grace
// signatures are bearer credentials (or hashes of them), so only user,
// client and key ids are quoted.

const userCols = `id, email, email_verified, name, role, password_hash, disabled, created_at, updated_at, deleted_at, picture`

func scanUser(row pgx.Row) (*provider.User, error) {
	var u provider.User
	if err := row.Scan(&u.ID, &u.Email, &u.EmailVerified, &u.Name, &u.Role,
		&u.PasswordHash, &u.Disabled, &u.CreatedAt, &u.UpdatedAt, &u.DeletedAt, &u.Picture); err != nil {
		return nil, mapErr(err)
	}
	u.CreatedAt, u.UpdatedAt, u.DeletedAt = u.CreatedAt.UTC(), u.UpdatedAt.UTC(), database.UTCPtr(u.DeletedAt)
	return &u, nil
}

// CreateUser inserts u with its email lower-cased (u itself is not changed).
func (s *Store) CreateUser(ctx context.Context, u *provider.User) error {
	tag, err := s.db(ctx).Exec(ctx, `INSERT INTO auth.users (`+userCols+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT DO NOTHING`,
		u.ID, strings.ToLower(u.Email), u.EmailVerified, u.Name, u.Role, u.PasswordHash, u.Disabled,
		database.PGTime(u.CreatedAt), database.PGTime(u.UpdatedAt), database.PGTimePtr(u.DeletedAt), u.Picture)
	return inserted(fmt.Sprintf("create user %q (id or email)", u.ID), tag, err)
}

func (s *Store) GetUser(ctx context.Context, id string) (*provider.User, error) {
	u, err := scanUser(s.db(ctx).QueryRow(ctx,
		`SELECT `+userCols+` FROM auth.users WHERE id = $1`, id))
	if err != nil {
		return nil, fmt.Errorf("get user %q: %w", id, err)
	}
	return u, nil
}

func (s *Store) GetUserByEmail(ctx context.Context, email string) (*provider.User, error) {
	u, err := scanUser(s.db(ctx).QueryRow(ctx,
		`SELECT `+userCols+` FROM auth.users WHERE lower(email) = lower($1)`,
		strings.ToLower(email)))
	if err != nil {
		return nil, fmt.Errorf("get user by email: %w", err)
	}
	return u, nil
}

// UpdateUser overwrites the mutable fields; the email is lower-cased.
//
// An UPDATE has no ON CONFLICT, so inside a caller's transaction it runs
// under a savepoint: a taken email then fails this call only, as on SQLite,
// instead of aborting the transaction. Outside one there is nothing to
// protect and no extra round trip.
func (s *Store) UpdateUser(ctx context.Context, u *provider.User) error {
	tx := s.pg.Tx(ctx)
	if tx == nil {
		return updateUser(ctx, s.pg.Pool(), u)
	}
	sp, err := tx.Begin(ctx)
	if err != nil {
		return fmt.Errorf("update user %q: %w", u.ID, mapErr(err))
	}
	if err := updateUser(ctx, sp, u); err != nil {
		_ = sp.Rollback(ctx)
		return err
	}
	if err := sp.Commit(ctx); err != nil {
		return fmt.Errorf("update user %q: %w", u.ID, mapErr(err))
	}
	return nil
}

func updateUser(ctx context.Context, db database.PGQuerier, u *provider.User) error {
	tag, err := db.Exec(ctx, `UPDATE auth.users
		SET email = $2, email_verified = $3, name = $4, role = $5, password_hash = $6, disabled = $7, updated_at = $8, picture = $9
		WHERE id = $1`,
		u.ID, strings.ToLower(u.Email), u.EmailVerified, u.Name, u.Role, u.PasswordHash, u.Disabled, database.PGTime(u.UpdatedAt), u.Picture)
	if err == nil && tag.RowsAffected() == 0 {
		err = provider.ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("update user %q: %w", u.ID, mapErr(err))
	}
	return nil
}

func (s *Store) CountUsers(ctx context.Context) (int, error) {
	var n int
	if err := s.db(ctx).QueryRow(ctx, `SELECT count(*) FROM auth.users`).Scan(&n); err != nil {
		return 0, fmt.Errorf("count users: %w", mapErr(err))
	}
	return n, nil
}

const clientCols = `id, name, secret_hash, public, redirect_uris, post_logout_redirect_uris,
	grant_types, response_types, scopes, audience, trusted, logo_uri, backchannel_logout_uri,
	id_token_alg, created_at, disabled`

func scanClient(row pgx.Row) (*provider.Client, error) {
	var c provider.Client
	if err := row.Scan(&c.ID, &c.Name, &c.SecretHash, &c.Public, &c.RedirectURIs,
		&c.PostLogoutRedirectURIs, &c.GrantTypes, &c.ResponseTypes, &c.Scopes, &c.Audience,
		&c.Trusted, &c.LogoURI, &c.BackchannelLogoutURI, &c.IDTokenAlg, &c.CreatedAt, &c.Disabled); err != nil {
		return nil, mapErr(err)
	}
	c.RedirectURIs = nilIfEmpty(c.RedirectURIs)
	c.PostLogoutRedirectURIs = nilIfEmpty(c.PostLogoutRedirectURIs)
	c.GrantTypes = nilIfEmpty(c.GrantTypes)
	c.ResponseTypes = nilIfEmpty(c.ResponseTypes)
	c.Scopes = nilIfEmpty(c.Scopes)
	c.Audience = nilIfEmpty(c.Audience)
	c.CreatedAt = c.CreatedAt.UTC()
	return &c, nil
}

func (s *Store) CreateClient(ctx context.Context, c *provider.Client) error {
	tag, err := s.db(ctx).Exec(ctx, `INSERT INTO auth.clients (`+clientCols+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)
		ON CONFLICT DO NOTHING`,
		c.ID, c.Name, c.SecretHash, c.Public, list(c.RedirectURIs), list(c.PostLogoutRedirectURIs),
		list(c.GrantTypes), list(c.ResponseTypes), list(c.Scopes), list(c.Audience), c.Trusted,
		c.LogoURI, c.BackchannelLogoutURI, c.IDTokenAlg, database.PGTime(c.CreatedAt), c.Disabled)
	return inserted(fmt.Sprintf("create client %q", c.ID), tag, err)
}

func (s *Store) GetClient(ctx context.Context, id string) (*provider.Client, error) {
	c, err := scanClient(s.db(ctx).QueryRow(ctx,
		`SELECT `+clientCols+` FROM auth.clients WHERE id = $1`, id))
	if err != nil {
		return nil, fmt.Errorf("get client %q: %w", id, err)
	}
	return c, nil
}

func (s *Store) ListClients(ctx context.Context) ([]*provider.Client, error) {
	rows, err := s.db(ctx).Query(ctx, `SELECT `+clientCols+` FROM auth.clients ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("list clients: %w", mapErr(err))
	}
	out, err := collect(rows, scanClient)
	if err != nil {
		return nil, fmt.Errorf("list clients: %w", err)
	}
	return out, nil
}

// DeleteClient removes the client, its grants (with their grace entries) and
// its consents in one statement. Everything keys off the deleted client row,
// so an unknown id deletes nothing.
func (s *Store) DeleteClient(ctx context.Context, id string) error {
	var n int
	err := s.db(ctx).QueryRow(ctx, `
		WITH c AS (DELETE FROM auth.clients WHERE id = $1 RETURNING id),
		g AS (DELETE FROM auth.grants WHERE client_id IN (SELECT id FROM c) RETURNING signature),
		gr AS (DELETE FROM auth.grant_grace WHERE signature IN (SELECT signature FROM g)),
		cs AS (DELETE FROM auth.consents WHERE client_id IN (SELECT id FROM c))
		SELECT count(*) FROM c`, id).Scan(&n)
	if err == nil && n == 0 {
		err = provider.ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("delete client %q: %w", id, mapErr(err))
	}
	return nil
}

const sessionCols = `id, user_id, created_at, last_seen_at, expires_at, auth_time, ip,
	user_agent, device_id, device_name, auth_methods, remember_me`

func scanSession(row pgx.Row) (*provider.Session, error) {
	var x provider.Session
	if err := row.Scan(&x.ID, &x.UserID, &x.CreatedAt, &x.LastSeenAt, &x.ExpiresAt, &x.AuthTime,
		&x.IP, &x.UserAgent, &x.DeviceID, &x.DeviceName, &x.AuthMethods, &x.RememberMe); err != nil {
		return nil, mapErr(err)
	}
	x.CreatedAt, x.LastSeenAt = x.CreatedAt.UTC(), x.LastSeenAt.UTC()
	x.ExpiresAt, x.AuthTime = x.ExpiresAt.UTC(), x.AuthTime.UTC()
	x.AuthMethods = nilIfEmpty(x.AuthMethods)
	return &x, nil
}

func (s *Store) CreateSession(ctx context.Context, x *provider.Session) error {
	tag, err := s.db(ctx).Exec(ctx, `INSERT INTO auth.sessions (`+sessionCols+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) ON CONFLICT DO NOTHING`,
		x.ID, x.UserID, database.PGTime(x.CreatedAt), database.PGTime(x.LastSeenAt), database.PGTime(x.ExpiresAt), database.PGTime(x.AuthTime),
		x.IP, x.UserAgent, x.DeviceID, x.DeviceName, list(x.AuthMethods), x.RememberMe)
	return inserted(fmt.Sprintf("create session of user %q", x.UserID), tag, err)
}

func (s *Store) GetSession(ctx context.Context, id string, now time.Time) (*provider.Session, error) {
	x, err := scanSession(s.db(ctx).QueryRow(ctx,
		`SELECT `+sessionCols+` FROM auth.sessions WHERE id = $1 AND expires_at > $2`, id, database.PGTime(now)))
	if err != nil {
		return nil, fmt.Errorf("get session: %w", err)
	}
	return x, nil
}

// TouchSession returns ErrNotFound for an unknown id.
func (s *Store) TouchSession(ctx context.Context, id string, lastSeen, expires time.Time) error {
	tag, err := s.db(ctx).Exec(ctx,
		`UPDATE auth.sessions SET last_seen_at = $2, expires_at = $3 WHERE id = $1`,
		id, database.PGTime(lastSeen), database.PGTime(expires))
	return affected("touch session", tag, err)
}

// UpdateSessionAuth returns ErrNotFound for an unknown id.
func (s *Store) UpdateSessionAuth(ctx context.Context, id string, authTime time.Time, methods []string) error {
	tag, err := s.db(ctx).Exec(ctx,
		`UPDATE auth.sessions SET auth_time = $2, auth_methods = $3 WHERE id = $1`,
		id, database.PGTime(authTime), list(methods))
	return affected("update session auth", tag, err)
}

func (s *Store) DeleteSession(ctx context.Context, id string) error {
	tag, err := s.db(ctx).Exec(ctx, `DELETE FROM auth.sessions WHERE id = $1`, id)
	return affected("delete session", tag, err)
}

// LockSession holds the session row, expired or not, with FOR KEY SHARE
// until the caller's transaction ends: deleting it (ending the session)
// waits, touching it does not.
func (s *Store) LockSession(ctx context.Context, id string) error {
	var one int
	err := s.db(ctx).QueryRow(ctx, `SELECT 1 FROM auth.sessions WHERE id = $1 FOR KEY SHARE`, id).Scan(&one)
	if err != nil {
		return fmt.Errorf("lock session: %w", mapErr(err))
	}
	return nil
}

func (s *Store) ListSessions(ctx context.Context, userID string, now time.Time) ([]*provider.Session, error) {
	rows, err := s.db(ctx).Query(ctx, `SELECT `+sessionCols+` FROM auth.sessions
		WHERE user_id = $1 AND expires_at > $2 ORDER BY created_at DESC, id DESC`, userID, database.PGTime(now))
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

func scanKey(row pgx.Row) (*provider.Key, error) {
	var k provider.Key
	if err := row.Scan(&k.ID, &k.Alg, &k.PublicJWK, &k.PrivateEnc, &k.CreatedAt, &k.ActiveAt,
		&k.RetiredAt, &k.ExpiresAt); err != nil {
		return nil, mapErr(err)
	}
	k.PublicJWK, k.PrivateEnc = nilIfEmpty(k.PublicJWK), nilIfEmpty(k.PrivateEnc)
	k.CreatedAt, k.ActiveAt = k.CreatedAt.UTC(), k.ActiveAt.UTC()
	k.RetiredAt, k.ExpiresAt = database.UTCPtr(k.RetiredAt), database.UTCPtr(k.ExpiresAt)
	return &k, nil
}

// InsertKey returns ErrAlreadyExists when the kid is taken.
func (s *Store) InsertKey(ctx context.Context, k *provider.Key) error {
	tag, err := s.db(ctx).Exec(ctx, `INSERT INTO auth.keys (`+keyCols+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING`,
		k.ID, k.Alg, blob(k.PublicJWK), blob(k.PrivateEnc), database.PGTime(k.CreatedAt), database.PGTime(k.ActiveAt),
		database.PGTimePtr(k.RetiredAt), database.PGTimePtr(k.ExpiresAt))
	return inserted(fmt.Sprintf("insert key %q", k.ID), tag, err)
}

// keyRotationLock is the pg_advisory_xact_lock key that serialises
// InsertKeyIfDue across replicas ("mana-key" in ASCII). A transaction lock,
// not a session one, so it works through PgBouncer in transaction mode.
const keyRotationLock int64 = 0x6d616e612d6b6579

func (s *Store) InsertKeyIfDue(ctx context.Context, k *provider.Key, since time.Time) (bool, error) {
	var done bool
	err := s.inTx(ctx, func(ctx context.Context) error {
		q := s.db(ctx)
		if _, err := q.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, keyRotationLock); err != nil {
			return mapErr(err)
		}
		// A statement after the lock sees what the previous holder committed.
		var newer bool
		if err := q.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM auth.keys WHERE alg = $1 AND created_at > $2)`,
			k.Alg, database.PGTime(since)).Scan(&newer); err != nil {
			return mapErr(err)
		}
		if newer {
			return nil
		}
		if err := s.InsertKey(ctx, k); err != nil {
			return err
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
	rows, err := s.db(ctx).Query(ctx, `SELECT `+keyCols+` FROM auth.keys ORDER BY created_at, id`)
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
	tag, err := s.db(ctx).Exec(ctx,
		`UPDATE auth.keys SET retired_at = $2, expires_at = $3 WHERE id = $1`,
		id, database.PGTimePtr(retiredAt), database.PGTimePtr(expiresAt))
	return affected(fmt.Sprintf("update key %q", id), tag, err)
}

func (s *Store) DeleteKey(ctx context.Context, id string) error {
	tag, err := s.db(ctx).Exec(ctx, `DELETE FROM auth.keys WHERE id = $1`, id)
	return affected(fmt.Sprintf("delete key %q", id), tag, err)
}

func (s *Store) GetConsent(ctx context.Context, userID, clientID string) (*provider.Consent, error) {
	c := provider.Consent{UserID: userID, ClientID: clientID}
	err := s.db(ctx).QueryRow(ctx, `SELECT scopes, granted_at FROM auth.consents
		WHERE user_id = $1 AND client_id = $2`, userID, clientID).Scan(&c.Scopes, &c.GrantedAt)
	if err != nil {
		return nil, fmt.Errorf("get consent of user %q for client %q: %w", userID, clientID, mapErr(err))
	}
	c.Scopes, c.GrantedAt = nilIfEmpty(c.Scopes), c.GrantedAt.UTC()
	return &c, nil
}

func (s *Store) SaveConsent(ctx context.Context, c *provider.Consent) error {
	_, err := s.db(ctx).Exec(ctx, `INSERT INTO auth.consents (user_id, client_id, scopes, granted_at)
		VALUES ($1, $2, $3, $4)
		ON CONFLICT (user_id, client_id) DO UPDATE SET scopes = excluded.scopes, granted_at = excluded.granted_at`,
		c.UserID, c.ClientID, list(c.Scopes), database.PGTime(c.GrantedAt))
	if err != nil {
		return fmt.Errorf("save consent of user %q for client %q: %w", c.UserID, c.ClientID, mapErr(err))
	}
	return nil
}

func (s *Store) DeleteConsent(ctx context.Context, userID, clientID string) error {
	tag, err := s.db(ctx).Exec(ctx,
		`DELETE FROM auth.consents WHERE user_id = $1 AND client_id = $2`, userID, clientID)
	return affected(fmt.Sprintf("delete consent of user %q for client %q", userID, clientID), tag, err)
}

func (s *Store) CreateGrant(ctx context.Context, g *provider.Grant) error {
	tag, err := s.db(ctx).Exec(ctx, `INSERT INTO auth.grants (kind, signature, request_id, client_id,
		subject, session_id, active, rotated_at, requested_at, expires_at, data, paired_signature)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) ON CONFLICT DO NOTHING`,
		g.Kind, g.Signature, g.RequestID, g.ClientID, g.Subject, g.SessionID, g.Active,
		database.PGTimePtr(g.RotatedAt), database.PGTime(g.RequestedAt), database.PGTime(g.ExpiresAt), blob(g.Data), g.PairedSignature)
	return inserted("create "+g.Kind+" grant", tag, err)
}

func (s *Store) GetGrant(ctx context.Context, kind, signature string) (*provider.Grant, error) {
	g := provider.Grant{Kind: kind, Signature: signature}
	err := s.db(ctx).QueryRow(ctx, `SELECT request_id, client_id, subject, session_id, active,
		rotated_at, requested_at, expires_at, data, paired_signature
		FROM auth.grants WHERE kind = $1 AND signature = $2`, kind, signature).Scan(
		&g.RequestID, &g.ClientID, &g.Subject, &g.SessionID, &g.Active,
		&g.RotatedAt, &g.RequestedAt, &g.ExpiresAt, &g.Data, &g.PairedSignature)
	if err != nil {
		return nil, fmt.Errorf("get %s grant: %w", kind, mapErr(err))
	}
	g.RotatedAt, g.RequestedAt, g.ExpiresAt = database.UTCPtr(g.RotatedAt), g.RequestedAt.UTC(), g.ExpiresAt.UTC()
	g.Data = nilIfEmpty(g.Data)
	return &g, nil
}

func (s *Store) DeleteGrant(ctx context.Context, kind, signature string) error {
	tag, err := s.db(ctx).Exec(ctx,
		`DELETE FROM auth.grants WHERE kind = $1 AND signature = $2`, kind, signature)
	return affected("delete "+kind+" grant", tag, err)
}

func (s *Store) DeactivateGrant(ctx context.Context, kind, signature string) error {
	tag, err := s.db(ctx).Exec(ctx,
		`UPDATE auth.grants SET active = false WHERE kind = $1 AND signature = $2`, kind, signature)
	return affected("deactivate "+kind+" grant", tag, err)
}

// RotateGrant relies on the row lock of a single conditional UPDATE: a
// concurrent rotation blocks on it, then re-checks "active" against the
// committed row and matches nothing. Only that losing path pays a second
// query, to tell a lost race from an unknown signature.
func (s *Store) RotateGrant(ctx context.Context, kind, signature string, at time.Time) (string, error) {
	db := s.db(ctx)
	var paired string
	err := db.QueryRow(ctx, `UPDATE auth.grants SET active = false, rotated_at = $3
		WHERE kind = $1 AND signature = $2 AND active RETURNING paired_signature`, kind, signature, database.PGTime(at)).Scan(&paired)
	if err == nil {
		return paired, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return "", fmt.Errorf("rotate %s grant: %w", kind, mapErr(err))
	}
	var exists bool
	if err := db.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM auth.grants
		WHERE kind = $1 AND signature = $2)`, kind, signature).Scan(&exists); err != nil {
		return "", fmt.Errorf("rotate %s grant: %w", kind, mapErr(err))
	}
	if !exists {
		return "", fmt.Errorf("rotate %s grant: %w", kind, provider.ErrNotFound)
	}
	return "", fmt.Errorf("rotate %s grant: no longer active: %w", kind, provider.ErrConflict)
}

// The revocations delete the grace entries of every matched grant, including
// grants that were already inactive: a rotated refresh token is inactive and
// its grace entry is exactly what must stop working.

func (s *Store) RevokeRequest(ctx context.Context, kind, requestID string) error {
	if kind != provider.KindRefreshToken {
		// Only refresh tokens have grace entries; skipping the lookup keeps
		// rotation cheap however long the family is.
		if _, err := s.db(ctx).Exec(ctx, `UPDATE auth.grants SET active = false
			WHERE kind = $1 AND request_id = $2 AND active`, kind, requestID); err != nil {
			return fmt.Errorf("revoke %s grants of request: %w", kind, mapErr(err))
		}
		return nil
	}
	_, err := s.db(ctx).Exec(ctx, `
		WITH gr AS (DELETE FROM auth.grant_grace WHERE signature IN
			(SELECT signature FROM auth.grants WHERE kind = $1 AND request_id = $2))
		UPDATE auth.grants SET active = false WHERE kind = $1 AND request_id = $2 AND active`,
		kind, requestID)
	if err != nil {
		return fmt.Errorf("revoke %s grants of request: %w", kind, mapErr(err))
	}
	return nil
}

// RevokeSession treats an empty id as matching nothing: grants without a
// browser session (client_credentials) store "" and must not be swept up.
func (s *Store) RevokeSession(ctx context.Context, sessionID string) (int, error) {
	if sessionID == "" {
		return 0, nil
	}
	tag, err := s.db(ctx).Exec(ctx, `
		WITH gr AS (DELETE FROM auth.grant_grace WHERE signature IN
			(SELECT signature FROM auth.grants WHERE session_id = $1))
		UPDATE auth.grants SET active = false WHERE session_id = $1 AND active`, sessionID)
	if err != nil {
		return 0, fmt.Errorf("revoke grants of session: %w", mapErr(err))
	}
	return int(tag.RowsAffected()), nil
}

// RevokeSubject treats an empty subject as matching nothing, like RevokeSession.
func (s *Store) RevokeSubject(ctx context.Context, subject string) (int, error) {
	if subject == "" {
		return 0, nil
	}
	tag, err := s.db(ctx).Exec(ctx, `
		WITH gr AS (DELETE FROM auth.grant_grace WHERE signature IN
			(SELECT signature FROM auth.grants WHERE subject = $1))
		UPDATE auth.grants SET active = false WHERE subject = $1 AND active`, subject)
	if err != nil {
		return 0, fmt.Errorf("revoke grants of user %q: %w", subject, mapErr(err))
	}
	return int(tag.RowsAffected()), nil
}

func (s *Store) PutGrace(ctx context.Context, e *provider.GraceEntry) error {
	_, err := s.db(ctx).Exec(ctx, `INSERT INTO auth.grant_grace (signature, request_id, payload, expires_at)
		VALUES ($1, $2, $3, $4)
		ON CONFLICT (signature) DO UPDATE SET request_id = excluded.request_id,
			payload = excluded.payload, expires_at = excluded.expires_at`,
		e.Signature, e.RequestID, blob(e.Payload), database.PGTime(e.ExpiresAt))
	if err != nil {
		return fmt.Errorf("put grace entry: %w", mapErr(err))
	}
	return nil
}

func (s *Store) GetGrace(ctx context.Context, signature string, now time.Time) (*provider.GraceEntry, error) {
	e := provider.GraceEntry{Signature: signature}
	err := s.db(ctx).QueryRow(ctx, `SELECT request_id, payload, expires_at FROM auth.grant_grace
		WHERE signature = $1 AND expires_at > $2`, signature, database.PGTime(now)).Scan(&e.RequestID, &e.Payload, &e.ExpiresAt)
	if err != nil {
		return nil, fmt.Errorf("get grace entry: %w", mapErr(err))
	}
	e.Payload, e.ExpiresAt = nilIfEmpty(e.Payload), e.ExpiresAt.UTC()
	return &e, nil
}

// janitorLock is the pg_try_advisory_xact_lock key of DeleteExpired
// ("mana-jan" in ASCII): the replicas' janitors would otherwise all
// delete the same rows, each waiting on the others' row locks.
const janitorLock int64 = 0x6d616e612d6a616e

func (s *Store) DeleteExpired(ctx context.Context, before time.Time) (int, error) {
	var n int
	err := s.inTx(ctx, func(ctx context.Context) error {
		q := s.db(ctx)
		var mine bool
		if err := q.QueryRow(ctx, `SELECT pg_try_advisory_xact_lock($1)`, janitorLock).Scan(&mine); err != nil || !mine {
			return mapErr(err) // nil when another replica sweeps
		}
		tag, err := q.Exec(ctx, `
			WITH gr AS (DELETE FROM auth.grant_grace WHERE expires_at <= $1),
			     se AS (DELETE FROM auth.sessions WHERE expires_at <= $1),
			     ot AS (DELETE FROM auth.one_time_tokens WHERE expires_at <= $1),
			     it AS (DELETE FROM auth.imported_refresh_tokens WHERE expires_at <= $1),
			     wc AS (DELETE FROM auth.webauthn_challenges WHERE expires_at <= $1) -- issue 15 (passkeys)
			DELETE FROM auth.grants WHERE expires_at < $1`, database.PGTime(before))
		n = int(tag.RowsAffected())
		return mapErr(err)
	})
	if err != nil {
		return 0, fmt.Errorf("delete expired grants: %w", err)
	}
	return n, nil
}

// inserted finishes an INSERT ... ON CONFLICT DO NOTHING: no row means the
// key was taken.
func inserted(op string, tag pgconn.CommandTag, err error) error {
	if err == nil && tag.RowsAffected() == 0 {
		err = provider.ErrAlreadyExists
	}
	if err != nil {
		return fmt.Errorf("%s: %w", op, mapErr(err))
	}
	return nil
}

// affected finishes a keyed UPDATE or DELETE: no row means ErrNotFound.
func affected(op string, tag pgconn.CommandTag, err error) error {
	if err == nil && tag.RowsAffected() == 0 {
		err = provider.ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("%s: %w", op, mapErr(err))
	}
	return nil
}

func collect[T any](rows pgx.Rows, scan func(pgx.Row) (*T, error)) ([]*T, error) {
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

// Stats counts with one statement; the users part is one scan of the
// live users (the metrics cache it, so it runs at most every ~30 s).
func (s *Store) Stats(ctx context.Context, now time.Time) (provider.Stats, error) {
	day, week, month := provider.StatsPeriods(now)
	var st provider.Stats
	err := s.db(ctx).QueryRow(ctx, `SELECT
			count(*), count(*) FILTER (WHERE email_verified),
			count(*) FILTER (WHERE created_at >= $1), count(*) FILTER (WHERE created_at >= $2),
			count(*) FILTER (WHERE created_at >= $3),
			(SELECT count(*) FROM auth.logout_jobs), (SELECT count(*) FROM auth.mail_jobs),
			(SELECT count(*) FROM auth.erasure_parts WHERE status = 'pending')
		FROM auth.users WHERE deleted_at IS NULL`, day, week, month).Scan(
		&st.Users, &st.VerifiedUsers, &st.CreatedToday, &st.CreatedThisWeek, &st.CreatedThisMonth,
		&st.LogoutJobs, &st.MailJobs, &st.ErasureParts)
	if err != nil {
		return provider.Stats{}, fmt.Errorf("stats: %w", mapErr(err))
	}
	return st, nil
}
