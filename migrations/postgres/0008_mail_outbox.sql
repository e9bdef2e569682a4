-- The durable mail outbox: one row per accepted mail request until the
-- mail was handed to the relay, turned out to be unneeded (no such
-- account) or the outbox gave up. Conventions as in 0003: timestamptz
-- written as UTC milliseconds, no foreign keys.
--
-- payload is sealed by the outbox (AES-GCM under SECRET_KEY): it holds an
-- address, and once resolved the message with its one-time link, so a
-- database dump yields no usable reset or verification link.
--
-- seq keeps the enqueue order: requests due at the same instant are
-- resolved in it, so of several reset requests the last one's link is the
-- one that stays valid. next_attempt_at is when the job is due; while a
-- replica works on it, the end of that replica's lease.
CREATE TABLE auth.mail_jobs (
    seq             bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id              text        NOT NULL UNIQUE,
    kind            text        NOT NULL,
    payload         bytea       NOT NULL,
    attempts        integer     NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL,
    created_at      timestamptz NOT NULL,
    last_error      text        NOT NULL DEFAULT ''
);
CREATE INDEX mail_jobs_due_idx ON auth.mail_jobs (next_attempt_at, seq);
