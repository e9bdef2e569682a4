package postgres_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/manacore/mana-core-auth/migrations"
	"github.com/manacore/mana-core-auth/provider"
	"github.com/manacore/mana-core-auth/provider/store/postgres"
	"github.com/manacore/mana-core-auth/provider/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) provider.Store { return storetest.OpenPostgres(t) })
}

// Replicas start together and all call Migrate; each file must apply once.
func TestMigrateIsIdempotentAndConcurrent(t *testing.T) {
	dsn := storetest.NewPostgresDatabase(t)
	ctx := t.Context()
	stores := make([]*postgres.Store, 4)
	for i := range stores {
		s, err := postgres.Open(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close() })
		stores[i] = s
	}
	var wg sync.WaitGroup
	errs := make([]error, len(stores))
	for i, s := range stores {
		wg.Go(func() { errs[i] = s.Migrate(ctx) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Migrate #%d: %v", i, err)
		}
	}
	if err := stores[0].Migrate(ctx); err != nil {
		t.Fatalf("Migrate again: %v", err)
	}

	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var applied, distinct int
	if err := conn.QueryRow(ctx, `SELECT count(*), count(DISTINCT version) FROM auth.schema_migrations`).
		Scan(&applied, &distinct); err != nil {
		t.Fatal(err)
	}
	want, err := migrations.Versions(migrations.Postgres)
	if err != nil {
		t.Fatal(err)
	}
	if applied != len(want) || distinct != len(want) {
		t.Fatalf("schema_migrations has %d rows (%d versions), want %d", applied, distinct, len(want))
	}
}

// The sentinel is for branching; the driver error stays in the chain for logs.
func TestErrorsKeepDriverError(t *testing.T) {
	s := storetest.OpenPostgres(t)
	ctx := t.Context()
	for _, id := range []string{"a", "b"} {
		u := &provider.User{ID: id, Email: id + "@example.com", CreatedAt: time.Now(), UpdatedAt: time.Now()}
		if err := s.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	err := s.UpdateUser(ctx, &provider.User{ID: "b", Email: "a@example.com", UpdatedAt: time.Now()})
	var pgErr *pgconn.PgError
	if !errors.Is(err, provider.ErrAlreadyExists) || !errors.As(err, &pgErr) || pgErr.Code != "23505" {
		t.Fatalf("UpdateUser to a taken email: %v", err)
	}
}

func TestOpenRejectsBadDSN(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if s, err := postgres.Open(ctx, "postgres://nobody:secret@127.0.0.1:1/none?connect_timeout=1"); err == nil {
		s.Close()
		t.Fatal("want an error")
	} else if strings.Contains(err.Error(), "secret") {
		t.Fatalf("error leaks the password: %v", err)
	}
}

// The token endpoint's write path: one CreateGrant per issued token. The
// server needs well over 1,200/s on two cores. Each op is a CreateGrant
// plus a GetGrant, so ops/s is a lower bound on inserts/s.
func BenchmarkCreateGrant(b *testing.B) {
	s := storetest.OpenPostgres(b)
	ctx := b.Context()
	var n atomic.Int64
	now := time.Now()
	data := []byte(`{"client_id":"app","scopes":["openid","offline_access"],"session":{"subject":"user-1"}}`)
	b.SetParallelism(8) // requests in flight, not cores: commits wait on WAL flushes
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			sig := strconv.FormatInt(n.Add(1), 36) + "-signature-padding-to-a-realistic-length"
			g := &provider.Grant{Kind: provider.KindAccessToken, Signature: sig, RequestID: sig, ClientID: "app",
				Subject: "user-1", SessionID: "sess-1", Active: true, RequestedAt: now, ExpiresAt: now.Add(time.Hour), Data: data}
			if err := s.CreateGrant(ctx, g); err != nil {
				b.Error(err) // not Fatal: this is not the benchmark's goroutine
				return
			}
			if _, err := s.GetGrant(ctx, g.Kind, sig); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
