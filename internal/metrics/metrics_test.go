package metrics

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestStatsCached: the stored counts are read at most once per TTL
// however often the registry is scraped, and a failed read keeps the
// last good counts.
func TestStatsCached(t *testing.T) {
	m := New(Options{})
	var reads atomic.Int64
	var fail atomic.Bool
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	m.WatchStats(func(context.Context) (Stats, error) {
		n := reads.Add(1)
		if fail.Load() {
			return Stats{}, errors.New("database down")
		}
		return Stats{Users: 10 * n, MailPending: n}, nil
	}, 30*time.Second, clock, nil)

	users := func() float64 {
		t.Helper()
		mfs, err := m.Registry().Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, mf := range mfs {
			if mf.GetName() != "manaauth_users" {
				continue
			}
			for _, mm := range mf.GetMetric() {
				if mm.GetLabel()[0].GetValue() == "total" {
					return mm.GetGauge().GetValue()
				}
			}
		}
		t.Fatal("no manaauth_users{state=total}")
		return 0
	}
	for range 5 {
		if got := users(); got != 10 {
			t.Fatalf("users %v, want 10", got)
		}
	}
	if n := reads.Load(); n != 1 {
		t.Fatalf("%d reads for 5 scrapes within the TTL, want 1", n)
	}
	now = now.Add(31 * time.Second)
	if got := users(); got != 20 || reads.Load() != 2 {
		t.Fatalf("after the TTL: users %v after %d reads", got, reads.Load())
	}
	fail.Store(true)
	now = now.Add(31 * time.Second)
	if got := users(); got != 20 {
		t.Fatalf("a failed read changed the counts: %v", got)
	}
}

// TestCountersPreset: the label values of the contract exist at zero
// before any event, and the domain hooks move them.
func TestCountersPreset(t *testing.T) {
	m := New(Options{Apps: []string{"chat"}, WebhookTypes: []string{"payment_intent.succeeded"}})
	if got := testutil.ToFloat64(m.logins.WithLabelValues("overloaded")); got != 0 {
		t.Fatalf("preset login counter %v", got)
	}
	n, err := testutil.GatherAndCount(m.Registry(), "manaauth_logins_total", "manaauth_tokens_issued_total",
		"manaauth_admin_backend_calls_total", "manaauth_stripe_webhook_events_total")
	if err != nil {
		t.Fatal(err)
	}
	// 7 login results, 5 grants, 3 backend results for one app, 4 results
	// for one event type plus the unknown invalid signature.
	if want := len(LoginResults) + len(Grants) + 3 + 4 + 1; n != want {
		t.Fatalf("%d preset series, want %d", n, want)
	}
	m.Login("success")
	m.CreditsSpent(7)
	m.CreditsSpent(-3) // never decreases a counter
	m.BackendCall("chat", "unavailable")
	if testutil.ToFloat64(m.logins.WithLabelValues("success")) != 1 || testutil.ToFloat64(m.creditsSpent) != 7 ||
		testutil.ToFloat64(m.adminCalls.WithLabelValues("chat", "unavailable")) != 1 {
		t.Fatal("hooks did not move their counters")
	}
}

// TestStatsAbsentUntilRead: while no read of the stored counts has
// succeeded, the gauges are absent rather than zero (a dashboard must not
// show "0 users" because the database was down at start).
func TestStatsAbsentUntilRead(t *testing.T) {
	m := New(Options{})
	var fail atomic.Bool
	fail.Store(true)
	m.WatchStats(func(context.Context) (Stats, error) {
		if fail.Load() {
			return Stats{}, errors.New("database down")
		}
		return Stats{Users: 3}, nil
	}, 0, nil, nil)
	if n := testutil.CollectAndCount(m.Registry(), "manaauth_users"); n != 0 {
		t.Fatalf("%d manaauth_users series before any read succeeded, want none", n)
	}
	fail.Store(false)
	if n := testutil.CollectAndCount(m.Registry(), "manaauth_users"); n != 2 {
		t.Fatalf("%d manaauth_users series after a read, want 2 (total, verified)", n)
	}
	fail.Store(true)
	if n := testutil.CollectAndCount(m.Registry(), "manaauth_users"); n != 2 {
		t.Fatalf("%d manaauth_users series after a failed re-read, want the last good 2", n)
	}
}
