package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strconv"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/manacore/mana-core-auth/internal/app"
	"github.com/manacore/mana-core-auth/internal/database"
)

// cmdMigrate applies the migrations and says where and from which version
// to which, so an operator sees that the database meant was the one changed.
func cmdMigrate(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	// Only DATABASE_URL matters: no keys are made, nothing else is opened.
	cfg, err := app.LoadConfig(getenv, app.Tool)
	if err != nil {
		return err
	}
	where, err := describeDatabase(cfg.DatabaseURL)
	if err != nil {
		return err
	}
	db, err := database.Open(ctx, cfg.DatabaseURL, database.Unbounded())
	if err != nil {
		return fmt.Errorf("open database %s: %w", where, err)
	}
	defer db.Close()
	before, err := schemaVersion(ctx, db)
	if err != nil {
		return fmt.Errorf("read the schema version of %s: %w", where, err)
	}
	if err := db.Migrate(ctx); err != nil {
		return fmt.Errorf("migrate %s: %w", where, err)
	}
	after, err := schemaVersion(ctx, db)
	if err != nil {
		return fmt.Errorf("read the schema version of %s: %w", where, err)
	}
	fmt.Fprintf(stdout, "database: %s\n", where)
	if before == after {
		fmt.Fprintf(stdout, "schema version %s: up to date, migrations applied (none were pending)\n", versionName(after))
	} else {
		fmt.Fprintf(stdout, "schema version %s -> %s: migrations applied\n", versionName(before), versionName(after))
	}
	return nil
}

func versionName(v int) string {
	if v == 0 {
		return "0 (empty)"
	}
	return strconv.Itoa(v)
}

// describeDatabase names a DATABASE_URL without its password: PostgreSQL
// by user, host, port and database, SQLite by file.
func describeDatabase(raw string) (string, error) {
	t, err := database.ParseURL(raw)
	if err != nil {
		return "", err
	}
	if t.Dialect == database.SQLite {
		return "SQLite " + t.Path, nil
	}
	pc, err := pgconn.ParseConfig(t.DSN)
	if err != nil {
		// pgconn's message may quote the URL, password and all.
		return "", fmt.Errorf("DATABASE_URL is not a valid PostgreSQL URL")
	}
	return fmt.Sprintf("PostgreSQL database %q on %s:%d (user %s)", pc.Database, pc.Host, pc.Port, pc.User), nil
}

// schemaVersion is the highest migration recorded, 0 on an empty database.
func schemaVersion(ctx context.Context, db *database.DB) (int, error) {
	var v int
	if db.Dialect() == database.SQLite {
		// A statement naming a missing table fails to prepare, so ask first.
		pool := db.SQLite().ReadPool()
		var n int
		if err := pool.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'`).Scan(&n); err != nil || n == 0 {
			return 0, err
		}
		err := pool.QueryRowContext(ctx, `SELECT coalesce(max(version), 0) FROM schema_migrations`).Scan(&v)
		return v, err
	}
	var exists bool
	pool := db.Postgres().Pool()
	if err := pool.QueryRow(ctx, `SELECT to_regclass('auth.schema_migrations') IS NOT NULL`).Scan(&exists); err != nil || !exists {
		return 0, err
	}
	err := pool.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM auth.schema_migrations`).Scan(&v)
	return v, err
}
