package text_test

import (
	"testing"

	"github.com/manacore/mana-core-auth/internal/text"
)

func TestClean(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		s    string
		want bool
	}{
		{"empty", "", true},
		{"ascii", "chat", true},
		{"unicode", "チャット 🎉\t\n", true},
		{"NUL", "a\x00b", false},
		{"invalid byte", "a\xffb", false},
		{"truncated sequence", "caf\xc3", false},
		{"surrogate", "\xed\xa0\x80", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := text.Clean(tc.s); got != tc.want {
				t.Errorf("Clean(%q) = %v, want %v", tc.s, got, tc.want)
			}
		})
	}
}

func TestSanitize(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, s string
		n       int
		want    string
	}{
		{"clean", "Firefox", 512, "Firefox"},
		{"NUL and invalid bytes dropped", "Fire\x00fox\xff", 512, "Firefox"},
		{"cut at a character boundary", "aé", 2, "a"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := text.Sanitize(tc.s, tc.n); got != tc.want {
				t.Errorf("Sanitize(%q, %d) = %q, want %q", tc.s, tc.n, got, tc.want)
			}
		})
	}
}
