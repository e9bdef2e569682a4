package app_test

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/manacore/mana-core-auth/internal/app"
	"github.com/manacore/mana-core-auth/internal/database"
)

// issue 13 (replicas): two apps on one PostgreSQL database and one Redis,
// both running the scheduled rotation, rotate once per interval (one new
// key per algorithm, not one per replica), and the replica that did not
// rotate publishes the new keys within a second (the Redis announcement,
// or its own check losing the race; TestReplicas in cmd/manaauth isolates
// the announcement).
func TestScheduledRotationOnceAcrossReplicas(t *testing.T) {
	redisURL := os.Getenv("TEST_REDIS_URL")
	if redisURL == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("TEST_REDIS_URL is not set but CI=true")
		}
		t.Skip("TEST_REDIS_URL not set")
	}
	const interval = 4 * time.Second
	cfg := testConfig(t, database.Postgres)
	cfg.RedisURL, cfg.KeyRotationInterval, cfg.KeyRotationDelay = redisURL, interval, 0
	apps := make([]*app.App, 2)
	for i := range apps {
		c := *cfg
		a, err := app.New(t.Context(), &c, app.Options{})
		if err != nil {
			t.Fatal(err)
		}
		apps[i] = a
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{}, len(apps))
	for _, a := range apps {
		go func() { _ = a.Run(ctx, nil); done <- struct{}{} }()
	}
	t.Cleanup(func() {
		cancel()
		for range apps {
			<-done
		}
		for _, a := range apps {
			_ = a.Close()
		}
	})

	count := func() []string {
		ks, err := apps[0].Ring.Keys(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		var kids []string
		for _, k := range ks {
			kids = append(kids, k.ID)
		}
		return kids
	}
	if n := len(count()); n != 2 {
		t.Fatalf("%d keys at start, want 2 (one per algorithm, shared)", n)
	}
	deadline := time.Now().Add(3 * interval)
	var kids []string
	for kids = count(); len(kids) < 4 && time.Now().Before(deadline); kids = count() {
		time.Sleep(20 * time.Millisecond)
	}
	if len(kids) != 4 {
		t.Fatalf("%d keys %s after the interval, want 4: one rotation of both algorithms", len(kids), 3*interval)
	}
	rotated := time.Now()
	for i, a := range apps {
		for !containsAll(string(a.Ring.JWKS()), kids) {
			if time.Since(rotated) > time.Second {
				t.Fatalf("replica %d does not publish the rotated keys within 1s", i)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	// Both replicas checked meanwhile (every second); neither rotated
	// again before the next interval.
	time.Sleep(interval / 2)
	if n := len(count()); n != 4 {
		t.Fatalf("%d keys half an interval after the rotation, want still 4 (a second replica rotated too?)", n)
	}
}

func containsAll(s string, kids []string) bool {
	for _, k := range kids {
		if !strings.Contains(s, `"`+k+`"`) {
			return false
		}
	}
	return true
}
