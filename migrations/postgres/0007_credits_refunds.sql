-- Partial refunds and disputes (issue 10). Stripe reports each refund of a
-- charge with the charge's cumulative amount_refunded; the purchase keeps
-- what it has accounted so far, so each refund books only the difference
-- and an older, smaller report books nothing:
--   refunded_cents    the largest cumulative amount_refunded seen
--   refunded_credits  credits accounted to refunds (booked or shortfall)
--   dispute_*         the charge's dispute: '' (none), open, won, lost, closed
--   disputed_credits  credits accounted to a lost dispute
-- A partly refunded purchase stays 'succeeded'; 'refunded' means fully.

ALTER TABLE credits.purchases
    ADD COLUMN refunded_cents   bigint NOT NULL DEFAULT 0 CHECK (refunded_cents >= 0),
    ADD COLUMN refunded_credits bigint NOT NULL DEFAULT 0 CHECK (refunded_credits >= 0),
    ADD COLUMN dispute_id       text   NOT NULL DEFAULT '',
    ADD COLUMN dispute_status   text   NOT NULL DEFAULT ''
        CHECK (dispute_status IN ('', 'open', 'won', 'lost', 'closed')),
    ADD COLUMN disputed_credits bigint NOT NULL DEFAULT 0 CHECK (disputed_credits >= 0),
    ADD CONSTRAINT purchases_taken_check CHECK (refunded_credits + disputed_credits <= credits);

-- Before this migration a refund was booked once per charge and a purchase
-- was marked refunded only when Stripe reported the whole amount, which
-- took all its credits: account them, so a late report books nothing more.
UPDATE credits.purchases SET refunded_cents = amount_cents, refunded_credits = credits
    WHERE status = 'refunded';
