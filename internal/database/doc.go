// Package database is the one database handle of a process, shared by the
// provider and credits stores: it parses DATABASE_URL, opens PostgreSQL (one
// pgx pool) or SQLite (one single-connection writer and a read-only reader
// pool), applies the migrations, and holds what both families of stores
// need around their own SQL: transactions carried in a context, the time
// encodings both backends agree on, and driver error classification.
//
// It lives outside provider and credits because credits must never import
// provider, yet both must run on the same pool: on SQLite two pools on one
// file would be two writers kept apart only by busy_timeout, and on
// PostgreSQL a second pool would double the connections and miss the
// first one's sizing.
//
// The SQL itself stays in the stores: each dialect's queries are tuned to
// it (pgx batches, SELECT … FOR UPDATE, row-level security) and are not
// abstracted here.
package database
