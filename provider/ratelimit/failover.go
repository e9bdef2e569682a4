package ratelimit

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// Pinger is what Failover needs of the shared store's client: a cheap
// round trip that tells whether it answers (a *redis.Client's Ping).
type Pinger func(ctx context.Context) error

// Failover keeps the limits working while the shared Redis is down. Left
// to themselves the Redis stores fail open (see the package
// documentation), so an outage of Redis would silently switch off every
// per-IP limit and the login backoff. Instead, while Redis does not
// answer, Failover counts in process: each replica then limits on its own,
// which is weaker than a shared count but far from none. It says so in the
// log when that starts and when it ends, and reports it for the readiness
// check. While degraded, one call per poll interval tries Redis again, so
// service returns to the shared counters by itself, without a background
// job, shortly after Redis does.
type Failover struct {
	ping  Pinger
	log   *slog.Logger
	every time.Duration

	mu        sync.Mutex
	degraded  bool
	since     time.Time
	lastProbe time.Time
}

// NewFailover watches the store behind ping. Poll is how often, while
// the store is down, a call tries it again (when <= 0, 250 ms).
func NewFailover(ping Pinger, log *slog.Logger, poll time.Duration) *Failover {
	if poll <= 0 {
		poll = 250 * time.Millisecond
	}
	return &Failover{ping: ping, log: log, every: poll}
}

// Degraded reports whether the limits are counted in process because the
// shared store does not answer; when a retry is due, it pings first.
func (f *Failover) Degraded(ctx context.Context) bool {
	if f.probeDue() {
		ctx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		f.pinged(f.ping(ctx))
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.degraded
}

// Check pings the store once, as at start-up, and records the result.
func (f *Failover) Check(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	err := f.ping(ctx)
	f.pinged(err)
	return err
}

// pinged records the outcome of our own ping: its deadline is ours, so a
// timeout is the store's fault.
func (f *Failover) pinged(err error) {
	if err != nil {
		f.down(err)
	} else {
		f.up()
	}
}

// usePrimary reports whether a call should go to the shared store: while
// it is up, and once per poll interval while it is down.
func (f *Failover) usePrimary() bool {
	f.mu.Lock()
	healthy := !f.degraded
	f.mu.Unlock()
	return healthy || f.probeDue()
}

func (f *Failover) probeDue() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.degraded || time.Since(f.lastProbe) < f.every {
		return false
	}
	f.lastProbe = time.Now()
	return true
}

// result records the outcome of a caller's call to the shared store; an
// error of a caller that gave up or ran out of time itself says nothing
// about the store.
func (f *Failover) result(ctx context.Context, err error) {
	switch {
	case err == nil:
		f.up()
	case ctx.Err() == nil:
		f.down(err)
	}
}

func (f *Failover) down(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.degraded {
		return
	}
	f.degraded, f.since = true, time.Now()
	f.log.Error("redis unreachable: rate limits and login backoff fall back to in-process counters (per replica) until it answers again",
		"error", err)
}

func (f *Failover) up() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.degraded {
		return
	}
	f.degraded = false
	f.log.Warn("redis reachable again: rate limits and login backoff shared through redis", "degraded_for", time.Since(f.since).Round(time.Millisecond).String())
}

// Limiter is primary (the Redis one) while it answers and local (an
// in-process one) otherwise.
func (f *Failover) Limiter(primary, local Limiter) Limiter {
	return &failoverLimiter{f: f, primary: primary, local: local}
}

// BackoffStore is primary while it answers and local otherwise.
func (f *Failover) BackoffStore(primary, local BackoffStore) BackoffStore {
	return &failoverBackoff{f: f, primary: primary, local: local}
}

type failoverLimiter struct {
	f              *Failover
	primary, local Limiter
}

func (l *failoverLimiter) Allow(ctx context.Context, key string, limit int, window time.Duration) (Decision, error) {
	if l.f.usePrimary() {
		d, err := l.primary.Allow(ctx, key, limit, window)
		l.f.result(ctx, err)
		if err == nil {
			return d, nil
		}
	}
	return l.local.Allow(ctx, key, limit, window)
}

type failoverBackoff struct {
	f              *Failover
	primary, local BackoffStore
}

func (b *failoverBackoff) Acquire(ctx context.Context, key string, p BackoffPolicy) (time.Duration, error) {
	if b.f.usePrimary() {
		d, err := b.primary.Acquire(ctx, key, p)
		b.f.result(ctx, err)
		if err == nil {
			return d, nil
		}
	}
	return b.local.Acquire(ctx, key, p)
}

func (b *failoverBackoff) Fail(ctx context.Context, key string, p BackoffPolicy) error {
	if b.f.usePrimary() {
		err := b.primary.Fail(ctx, key, p)
		b.f.result(ctx, err)
		if err == nil {
			return nil
		}
	}
	return b.local.Fail(ctx, key, p)
}

func (b *failoverBackoff) Reset(ctx context.Context, key string) error {
	// Both: a key held in process during an outage must not outlive it,
	// and one held in Redis must not survive a success in process.
	lerr := b.local.Reset(ctx, key)
	if b.f.usePrimary() {
		b.f.result(ctx, b.primary.Reset(ctx, key))
	}
	return lerr
}
