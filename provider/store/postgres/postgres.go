package postgres

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/manacore/mana-core-auth/migrations"
	"github.com/manacore/mana-core-auth/provider"
)

// Store implements provider.Store on PostgreSQL.
type Store struct {
	pool *pgxpool.Pool
}

var _ provider.Store = (*Store)(nil)

// Open connects to the database at dsn (a postgres:// URL or a key=value
// string) and checks that it answers. It does not migrate: call Migrate.
func Open(ctx context.Context, dsn string) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err) // pgx redacts the password
	}
	// pgx defaults to max(4, NumCPU) connections. Token issuance waits on the
	// network, not the CPU, so more connections than cores keep both busy.
	if !strings.Contains(dsn, "pool_max_conns") {
		cfg.MaxConns = int32(4 * runtime.GOMAXPROCS(0))
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: connect: %w", err)
	}
	return &Store{pool: pool}, nil
}

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.pool.Ping(ctx); err != nil {
		return fmt.Errorf("postgres: ping: %w", err)
	}
	return nil
}

// Close waits for borrowed connections to come back and closes the pool.
func (s *Store) Close() error {
	s.pool.Close()
	return nil
}

// migrationLock is the pg_advisory_xact_lock key that serialises migrators
// ("manaauth" in ASCII), so replicas starting together apply each file once.
const migrationLock int64 = 0x6d616e6161757468

// Migrate applies the embedded migrations that are not yet recorded in
// auth.schema_migrations, one transaction per file.
//
// The advisory lock is taken per transaction rather than per session so
// that migrating through PgBouncer in transaction mode stays safe: a session
// lock could be released on a different server connection than it was taken.
func (s *Store) Migrate(ctx context.Context) error {
	ms, err := migrations.List(migrations.Postgres)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", migrationLock); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `
			CREATE SCHEMA IF NOT EXISTS auth;
			CREATE TABLE IF NOT EXISTS auth.schema_migrations (
				version    integer     PRIMARY KEY,
				name       text        NOT NULL,
				applied_at timestamptz NOT NULL DEFAULT now()
			)`)
		return err
	})
	if err != nil {
		return fmt.Errorf("migrate: create auth.schema_migrations: %w", err)
	}
	for _, m := range ms {
		err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", migrationLock); err != nil {
				return err
			}
			var done bool
			err := tx.QueryRow(ctx,
				"SELECT EXISTS (SELECT 1 FROM auth.schema_migrations WHERE version = $1)",
				m.Version).Scan(&done)
			if err != nil || done {
				return err
			}
			if _, err := tx.Exec(ctx, m.SQL); err != nil {
				return err
			}
			_, err = tx.Exec(ctx,
				"INSERT INTO auth.schema_migrations (version, name) VALUES ($1, $2)",
				m.Version, m.Name)
			return err
		})
		if err != nil {
			return fmt.Errorf("migrate %s: %w", m.Name, err)
		}
	}
	return nil
}

// querier is what both the pool and a transaction offer, so every method
// runs unchanged inside or outside a caller's transaction.
type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

type txKey struct{}

type txState struct {
	owner *Store // a ctx may cross stores (tests, credits); only ours joins
	tx    pgx.Tx
	inner bool // joined an outer BeginTx: Commit and Rollback are the outer's job
}

func (s *Store) txState(ctx context.Context) *txState {
	st, _ := ctx.Value(txKey{}).(*txState)
	if st == nil || st.owner != s {
		return nil
	}
	return st
}

func (s *Store) db(ctx context.Context) querier {
	if st := s.txState(ctx); st != nil {
		return st.tx
	}
	return s.pool
}

// BeginTx starts a READ COMMITTED transaction and returns a context that
// carries it. Every conflict-prone write in this package is a single
// conditional statement, so stronger isolation would only add retries.
func (s *Store) BeginTx(ctx context.Context) (context.Context, error) {
	if st := s.txState(ctx); st != nil {
		return context.WithValue(ctx, txKey{}, &txState{owner: s, tx: st.tx, inner: true}), nil
	}
	tx, err := s.pool.Begin(ctx)
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
	if err := st.tx.Commit(ctx); err != nil {
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
	// A cancelled ctx would make pgx drop the connection instead of
	// rolling back; the server rolls back either way, but keep the conn.
	if err := st.tx.Rollback(context.WithoutCancel(ctx)); err != nil && !errors.Is(err, pgx.ErrTxClosed) {
		return fmt.Errorf("rollback: %w", err)
	}
	return nil
}

// mapErr turns driver errors into the provider sentinels, keeping the
// original error in the chain for logs and errors.As.
func mapErr(err error) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return provider.ErrNotFound
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case "23505": // unique_violation
			return fmt.Errorf("%w: %w", provider.ErrAlreadyExists, err)
		case "40001", "40P01", "55P03": // serialization_failure, deadlock_detected, lock_not_available
			return fmt.Errorf("%w: %w", provider.ErrConflict, err)
		}
	}
	return err
}

// ts is how every time goes in: UTC and millisecond precision, so both
// backends return exactly the same instant.
func ts(t time.Time) time.Time { return t.UTC().Truncate(time.Millisecond) }

func tsPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	v := ts(*t)
	return &v
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	v := t.UTC()
	return &v
}

// list and blob keep NOT NULL columns NOT NULL: pgx sends nil slices as NULL.
func list(l []string) []string {
	if l == nil {
		return []string{}
	}
	return l
}

func blob(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// Empty lists and blobs come back nil on both backends, so a value that
// went in nil compares equal after the round trip.
func nilIfEmpty[T any](s []T) []T {
	if len(s) == 0 {
		return nil
	}
	return s
}
