-- Credits billing: credit packages, Stripe purchases and the Stripe events
-- already processed (webhook idempotency). A purchase is credited through
-- the ledger (credits.transactions, type 'purchase', idempotency key
-- 'stripe:<payment_intent_id>'); this table only tracks its Stripe state.

CREATE TABLE credits.packages (
    id          text        PRIMARY KEY,
    name        text        NOT NULL,
    credits     bigint      NOT NULL CHECK (credits > 0),
    price_cents bigint      NOT NULL CHECK (price_cents > 0),
    currency    text        NOT NULL DEFAULT 'eur',
    active      boolean     NOT NULL DEFAULT true,
    sort_order  integer     NOT NULL DEFAULT 0,
    created_at  timestamptz NOT NULL
);
CREATE INDEX packages_active_sort_idx ON credits.packages (active, sort_order, id);

-- The default set: no volume discount (100 credits = 1 EUR).
INSERT INTO credits.packages (id, name, credits, price_cents, currency, active, sort_order, created_at) VALUES
    ('credits-500',  '500 Credits',  500,  500,  'eur', true, 10, date_trunc('milliseconds', now())),
    ('credits-1000', '1,000 Credits', 1000, 1000, 'eur', true, 20, date_trunc('milliseconds', now())),
    ('credits-2500', '2,500 Credits', 2500, 2500, 'eur', true, 30, date_trunc('milliseconds', now())),
    ('credits-5000', '5,000 Credits', 5000, 5000, 'eur', true, 40, date_trunc('milliseconds', now()));

CREATE TABLE credits.purchases (
    id                         text        PRIMARY KEY,
    user_id                    text        NOT NULL,
    package_id                 text        NOT NULL REFERENCES credits.packages (id),
    credits                    bigint      NOT NULL CHECK (credits > 0),
    amount_cents               bigint      NOT NULL CHECK (amount_cents > 0),
    currency                   text        NOT NULL,
    status                     text        NOT NULL DEFAULT 'pending'
                               CHECK (status IN ('pending', 'succeeded', 'failed', 'refunded')),
    -- NULL until known (a Checkout Session gets its PaymentIntent on payment).
    stripe_payment_intent_id   text        UNIQUE,
    stripe_checkout_session_id text        UNIQUE,
    created_at                 timestamptz NOT NULL,
    completed_at               timestamptz
);
CREATE INDEX purchases_user_created_idx ON credits.purchases (user_id, created_at DESC, id DESC);

CREATE TABLE credits.stripe_events (
    id          text        PRIMARY KEY,
    type        text        NOT NULL,
    received_at timestamptz NOT NULL
);
