-- Admin user search and client switch (issue 11, part A).
--
-- The admin list searches email and name case-insensitively for a
-- substring. A trigram index answers '%term%' without a full scan; pg_trgm
-- is a trusted extension, but a managed database may still refuse to
-- create it, so the migration then falls back to plain lower() indexes
-- (prefix searches and equality still use them; substrings scan).
DO $$
DECLARE
    trgm_schema text;
BEGIN
    BEGIN
        CREATE EXTENSION IF NOT EXISTS pg_trgm;
    EXCEPTION WHEN insufficient_privilege OR undefined_file OR feature_not_supported OR unique_violation THEN
        RAISE NOTICE 'pg_trgm not available (%), the user search uses lower() indexes', SQLERRM;
    END;
    SELECT n.nspname INTO trgm_schema
        FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
        WHERE e.extname = 'pg_trgm';
    IF trgm_schema IS NOT NULL THEN
        EXECUTE format('CREATE INDEX users_email_trgm_idx ON auth.users USING gin (lower(email) %I.gin_trgm_ops)', trgm_schema);
        EXECUTE format('CREATE INDEX users_name_trgm_idx ON auth.users USING gin (lower(name) %I.gin_trgm_ops)', trgm_schema);
    ELSE
        CREATE INDEX users_email_lower_idx ON auth.users (lower(email) text_pattern_ops);
        CREATE INDEX users_name_lower_idx ON auth.users (lower(name) text_pattern_ops);
    END IF;
END
$$;

-- The list is ordered newest first; id breaks ties so pages never overlap.
CREATE INDEX users_created_idx ON auth.users (created_at DESC, id DESC);

-- A disabled client is treated as unknown: no sign-in, no tokens.
ALTER TABLE auth.clients ADD COLUMN disabled boolean NOT NULL DEFAULT false;
