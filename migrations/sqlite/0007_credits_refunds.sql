-- Partial refunds and disputes, SQLite dialect of
-- postgres/0007_credits_refunds.sql (see there). SQLite adds one column per
-- statement and cannot add a table constraint; the store keeps
-- refunded_credits + disputed_credits <= credits.

ALTER TABLE credit_purchases ADD COLUMN refunded_cents INTEGER NOT NULL DEFAULT 0 CHECK (refunded_cents >= 0);
ALTER TABLE credit_purchases ADD COLUMN refunded_credits INTEGER NOT NULL DEFAULT 0 CHECK (refunded_credits >= 0);
ALTER TABLE credit_purchases ADD COLUMN dispute_id TEXT NOT NULL DEFAULT '';
ALTER TABLE credit_purchases ADD COLUMN dispute_status TEXT NOT NULL DEFAULT ''
    CHECK (dispute_status IN ('', 'open', 'won', 'lost', 'closed'));
ALTER TABLE credit_purchases ADD COLUMN disputed_credits INTEGER NOT NULL DEFAULT 0 CHECK (disputed_credits >= 0);

UPDATE credit_purchases SET refunded_cents = amount_cents, refunded_credits = credits
    WHERE status = 'refunded';
