package account

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
)

// TestBetterAuthHashes: hashes made by the old service's own library
// (testdata/better-auth: Better Auth 1.4.4's hashPassword, run once with
// Node; the generator and version are recorded in hashes.json) verify
// with their password, NFKC spellings included, and nothing else; and
// each is marked for re-hashing to argon2id after the login (issue 14).
func TestBetterAuthHashes(t *testing.T) {
	raw, err := os.ReadFile("testdata/better-auth/hashes.json")
	if err != nil {
		t.Fatal(err)
	}
	var fixtures struct {
		Generator string `json:"generator"`
		Hashes    []struct{ Password, Hash string }
	}
	if err := json.Unmarshal(raw, &fixtures); err != nil {
		t.Fatal(err)
	}
	if fixtures.Generator != "better-auth@1.4.4 hashPassword" || len(fixtures.Hashes) < 5 {
		t.Fatalf("fixtures from %q (%d hashes), want better-auth@1.4.4", fixtures.Generator, len(fixtures.Hashes))
	}
	h := NewHasher(DefaultParams, 2)
	ctx := context.Background()
	for i, f := range fixtures.Hashes {
		if err := h.Verify(ctx, f.Hash, f.Password); err != nil {
			t.Errorf("hash %d (%q): %v", i, f.Password, err)
		}
		if err := h.Verify(ctx, f.Hash, f.Password+"x"); !errors.Is(err, ErrMismatch) {
			t.Errorf("hash %d with a wrong password: %v, want ErrMismatch", i, err)
		}
		if !h.NeedsRehash(f.Hash) {
			t.Errorf("hash %d: an imported hash must be re-hashed after the login", i)
		}
	}
	// NFKC: the composed and the decomposed umlauts are one password.
	var composed string
	for _, f := range fixtures.Hashes {
		if f.Password == "Grüße aus Köln" {
			composed = f.Hash
		}
	}
	if composed == "" {
		t.Fatal("fixture for the composed umlauts missing")
	}
	if err := h.Verify(ctx, composed, "Gru\u0308ße aus Ko\u0308ln"); err != nil {
		t.Errorf("decomposed spelling against the composed hash: %v", err)
	}
	// Altered hashes are not Better Auth hashes and do not verify.
	good := fixtures.Hashes[0]
	for _, bad := range []string{
		strings.ToUpper(good.Hash[:32]) + good.Hash[32:], // the library writes lower-case hex
		good.Hash[:31] + good.Hash[32:],                  // short salt
		good.Hash[:len(good.Hash)-2],                     // short key
		strings.Replace(good.Hash, ":", ";", 1),
	} {
		if err := h.Verify(ctx, bad, good.Password); err == nil {
			t.Errorf("altered hash %q verified", bad)
		}
	}
}

// TestNeedsRehash: a hash with the current argon2id parameters stays; one
// with other parameters or another format is replaced.
func TestNeedsRehash(t *testing.T) {
	cheap := Params{Memory: 1024, Time: 1, Threads: 1, KeyLen: 32, SaltLen: 16}
	h := NewHasher(cheap, 1)
	current, err := h.Hash(context.Background(), "pw")
	if err != nil {
		t.Fatal(err)
	}
	if h.NeedsRehash(current) {
		t.Error("a hash with the current parameters marked for re-hashing")
	}
	if h.NeedsRehash("") {
		t.Error("no password marked for re-hashing")
	}
	other := NewHasher(Params{Memory: 2048, Time: 1, Threads: 1, KeyLen: 32, SaltLen: 16}, 1)
	if !other.NeedsRehash(current) {
		t.Error("a hash with other parameters not marked for re-hashing")
	}
}
