-- Accounts beyond users and sessions, SQLite dialect of
-- postgres/0002_accounts.sql: one-time tokens, the security audit log and
-- TOTP enrolments. Times are INTEGER unix milliseconds UTC, lists and the
-- event detail are JSON in TEXT, booleans are 0/1.

CREATE TABLE one_time_tokens (
    hash        TEXT    PRIMARY KEY,
    purpose     TEXT    NOT NULL,
    user_id     TEXT    NOT NULL,
    redirect_to TEXT    NOT NULL DEFAULT '',
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL
) STRICT;
CREATE INDEX one_time_tokens_user_idx ON one_time_tokens (user_id, purpose);
CREATE INDEX one_time_tokens_expires_idx ON one_time_tokens (expires_at);

CREATE TABLE security_events (
    id         TEXT    PRIMARY KEY,
    user_id    TEXT    NOT NULL DEFAULT '',
    type       TEXT    NOT NULL,
    ip         TEXT    NOT NULL DEFAULT '',
    user_agent TEXT    NOT NULL DEFAULT '',
    detail     TEXT    NOT NULL DEFAULT '{}',
    created_at INTEGER NOT NULL
) STRICT;
CREATE INDEX security_events_user_idx ON security_events (user_id, created_at DESC);

CREATE TABLE totp (
    user_id         TEXT    PRIMARY KEY,
    secret_enc      BLOB    NOT NULL,
    enabled         INTEGER NOT NULL DEFAULT 0,
    last_step       INTEGER NOT NULL DEFAULT 0,
    recovery_hashes TEXT    NOT NULL DEFAULT '[]',
    created_at      INTEGER NOT NULL,
    enabled_at      INTEGER
) STRICT;
