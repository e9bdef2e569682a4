-- Credits ledger, SQLite dialect of postgres/0004_credits.sql.
-- Times are INTEGER unix milliseconds UTC. Tables carry the credit_ prefix
-- where PostgreSQL uses the credits schema. Transactions with equal
-- created_at are ordered by rowid (insertion order).

CREATE TABLE credit_balances (
    user_id          TEXT    PRIMARY KEY,
    paid             INTEGER NOT NULL DEFAULT 0 CHECK (paid >= 0),
    free             INTEGER NOT NULL DEFAULT 0 CHECK (free >= 0),
    total_earned     INTEGER NOT NULL DEFAULT 0,
    total_spent      INTEGER NOT NULL DEFAULT 0,
    last_daily_grant TEXT    NOT NULL DEFAULT '',
    signup_granted   INTEGER NOT NULL DEFAULT 0,
    version          INTEGER NOT NULL DEFAULT 0,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL
) STRICT;

CREATE TABLE credit_transactions (
    id              TEXT    PRIMARY KEY,
    user_id         TEXT    NOT NULL,
    type            TEXT    NOT NULL,
    amount          INTEGER NOT NULL,
    app_id          TEXT    NOT NULL DEFAULT '',
    description     TEXT    NOT NULL DEFAULT '',
    idempotency_key TEXT    NOT NULL DEFAULT '',
    grant_day       TEXT    NOT NULL DEFAULT '',
    metadata        TEXT    NOT NULL DEFAULT '',
    created_at      INTEGER NOT NULL
) STRICT;
CREATE INDEX credit_transactions_user_created_idx ON credit_transactions (user_id, created_at DESC);
CREATE UNIQUE INDEX credit_transactions_user_key_idx ON credit_transactions (user_id, idempotency_key)
    WHERE idempotency_key <> '';
CREATE UNIQUE INDEX credit_transactions_signup_idx ON credit_transactions (user_id)
    WHERE type = 'signup_bonus';
CREATE UNIQUE INDEX credit_transactions_daily_idx ON credit_transactions (user_id, grant_day)
    WHERE type = 'daily_free';

CREATE TABLE credit_postings (
    transaction_id TEXT    NOT NULL REFERENCES credit_transactions (id) ON DELETE CASCADE,
    seq            INTEGER NOT NULL,
    account        TEXT    NOT NULL,
    amount         INTEGER NOT NULL,
    PRIMARY KEY (transaction_id, seq)
) STRICT;
CREATE INDEX credit_postings_account_idx ON credit_postings (account);

CREATE TABLE credit_usage_stats (
    user_id      TEXT    NOT NULL,
    app_id       TEXT    NOT NULL,
    day          TEXT    NOT NULL,
    credits_used INTEGER NOT NULL DEFAULT 0,
    uses         INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (user_id, app_id, day)
) STRICT;
CREATE INDEX credit_usage_stats_app_day_idx ON credit_usage_stats (app_id, day);
