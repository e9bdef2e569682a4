-- Passkeys (issue 15): WebAuthn credentials and the server state of started
-- ceremonies. Conventions as in 0002: timestamptz written as UTC
-- milliseconds, lists as text[] (empty, never NULL), no foreign keys to
-- users (erasure deletes a user's passkeys explicitly).
--
-- credential_id is the authenticator's id of the key, unique across users:
-- a discoverable sign-in finds the passkey (and so the user) by it alone.
-- public_key is the COSE key as go-webauthn stores it. sign_count is the
-- last signature counter seen (a uint32, hence bigint); backup_eligible and
-- backup_state are the BE/BS flags (a synced passkey or a hardware-bound one).
CREATE TABLE auth.passkeys (
    id               text        PRIMARY KEY,
    user_id          text        NOT NULL,
    credential_id    bytea       NOT NULL UNIQUE,
    public_key       bytea       NOT NULL,
    attestation_type text        NOT NULL DEFAULT '',
    aaguid           bytea       NOT NULL DEFAULT '\x',
    transports       text[]      NOT NULL DEFAULT '{}',
    sign_count       bigint      NOT NULL DEFAULT 0,
    backup_eligible  boolean     NOT NULL DEFAULT false,
    backup_state     boolean     NOT NULL DEFAULT false,
    name             text        NOT NULL,
    created_at       timestamptz NOT NULL,
    last_used_at     timestamptz
);
CREATE INDEX passkeys_user_idx ON auth.passkeys (user_id, created_at);

-- A started ceremony: single use (TakeChallenge deletes it), in the
-- database so any replica finishes what another began. user_id is '' for a
-- discoverable sign-in; data is go-webauthn's session data (JSON).
CREATE TABLE auth.webauthn_challenges (
    id         text        PRIMARY KEY,
    kind       text        NOT NULL,
    user_id    text        NOT NULL DEFAULT '',
    data       bytea       NOT NULL,
    expires_at timestamptz NOT NULL
);
CREATE INDEX webauthn_challenges_expires_idx ON auth.webauthn_challenges (expires_at);
