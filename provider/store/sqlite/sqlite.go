package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/manacore/mana-core-auth/migrations"
	"github.com/manacore/mana-core-auth/provider"
)

// Store implements provider.Store on SQLite.
type Store struct {
	write *sql.DB // exactly one connection: SQLite's single writer, queued in Go
	read  *sql.DB // read-only connections; the same pool as write for :memory:
}

var _ provider.Store = (*Store)(nil)

// WAL lets readers run beside the writer. _txlock=immediate takes the write
// lock at BEGIN, where busy_timeout can wait for it; a deferred transaction
// that reads and then writes would fail with SQLITE_BUSY without waiting.
const (
	writeParams = "_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)&_txlock=immediate"
	readParams  = "_pragma=busy_timeout(5000)&_pragma=foreign_keys(1)&_query_only=1"
)

// Open opens (creating if needed, with its parent directory) the database
// file at path, or a private in-memory database for ":memory:". It does not
// migrate: call Migrate.
func Open(ctx context.Context, path string) (*Store, error) {
	if path == "" {
		return nil, errors.New("sqlite: empty database path")
	}
	// Open adds its own parameters to the path: the driver would split a '?'
	// in the name as the start of them, and hand a "file:" URI to SQLite
	// whole, so accept plain paths only.
	if strings.ContainsRune(path, '?') || strings.HasPrefix(path, "file:") {
		return nil, fmt.Errorf("sqlite: database path %q: want a plain file path (no '?', no file: URI)", path)
	}
	memory := path == ":memory:"
	if !memory {
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
	write, err := sql.Open("sqlite", path+"?"+writeParams)
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
	s := &Store{write: write, read: write}
	if !memory {
		read, err := sql.Open("sqlite", path+"?"+readParams)
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

// Ping checks that the database can be read. It uses the read pool: the
// single write connection may be held by a long transaction, and a
// readiness probe should not queue behind it.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.read.PingContext(ctx); err != nil {
		return fmt.Errorf("sqlite: ping: %w", err)
	}
	return nil
}

// Close closes both pools.
func (s *Store) Close() error {
	err := s.write.Close()
	if s.read != s.write {
		err = errors.Join(err, s.read.Close())
	}
	return err
}

// Migrate applies the embedded migrations not yet recorded in
// schema_migrations, one transaction per file. BEGIN IMMEDIATE holds
// SQLite's write lock from the version check to the commit, so two
// processes migrating at once apply each file once.
func (s *Store) Migrate(ctx context.Context) error {
	ms, err := migrations.List(migrations.SQLite)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	if _, err := s.write.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER PRIMARY KEY,
		name       TEXT    NOT NULL,
		applied_at INTEGER NOT NULL
	) STRICT`); err != nil {
		return fmt.Errorf("migrate: create schema_migrations: %w", err)
	}
	for _, m := range ms {
		if err := s.apply(ctx, m); err != nil {
			return fmt.Errorf("migrate %s: %w", m.Name, err)
		}
	}
	return nil
}

func (s *Store) apply(ctx context.Context, m migrations.Migration) error {
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

// querier is what both a pool and a transaction offer, so every method runs
// unchanged inside or outside a caller's transaction.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

type txKey struct{}

type txState struct {
	owner *Store // a ctx may cross stores (tests, credits); only ours joins
	tx    *sql.Tx
	inner bool // joined an outer BeginTx: Commit and Rollback are the outer's job
}

func (s *Store) txState(ctx context.Context) *txState {
	st, _ := ctx.Value(txKey{}).(*txState)
	if st == nil || st.owner != s {
		return nil
	}
	return st
}

// writer is for statements that write; reader for those that only read.
// Inside a transaction both are the transaction, which sees its own writes.
func (s *Store) writer(ctx context.Context) querier {
	if st := s.txState(ctx); st != nil {
		return st.tx
	}
	return s.write
}

func (s *Store) reader(ctx context.Context) querier {
	if st := s.txState(ctx); st != nil {
		return st.tx
	}
	return s.read
}

// inTx runs fn in the caller's transaction if ctx has one, else in its own,
// for the methods that need several statements to be atomic.
func (s *Store) inTx(ctx context.Context, fn func(q querier) error) error {
	if st := s.txState(ctx); st != nil {
		return fn(st.tx)
	}
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return mapErr(err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	return mapErr(tx.Commit())
}

// BeginTx starts an immediate transaction on the write connection and
// returns a context that carries it.
func (s *Store) BeginTx(ctx context.Context) (context.Context, error) {
	if st := s.txState(ctx); st != nil {
		return context.WithValue(ctx, txKey{}, &txState{owner: s, tx: st.tx, inner: true}), nil
	}
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return ctx, fmt.Errorf("begin transaction: %w", mapErr(err))
	}
	return context.WithValue(ctx, txKey{}, &txState{owner: s, tx: tx}), nil
}

// Commit commits the transaction BeginTx put into ctx.
func (s *Store) Commit(ctx context.Context) error {
	st := s.txState(ctx)
	if st == nil {
		return errors.New("commit: no transaction in context")
	}
	if st.inner {
		return nil
	}
	if err := st.tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", mapErr(err))
	}
	return nil
}

// Rollback aborts the transaction in ctx. After Commit it does nothing, so
// it can be deferred right after BeginTx.
func (s *Store) Rollback(ctx context.Context) error {
	st := s.txState(ctx)
	if st == nil {
		return errors.New("rollback: no transaction in context")
	}
	if st.inner {
		return nil
	}
	if err := st.tx.Rollback(); err != nil && !errors.Is(err, sql.ErrTxDone) {
		return fmt.Errorf("rollback: %w", err)
	}
	return nil
}

// mapErr turns driver errors into the provider sentinels, keeping the
// original error in the chain for logs and errors.As.
func mapErr(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, sql.ErrNoRows) {
		return provider.ErrNotFound
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() {
		case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
			return fmt.Errorf("%w: %w", provider.ErrAlreadyExists, err)
		}
		switch se.Code() & 0xff { // primary code; the extended ones vary by cause
		case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
			return fmt.Errorf("%w: %w", provider.ErrConflict, err)
		}
	}
	return err
}

// Times are unix milliseconds, which is the precision both backends keep.
func ms(t time.Time) int64 { return t.UnixMilli() }

func msPtr(t *time.Time) sql.NullInt64 {
	if t == nil {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: t.UnixMilli(), Valid: true}
}

func fromMS(v int64) time.Time { return time.UnixMilli(v).UTC() }

func fromMSPtr(v sql.NullInt64) *time.Time {
	if !v.Valid {
		return nil
	}
	t := fromMS(v.Int64)
	return &t
}

// jsonList encodes a list for a NOT NULL TEXT column ("[]", never "null").
func jsonList(l []string) string {
	if len(l) == 0 {
		return "[]"
	}
	b, _ := json.Marshal(l) // []string always marshals
	return string(b)
}

// listScanner decodes a JSON list column straight into the model field;
// empty lists come back nil, as on PostgreSQL.
type listScanner struct{ dst *[]string }

func (l listScanner) Scan(src any) error {
	var raw []byte
	switch v := src.(type) {
	case string:
		raw = []byte(v)
	case []byte:
		raw = v
	case nil:
		*l.dst = nil
		return nil
	default:
		return fmt.Errorf("list column: unexpected %T", src)
	}
	var out []string
	if err := json.Unmarshal(raw, &out); err != nil {
		return fmt.Errorf("list column: %w", err)
	}
	if len(out) == 0 {
		out = nil
	}
	*l.dst = out
	return nil
}

// timeScanner decodes a unix-millisecond column into a UTC time.
type timeScanner struct{ dst *time.Time }

func (t timeScanner) Scan(src any) error {
	v, ok := src.(int64)
	if !ok {
		return fmt.Errorf("time column: unexpected %T", src)
	}
	*t.dst = fromMS(v)
	return nil
}

// blob keeps NOT NULL BLOB columns NOT NULL for nil slices.
func blob(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

func nilIfEmpty(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
}
