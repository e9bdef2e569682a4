-- Credits billing, SQLite dialect of postgres/0005_billing.sql. Times are
-- INTEGER unix milliseconds UTC.

CREATE TABLE credit_packages (
    id          TEXT    PRIMARY KEY,
    name        TEXT    NOT NULL,
    credits     INTEGER NOT NULL CHECK (credits > 0),
    price_cents INTEGER NOT NULL CHECK (price_cents > 0),
    currency    TEXT    NOT NULL DEFAULT 'eur',
    active      INTEGER NOT NULL DEFAULT 1,
    sort_order  INTEGER NOT NULL DEFAULT 0,
    created_at  INTEGER NOT NULL
) STRICT;
CREATE INDEX credit_packages_active_sort_idx ON credit_packages (active, sort_order, id);

-- The default set: no volume discount (100 credits = 1 EUR).
INSERT INTO credit_packages (id, name, credits, price_cents, currency, active, sort_order, created_at) VALUES
    ('credits-500',  '500 Credits',  500,  500,  'eur', 1, 10, CAST(unixepoch('subsec') * 1000 AS INTEGER)),
    ('credits-1000', '1,000 Credits', 1000, 1000, 'eur', 1, 20, CAST(unixepoch('subsec') * 1000 AS INTEGER)),
    ('credits-2500', '2,500 Credits', 2500, 2500, 'eur', 1, 30, CAST(unixepoch('subsec') * 1000 AS INTEGER)),
    ('credits-5000', '5,000 Credits', 5000, 5000, 'eur', 1, 40, CAST(unixepoch('subsec') * 1000 AS INTEGER));

CREATE TABLE credit_purchases (
    id                         TEXT    PRIMARY KEY,
    user_id                    TEXT    NOT NULL,
    package_id                 TEXT    NOT NULL REFERENCES credit_packages (id),
    credits                    INTEGER NOT NULL CHECK (credits > 0),
    amount_cents               INTEGER NOT NULL CHECK (amount_cents > 0),
    currency                   TEXT    NOT NULL,
    status                     TEXT    NOT NULL DEFAULT 'pending'
                               CHECK (status IN ('pending', 'succeeded', 'failed', 'refunded')),
    stripe_payment_intent_id   TEXT    UNIQUE,
    stripe_checkout_session_id TEXT    UNIQUE,
    created_at                 INTEGER NOT NULL,
    completed_at               INTEGER
) STRICT;
CREATE INDEX credit_purchases_user_created_idx ON credit_purchases (user_id, created_at DESC, id DESC);

CREATE TABLE credit_stripe_events (
    id          TEXT    PRIMARY KEY,
    type        TEXT    NOT NULL,
    received_at INTEGER NOT NULL
) STRICT;
