-- Credits: a double-entry ledger per user. Every movement is one row in
-- credits.transactions with postings (account, amount) that sum to zero;
-- credits.balances caches the user's two wallets (free and paid) and must
-- always equal the sum of the postings on 'user:<id>:free' / 'user:<id>:paid'.
-- Times are timestamptz written as UTC milliseconds by the store. Metadata
-- is text (not jsonb) so it round-trips byte for byte.

CREATE SCHEMA IF NOT EXISTS credits;

CREATE TABLE credits.balances (
    user_id          text        PRIMARY KEY,
    paid             bigint      NOT NULL DEFAULT 0 CHECK (paid >= 0),
    free             bigint      NOT NULL DEFAULT 0 CHECK (free >= 0),
    total_earned     bigint      NOT NULL DEFAULT 0,
    total_spent      bigint      NOT NULL DEFAULT 0,
    last_daily_grant text        NOT NULL DEFAULT '',
    signup_granted   boolean     NOT NULL DEFAULT false,
    version          bigint      NOT NULL DEFAULT 0,
    created_at       timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL
);

CREATE TABLE credits.transactions (
    id              text        PRIMARY KEY,
    -- Orders transactions with equal created_at (the clock has ms precision).
    seq             bigint      GENERATED ALWAYS AS IDENTITY,
    user_id         text        NOT NULL,
    type            text        NOT NULL,
    amount          bigint      NOT NULL,
    app_id          text        NOT NULL DEFAULT '',
    description     text        NOT NULL DEFAULT '',
    idempotency_key text        NOT NULL DEFAULT '',
    grant_day       text        NOT NULL DEFAULT '',
    metadata        text        NOT NULL DEFAULT '',
    created_at      timestamptz NOT NULL
);
CREATE INDEX transactions_user_created_idx ON credits.transactions (user_id, created_at DESC, seq DESC);
-- Idempotency keys are scoped to the user.
CREATE UNIQUE INDEX transactions_user_key_idx ON credits.transactions (user_id, idempotency_key)
    WHERE idempotency_key <> '';
-- At most one signup bonus per user and one daily grant per user and day.
CREATE UNIQUE INDEX transactions_signup_idx ON credits.transactions (user_id)
    WHERE type = 'signup_bonus';
CREATE UNIQUE INDEX transactions_daily_idx ON credits.transactions (user_id, grant_day)
    WHERE type = 'daily_free';

CREATE TABLE credits.postings (
    transaction_id text   NOT NULL REFERENCES credits.transactions (id) ON DELETE CASCADE,
    seq            integer NOT NULL,
    account        text   NOT NULL,
    amount         bigint NOT NULL,
    PRIMARY KEY (transaction_id, seq)
);
CREATE INDEX postings_account_idx ON credits.postings (account);

CREATE TABLE credits.usage_stats (
    user_id      text   NOT NULL,
    app_id       text   NOT NULL,
    day          text   NOT NULL,
    credits_used bigint NOT NULL DEFAULT 0,
    uses         bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (user_id, app_id, day)
);
CREATE INDEX usage_stats_app_day_idx ON credits.usage_stats (app_id, day);
