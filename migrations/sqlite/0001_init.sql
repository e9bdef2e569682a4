-- Identity provider schema, SQLite dialect of postgres/0001_init.sql.
-- Times are INTEGER unix milliseconds UTC, lists are JSON arrays in TEXT,
-- booleans are 0/1. STRICT makes SQLite reject a value of the wrong type
-- instead of silently storing it, which is how the two dialects stay alike.

CREATE TABLE users (
    id             TEXT    PRIMARY KEY,
    email          TEXT    NOT NULL,
    email_verified INTEGER NOT NULL DEFAULT 0,
    name           TEXT    NOT NULL DEFAULT '',
    role           TEXT    NOT NULL DEFAULT 'user',
    password_hash  TEXT    NOT NULL DEFAULT '',
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL
) STRICT;
-- SQLite's lower() folds ASCII only; the store writes emails already
-- lower-cased (Unicode-aware), so this index is case-insensitive in practice.
CREATE UNIQUE INDEX users_email_key ON users (lower(email));

CREATE TABLE clients (
    id                        TEXT    PRIMARY KEY,
    name                      TEXT    NOT NULL DEFAULT '',
    secret_hash               TEXT    NOT NULL DEFAULT '',
    public                    INTEGER NOT NULL DEFAULT 0,
    redirect_uris             TEXT    NOT NULL DEFAULT '[]',
    post_logout_redirect_uris TEXT    NOT NULL DEFAULT '[]',
    grant_types               TEXT    NOT NULL DEFAULT '[]',
    response_types            TEXT    NOT NULL DEFAULT '[]',
    scopes                    TEXT    NOT NULL DEFAULT '[]',
    audience                  TEXT    NOT NULL DEFAULT '[]',
    trusted                   INTEGER NOT NULL DEFAULT 0,
    logo_uri                  TEXT    NOT NULL DEFAULT '',
    backchannel_logout_uri    TEXT    NOT NULL DEFAULT '',
    id_token_alg              TEXT    NOT NULL DEFAULT '',
    created_at                INTEGER NOT NULL
) STRICT;

CREATE TABLE sessions (
    id           TEXT    PRIMARY KEY,
    user_id      TEXT    NOT NULL,
    created_at   INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    auth_time    INTEGER NOT NULL,
    ip           TEXT    NOT NULL DEFAULT '',
    user_agent   TEXT    NOT NULL DEFAULT '',
    device_id    TEXT    NOT NULL DEFAULT '',
    device_name  TEXT    NOT NULL DEFAULT '',
    auth_methods TEXT    NOT NULL DEFAULT '[]',
    remember_me  INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE INDEX sessions_user_idx ON sessions (user_id, created_at DESC);

CREATE TABLE keys (
    id          TEXT    PRIMARY KEY,
    alg         TEXT    NOT NULL,
    public_jwk  BLOB    NOT NULL,
    private_enc BLOB    NOT NULL,
    created_at  INTEGER NOT NULL,
    active_at   INTEGER NOT NULL,
    retired_at  INTEGER,
    expires_at  INTEGER
) STRICT;

CREATE TABLE consents (
    user_id    TEXT    NOT NULL,
    client_id  TEXT    NOT NULL,
    scopes     TEXT    NOT NULL DEFAULT '[]',
    granted_at INTEGER NOT NULL,
    PRIMARY KEY (user_id, client_id)
) STRICT;
CREATE INDEX consents_client_idx ON consents (client_id);

CREATE TABLE grants (
    kind         TEXT    NOT NULL,
    signature    TEXT    NOT NULL,
    request_id   TEXT    NOT NULL,
    client_id    TEXT    NOT NULL,
    subject      TEXT    NOT NULL DEFAULT '',
    session_id   TEXT    NOT NULL DEFAULT '',
    active       INTEGER NOT NULL DEFAULT 1,
    rotated_at   INTEGER,
    requested_at INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    data         BLOB    NOT NULL,
    paired_signature TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (kind, signature)
) STRICT;
-- request_id leads so no index but the primary key starts with kind: a
-- cached generic plan then cannot pick this index for (kind, signature)
-- lookups.
CREATE INDEX grants_request_idx ON grants (request_id, kind);
CREATE INDEX grants_session_idx ON grants (session_id);
CREATE INDEX grants_subject_idx ON grants (subject);
CREATE INDEX grants_expires_idx ON grants (expires_at);

CREATE TABLE grant_grace (
    signature  TEXT    PRIMARY KEY,
    request_id TEXT    NOT NULL,
    payload    BLOB    NOT NULL,
    expires_at INTEGER NOT NULL
) STRICT;
CREATE INDEX grant_grace_expires_idx ON grant_grace (expires_at);
