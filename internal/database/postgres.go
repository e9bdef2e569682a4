package database

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/multitracer"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/manacore/mana-core-auth/migrations"
)

// PostgresDB is the PostgreSQL side of a DB: its one pool, and the
// transactions its stores carry in contexts.
type PostgresDB struct {
	pool *pgxpool.Pool
}

// PGQuerier is what both the pool and a transaction offer, so a store
// method runs unchanged inside or outside a caller's transaction.
type PGQuerier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	// SendBatch sends many statements in one round trip (bulk import).
	SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults
}

// openPostgres connects to dsn (a postgres:// URL or a key=value string)
// and checks that it answers.
func openPostgres(ctx context.Context, dsn string, o options) (*PostgresDB, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err) // pgx redacts the password
	}
	// pgx defaults to max(4, NumCPU) connections. Token issuance waits on the
	// network, not the CPU, so more connections than cores keep both busy.
	if !strings.Contains(dsn, "pool_max_conns") {
		cfg.MaxConns = int32(4 * runtime.GOMAXPROCS(0))
	}
	if o.timeout > 0 {
		if !strings.Contains(dsn, "connect_timeout") {
			cfg.ConnConfig.ConnectTimeout = o.timeout
		}
		cfg.ConnConfig.Tracer = timeouts{d: o.timeout}
	}
	if o.tracer != nil {
		// The timeouts start first, so a statement's span covers the
		// bounded call; multitracer ends them in the same order.
		tracers := []pgx.QueryTracer{o.tracer}
		if cfg.ConnConfig.Tracer != nil {
			tracers = []pgx.QueryTracer{cfg.ConnConfig.Tracer, o.tracer}
		}
		cfg.ConnConfig.Tracer = multitracer.New(tracers...)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: connect: %w", err)
	}
	return &PostgresDB{pool: pool}, nil
}

// Pool is the handle's connection pool, for queries that manage their own
// transactions (pgx.BeginFunc) or batches.
func (p *PostgresDB) Pool() *pgxpool.Pool { return p.pool }

// Ping checks that the database answers.
func (p *PostgresDB) Ping(ctx context.Context) error {
	if err := p.pool.Ping(ctx); err != nil {
		return fmt.Errorf("postgres: ping: %w", err)
	}
	return nil
}

// migrationLock is the pg_advisory_xact_lock key that serialises migrators
// ("manaauth" in ASCII), so replicas starting together apply each file once.
const migrationLock int64 = 0x6d616e6161757468

// migrate applies the embedded migrations that are not yet recorded in
// auth.schema_migrations, one transaction per file.
//
// The advisory lock is taken per transaction rather than per session so
// that migrating through PgBouncer in transaction mode stays safe: a session
// lock could be released on a different server connection than it was taken.
func (p *PostgresDB) migrate(ctx context.Context) error {
	ctx = withoutTimeout(ctx)
	ms, err := migrations.List(migrations.Postgres)
	if err != nil {
		return err
	}
	err = pgx.BeginFunc(ctx, p.pool, func(tx pgx.Tx) error {
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
		return fmt.Errorf("create auth.schema_migrations: %w", err)
	}
	for _, m := range ms {
		err := pgx.BeginFunc(ctx, p.pool, func(tx pgx.Tx) error {
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
			return fmt.Errorf("%s: %w", m.Name, err)
		}
	}
	return nil
}

// Tx is the transaction BeginTx put into ctx, or nil outside one.
func (p *PostgresDB) Tx(ctx context.Context) pgx.Tx { return txOf[pgx.Tx](ctx, p) }

// Querier is the transaction in ctx, or the pool outside one.
func (p *PostgresDB) Querier(ctx context.Context) PGQuerier {
	if tx := p.Tx(ctx); tx != nil {
		return tx
	}
	return p.pool
}

// BeginTx starts a READ COMMITTED transaction and returns a context that
// carries it; on a context that already carries one of this handle, it
// joins that one. The stores keep every conflict-prone write a single
// conditional statement, so stronger isolation would only add retries.
func (p *PostgresDB) BeginTx(ctx context.Context) (context.Context, error) {
	return beginTx(ctx, p, func() (pgx.Tx, error) { return p.pool.Begin(ctx) })
}

// Commit commits the transaction BeginTx put into ctx (a joined one is
// committed by the outer call).
func (p *PostgresDB) Commit(ctx context.Context) error {
	return endTx(ctx, p, "commit", func(tx pgx.Tx) error { return tx.Commit(ctx) })
}

// Rollback aborts the transaction in ctx. After Commit it does nothing, so
// it can be deferred right after BeginTx.
func (p *PostgresDB) Rollback(ctx context.Context) error {
	return endTx(ctx, p, "rollback", func(tx pgx.Tx) error {
		// A cancelled ctx would make pgx drop the connection instead of
		// rolling back; the server rolls back either way, but keep the conn.
		if err := tx.Rollback(context.WithoutCancel(ctx)); !errors.Is(err, pgx.ErrTxClosed) {
			return err
		}
		return nil
	})
}
