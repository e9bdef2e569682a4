-- The old service's schema (mana-core-auth with Better Auth 1.4.4, applied
-- there with drizzle `db:push`), written from the description in
-- seed-behaviour.md section 6: the tables and columns the import reads, with
-- the old types and constraints, so the tests read a database shaped like
-- production's. Tables the import ignores (organizations, referrals, …)
-- are left out.

CREATE SCHEMA auth;
CREATE SCHEMA credits;

CREATE TYPE auth.user_role AS ENUM ('user', 'admin', 'service');

CREATE TABLE auth.users (
    id             text PRIMARY KEY,
    name           text NOT NULL,
    email          text NOT NULL UNIQUE,
    email_verified boolean NOT NULL DEFAULT false,
    image          text,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    role           auth.user_role NOT NULL DEFAULT 'user',
    deleted_at     timestamptz
);

CREATE TABLE auth.sessions (
    id                       text PRIMARY KEY,
    expires_at               timestamptz NOT NULL,
    token                    text NOT NULL UNIQUE,
    created_at               timestamptz NOT NULL DEFAULT now(),
    updated_at               timestamptz NOT NULL DEFAULT now(),
    ip_address               text,
    user_agent               text,
    user_id                  text NOT NULL REFERENCES auth.users (id) ON DELETE CASCADE,
    refresh_token            text UNIQUE,
    refresh_token_expires_at timestamptz,
    device_id                text,
    device_name              text,
    last_activity_at         timestamptz DEFAULT now(),
    revoked_at               timestamptz,
    remember_me              boolean DEFAULT false
);

CREATE TABLE auth.accounts (
    id                       text PRIMARY KEY,
    account_id               text NOT NULL,
    provider_id              text NOT NULL,
    user_id                  text NOT NULL REFERENCES auth.users (id) ON DELETE CASCADE,
    access_token             text,
    refresh_token            text,
    id_token                 text,
    access_token_expires_at  timestamptz,
    refresh_token_expires_at timestamptz,
    scope                    text,
    password                 text,
    created_at               timestamptz NOT NULL DEFAULT now(),
    updated_at               timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE auth.verification (
    id         text PRIMARY KEY,
    identifier text NOT NULL,
    value      text NOT NULL,
    expires_at timestamptz NOT NULL,
    created_at timestamptz DEFAULT now(),
    updated_at timestamptz DEFAULT now()
);
CREATE INDEX verification_identifier_idx ON auth.verification (identifier);

CREATE TABLE auth.jwks (
    id          text PRIMARY KEY,
    public_key  text NOT NULL,
    private_key text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE auth.oauth_applications (
    id            text PRIMARY KEY,
    name          text,
    icon          text,
    metadata      text,
    client_id     text UNIQUE,
    client_secret text NOT NULL,
    redirect_urls text,
    type          text DEFAULT 'web',
    disabled      boolean DEFAULT false,
    user_id       text REFERENCES auth.users (id) ON DELETE CASCADE,
    created_at    timestamptz DEFAULT now(),
    updated_at    timestamptz DEFAULT now()
);

CREATE TABLE credits.balances (
    user_id                text PRIMARY KEY REFERENCES auth.users (id) ON DELETE CASCADE,
    balance                integer NOT NULL DEFAULT 0,
    free_credits_remaining integer NOT NULL DEFAULT 150,
    daily_free_credits     integer NOT NULL DEFAULT 5,
    last_daily_reset_at    timestamptz DEFAULT now(),
    total_earned           integer NOT NULL DEFAULT 0,
    total_spent            integer NOT NULL DEFAULT 0,
    version                integer NOT NULL DEFAULT 0,
    created_at             timestamptz NOT NULL DEFAULT now(),
    updated_at             timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE credits.packages (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name             text NOT NULL,
    description      text,
    credits          integer NOT NULL,
    price_euro_cents integer NOT NULL,
    stripe_price_id  text UNIQUE,
    active           boolean NOT NULL DEFAULT true,
    sort_order       integer NOT NULL DEFAULT 0,
    metadata         jsonb,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE credits.transactions (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id         text NOT NULL REFERENCES auth.users (id) ON DELETE CASCADE,
    type            text NOT NULL,
    status          text NOT NULL DEFAULT 'pending',
    amount          integer NOT NULL,
    balance_before  integer NOT NULL,
    balance_after   integer NOT NULL,
    app_id          text NOT NULL,
    description     text NOT NULL,
    organization_id text,
    metadata        jsonb,
    idempotency_key text UNIQUE,
    created_at      timestamptz NOT NULL DEFAULT now(),
    completed_at    timestamptz
);
CREATE INDEX transactions_user_idx ON credits.transactions (user_id);

CREATE TABLE credits.purchases (
    id                       uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id                  text NOT NULL REFERENCES auth.users (id) ON DELETE CASCADE,
    package_id               uuid REFERENCES credits.packages (id),
    credits                  integer NOT NULL,
    price_euro_cents         integer NOT NULL,
    stripe_payment_intent_id text UNIQUE,
    stripe_customer_id       text,
    status                   text NOT NULL DEFAULT 'pending',
    metadata                 jsonb,
    created_at               timestamptz NOT NULL DEFAULT now(),
    completed_at             timestamptz
);

CREATE TABLE credits.usage_stats (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id      text NOT NULL REFERENCES auth.users (id) ON DELETE CASCADE,
    app_id       text NOT NULL,
    credits_used integer NOT NULL,
    date         timestamptz NOT NULL,
    metadata     jsonb,
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX usage_stats_user_date_idx ON credits.usage_stats (user_id, date);
