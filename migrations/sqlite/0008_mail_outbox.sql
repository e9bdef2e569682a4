-- The durable mail outbox, SQLite dialect of postgres/0008_mail_outbox.sql.
-- Times are INTEGER unix milliseconds UTC; seq (the rowid, never reused
-- thanks to AUTOINCREMENT) keeps the enqueue order.

CREATE TABLE mail_jobs (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
    id              TEXT    NOT NULL UNIQUE,
    kind            TEXT    NOT NULL,
    payload         BLOB    NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    created_at      INTEGER NOT NULL,
    last_error      TEXT    NOT NULL DEFAULT ''
) STRICT;
CREATE INDEX mail_jobs_due_idx ON mail_jobs (next_attempt_at, seq);
