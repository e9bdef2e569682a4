package ratelimit

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"os"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// testRedis connects to TEST_REDIS_URL (default the local one). An
// unreachable Redis fails the test on CI and skips it elsewhere.
func testRedis(tb testing.TB) *redis.Client {
	tb.Helper()
	url := os.Getenv("TEST_REDIS_URL")
	if url == "" {
		url = "redis://127.0.0.1:6379/0"
	}
	opt, err := redis.ParseURL(url)
	if err != nil {
		tb.Fatalf("TEST_REDIS_URL: %v", err)
	}
	client := redis.NewClient(opt)
	tb.Cleanup(func() { _ = client.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := client.Ping(ctx).Err(); err != nil {
		if os.Getenv("CI") == "true" {
			tb.Fatalf("redis at %s unreachable on CI: %v", url, err)
		}
		tb.Skipf("skipping: redis at %s unreachable (set TEST_REDIS_URL): %v", url, err)
	}
	return client
}

// uniquePrefix isolates one test's keys; they expire on their own and are
// deleted at the end as well.
func uniquePrefix(tb testing.TB, client *redis.Client) string {
	tb.Helper()
	prefix := "manaauth-test:" + rand.Text()[:12] + ":"
	tb.Cleanup(func() {
		ctx := context.Background()
		iter := client.Scan(ctx, 0, prefix+"*", 100).Iterator()
		for iter.Next(ctx) {
			client.Del(ctx, iter.Val())
		}
	})
	return prefix
}

func TestRedis(t *testing.T) {
	t.Parallel()
	client := testRedis(t)
	runSuite(t, func(t *testing.T) backend {
		prefix := uniquePrefix(t, client)
		return backend{
			limiter: NewRedis(client, prefix+"rl:"),
			backoff: NewRedisBackoffStore(client, prefix+"bo:"),
			advance: time.Sleep,
			unit:    100 * time.Millisecond,
			slack:   50 * time.Millisecond,
		}
	})
}

// TestRedisKeysExpire: every key carries a TTL no longer than the time
// its state needs to become fresh (limiter) or to decay (backoff).
func TestRedisKeysExpire(t *testing.T) {
	t.Parallel()
	client := testRedis(t)
	prefix := uniquePrefix(t, client)
	ctx := t.Context()

	l := NewRedis(client, prefix)
	for range 3 {
		if _, err := l.Allow(ctx, "k", 10, time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	ttl, err := client.PTTL(ctx, prefix+"k").Result()
	if err != nil {
		t.Fatal(err)
	}
	if want := 3 * time.Minute / 10; ttl <= 0 || ttl > want {
		t.Fatalf("limiter key TTL = %v, want in (0, %v]", ttl, want)
	}

	s := NewRedisBackoffStore(client, prefix)
	b := NewBackoff(s, 0, time.Second, time.Minute)
	if _, err := b.Wait(ctx, "acct"); err != nil { // places a 1s hold
		t.Fatal(err)
	}
	if ttl, _ := client.PTTL(ctx, prefix+"acct").Result(); ttl <= 0 || ttl > time.Second {
		t.Fatalf("backoff key TTL after a hold = %v, want in (0, 1s]", ttl)
	}
	if err := b.Fail(ctx, "acct"); err != nil {
		t.Fatal(err)
	}
	if ttl, _ := client.PTTL(ctx, prefix+"acct").Result(); ttl <= 3*time.Minute || ttl > 4*time.Minute {
		t.Fatalf("backoff key TTL after a failure = %v, want about 4m (decay)", ttl)
	}
	if err := b.Reset(ctx, "acct"); err != nil {
		t.Fatal(err)
	}
	if n, _ := client.Exists(ctx, prefix+"acct").Result(); n != 0 {
		t.Fatal("Reset left the key behind")
	}
}

// TestRedisFailsOpen: with Redis down, Allow says Allowed and Wait says 0,
// each with the error, so a caller that logs and goes on locks nobody out.
func TestRedisFailsOpen(t *testing.T) {
	t.Parallel()
	client := redis.NewClient(&redis.Options{
		Addr:               "127.0.0.1:1", // nothing listens here
		DialTimeout:        200 * time.Millisecond,
		DialerRetries:      1,
		DialerRetryTimeout: time.Millisecond,
		MaxRetries:         -1,
	})
	t.Cleanup(func() { _ = client.Close() })
	ctx := t.Context()

	d, err := NewRedis(client, "x:").Allow(ctx, "k", 1, time.Minute)
	if err == nil || !d.Allowed {
		t.Fatalf("Allow with redis down = %+v, %v; want Allowed and an error", d, err)
	}
	b := NewBackoff(NewRedisBackoffStore(client, "x:"), 0, time.Second, time.Minute)
	if w, err := b.Wait(ctx, "k"); err == nil || w != 0 {
		t.Fatalf("Wait with redis down = %v, %v; want 0 and an error", w, err)
	}
	if err := b.Fail(ctx, "k"); err == nil {
		t.Fatal("Fail with redis down: no error")
	}
	err = b.Reset(ctx, "k")
	if err == nil {
		t.Fatal("Reset with redis down: no error")
	}
	if _, ok := errors.AsType[net.Error](err); !ok {
		t.Fatalf("the cause is lost in the wrapping: %v", err)
	}
}

func BenchmarkRedisAllow(b *testing.B) {
	client := testRedis(b)
	l := NewRedis(client, uniquePrefix(b, client))
	keys := make([]string, 1024)
	for i := range keys {
		keys[i] = fmt.Sprintf("ip:10.0.%d.%d", i/256, i%256)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if _, err := l.Allow(b.Context(), keys[i%len(keys)], 1_000_000, time.Minute); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
}
