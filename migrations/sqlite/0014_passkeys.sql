-- Passkeys (issue 15), SQLite dialect of postgres/0014_passkeys.sql:
-- WebAuthn credentials and the server state of started ceremonies. Times
-- are INTEGER unix milliseconds UTC, lists are JSON in TEXT, booleans 0/1.
CREATE TABLE passkeys (
    id               TEXT    PRIMARY KEY,
    user_id          TEXT    NOT NULL,
    credential_id    BLOB    NOT NULL UNIQUE,
    public_key       BLOB    NOT NULL,
    attestation_type TEXT    NOT NULL DEFAULT '',
    aaguid           BLOB    NOT NULL DEFAULT x'',
    transports       TEXT    NOT NULL DEFAULT '[]',
    sign_count       INTEGER NOT NULL DEFAULT 0,
    backup_eligible  INTEGER NOT NULL DEFAULT 0,
    backup_state     INTEGER NOT NULL DEFAULT 0,
    name             TEXT    NOT NULL,
    created_at       INTEGER NOT NULL,
    last_used_at     INTEGER
) STRICT;
CREATE INDEX passkeys_user_idx ON passkeys (user_id, created_at);

CREATE TABLE webauthn_challenges (
    id         TEXT    PRIMARY KEY,
    kind       TEXT    NOT NULL,
    user_id    TEXT    NOT NULL DEFAULT '',
    data       BLOB    NOT NULL,
    expires_at INTEGER NOT NULL
) STRICT;
CREATE INDEX webauthn_challenges_expires_idx ON webauthn_challenges (expires_at);
