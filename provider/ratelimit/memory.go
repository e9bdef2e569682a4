package ratelimit

import (
	"context"
	"sync"
	"time"
)

// Memory is an in-process Limiter for a single replica. Its memory is
// bounded: a key is dropped as soon as its state is fresh again (its TAT
// has passed) and at most DefaultMaxKeys keys are held.
type Memory struct {
	clock clock
	mu    sync.Mutex
	keys  *expiring[int64] // key → TAT in nanoseconds since clock.epoch
}

var _ Limiter = (*Memory)(nil)

// NewMemory returns an empty in-process Limiter reading time from now
// (time.Now when nil; tests pass a fake clock).
func NewMemory(now func() time.Time) *Memory {
	return &Memory{clock: newClock(now), keys: newExpiring[int64](DefaultMaxKeys)}
}

// SetMaxKeys changes how many keys m holds at most (at least one),
// evicting down to the new bound.
func (m *Memory) SetMaxKeys(n int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.keys.setMax(n)
}

// Len reports how many keys m holds, for metrics and tests.
func (m *Memory) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.keys.len()
}

// Allow implements Limiter. It never fails except on invalid arguments.
func (m *Memory) Allow(_ context.Context, key string, limit int, window time.Duration) (Decision, error) {
	t, err := interval(limit, window, time.Nanosecond)
	if err != nil {
		return Decision{Allowed: true}, err
	}
	key = shortKey(key)
	now := m.clock.now()

	m.mu.Lock()
	defer m.mu.Unlock()
	m.keys.sweep(now)
	e := m.keys.get(key)
	tat := now // a key without state is fresh
	if e != nil {
		tat = e.val
	}
	d, newTAT, retry := gcra(now, tat, t, limit)
	if !d.Allowed {
		d.RetryAfter = time.Duration(retry)
		return d, nil
	}
	// The state is fresh again at newTAT, so that is when the entry may go.
	if e == nil {
		m.keys.add(key, newTAT, newTAT)
	} else {
		m.keys.update(e, newTAT, newTAT)
	}
	return d, nil
}

// MemoryBackoffStore is the in-process BackoffStore, bounded like Memory.
type MemoryBackoffStore struct {
	clock clock
	mu    sync.Mutex
	keys  *expiring[backoffState]
}

type backoffState struct {
	failures int
	until    int64 // no attempt is judged before this instant
}

var _ BackoffStore = (*MemoryBackoffStore)(nil)

// NewMemoryBackoffStore returns an empty in-process BackoffStore reading
// time from now (time.Now when nil).
func NewMemoryBackoffStore(now func() time.Time) *MemoryBackoffStore {
	return &MemoryBackoffStore{clock: newClock(now), keys: newExpiring[backoffState](DefaultMaxKeys)}
}

// SetMaxKeys changes how many keys s holds at most (at least one).
func (s *MemoryBackoffStore) SetMaxKeys(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keys.setMax(n)
}

// Len reports how many keys s holds.
func (s *MemoryBackoffStore) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.keys.len()
}

// Acquire implements BackoffStore.
func (s *MemoryBackoffStore) Acquire(_ context.Context, key string, p BackoffPolicy) (time.Duration, error) {
	if err := p.validate(); err != nil {
		return 0, err
	}
	key = shortKey(key)
	now := s.clock.now()

	s.mu.Lock()
	defer s.mu.Unlock()
	s.keys.sweep(now)
	e := s.keys.get(key)
	st := backoffState{until: now} // a key without state is not held
	if e != nil {
		st = e.val
	}
	if st.until > now {
		return time.Duration(st.until - now), nil
	}
	hold := int64(p.Delay(st.failures + 1))
	if hold == 0 {
		return 0, nil
	}
	st.until = now + hold
	if e == nil {
		s.keys.add(key, st, st.until)
	} else {
		s.keys.update(e, st, max(e.expires, st.until))
	}
	return 0, nil
}

// Fail implements BackoffStore.
func (s *MemoryBackoffStore) Fail(_ context.Context, key string, p BackoffPolicy) error {
	if err := p.validate(); err != nil {
		return err
	}
	key = shortKey(key)
	now := s.clock.now()

	s.mu.Lock()
	defer s.mu.Unlock()
	s.keys.sweep(now)
	e := s.keys.get(key)
	st := backoffState{until: now} // a key without state is not held
	if e != nil {
		st = e.val
	}
	st.failures++
	st.until = max(st.until, now+int64(p.Delay(st.failures)))
	expires := now + int64(p.Decay())
	if e == nil {
		s.keys.add(key, st, expires)
	} else {
		s.keys.update(e, st, expires)
	}
	return nil
}

// Reset implements BackoffStore.
func (s *MemoryBackoffStore) Reset(_ context.Context, key string) error {
	key = shortKey(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keys.remove(key)
	return nil
}

// clock turns injected wall-clock times into nanoseconds since the
// instant the store was created. With time.Now both readings carry a
// monotonic clock, so a wall-clock step (NTP, DST) cannot stretch or
// cancel a limit.
type clock struct {
	fn    func() time.Time
	epoch time.Time
}

func newClock(now func() time.Time) clock {
	if now == nil {
		now = time.Now
	}
	return clock{fn: now, epoch: now()}
}

func (c clock) now() int64 { return int64(c.fn().Sub(c.epoch)) }
