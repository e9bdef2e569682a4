-- Identity provider schema: users, OAuth clients, browser sessions, signing
-- keys, remembered consent and the persisted fosite requests ("grants").
-- Times are timestamptz written as UTC milliseconds by the store; lists are
-- text[] (empty, never NULL); opaque payloads are bytea so they round-trip
-- byte for byte (jsonb would reorder keys).

CREATE SCHEMA IF NOT EXISTS auth;

CREATE TABLE auth.users (
    id             text        PRIMARY KEY,
    email          text        NOT NULL,
    email_verified boolean     NOT NULL DEFAULT false,
    name           text        NOT NULL DEFAULT '',
    role           text        NOT NULL DEFAULT 'user',
    password_hash  text        NOT NULL DEFAULT '',
    created_at     timestamptz NOT NULL,
    updated_at     timestamptz NOT NULL
);
-- The store lower-cases emails before writing; indexing lower(email) keeps
-- the uniqueness case-insensitive even for rows written by hand.
CREATE UNIQUE INDEX users_email_key ON auth.users (lower(email));

CREATE TABLE auth.clients (
    id                        text        PRIMARY KEY,
    name                      text        NOT NULL DEFAULT '',
    secret_hash               text        NOT NULL DEFAULT '',
    public                    boolean     NOT NULL DEFAULT false,
    redirect_uris             text[]      NOT NULL DEFAULT '{}',
    post_logout_redirect_uris text[]      NOT NULL DEFAULT '{}',
    grant_types               text[]      NOT NULL DEFAULT '{}',
    response_types            text[]      NOT NULL DEFAULT '{}',
    scopes                    text[]      NOT NULL DEFAULT '{}',
    audience                  text[]      NOT NULL DEFAULT '{}',
    trusted                   boolean     NOT NULL DEFAULT false,
    logo_uri                  text        NOT NULL DEFAULT '',
    backchannel_logout_uri    text        NOT NULL DEFAULT '',
    id_token_alg              text        NOT NULL DEFAULT '',
    created_at                timestamptz NOT NULL
);

-- No foreign key to users: the store interface defines no error for a
-- dangling user id, and GDPR deletion removes sessions explicitly.
CREATE TABLE auth.sessions (
    id           text        PRIMARY KEY,
    user_id      text        NOT NULL,
    created_at   timestamptz NOT NULL,
    last_seen_at timestamptz NOT NULL,
    expires_at   timestamptz NOT NULL,
    auth_time    timestamptz NOT NULL,
    ip           text        NOT NULL DEFAULT '',
    user_agent   text        NOT NULL DEFAULT '',
    device_id    text        NOT NULL DEFAULT '',
    device_name  text        NOT NULL DEFAULT '',
    auth_methods text[]      NOT NULL DEFAULT '{}',
    remember_me  boolean     NOT NULL DEFAULT false
);
CREATE INDEX sessions_user_idx ON auth.sessions (user_id, created_at DESC);

CREATE TABLE auth.keys (
    id          text        PRIMARY KEY,
    alg         text        NOT NULL,
    public_jwk  bytea       NOT NULL,
    private_enc bytea       NOT NULL,
    created_at  timestamptz NOT NULL,
    active_at   timestamptz NOT NULL,
    retired_at  timestamptz,
    expires_at  timestamptz
);

CREATE TABLE auth.consents (
    user_id    text        NOT NULL,
    client_id  text        NOT NULL,
    scopes     text[]      NOT NULL DEFAULT '{}',
    granted_at timestamptz NOT NULL,
    PRIMARY KEY (user_id, client_id)
);
CREATE INDEX consents_client_idx ON auth.consents (client_id);

-- One row per fosite request, keyed like fosite looks them up. This is the
-- hottest table (one insert per issued token), so it carries only the
-- indexes a query needs: revocation by family, by browser session and by
-- user, and the expiry sweep. DeleteClient scans instead of paying for a
-- client_id index on every insert. fillfactor leaves room for the in-place
-- (HOT) updates that deactivation and rotation do.
CREATE TABLE auth.grants (
    kind         text        NOT NULL,
    signature    text        NOT NULL,
    request_id   text        NOT NULL,
    client_id    text        NOT NULL,
    subject      text        NOT NULL DEFAULT '',
    session_id   text        NOT NULL DEFAULT '',
    active       boolean     NOT NULL DEFAULT true,
    rotated_at   timestamptz,
    requested_at timestamptz NOT NULL,
    expires_at   timestamptz NOT NULL,
    data         bytea       NOT NULL,
    paired_signature text    NOT NULL DEFAULT '',
    PRIMARY KEY (kind, signature)
) WITH (fillfactor = 90);
-- request_id leads so no index but the primary key starts with kind: a
-- cached generic plan then cannot pick this index for (kind, signature)
-- lookups.
CREATE INDEX grants_request_idx ON auth.grants (request_id, kind);
CREATE INDEX grants_session_idx ON auth.grants (session_id);
CREATE INDEX grants_subject_idx ON auth.grants (subject);
CREATE INDEX grants_expires_idx ON auth.grants (expires_at);

-- The token response a rotated refresh token turned into, replayed to a
-- client that retries within the grace window.
CREATE TABLE auth.grant_grace (
    signature  text        PRIMARY KEY,
    request_id text        NOT NULL,
    payload    bytea       NOT NULL,
    expires_at timestamptz NOT NULL
);
CREATE INDEX grant_grace_expires_idx ON auth.grant_grace (expires_at);
