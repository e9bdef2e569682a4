-- Refresh tokens imported from the old service (issue 14). The apps keep
-- the old 64-character tokens in their storage; each is exchanged once at
-- /api/v1/auth/refresh for a token pair of ours bound to its imported
-- session. Only the SHA-256 of a token is stored, as a token is a bearer
-- credential. used_at marks the exchange; request_id names the grant family
-- it became, which reuse after the grace window revokes.
CREATE TABLE auth.imported_refresh_tokens (
    token_hash text        PRIMARY KEY,
    session_id text        NOT NULL,
    expires_at timestamptz NOT NULL,
    used_at    timestamptz,
    request_id text        NOT NULL DEFAULT ''
);
CREATE INDEX imported_refresh_tokens_expires_idx ON auth.imported_refresh_tokens (expires_at);
