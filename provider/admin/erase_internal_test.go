package admin

import (
	"strings"
	"testing"
	"time"
)

// issue 11, part B (erasure).

func TestRetryBackoff(t *testing.T) {
	t.Parallel()
	s, err := New(Config{SecretKey: []byte("k")}, Deps{})
	if err != nil {
		t.Fatal(err)
	}
	for attempts, want := range map[int]time.Duration{
		1: 30 * time.Second, 2: time.Minute, 3: 2 * time.Minute, 6: 16 * time.Minute, 7: 32 * time.Minute,
		8: time.Hour, 20: time.Hour,
	} {
		if got := s.backoff(attempts); got != want {
			t.Errorf("backoff after %d failures = %v, want %v", attempts, got, want)
		}
	}
}

func TestSubjectIsKeyed(t *testing.T) {
	t.Parallel()
	a, _ := New(Config{SecretKey: []byte("key-a")}, Deps{})
	b, _ := New(Config{SecretKey: []byte("key-b")}, Deps{})
	first, again := a.subject("user-1"), a.subject("user-1")
	if first != again || len(first) != 64 {
		t.Fatalf("the subject of one id changes or is not a hex SHA-256: %q %q", first, again)
	}
	if a.subject("user-1") == a.subject("user-2") || a.subject("user-1") == b.subject("user-1") {
		t.Fatal("subjects collide across ids or keys")
	}
	if p := pseudonym(a.subject("user-1")); !strings.HasPrefix(p, "erased-") || strings.Contains(p, "user-1") || strings.Contains(p, ":") {
		t.Fatalf("pseudonym %q", p)
	}
}
