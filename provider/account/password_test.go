package account

import (
	"context"
	"errors"
	"strings"
	"testing"
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

func BenchmarkHashDefault(b *testing.B) {
	h := NewHasher(DefaultParams, 1)
	ctx := context.Background()
	for b.Loop() {
		if _, err := h.Hash(ctx, "benchmark password"); err != nil {
			b.Fatal(err)
		}
	}
}
