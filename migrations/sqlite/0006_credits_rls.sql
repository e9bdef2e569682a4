-- Credits row-level security, SQLite dialect of postgres/0006_credits_rls.sql.
-- SQLite has no roles or row-level security: a single-process, single-file
-- database relies on the store's WHERE user_id = ? alone. This file only
-- keeps the version numbers of both dialects aligned.
SELECT 1;
