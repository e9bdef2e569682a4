-- Credits row-level security (issue 5, DESIGN.md "Storage").
--
-- The DATABASE_URL user owns these tables (or is a superuser), and owners
-- bypass RLS. So the credits store runs every user-scoped transaction as the
-- NOLOGIN role manaauth_app, which owns nothing:
--
--     BEGIN;
--     SET LOCAL ROLE manaauth_app;
--     SELECT set_config('app.user_id', '<user id>', true);
--     ...
--
-- Both settings are transaction-local, so they work behind PgBouncer in
-- transaction mode and never leak to the next transaction on the
-- connection. Without app.user_id, current_setting(..., true) is NULL (or
-- '' after a reset) and the policies match no row. System-wide work
-- (Verify, Stripe webhooks, packages) keeps running as the owner.

-- Roles are cluster-wide, and several databases of one cluster may migrate
-- at once (the per-database advisory lock does not serialise them), so the
-- role creation and the grant tolerate a concurrent twin.
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'manaauth_app') THEN
        BEGIN
            CREATE ROLE manaauth_app NOLOGIN;
        EXCEPTION WHEN duplicate_object OR unique_violation THEN
            NULL; -- created meanwhile by a concurrent migration
        END;
    END IF;
END
$$;

DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_auth_members m
                   JOIN pg_roles r ON r.oid = m.roleid
                   JOIN pg_roles u ON u.oid = m.member
                   WHERE r.rolname = 'manaauth_app' AND u.rolname = CURRENT_USER) THEN
        BEGIN
            GRANT manaauth_app TO CURRENT_USER;
        EXCEPTION WHEN OTHERS THEN
            -- A concurrent identical grant ("tuple concurrently updated",
            -- unique violation) is fine; anything else is not.
            IF NOT EXISTS (SELECT FROM pg_auth_members m
                   JOIN pg_roles r ON r.oid = m.roleid
                   JOIN pg_roles u ON u.oid = m.member
                   WHERE r.rolname = 'manaauth_app' AND u.rolname = CURRENT_USER) THEN
                RAISE;
            END IF;
        END;
    END IF;
END
$$;

GRANT USAGE ON SCHEMA credits TO manaauth_app;
GRANT SELECT, INSERT, UPDATE ON credits.balances     TO manaauth_app;
GRANT SELECT, INSERT         ON credits.transactions TO manaauth_app;
GRANT SELECT, INSERT         ON credits.postings     TO manaauth_app;
GRANT SELECT, INSERT, UPDATE ON credits.usage_stats  TO manaauth_app;
GRANT SELECT, INSERT         ON credits.purchases    TO manaauth_app;
-- Foreign key of purchases.package_id is checked as the table owner; reading
-- the catalogue is harmless.
GRANT SELECT                 ON credits.packages     TO manaauth_app;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA credits TO manaauth_app;

ALTER TABLE credits.balances     ENABLE ROW LEVEL SECURITY;
ALTER TABLE credits.transactions ENABLE ROW LEVEL SECURITY;
ALTER TABLE credits.postings     ENABLE ROW LEVEL SECURITY;
ALTER TABLE credits.usage_stats  ENABLE ROW LEVEL SECURITY;
ALTER TABLE credits.purchases    ENABLE ROW LEVEL SECURITY;

CREATE POLICY balances_owner ON credits.balances
    USING (user_id = current_setting('app.user_id', true))
    WITH CHECK (user_id = current_setting('app.user_id', true));
CREATE POLICY transactions_owner ON credits.transactions
    USING (user_id = current_setting('app.user_id', true))
    WITH CHECK (user_id = current_setting('app.user_id', true));
-- Postings belong to the user of their transaction. EXISTS on the primary
-- key (rather than IN over all the user's transactions) keeps the check per
-- posting an index probe; the subquery is itself filtered by the
-- transactions policy.
CREATE POLICY postings_owner ON credits.postings
    USING (EXISTS (SELECT 1 FROM credits.transactions t
                   WHERE t.id = transaction_id
                     AND t.user_id = current_setting('app.user_id', true)))
    WITH CHECK (EXISTS (SELECT 1 FROM credits.transactions t
                        WHERE t.id = transaction_id
                          AND t.user_id = current_setting('app.user_id', true)));
CREATE POLICY usage_stats_owner ON credits.usage_stats
    USING (user_id = current_setting('app.user_id', true))
    WITH CHECK (user_id = current_setting('app.user_id', true));
CREATE POLICY purchases_owner ON credits.purchases
    USING (user_id = current_setting('app.user_id', true))
    WITH CHECK (user_id = current_setting('app.user_id', true));
