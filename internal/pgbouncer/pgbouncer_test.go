package pgbouncer_test

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/manacore/mana-core-auth/internal/browsertest"
	"github.com/manacore/mana-core-auth/internal/pgbouncer"
)

// TestTransactionPooling checks that the pooler Start runs hands its one
// server connection to a second client as soon as the first client's
// transaction ends, although that client stays connected: transaction
// pooling, not session pooling.
func TestTransactionPooling(t *testing.T) {
	dsn := os.Getenv("TEST_DATABASE_URL")
	if dsn == "" {
		browsertest.SkipOrFail(t, "TEST_DATABASE_URL is not set")
	}
	if _, err := pgbouncer.Binary(); errors.Is(err, pgbouncer.ErrNotInstalled) {
		browsertest.SkipOrFail(t, err.Error())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b, err := pgbouncer.Start(ctx, dsn, pgbouncer.Options{PoolSize: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Stop()

	a, err := pgx.Connect(ctx, b.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close(ctx)
	tx, err := a.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var pidA int
	if err := tx.QueryRow(ctx, "SELECT pg_backend_pid() + $1", 0).Scan(&pidA); err != nil {
		t.Fatal(err)
	}

	c, err := pgx.Connect(ctx, b.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	got := make(chan int, 1)
	go func() {
		var pid int
		if err := c.QueryRow(ctx, "SELECT pg_backend_pid() + $1", 0).Scan(&pid); err != nil {
			t.Error(err)
		}
		got <- pid
	}()
	select {
	case <-got:
		t.Fatal("second client ran while the only server connection was in a transaction")
	case <-time.After(300 * time.Millisecond):
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case pid := <-got:
		if pid != pidA {
			t.Errorf("second client ran on backend %d, want the pool's one backend %d", pid, pidA)
		}
	case <-ctx.Done():
		t.Fatalf("second client still waits after the first one's transaction ended (session pooling?); log:\n%s", b.Log())
	}
	b.Stop()
	if err := c.Ping(context.Background()); err == nil {
		t.Error("connection through a stopped pooler still answers")
	}
}
