-- Admin user search and client switch (issue 11, part A).
--
-- The admin list searches email and name case-insensitively for a
-- substring. search holds both, lower-cased, so a match is one LIKE on a
-- stored value instead of two lower() calls per row; the newline between
-- them keeps a term from matching across the two (the admin service
-- refuses control characters in a term).
ALTER TABLE auth.users ADD COLUMN search text
    GENERATED ALWAYS AS (lower(email) || E'\n' || lower(name)) STORED;

-- A trigram index answers '%term%' without reading every row. pg_trgm is
-- a trusted extension, but a managed database may still refuse to create
-- it; the migration then falls back to a plain btree on the lower-cased
-- text, which serves searches for the start of an address.
DO $$
DECLARE
    trgm_schema text;
BEGIN
    BEGIN
        CREATE EXTENSION IF NOT EXISTS pg_trgm;
    EXCEPTION WHEN insufficient_privilege OR undefined_file OR feature_not_supported OR unique_violation THEN
        RAISE NOTICE 'pg_trgm not available (%), the user search uses a btree index', SQLERRM;
    END;
    SELECT n.nspname INTO trgm_schema
        FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
        WHERE e.extname = 'pg_trgm';
    IF trgm_schema IS NOT NULL THEN
        EXECUTE format('CREATE INDEX users_search_trgm_idx ON auth.users USING gin (search %I.gin_trgm_ops)', trgm_schema);
    ELSE
        CREATE INDEX users_search_prefix_idx ON auth.users (search text_pattern_ops);
    END IF;
END
$$;

-- The list is ordered newest first; id breaks ties so pages never
-- overlap. The partial index serves the usual list (erased accounts
-- hidden), its ordering and its count.
CREATE INDEX users_created_idx ON auth.users (created_at DESC, id DESC);
CREATE INDEX users_live_created_idx ON auth.users (created_at DESC, id DESC) WHERE deleted_at IS NULL;

-- A disabled client is treated as unknown: no sign-in, no tokens.
ALTER TABLE auth.clients ADD COLUMN disabled boolean NOT NULL DEFAULT false;
