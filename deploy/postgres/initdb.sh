#!/bin/sh
# Runs once, on the first start of an empty PostgreSQL volume (the image
# runs /docker-entrypoint-initdb.d/* as the superuser). The application
# gets its own role, owner of its database but no superuser: the
# migrations need CREATEROLE only for the NOLOGIN role manaauth_app that
# row-level security switches to (migrations/postgres/0006_credits_rls.sql).
set -eu
: "${MANAAUTH_DB_PASSWORD:?MANAAUTH_DB_PASSWORD is required}"
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
	--set=app_password="$MANAAUTH_DB_PASSWORD" <<'SQL'
SET password_encryption = 'scram-sha-256';
CREATE ROLE manaauth LOGIN CREATEROLE PASSWORD :'app_password';
CREATE DATABASE manaauth OWNER manaauth;
REVOKE ALL ON DATABASE manaauth FROM PUBLIC;
SQL
