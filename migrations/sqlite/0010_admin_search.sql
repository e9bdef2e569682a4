-- SQLite dialect of postgres/0010_admin_search.sql. The search compares
-- with the Go-registered unicode_lower() (SQLite's lower() folds ASCII
-- only); a substring search scans, which SQLite deployments are small
-- enough for, so only the order gets an index.
CREATE INDEX users_created_idx ON users (created_at DESC, id DESC);

ALTER TABLE clients ADD COLUMN disabled INTEGER NOT NULL DEFAULT 0;
