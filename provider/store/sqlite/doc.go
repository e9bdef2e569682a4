// Package sqlite is the zero-config backend of provider.Store: an embedded
// SQLite database (modernc.org/sqlite, pure Go) so that a fresh checkout runs
// with nothing else installed, and small installs need no database server.
//
// It runs on the process's SQLite handle (internal/database): writes queue
// in Go on its one write connection, which the credits store shares, and
// reads use its pool of read-only connections, which WAL lets proceed
// alongside the writer.
//
// Because the write connection is single, code holding a transaction must
// pass the transaction's context to every store call it makes until Commit
// or Rollback: a write through another context would wait for the
// transaction to end. Times are stored as unix milliseconds UTC and lists as
// JSON arrays.
package sqlite
