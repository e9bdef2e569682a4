-- The back-channel logout queue, SQLite dialect of postgres/0003_logout.sql.
-- Times are INTEGER unix milliseconds UTC.

CREATE TABLE logout_jobs (
    id              TEXT    PRIMARY KEY,
    client_id       TEXT    NOT NULL,
    uri             TEXT    NOT NULL,
    session_id      TEXT    NOT NULL DEFAULT '',
    subject         TEXT    NOT NULL DEFAULT '',
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    created_at      INTEGER NOT NULL,
    last_error      TEXT    NOT NULL DEFAULT ''
) STRICT;
CREATE INDEX logout_jobs_next_attempt_idx ON logout_jobs (next_attempt_at);
