-- SQLite dialect of postgres/0011_erasure.sql. Times are INTEGER unix
-- milliseconds UTC.
CREATE TABLE erasures (
    id           TEXT    PRIMARY KEY,
    subject      TEXT    NOT NULL,
    requested_by TEXT    NOT NULL,
    requested_at INTEGER NOT NULL,
    auth_deleted INTEGER NOT NULL DEFAULT 0,
    auth_at      INTEGER,
    completed_at INTEGER
) STRICT;
CREATE INDEX erasures_subject_idx ON erasures (subject, requested_at DESC);

CREATE TABLE erasure_parts (
    erasure_id      TEXT    NOT NULL REFERENCES erasures (id) ON DELETE CASCADE,
    backend_id      TEXT    NOT NULL,
    backend_name    TEXT    NOT NULL DEFAULT '',
    user_id         TEXT    NOT NULL DEFAULT '',
    status          TEXT    NOT NULL CHECK (status IN ('pending', 'done')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT    NOT NULL DEFAULT '',
    next_attempt_at INTEGER NOT NULL,
    lease_until     INTEGER,
    deleted_count   INTEGER NOT NULL DEFAULT 0,
    done_at         INTEGER,
    PRIMARY KEY (erasure_id, backend_id)
) STRICT;
CREATE INDEX erasure_parts_due_idx ON erasure_parts (next_attempt_at) WHERE status = 'pending';
CREATE INDEX erasure_parts_user_idx ON erasure_parts (user_id) WHERE status = 'pending';
