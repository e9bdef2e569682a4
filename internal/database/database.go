package database

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// DB is the database handle of a process: one per DATABASE_URL, opened
// once and handed to every store. Whoever opened it closes it; the stores
// built on it never do.
type DB struct {
	target Target
	pg     *PostgresDB // set for Postgres
	lite   *SQLiteDB   // set for SQLite
}

// Open parses raw (see ParseURL) and connects: PostgreSQL through one pgx
// pool, SQLite through one writer connection and a reader pool on the
// file, which it creates (private, with its directory) when missing. It
// does not migrate: call Migrate.
func Open(ctx context.Context, raw string, opts ...Option) (*DB, error) {
	o := collect(opts)
	t, err := ParseURL(raw)
	if err != nil {
		return nil, err
	}
	db := &DB{target: t}
	switch t.Dialect {
	case Postgres:
		db.pg, err = openPostgres(ctx, t.DSN, o)
	case SQLite:
		db.lite, err = openSQLite(ctx, t.Path, o)
	}
	if err != nil {
		return nil, err
	}
	return db, nil
}

// Dialect tells which database the handle is connected to.
func (db *DB) Dialect() Dialect { return db.target.Dialect }

// Postgres is the PostgreSQL side of the handle; nil on SQLite.
func (db *DB) Postgres() *PostgresDB { return db.pg }

// SQLite is the SQLite side of the handle; nil on PostgreSQL.
func (db *DB) SQLite() *SQLiteDB { return db.lite }

// Ping checks that the database answers.
func (db *DB) Ping(ctx context.Context) error {
	if db.pg != nil {
		return db.pg.Ping(ctx)
	}
	return db.lite.Ping(ctx)
}

// Migrate applies the embedded migrations of the handle's dialect that are
// not applied yet, one transaction per file, under a lock that keeps
// processes migrating at once from applying a file twice.
func (db *DB) Migrate(ctx context.Context) error {
	var err error
	if db.pg != nil {
		err = db.pg.migrate(ctx)
	} else {
		err = db.lite.migrate(ctx)
	}
	if err != nil {
		return fmt.Errorf("migrate: %w%s", err, poolerHint(err))
	}
	return nil
}

// poolerHint explains the error pgx's statement cache meets behind a
// pooler in transaction mode (PgBouncer < 1.21, or any without
// max_prepared_statements): the first statement of every process fails
// there, so the hint says once what to change.
func poolerHint(err error) string {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && (pgErr.Code == "42P05" || pgErr.Code == "26000") && strings.Contains(pgErr.Message, "stmtcache_") {
		return " (behind PgBouncer in transaction pooling mode add default_query_exec_mode=exec to DATABASE_URL)"
	}
	return ""
}

// Close closes the pools, waiting for borrowed connections to come back.
func (db *DB) Close() error {
	if db.pg != nil {
		db.pg.pool.Close()
		return nil
	}
	return db.lite.close()
}

// PoolStats is a snapshot of the connection pool, for metrics.
type PoolStats struct {
	Idle, InUse, Max int64
	// Acquires counts connections handed out (on SQLite, where
	// database/sql does not count them, the acquires that had to wait);
	// AcquireWait is the total time spent waiting for a connection.
	Acquires    uint64
	AcquireWait time.Duration
}

// PoolStats reads the pool's counters; both SQLite pools (the writer and
// the readers) are summed.
func (db *DB) PoolStats() PoolStats {
	if db.pg != nil {
		s := db.pg.pool.Stat()
		return PoolStats{Idle: int64(s.IdleConns()), InUse: int64(s.AcquiredConns()), Max: int64(s.MaxConns()),
			Acquires: uint64(s.AcquireCount()), AcquireWait: s.EmptyAcquireWaitTime()}
	}
	var p PoolStats
	pools := []*sql.DB{db.lite.write}
	if db.lite.read != db.lite.write {
		pools = append(pools, db.lite.read)
	}
	for _, pool := range pools {
		s := pool.Stats()
		p.Idle += int64(s.Idle)
		p.InUse += int64(s.InUse)
		p.Max += int64(s.MaxOpenConnections)
		p.Acquires += uint64(s.WaitCount)
		p.AcquireWait += s.WaitDuration
	}
	return p
}
