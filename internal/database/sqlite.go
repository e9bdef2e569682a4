package database

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"github.com/manacore/mana-core-auth/migrations"
)

// SQLiteDB is the SQLite side of a DB. SQLite allows one writer at a time:
// rather than let concurrent writers collide and spin on SQLITE_BUSY, every
// store of the process queues its writes in Go on the one write connection;
// reads use a separate pool of read-only connections that WAL lets proceed
// alongside the writer. busy_timeout and BEGIN IMMEDIATE still cover a
// second process on the same file (manaauth migrate while the server runs).
//
// Because the write connection is single, code holding a transaction must
// pass the transaction's context to every store call it makes until Commit
// or Rollback: a write through another context waits for the transaction
// to end.
type SQLiteDB struct {
	write *sql.DB // exactly one connection
	read  *sql.DB // read-only connections; the same pool as write for :memory:
}

// SQLQuerier is what both a database/sql pool and a transaction offer, so a
// store method runs unchanged inside or outside a caller's transaction.
type SQLQuerier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// WAL lets readers run beside the writer. _txlock=immediate takes the write
// lock at BEGIN, where busy_timeout can wait for it; a deferred transaction
// that reads and then writes would fail with SQLITE_BUSY without waiting.
const (
	sqliteWriteParams = "_pragma=busy_timeout(%d)&_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)&_txlock=immediate"
	sqliteReadParams  = "_pragma=busy_timeout(%d)&_pragma=foreign_keys(1)&_query_only=1"
)

// busyTimeout is how long, in ms, a write waits for the lock: the
// timeout, or the default for unbounded tools (SQLite has no "forever"
// that would not also hang on a stuck writer).
func busyTimeout(o options) int64 {
	if o.timeout <= 0 {
		return DefaultTimeout.Milliseconds()
	}
	return o.timeout.Milliseconds()
}

// openSQLite opens (creating if needed, with its parent directory) the
// database file at path, or a private in-memory database for ":memory:";
// ParseURL has checked path is a plain file path.
func openSQLite(ctx context.Context, path string, o options) (*SQLiteDB, error) {
	inMemory := path == memory
	if !inMemory {
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, fmt.Errorf("sqlite: create database directory: %w", err)
		}
		// The file holds password hashes and sealed signing keys. SQLite
		// would create it world-readable (0644 under the usual umask) and
		// gives its -wal and -shm files the main file's mode, so create it
		// private first; an empty file is a valid empty database.
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
		if err == nil {
			err = f.Close()
		} else if errors.Is(err, os.ErrExist) {
			err = nil
		}
		if err != nil {
			return nil, fmt.Errorf("sqlite: create database file: %w", err)
		}
	}
	write, err := sql.Open("sqlite", path+"?"+fmt.Sprintf(sqliteWriteParams, busyTimeout(o)))
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	write.SetMaxOpenConns(1)
	write.SetMaxIdleConns(1)
	// Never recycle the connection: for :memory: it *is* the database.
	write.SetConnMaxLifetime(0)
	write.SetConnMaxIdleTime(0)
	// Connect the writer first so the file is in WAL mode before any reader
	// opens it (a query_only connection cannot switch the journal mode).
	if err := write.PingContext(ctx); err != nil {
		write.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	s := &SQLiteDB{write: write, read: write}
	if !inMemory {
		read, err := sql.Open("sqlite", path+"?"+fmt.Sprintf(sqliteReadParams, busyTimeout(o)))
		if err != nil {
			write.Close()
			return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
		}
		n := max(4, runtime.GOMAXPROCS(0))
		read.SetMaxOpenConns(n)
		read.SetMaxIdleConns(n)
		s.read = read
	}
	return s, nil
}

// WritePool is the single write connection, opened with _txlock=immediate:
// every transaction begun on it holds SQLite's write lock from BEGIN.
func (s *SQLiteDB) WritePool() *sql.DB { return s.write }

// ReadPool is the read-only pool (the write connection for :memory:).
func (s *SQLiteDB) ReadPool() *sql.DB { return s.read }

// Ping checks that the database can be read. It uses the read pool: the
// single write connection may be held by a long transaction, and a
// readiness probe should not queue behind it.
func (s *SQLiteDB) Ping(ctx context.Context) error {
	if err := s.read.PingContext(ctx); err != nil {
		return fmt.Errorf("sqlite: ping: %w", err)
	}
	return nil
}

func (s *SQLiteDB) close() error {
	err := s.write.Close()
	if s.read != s.write {
		err = errors.Join(err, s.read.Close())
	}
	return err
}

// migrate applies the embedded migrations not yet recorded in
// schema_migrations, one transaction per file. BEGIN IMMEDIATE holds
// SQLite's write lock from the version check to the commit, so two
// processes migrating at once apply each file once.
func (s *SQLiteDB) migrate(ctx context.Context) error {
	ms, err := migrations.List(migrations.SQLite)
	if err != nil {
		return err
	}
	if _, err := s.write.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER PRIMARY KEY,
		name       TEXT    NOT NULL,
		applied_at INTEGER NOT NULL
	) STRICT`); err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}
	for _, m := range ms {
		if err := s.apply(ctx, m); err != nil {
			return fmt.Errorf("%s: %w", m.Name, err)
		}
	}
	return nil
}

func (s *SQLiteDB) apply(ctx context.Context, m migrations.Migration) error {
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	var done bool
	if err := tx.QueryRowContext(ctx,
		`SELECT EXISTS (SELECT 1 FROM schema_migrations WHERE version = ?)`, m.Version).Scan(&done); err != nil {
		return err
	}
	if done {
		return nil
	}
	if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx,
		`INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`,
		m.Version, m.Name, time.Now().UnixMilli()); err != nil {
		return err
	}
	return tx.Commit()
}

// Tx is the transaction BeginTx put into ctx, or nil outside one.
func (s *SQLiteDB) Tx(ctx context.Context) *sql.Tx { return txOf[*sql.Tx](ctx, s) }

// Writer is for statements that write, Reader for those that only read.
// Inside a transaction both are the transaction, which sees its own writes.
func (s *SQLiteDB) Writer(ctx context.Context) SQLQuerier {
	if tx := s.Tx(ctx); tx != nil {
		return tx
	}
	return s.write
}

// Reader: see Writer.
func (s *SQLiteDB) Reader(ctx context.Context) SQLQuerier {
	if tx := s.Tx(ctx); tx != nil {
		return tx
	}
	return s.read
}

// InTx runs fn in the caller's transaction if ctx has one, else in a
// transaction of its own, for work of several statements that must be
// atomic. fn's error is returned as it is.
func (s *SQLiteDB) InTx(ctx context.Context, fn func(q SQLQuerier) error) error {
	if tx := s.Tx(ctx); tx != nil {
		return fn(tx)
	}
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin transaction: %w", err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// BeginTx starts an immediate transaction on the write connection and
// returns a context that carries it; on a context that already carries
// one of this handle, it joins that one.
func (s *SQLiteDB) BeginTx(ctx context.Context) (context.Context, error) {
	return beginTx(ctx, s, func() (*sql.Tx, error) { return s.write.BeginTx(ctx, nil) })
}

// Commit commits the transaction BeginTx put into ctx (a joined one is
// committed by the outer call).
func (s *SQLiteDB) Commit(ctx context.Context) error {
	return endTx(ctx, s, "commit", (*sql.Tx).Commit)
}

// Rollback aborts the transaction in ctx. After Commit it does nothing, so
// it can be deferred right after BeginTx.
func (s *SQLiteDB) Rollback(ctx context.Context) error {
	return endTx(ctx, s, "rollback", func(tx *sql.Tx) error {
		if err := tx.Rollback(); !errors.Is(err, sql.ErrTxDone) {
			return err
		}
		return nil
	})
}
