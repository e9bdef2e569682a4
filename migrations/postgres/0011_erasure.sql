-- Erasure jobs and receipts (issue 11). One row per erasure of a person in
-- auth.erasures, and one row per app backend that had to delete the
-- person's data in auth.erasure_parts. A part that failed is retried by a
-- durable job with the same shape as the back-channel logout queue
-- (0003): next_attempt_at is when it is due, lease_until the end of the
-- lease of the replica working on it (claimed with FOR UPDATE SKIP
-- LOCKED), so exactly one replica calls the backend and a killed process
-- only delays the retry until its lease ran out.
--
-- What is kept is the receipt: no email, name or address, only a keyed
-- hash of the user id (subject), who asked, and what was deleted where and
-- when. user_id on a part is the backend's key for the person and is
-- needed for the retry; it is cleared when the part is done.
CREATE TABLE auth.erasures (
    id           text        PRIMARY KEY,
    subject      text        NOT NULL,
    requested_by text        NOT NULL,
    requested_at timestamptz NOT NULL,
    -- the local transaction: how many records it deleted or pseudonymised
    auth_deleted bigint      NOT NULL DEFAULT 0,
    auth_at      timestamptz,
    completed_at timestamptz
);
CREATE INDEX erasures_subject_idx ON auth.erasures (subject, requested_at DESC);

CREATE TABLE auth.erasure_parts (
    erasure_id      text        NOT NULL REFERENCES auth.erasures (id) ON DELETE CASCADE,
    backend_id      text        NOT NULL,
    backend_name    text        NOT NULL DEFAULT '',
    user_id         text        NOT NULL DEFAULT '',
    status          text        NOT NULL CHECK (status IN ('pending', 'done')),
    attempts        integer     NOT NULL DEFAULT 0,
    last_error      text        NOT NULL DEFAULT '',
    next_attempt_at timestamptz NOT NULL,
    lease_until     timestamptz,
    deleted_count   bigint      NOT NULL DEFAULT 0,
    done_at         timestamptz,
    PRIMARY KEY (erasure_id, backend_id)
);
-- The claim scans the due pending parts; Pending lists a user's.
CREATE INDEX erasure_parts_due_idx ON auth.erasure_parts (next_attempt_at) WHERE status = 'pending';
CREATE INDEX erasure_parts_user_idx ON auth.erasure_parts (user_id) WHERE status = 'pending';
