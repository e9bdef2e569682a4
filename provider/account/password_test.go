package account

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestHashVerify(t *testing.T) {
	t.Parallel()
	h := NewHasher(Params{Memory: 1024, Time: 1, Threads: 1, KeyLen: 32, SaltLen: 16}, 2)
	ctx := context.Background()
	enc, err := h.Hash(ctx, "correct horse")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(enc, "$argon2id$v=19$m=1024,t=1,p=1$") {
		t.Fatalf("unexpected encoding %q", enc)
	}
	if err := h.Verify(ctx, enc, "correct horse"); err != nil {
		t.Fatalf("verify right password: %v", err)
	}
	if err := h.Verify(ctx, enc, "wrong"); !errors.Is(err, ErrMismatch) {
		t.Fatalf("verify wrong password: got %v, want ErrMismatch", err)
	}
	if err := h.Verify(ctx, "", "anything"); !errors.Is(err, ErrMismatch) {
		t.Fatalf("verify against empty hash: got %v, want ErrMismatch", err)
	}
	if err := h.Verify(ctx, "$bcrypt$x", "x"); err == nil || errors.Is(err, ErrMismatch) {
		t.Fatalf("garbage hash: got %v, want a format error", err)
	}
	enc2, _ := h.Hash(ctx, "correct horse")
	if enc == enc2 {
		t.Fatal("two hashes of one password are equal: salt not random")
	}
}

func TestVerifyHonoursContext(t *testing.T) {
	t.Parallel()
	h := NewHasher(Params{Memory: 1024, Time: 1, Threads: 1, KeyLen: 32, SaltLen: 16}, 1)
	h.slots <- struct{}{} // occupy the only slot
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := h.Hash(ctx, "x"); !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
}

var cheapTestParams = Params{Memory: 1024, Time: 1, Threads: 1, KeyLen: 32, SaltLen: 16}

// TestHasherQueueBound: with every slot taken and the queue full, a hash
// is refused at once with ErrBusy (counted by OnReject), and the queued
// callers still get their turn.
func TestHasherQueueBound(t *testing.T) {
	t.Parallel()
	var rejected atomic.Int64
	h := NewBoundedHasher(cheapTestParams, HasherLimits{Slots: 1, Queue: 2, RetryAfter: 3 * time.Second,
		OnReject: func() { rejected.Add(1) }})
	h.slots <- struct{}{} // occupy the only slot
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i := range errs {
		wg.Go(func() { _, errs[i] = h.Hash(ctx, "queued") })
	}
	deadline := time.Now().Add(5 * time.Second)
	for h.waiting.Load() < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("waiters = %d, want 2", h.waiting.Load())
		}
		time.Sleep(time.Millisecond)
	}
	start := time.Now()
	_, err := h.Hash(ctx, "one too many")
	if !errors.Is(err, ErrBusy) {
		t.Fatalf("hash past the queue: got %v, want ErrBusy", err)
	}
	if took := time.Since(start); took > time.Second {
		t.Errorf("refusal took %v, want at once", took)
	}
	var be *BusyError
	if !errors.As(err, &be) || be.RetryAfter() != 3*time.Second {
		t.Errorf("refusal = %#v, want a BusyError with RetryAfter 3s", err)
	}
	if err := h.Verify(ctx, "", "x"); !errors.Is(err, ErrBusy) {
		t.Errorf("dummy verification past the queue: got %v, want ErrBusy (it takes a slot too)", err)
	}
	if got := rejected.Load(); got != 2 {
		t.Errorf("OnReject called %d times, want 2", got)
	}
	h.release()
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("queued hash %d: %v", i, err)
		}
	}
	if n := h.waiting.Load(); n != 0 {
		t.Errorf("waiting = %d after the queue drained", n)
	}
}

// TestHasherMaxWait: a queued caller whose turn does not come within
// MaxWait is refused with ErrBusy.
func TestHasherMaxWait(t *testing.T) {
	t.Parallel()
	h := NewBoundedHasher(cheapTestParams, HasherLimits{Slots: 1, Queue: 4, MaxWait: 50 * time.Millisecond})
	h.slots <- struct{}{}
	start := time.Now()
	_, err := h.Hash(context.Background(), "x")
	if !errors.Is(err, ErrBusy) {
		t.Fatalf("got %v, want ErrBusy", err)
	}
	if took := time.Since(start); took < 50*time.Millisecond {
		t.Errorf("refused after %v, before MaxWait", took)
	}
	h.release()
	if _, err := h.Hash(context.Background(), "x"); err != nil {
		t.Fatalf("hash with a free slot: %v", err)
	}
}

// TestSlotReleaseOnce: a slot released twice frees one place only.
func TestSlotReleaseOnce(t *testing.T) {
	t.Parallel()
	h := NewBoundedHasher(cheapTestParams, HasherLimits{Slots: 2, Queue: 0})
	s, err := h.Acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	h.slots <- struct{}{} // the other slot
	s.Release()
	s.Release()
	if len(h.slots) != 1 {
		t.Fatalf("slots in use = %d, want 1", len(h.slots))
	}
}

func BenchmarkHashDefault(b *testing.B) {
	h := NewHasher(DefaultParams, 1)
	ctx := context.Background()
	for b.Loop() {
		if _, err := h.Hash(ctx, "benchmark password"); err != nil {
			b.Fatal(err)
		}
	}
}
