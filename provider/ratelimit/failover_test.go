package ratelimit

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/manacore/mana-core-auth/internal/faultproxy"
)

type lockedBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestFailover runs a limiter and a login backoff against real Redis
// behind a fault proxy: with Redis cut they keep limiting in process (the
// bare Redis stores would fail open), and with Redis back they use it
// again, the shared state from before the outage included.
func TestFailover(t *testing.T) {
	direct := testRedis(t)
	prefix := uniquePrefix(t, direct)
	proxy := faultproxy.Start(t, direct.Options().Addr)
	client := redis.NewClient(&redis.Options{Addr: proxy.Addr(), DB: direct.Options().DB,
		DialTimeout: 200 * time.Millisecond, ReadTimeout: 200 * time.Millisecond, WriteTimeout: 200 * time.Millisecond, MaxRetries: -1})
	t.Cleanup(func() { _ = client.Close() })
	var logs lockedBuf
	f := NewFailover(func(ctx context.Context) error { return client.Ping(ctx).Err() },
		slog.New(slog.NewTextHandler(&logs, nil)), 20*time.Millisecond)
	ctx := t.Context()
	if err := f.Check(ctx); err != nil || f.Degraded(ctx) {
		t.Fatalf("Check with redis up: %v, degraded %v", err, f.Degraded(ctx))
	}
	lim := f.Limiter(NewRedis(client, prefix+"rl:"), NewMemory(nil))
	bo := NewBackoff(f.BackoffStore(NewRedisBackoffStore(client, prefix+"bo:"), NewMemoryBackoffStore(nil)), 1, time.Minute, time.Hour)

	allow := func() bool {
		d, err := lim.Allow(ctx, "ip", 2, time.Hour)
		if err != nil {
			t.Fatalf("Allow: %v", err)
		}
		return d.Allowed
	}
	// Shared state before the outage: one hit, and the account held.
	allow()
	if err := bo.Fail(ctx, "acct"); err != nil {
		t.Fatal(err)
	}
	if err := bo.Fail(ctx, "acct"); err != nil {
		t.Fatal(err)
	}

	proxy.Set(faultproxy.Cut)
	// In process from scratch: two hits pass, the third does not.
	got := []bool{allow(), allow(), allow()}
	if got[0] != true || got[1] != true || got[2] != false {
		t.Errorf("limiter with redis cut: %v, want [true true false]", got)
	}
	if !f.Degraded(ctx) {
		t.Error("not degraded with redis cut")
	}
	for range 2 {
		if err := bo.Fail(ctx, "other"); err != nil {
			t.Fatalf("Fail with redis cut: %v", err)
		}
	}
	if w, err := bo.Wait(ctx, "other"); err != nil || w <= 0 {
		t.Errorf("backoff with redis cut: wait %v, %v; want a hold", w, err)
	}
	if n := strings.Count(logs.String(), "redis unreachable"); n != 1 {
		t.Errorf("outage logged %d times, want once:\n%s", n, logs.String())
	}

	proxy.Set(faultproxy.Forward)
	deadline := time.Now().Add(time.Second)
	for f.Degraded(ctx) {
		if time.Now().After(deadline) {
			t.Fatal("still degraded a second after redis came back")
		}
		time.Sleep(10 * time.Millisecond)
	}
	// Redis again: its count (one hit from before) lets one more through.
	if got := []bool{allow(), allow()}; got[0] != true || got[1] != false {
		t.Errorf("limiter with redis back: %v, want [true false]", got)
	}
	if w, err := bo.Wait(ctx, "acct"); err != nil || w <= 0 {
		t.Errorf("the hold from before the outage is gone: wait %v, %v", w, err)
	}
	if n := strings.Count(logs.String(), "redis reachable again"); n != 1 {
		t.Errorf("recovery logged %d times, want once", n)
	}
}
