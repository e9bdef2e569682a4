-- Account status for administration (issue 11). disabled blocks sign-in;
-- deleted_at marks an erased person: the row stays as a tombstone without
-- email, name or password, so the address can register again and ids that
-- other systems still hold resolve to "erased".
ALTER TABLE auth.users ADD COLUMN disabled boolean NOT NULL DEFAULT false;
ALTER TABLE auth.users ADD COLUMN deleted_at timestamptz;
