package ratelimit

import (
	"fmt"
	"sync"
	"testing"
	"time"
)

// fakeClock is a goroutine-safe settable clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func TestMemory(t *testing.T) {
	t.Parallel()
	runSuite(t, func(t *testing.T) backend {
		c := newFakeClock()
		return backend{
			limiter: NewMemory(c.Now),
			backoff: NewMemoryBackoffStore(c.Now),
			advance: c.Advance,
			unit:    100 * time.Millisecond,
		}
	})
}

// TestMemoryBounded: an attacker cycling through keys cannot grow the map
// past its bound, and the flood evicts itself before a key with history.
func TestMemoryBounded(t *testing.T) {
	t.Parallel()
	c := newFakeClock()
	m := NewMemory(c.Now)
	m.SetMaxKeys(100)
	ctx := t.Context()
	// A brute-forcer at its limit: its state lasts a whole window.
	for range 10 {
		if _, err := m.Allow(ctx, "victim-login", 10, time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 10_000 {
		if _, err := m.Allow(ctx, fmt.Sprintf("203.0.%d.%d", i/256, i%256), 10, time.Minute); err != nil {
			t.Fatal(err)
		}
		if n := m.Len(); n > 100 {
			t.Fatalf("after %d keys the map holds %d, bound is 100", i+1, n)
		}
	}
	if d, _ := m.Allow(ctx, "victim-login", 10, time.Minute); d.Allowed {
		t.Fatal("the flood evicted the key at its limit")
	}
}

// TestMemoryExpiresIdleKeys: a key is dropped once its state is fresh.
func TestMemoryExpiresIdleKeys(t *testing.T) {
	t.Parallel()
	c := newFakeClock()
	m := NewMemory(c.Now)
	for i := range 50 {
		if _, err := m.Allow(t.Context(), fmt.Sprint(i), 5, time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	if n := m.Len(); n != 50 {
		t.Fatalf("Len = %d, want 50", n)
	}
	c.Advance(time.Minute / 5) // one hit refills after window/limit
	if _, err := m.Allow(t.Context(), "other", 5, time.Minute); err != nil {
		t.Fatal(err)
	}
	if n := m.Len(); n != 1 {
		t.Fatalf("Len after the idle keys are fresh = %d, want 1", n)
	}
	m.SetMaxKeys(0)
	if n := m.Len(); n != 1 {
		t.Fatalf("Len after SetMaxKeys(0) = %d, want 1", n)
	}
}

func TestMemoryBackoffBounded(t *testing.T) {
	t.Parallel()
	c := newFakeClock()
	s := NewMemoryBackoffStore(c.Now)
	s.SetMaxKeys(50)
	b := NewBackoff(s, 0, time.Second, time.Minute)
	for i := range 1000 {
		if err := b.Fail(t.Context(), fmt.Sprintf("user%d@example.com", i)); err != nil {
			t.Fatal(err)
		}
		c.Advance(time.Millisecond)
	}
	if n := s.Len(); n != 50 {
		t.Fatalf("Len = %d, want 50", n)
	}
	c.Advance(b.Policy().Decay())
	if _, err := b.Wait(t.Context(), "x"); err != nil {
		t.Fatal(err)
	}
	if n := s.Len(); n != 1 { // only the hold Wait just placed on "x"
		t.Fatalf("Len after decay = %d, want 1", n)
	}
	if err := b.Reset(t.Context(), "x"); err != nil {
		t.Fatal(err)
	}
	if n := s.Len(); n != 0 {
		t.Fatalf("Len after Reset = %d, want 0", n)
	}
}

// TestClockStepBack: a clock set back (NTP) does not panic or unblock.
func TestClockStepBack(t *testing.T) {
	t.Parallel()
	c := newFakeClock()
	m := NewMemory(c.Now)
	c.Advance(-time.Hour) // before the limiter's epoch
	for range 2 {
		if _, err := m.Allow(t.Context(), "k", 2, time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	if d, _ := m.Allow(t.Context(), "k", 2, time.Minute); d.Allowed {
		t.Fatal("third hit allowed")
	}
}

func TestBackoffPolicyDelay(t *testing.T) {
	t.Parallel()
	p := BackoffPolicy{Free: 3, Base: time.Second, Max: 30 * time.Second}
	for n, want := range []time.Duration{0, 0, 0, 0, 1 * time.Second, 2 * time.Second, 4 * time.Second,
		8 * time.Second, 16 * time.Second, 30 * time.Second, 30 * time.Second} {
		if got := p.Delay(n); got != want {
			t.Errorf("Delay(%d) = %v, want %v", n, got, want)
		}
	}
	if got := p.Delay(1 << 40); got != 30*time.Second {
		t.Errorf("Delay(huge) = %v, want the cap", got)
	}
	huge := BackoffPolicy{Free: 0, Base: time.Duration(1) << 61, Max: time.Duration(1<<63 - 1)}
	if got := huge.Delay(10); got <= 0 {
		t.Errorf("Delay overflowed: %v", got)
	}
}

func TestNewBackoffRejectsBadPolicy(t *testing.T) {
	t.Parallel()
	for _, p := range []BackoffPolicy{
		{Free: -1, Base: time.Second, Max: time.Minute},
		{Free: 0, Base: 0, Max: time.Minute},
		{Free: 0, Base: time.Minute, Max: time.Second},
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("NewBackoff(%+v) did not panic", p)
				}
			}()
			NewBackoff(NewMemoryBackoffStore(nil), p.Free, p.Base, p.Max)
		}()
	}
}

func BenchmarkMemoryAllow(b *testing.B) {
	m := NewMemory(nil)
	keys := make([]string, 1024)
	for i := range keys {
		keys[i] = fmt.Sprintf("ip:10.0.%d.%d", i/256, i%256)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if _, err := m.Allow(b.Context(), keys[i%len(keys)], 1_000_000, time.Minute); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
}
