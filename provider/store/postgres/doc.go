// Package postgres is the production backend of provider.Store: PostgreSQL
// through the process's one pgx pool (internal/database, shared with the
// credits store), tables in schema auth.
//
// The token endpoints write a row per issued token, so the hot paths
// (CreateGrant, GetGrant, GetClient, RotateGrant) are one statement each, and
// operations that touch several tables (DeleteClient, the revocations,
// DeleteExpired) are single statements with data-modifying CTEs: atomic
// without a transaction round trip.
//
// Statements are prepared and cached per connection (pgx's default). Behind
// PgBouncer in transaction mode older than 1.21, add
// default_query_exec_mode=exec (or cache_describe) to the DSN.
package postgres
