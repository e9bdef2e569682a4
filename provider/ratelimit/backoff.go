package ratelimit

import (
	"context"
	"fmt"
	"time"
)

// BackoffPolicy is the delay schedule of a Backoff: the first Free
// failures cost nothing, then the delay doubles from Base up to Max.
type BackoffPolicy struct {
	Free int
	Base time.Duration
	Max  time.Duration
}

// Delay is how long a key must wait after its failures-th failure.
func (p BackoffPolicy) Delay(failures int) time.Duration {
	if failures <= p.Free {
		return 0
	}
	d := p.Base
	// Doubling step by step and stopping at the cap (rather than computing
	// Base<<k) cannot overflow.
	for k := failures - p.Free - 1; k > 0 && d < p.Max; k-- {
		if d > p.Max/2 {
			return p.Max
		}
		d *= 2
	}
	return min(d, p.Max)
}

// Decay is how long after the last failure a key's state is forgotten.
// It must outlast Max, or an attacker who waits out every delay would find
// the count reset before the next guess; four times Max leaves room for
// that, while an honest user who comes back later starts afresh.
func (p BackoffPolicy) Decay() time.Duration { return 4 * p.Max }

func (p BackoffPolicy) validate() error {
	if p.Free < 0 || p.Base <= 0 || p.Max < p.Base {
		return fmt.Errorf("%w: backoff free=%d base=%v max=%v, want free >= 0 and 0 < base <= max",
			ErrInvalid, p.Free, p.Base, p.Max)
	}
	return nil
}

// BackoffStore keeps the failure state of Backoff keys. Every method is
// atomic per key, also across replicas sharing a Redis. Backoff passes its
// policy in as plain numbers so that the Redis store can apply it inside
// one script, without a read-modify-write round trip that two replicas
// could interleave.
type BackoffStore interface {
	// Acquire reports how long key must still wait before an attempt may be
	// judged. When that is zero it also holds the key for
	// p.Delay(failures+1), as if the attempt had already failed, so that a
	// burst of parallel attempts cannot all slip through the moment a delay
	// ends: once the free failures are used up, attempts are judged one at
	// a time. Fail or Reset ends the hold.
	Acquire(ctx context.Context, key string, p BackoffPolicy) (time.Duration, error)
	// Fail counts one failure: the key is held for at least
	// p.Delay(failures) from now, and its state is forgotten p.Decay()
	// after this failure.
	Fail(ctx context.Context, key string, p BackoffPolicy) error
	// Reset forgets key.
	Reset(ctx context.Context, key string) error
}

// Backoff slows repeated failed logins on one account progressively. It
// never locks an account: the longest an attacker can make the owner wait
// is Max per attempt, and the state decays on its own. Combine it with a
// per-account Limiter, which bounds attempts before the free failures are
// used up. Key it by the normalised login name whether or not an account
// exists, so that its answers do not tell which email addresses have one.
//
// The login flow is
//
//	wait, err := b.Wait(ctx, key) // err: log it; wait is 0 then (fail open)
//	if wait > 0 { /* 429, Retry-After: wait rounded up to seconds */ }
//	if passwordOK { b.Reset(ctx, key) } else { b.Fail(ctx, key) }
//
// Every method returns the store's error; Wait returns 0 with it.
type Backoff struct {
	store  BackoffStore
	policy BackoffPolicy
}

// NewBackoff returns a Backoff on store: the first free failures cost
// nothing, then the delay doubles from base up to max; a key's state
// decays max*4 after its last failure. It panics unless free >= 0 and
// 0 < base <= max, which is a configuration error to be caught at
// start-up.
func NewBackoff(store BackoffStore, free int, base, max time.Duration) *Backoff {
	p := BackoffPolicy{Free: free, Base: base, Max: max}
	if err := p.validate(); err != nil {
		panic(err)
	}
	return &Backoff{store: store, policy: p}
}

// Policy returns b's delay schedule.
func (b *Backoff) Policy() BackoffPolicy { return b.policy }

// Wait returns how long the caller must still wait before an attempt on
// key is judged (0 = go ahead). Callers answer 429 with Retry-After rather
// than sleeping, so a slowed account ties up no server resources. A zero
// answer reserves the turn (see BackoffStore.Acquire): call Wait once per
// attempt, and Fail or Reset after judging it.
func (b *Backoff) Wait(ctx context.Context, key string) (time.Duration, error) {
	d, err := b.store.Acquire(ctx, key, b.policy)
	if err != nil {
		return 0, fmt.Errorf("backoff wait: %w", err)
	}
	return d, nil
}

// Fail records a failed attempt on key.
func (b *Backoff) Fail(ctx context.Context, key string) error {
	if err := b.store.Fail(ctx, key, b.policy); err != nil {
		return fmt.Errorf("backoff fail: %w", err)
	}
	return nil
}

// Reset forgets key's failures, after a successful attempt.
func (b *Backoff) Reset(ctx context.Context, key string) error {
	if err := b.store.Reset(ctx, key); err != nil {
		return fmt.Errorf("backoff reset: %w", err)
	}
	return nil
}
