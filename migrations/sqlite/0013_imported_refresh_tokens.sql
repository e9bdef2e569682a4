-- Refresh tokens imported from the old service (issue 14). The apps keep
-- the old 64-character tokens in their storage; each is exchanged once at
-- /api/v1/auth/refresh for a token pair of ours bound to its imported
-- session. Only the SHA-256 of a token is stored, as a token is a bearer
-- credential. used_at marks the exchange; request_id names the grant family
-- it became, which reuse after the grace window revokes.
CREATE TABLE imported_refresh_tokens (
    token_hash TEXT    PRIMARY KEY,
    session_id TEXT    NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at    INTEGER,
    request_id TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX imported_refresh_tokens_expires_idx ON imported_refresh_tokens (expires_at);
