-- The durable queue of OpenID Connect Back-Channel Logout deliveries: one
-- row per (ended session, relying party) until the relying party answered
-- or the notifier gave up. Conventions as in 0001: timestamptz written as
-- UTC milliseconds, no foreign keys (a job of a deleted client is dropped
-- at delivery).
--
-- next_attempt_at is when the job is due; while a replica delivers it, it
-- holds the end of that replica's lease. The index serves the claim, which
-- scans the due jobs oldest first. SessionClients reads auth.grants through
-- grants_session_idx.
CREATE TABLE auth.logout_jobs (
    id              text        PRIMARY KEY,
    client_id       text        NOT NULL,
    uri             text        NOT NULL,
    session_id      text        NOT NULL DEFAULT '',
    subject         text        NOT NULL DEFAULT '',
    attempts        integer     NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL,
    created_at      timestamptz NOT NULL,
    last_error      text        NOT NULL DEFAULT ''
);
CREATE INDEX logout_jobs_next_attempt_idx ON auth.logout_jobs (next_attempt_at);
