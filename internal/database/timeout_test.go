package database_test

import (
	"context"
	"errors"
	"net/url"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/manacore/mana-core-auth/internal/database"
	"github.com/manacore/mana-core-auth/internal/database/databasetest"
	"github.com/manacore/mana-core-auth/internal/faultproxy"
)

// TestTimeoutBoundsEveryCall: with a database that accepts connections but
// never answers, every kind of call (a statement on the pool, one in a
// transaction begun before the hang, a batch, a new connection) returns
// within the timeout with an error Unavailable recognises, and the handle
// works again once the database answers.
func TestTimeoutBoundsEveryCall(t *testing.T) {
	raw := databasetest.URL(t, database.Postgres)
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	proxy := faultproxy.Start(t, u.Host)
	u.Host = proxy.Addr()
	const timeout = 300 * time.Millisecond
	db, err := database.Open(t.Context(), u.String(), database.WithTimeout(timeout))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	pg := db.Postgres()
	ctx := t.Context()
	txCtx, err := pg.BeginTx(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = pg.Rollback(txCtx) }()

	proxy.Set(faultproxy.Stall)
	calls := map[string]func() error{
		"pool statement": func() error {
			var n int
			return pg.Pool().QueryRow(ctx, "SELECT 1").Scan(&n)
		},
		"statement in a transaction": func() error {
			_, err := pg.Querier(txCtx).Exec(txCtx, "SELECT 1")
			return err
		},
		"batch": func() error {
			b := &pgx.Batch{}
			b.Queue("SELECT 1")
			return pg.Pool().SendBatch(ctx, b).Close()
		},
		"begin": func() error {
			return pgx.BeginFunc(ctx, pg.Pool(), func(pgx.Tx) error { return nil })
		},
	}
	for name, call := range calls {
		start := time.Now()
		err := call()
		took := time.Since(start)
		if err == nil {
			t.Errorf("%s: succeeded against a hung database", name)
			continue
		}
		if !database.Unavailable(err) {
			t.Errorf("%s: Unavailable(%v) = false", name, err)
		}
		// The bound plus pgx's own cleanup, far from "forever".
		if took > 4*timeout {
			t.Errorf("%s: took %v with a %v timeout", name, took, timeout)
		}
	}

	proxy.Set(faultproxy.Cut)
	var n int
	if err := pg.Pool().QueryRow(ctx, "SELECT 1").Scan(&n); !database.Unavailable(err) {
		t.Errorf("cut connection: Unavailable(%v) = false", err)
	}

	proxy.Set(faultproxy.Forward)
	deadline := time.Now().Add(time.Second)
	for {
		err := pg.Pool().QueryRow(ctx, "SELECT 1").Scan(&n)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the database did not come back within a second: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// A caller's own earlier deadline still wins.
	short, cancel := context.WithTimeout(ctx, time.Nanosecond)
	defer cancel()
	<-short.Done()
	if err := pg.Pool().QueryRow(short, "SELECT 1").Scan(&n); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("expired caller context: %v", err)
	}
}

// TestUnavailableIsNarrow: answers of the database are not outages.
func TestUnavailableIsNarrow(t *testing.T) {
	for _, err := range []error{nil, pgx.ErrNoRows, errors.New("syntax error"), context.Canceled} {
		if database.Unavailable(err) {
			t.Errorf("Unavailable(%v) = true", err)
		}
	}
}

// TestMigrationsAreNotBounded: a replica that starts while another one
// migrates waits for the migration lock longer than DATABASE_TIMEOUT, as
// a long migration may take, instead of failing to start.
func TestMigrationsAreNotBounded(t *testing.T) {
	raw := databasetest.URL(t, database.Postgres)
	ctx := t.Context()
	other, err := pgx.Connect(ctx, raw)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close(ctx)
	tx, err := other.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	const migrationLock = 0x6d616e6161757468 // internal/database's lock key ("manaauth")
	if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", int64(migrationLock)); err != nil {
		t.Fatal(err)
	}
	const timeout = 200 * time.Millisecond
	db, err := database.Open(ctx, raw, database.WithTimeout(timeout))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	release := time.AfterFunc(3*timeout, func() { _ = tx.Rollback(context.Background()) })
	defer release.Stop()
	if err := db.Migrate(ctx); err != nil {
		t.Fatalf("migrate behind another migrator: %v", err)
	}
	// Ordinary calls on the same handle are still bounded.
	if _, err := db.Postgres().Pool().Exec(ctx, "SELECT pg_sleep(1)"); !database.Unavailable(err) {
		t.Errorf("a 1 s statement with a %v timeout: %v", timeout, err)
	}
}
