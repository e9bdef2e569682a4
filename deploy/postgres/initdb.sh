#!/bin/sh
# Runs once, on the first start of an empty PostgreSQL volume (the image
# runs /docker-entrypoint-initdb.d/* as the superuser $POSTGRES_USER).
#
# The application gets its own login role, owner of its database and
# nothing more: no superuser, no CREATEROLE. The NOLOGIN role
# manaauth_app, which row-level security switches to with SET LOCAL ROLE
# (migrations/postgres/0006_credits_rls.sql), is created here and granted
# to it, so the migration finds both done; a non-superuser could not
# create it with the SET option it needs on PostgreSQL 16.
#
# MANAAUTH_DB_USER and MANAAUTH_DB_NAME (default manaauth) exist for the
# test that runs this script (deploy/postgres_test.go).
set -eu
: "${MANAAUTH_DB_PASSWORD:?MANAAUTH_DB_PASSWORD is required}"
psql -v ON_ERROR_STOP=1 --username "${POSTGRES_USER:-postgres}" --dbname postgres \
	--set=app_user="${MANAAUTH_DB_USER:-manaauth}" \
	--set=app_db="${MANAAUTH_DB_NAME:-manaauth}" \
	--set=app_password="$MANAAUTH_DB_PASSWORD" <<'SQL'
SET password_encryption = 'scram-sha-256';
CREATE ROLE :"app_user" LOGIN PASSWORD :'app_password';
CREATE DATABASE :"app_db" OWNER :"app_user";
REVOKE ALL ON DATABASE :"app_db" FROM PUBLIC;
GRANT CONNECT, TEMPORARY ON DATABASE :"app_db" TO :"app_user";
SELECT NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'manaauth_app') AS create_app_role \gset
\if :create_app_role
CREATE ROLE manaauth_app NOLOGIN;
\endif
GRANT manaauth_app TO :"app_user";
SQL
