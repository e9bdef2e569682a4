// Package sqlite is the zero-config backend of provider.Store: an embedded
// SQLite database (modernc.org/sqlite, pure Go) so that a fresh checkout runs
// with nothing else installed, and small installs need no database server.
//
// SQLite allows one writer at a time. Rather than let concurrent writers
// collide and spin on SQLITE_BUSY, the store queues them in Go on a pool of
// exactly one write connection; reads use a separate pool of read-only
// connections that WAL lets proceed alongside the writer. busy_timeout and
// BEGIN IMMEDIATE still cover a second process on the same file (manaauth
// migrate while the server runs).
//
// Because the write connection is single, code holding a transaction must
// pass the transaction's context to every store call it makes until Commit
// or Rollback: a write through another context would wait for the
// transaction to end. Times are stored as unix milliseconds UTC and lists as
// JSON arrays.
package sqlite
