package argon2

import (
	"bytes"
	"encoding/hex"
	"testing"

	upstream "golang.org/x/crypto/argon2"
)

// TestMemoryReuse: the test vectors come out right when every derivation
// reuses one Memory, dirty from the one before (the fork's only change).
func TestMemoryReuse(t *testing.T) {
	var m Memory
	password, salt := []byte("password"), []byte("somesalt")
	for round := range 2 {
		for i, v := range testVectors {
			want, err := hex.DecodeString(v.hash)
			if err != nil {
				t.Fatal(err)
			}
			if got := deriveKey(&m, v.mode, password, salt, nil, nil, v.time, v.memory, v.threads, uint32(len(want))); !bytes.Equal(got, want) {
				t.Errorf("round %d, vector %d: got %x, want %x", round, i, got, want)
			}
		}
	}
}

// TestIDKeyWithMatchesUpstream: IDKeyWith with the password parameters
// manaauth uses (and a larger and a smaller memory in between, so the
// buffer grows and is partly reused) equals golang.org/x/crypto/argon2.
func TestIDKeyWithMatchesUpstream(t *testing.T) {
	var m Memory
	for i, p := range []struct {
		time, memory uint32
		threads      uint8
	}{{2, 19 * 1024, 1}, {1, 1024, 1}, {3, 8 * 1024, 2}, {2, 19 * 1024, 1}, {1, 64, 4}} {
		password, salt := []byte("correct horse battery staple"), []byte("0123456789abcdef")
		want := upstream.IDKey(password, salt, p.time, p.memory, p.threads, 32)
		if got := IDKeyWith(&m, password, salt, p.time, p.memory, p.threads, 32); !bytes.Equal(got, want) {
			t.Errorf("params %d %+v: got %x, want %x (upstream)", i, p, got, want)
		}
	}
}
