-- What accounts need beyond users and sessions: single-use tokens sent by
-- email or handed out between login steps, the security audit log, and TOTP
-- enrolments. Conventions as in 0001: timestamptz written as UTC
-- milliseconds, lists as text[] (empty, never NULL), no foreign keys to
-- users.

-- Only the hash of a token is stored; it is random, so it alone is the key.
-- ConsumeToken deletes by (hash, purpose, expires_at) through the primary
-- key; the user index serves DeleteUserTokens, the expiry index the sweep.
CREATE TABLE auth.one_time_tokens (
    hash        text        PRIMARY KEY,
    purpose     text        NOT NULL,
    user_id     text        NOT NULL,
    redirect_to text        NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL,
    expires_at  timestamptz NOT NULL
);
CREATE INDEX one_time_tokens_user_idx ON auth.one_time_tokens (user_id, purpose);
CREATE INDEX one_time_tokens_expires_idx ON auth.one_time_tokens (expires_at);

-- Append-only audit log. user_id is '' when the account is unknown (a failed
-- login for a foreign email). detail is a flat JSON object of strings.
CREATE TABLE auth.security_events (
    id         text        PRIMARY KEY,
    user_id    text        NOT NULL DEFAULT '',
    type       text        NOT NULL,
    ip         text        NOT NULL DEFAULT '',
    user_agent text        NOT NULL DEFAULT '',
    detail     jsonb       NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL
);
CREATE INDEX security_events_user_idx ON auth.security_events (user_id, created_at DESC);

-- One authenticator per user. last_step is the last accepted TOTP time step
-- (replay guard); recovery_hashes are the unused recovery codes, hashed.
CREATE TABLE auth.totp (
    user_id         text        PRIMARY KEY,
    secret_enc      bytea       NOT NULL,
    enabled         boolean     NOT NULL DEFAULT false,
    last_step       bigint      NOT NULL DEFAULT 0,
    recovery_hashes text[]      NOT NULL DEFAULT '{}',
    created_at      timestamptz NOT NULL,
    enabled_at      timestamptz
);
