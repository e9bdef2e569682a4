package database

import (
	"database/sql"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// Sentinels are a domain's errors for the driver errors every store must
// tell apart. Each store maps to its own (provider.ErrNotFound,
// credits.ErrNotFound, …), since neither domain may depend on the other.
type Sentinels struct {
	NotFound      error // no rows
	AlreadyExists error // unique or primary key violation
	// Conflict is a transient write conflict worth retrying: serialization
	// failure, deadlock, lock not available (PostgreSQL), SQLITE_BUSY or
	// SQLITE_LOCKED.
	Conflict error
}

// Map turns a driver error of either dialect into the matching sentinel,
// keeping the original error in the chain for logs and errors.As; any
// other error, nil, and an error already mapped come back unchanged, so
// mapping twice is harmless.
func (s Sentinels) Map(err error) error {
	if err == nil || errors.Is(err, s.NotFound) || errors.Is(err, s.AlreadyExists) || errors.Is(err, s.Conflict) {
		return err
	}
	if errors.Is(err, pgx.ErrNoRows) || errors.Is(err, sql.ErrNoRows) {
		return s.NotFound
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case "23505": // unique_violation
			return fmt.Errorf("%w: %w", s.AlreadyExists, err)
		case "40001", "40P01", "55P03": // serialization_failure, deadlock_detected, lock_not_available
			return fmt.Errorf("%w: %w", s.Conflict, err)
		}
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() {
		case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
			return fmt.Errorf("%w: %w", s.AlreadyExists, err)
		}
		switch se.Code() & 0xff { // primary code; the extended ones vary by cause
		case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
			return fmt.Errorf("%w: %w", s.Conflict, err)
		}
	}
	return err
}
