package postgres_test

import (
	"errors"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/manacore/mana-core-auth/provider"
	"github.com/manacore/mana-core-auth/provider/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) provider.Store { return storetest.OpenPostgres(t) })
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
