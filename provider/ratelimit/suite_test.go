package ratelimit

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// backend is one implementation under the shared behaviour suite.
type backend struct {
	limiter Limiter
	backoff BackoffStore
	// advance moves time on: a fake clock steps, a real one sleeps.
	advance func(time.Duration)
	// unit is the time scale of the suite; slack is how far a measured
	// duration may fall short of the exact one (zero on a fake clock).
	unit  time.Duration
	slack time.Duration
}

// runSuite runs every behaviour test against a fresh backend from open,
// dex conformance style, so Memory and Redis must behave identically.
func runSuite(t *testing.T, open func(*testing.T) backend) {
	for _, tc := range []struct {
		name string
		run  func(*testing.T, backend)
	}{
		{"LimitExact", testLimitExact},
		{"ConcurrentExact", testConcurrentExact},
		{"RetryAfter", testRetryAfter},
		{"WindowSlides", testWindowSlides},
		{"WindowResets", testWindowResets},
		{"KeysIndependent", testKeysIndependent},
		{"LongKeys", testLongKeys},
		{"InvalidFailsOpen", testInvalidFailsOpen},
		{"BackoffProgression", testBackoffProgression},
		{"BackoffNoFree", testBackoffNoFree},
		{"BackoffDecay", testBackoffDecay},
		{"BackoffConcurrentWait", testBackoffConcurrentWait},
		{"BackoffKeysIndependent", testBackoffKeysIndependent},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.run(t, open(t)) })
	}
}

func mustAllow(t *testing.T, l Limiter, key string, limit int, window time.Duration) Decision {
	t.Helper()
	d, err := l.Allow(t.Context(), key, limit, window)
	if err != nil {
		t.Fatalf("Allow(%q): %v", key, err)
	}
	return d
}

// testLimitExact uses a long window so a real clock cannot refill a hit
// while the test runs.
func testLimitExact(t *testing.T, b backend) {
	const limit = 5
	for i := range limit {
		d := mustAllow(t, b.limiter, "k", limit, time.Minute)
		if !d.Allowed || d.Remaining != limit-1-i || d.RetryAfter != 0 {
			t.Fatalf("hit %d: got %+v, want allowed with %d remaining", i+1, d, limit-1-i)
		}
	}
	for i := range 3 {
		d := mustAllow(t, b.limiter, "k", limit, time.Minute)
		if d.Allowed || d.Remaining != 0 {
			t.Fatalf("hit %d over the limit: got %+v, want rejected", limit+1+i, d)
		}
	}
}

func testConcurrentExact(t *testing.T, b backend) {
	const limit, workers = 10, 50
	var allowed atomic.Int64
	var wg sync.WaitGroup
	start := make(chan struct{})
	errs := make(chan error, workers)
	for range workers {
		wg.Go(func() {
			<-start
			d, err := b.limiter.Allow(t.Context(), "burst", limit, time.Minute)
			if err != nil {
				errs <- err
				return
			}
			if d.Allowed {
				allowed.Add(1)
			}
		})
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if got := allowed.Load(); got != limit {
		t.Fatalf("%d of %d concurrent hits allowed, want exactly %d", got, workers, limit)
	}
}

func testRetryAfter(t *testing.T, b backend) {
	const limit = 3
	window := 3 * b.unit
	for range limit {
		mustAllow(t, b.limiter, "k", limit, window)
	}
	d := mustAllow(t, b.limiter, "k", limit, window)
	if d.Allowed {
		t.Fatal("hit over the limit allowed")
	}
	if d.RetryAfter <= 0 || d.RetryAfter > window {
		t.Fatalf("RetryAfter = %v, want in (0, %v]", d.RetryAfter, window)
	}
	// GCRA refills one hit per window/limit, so that is the most anyone
	// is told to wait.
	if d.RetryAfter > window/limit || d.RetryAfter < window/limit-b.slack {
		t.Fatalf("RetryAfter = %v, want about %v", d.RetryAfter, window/limit)
	}
	b.advance(d.RetryAfter)
	if d := mustAllow(t, b.limiter, "k", limit, window); !d.Allowed {
		t.Fatalf("after waiting RetryAfter: got %+v, want allowed", d)
	}
}

// testWindowSlides: after a third of the window one hit (a third of the
// limit) is available again, not the whole limit and not nothing.
func testWindowSlides(t *testing.T, b backend) {
	const limit = 3
	window := 3 * b.unit
	for range limit {
		mustAllow(t, b.limiter, "k", limit, window)
	}
	b.advance(window / limit)
	if d := mustAllow(t, b.limiter, "k", limit, window); !d.Allowed || d.Remaining != 0 {
		t.Fatalf("a third of the window later: got %+v, want one allowed, none remaining", d)
	}
	if d := mustAllow(t, b.limiter, "k", limit, window); d.Allowed {
		t.Fatalf("second hit a third of the window later: got %+v, want rejected", d)
	}
}

func testWindowResets(t *testing.T, b backend) {
	const limit = 3
	window := 3 * b.unit
	for round := range 2 {
		for i := range limit {
			if d := mustAllow(t, b.limiter, "k", limit, window); !d.Allowed {
				t.Fatalf("round %d hit %d: got %+v, want allowed", round, i+1, d)
			}
		}
		if d := mustAllow(t, b.limiter, "k", limit, window); d.Allowed {
			t.Fatalf("round %d: hit over the limit allowed", round)
		}
		b.advance(window)
	}
}

func testKeysIndependent(t *testing.T, b backend) {
	for range 2 {
		mustAllow(t, b.limiter, "a", 2, time.Minute)
	}
	if d := mustAllow(t, b.limiter, "a", 2, time.Minute); d.Allowed {
		t.Fatal("key a over its limit allowed")
	}
	for i := range 2 {
		if d := mustAllow(t, b.limiter, "b", 2, time.Minute); !d.Allowed {
			t.Fatalf("key b hit %d rejected after key a ran out", i+1)
		}
	}
}

// testLongKeys: long keys are hashed, and two that differ only at the end
// are still two keys.
func testLongKeys(t *testing.T, b backend) {
	long := string(make([]byte, 1000))
	if d := mustAllow(t, b.limiter, long+"1", 1, time.Minute); !d.Allowed {
		t.Fatal("first hit on long key rejected")
	}
	if d := mustAllow(t, b.limiter, long+"1", 1, time.Minute); d.Allowed {
		t.Fatal("second hit on long key allowed")
	}
	if d := mustAllow(t, b.limiter, long+"2", 1, time.Minute); !d.Allowed {
		t.Fatal("another long key shares the first one's state")
	}
}

func testInvalidFailsOpen(t *testing.T, b backend) {
	for _, tc := range []struct {
		limit  int
		window time.Duration
	}{{0, time.Minute}, {-1, time.Minute}, {1, 0}, {1, -time.Second}} {
		d, err := b.limiter.Allow(t.Context(), "k", tc.limit, tc.window)
		if !errors.Is(err, ErrInvalid) || !d.Allowed {
			t.Errorf("Allow(limit=%d, window=%v) = %+v, %v; want Allowed and ErrInvalid", tc.limit, tc.window, d, err)
		}
	}
}

func (b backend) wantWait(t *testing.T, bo *Backoff, key string, want time.Duration) {
	t.Helper()
	got, err := bo.Wait(t.Context(), key)
	if err != nil {
		t.Fatalf("Wait: %v", err)
	}
	if got > want || got < want-b.slack || want > 0 && got <= 0 {
		t.Fatalf("Wait = %v, want %v", got, want)
	}
}

func mustFail(t *testing.T, bo *Backoff, key string) {
	t.Helper()
	if err := bo.Fail(t.Context(), key); err != nil {
		t.Fatalf("Fail: %v", err)
	}
}

// testBackoffProgression: free=2, then base, doubling, capped at 4×base,
// and Reset starts afresh.
func testBackoffProgression(t *testing.T, b backend) {
	u := b.unit
	bo := NewBackoff(b.backoff, 2, u, 4*u)
	b.wantWait(t, bo, "acct", 0)
	mustFail(t, bo, "acct") // 1: free
	b.wantWait(t, bo, "acct", 0)
	mustFail(t, bo, "acct") // 2: free
	b.wantWait(t, bo, "acct", 0)
	mustFail(t, bo, "acct") // 3: base
	for _, want := range []time.Duration{u, 2 * u, 4 * u, 4 * u} {
		b.wantWait(t, bo, "acct", want)
		b.advance(want)
		b.wantWait(t, bo, "acct", 0)
		mustFail(t, bo, "acct")
	}
	b.wantWait(t, bo, "acct", 4*u)
	if err := bo.Reset(t.Context(), "acct"); err != nil {
		t.Fatal(err)
	}
	b.wantWait(t, bo, "acct", 0)
	mustFail(t, bo, "acct")
	b.wantWait(t, bo, "acct", 0)
}

// testBackoffNoFree: with free=0 the first failure already costs base, and
// a turn taken by Wait holds the key until it is judged.
func testBackoffNoFree(t *testing.T, b backend) {
	u := b.unit
	bo := NewBackoff(b.backoff, 0, u, 2*u)
	b.wantWait(t, bo, "acct", 0)
	b.wantWait(t, bo, "acct", u) // the first attempt is still being judged
	mustFail(t, bo, "acct")
	b.wantWait(t, bo, "acct", u)
	b.advance(u)
	b.wantWait(t, bo, "acct", 0)
	if err := bo.Reset(t.Context(), "acct"); err != nil { // success ends the hold
		t.Fatal(err)
	}
	b.wantWait(t, bo, "acct", 0)
}

// testBackoffDecay: the state survives until 4×max after the last failure
// and is gone after it.
func testBackoffDecay(t *testing.T, b backend) {
	u := b.unit
	bo := NewBackoff(b.backoff, 1, u, 2*u)
	decay := bo.Policy().Decay()
	for _, key := range []string{"kept", "decayed"} {
		for range 3 { // 1 free, then u, then 2u
			mustFail(t, bo, key)
		}
	}
	b.advance(decay - 2*u)
	// "kept": the last delay is over, but the count is not forgotten: the
	// next failure costs the cap.
	b.wantWait(t, bo, "kept", 0)
	mustFail(t, bo, "kept")
	b.wantWait(t, bo, "kept", 2*u)

	b.advance(2 * u)
	// "decayed": forgotten, so a failure is free again.
	b.wantWait(t, bo, "decayed", 0)
	mustFail(t, bo, "decayed")
	b.wantWait(t, bo, "decayed", 0)
}

// testBackoffConcurrentWait: once the free failures are used up, a burst
// of parallel attempts gets exactly one turn.
func testBackoffConcurrentWait(t *testing.T, b backend) {
	bo := NewBackoff(b.backoff, 1, time.Minute, time.Hour)
	mustFail(t, bo, "acct")
	var turns atomic.Int64
	var wg sync.WaitGroup
	start := make(chan struct{})
	for range 50 {
		wg.Go(func() {
			<-start
			d, err := bo.Wait(context.WithoutCancel(t.Context()), "acct")
			if err != nil {
				t.Error(err)
				return
			}
			if d == 0 {
				turns.Add(1)
			}
		})
	}
	close(start)
	wg.Wait()
	if got := turns.Load(); got != 1 {
		t.Fatalf("%d of 50 parallel attempts got a turn, want 1", got)
	}
}

func testBackoffKeysIndependent(t *testing.T, b backend) {
	bo := NewBackoff(b.backoff, 0, time.Minute, time.Hour)
	mustFail(t, bo, "a")
	b.wantWait(t, bo, "a", time.Minute)
	b.wantWait(t, bo, "b", 0)
}
