package seal

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/sha256"
	"errors"
	"testing"
)

var secret = []byte("0123456789abcdef0123456789abcdef-seal")

func TestRoundTripAndBinding(t *testing.T) {
	t.Parallel()
	a, err := New(secret, "manaauth/test/v1")
	if err != nil {
		t.Fatal(err)
	}
	sealed := a.Seal([]byte("seed"), []byte("user-1"))
	got, err := a.Open(sealed, []byte("user-1"))
	if err != nil || string(got) != "seed" {
		t.Fatalf("Open = %q, %v", got, err)
	}
	if bytes.Contains(sealed, []byte("seed")) {
		t.Error("sealed value contains the plaintext")
	}
	if _, err := a.Open(sealed, []byte("user-2")); !errors.Is(err, ErrOpen) {
		t.Errorf("other associated data: %v, want ErrOpen", err)
	}
	b, _ := New(secret, "manaauth/other/v1")
	if _, err := b.Open(sealed, []byte("user-1")); !errors.Is(err, ErrOpen) {
		t.Errorf("other purpose: %v, want ErrOpen", err)
	}
	c, _ := New(append([]byte("x"), secret...), "manaauth/test/v1")
	if _, err := c.Open(sealed, []byte("user-1")); !errors.Is(err, ErrOpen) {
		t.Errorf("other secret: %v, want ErrOpen", err)
	}
	for _, bad := range [][]byte{nil, sealed[:5], sealed[:len(sealed)-1]} {
		if _, err := a.Open(bad, []byte("user-1")); !errors.Is(err, ErrOpen) {
			t.Errorf("truncated %d bytes: %v, want ErrOpen", len(bad), err)
		}
	}
	if bytes.Equal(a.Seal([]byte("seed"), nil), a.Seal([]byte("seed"), nil)) {
		t.Error("two seals of one value are equal: nonce reused")
	}
}

func TestShortSecretRefused(t *testing.T) {
	t.Parallel()
	if _, err := New(secret[:MinSecretLen-1], "p"); err == nil {
		t.Fatal("short secret accepted")
	}
}

// TestKeyDerivationIsStable pins the derivation: values sealed before this
// package existed (signing keys, TOTP seeds) must still open.
func TestKeyDerivationIsStable(t *testing.T) {
	t.Parallel()
	key, err := hkdf.Key(sha256.New, secret, nil, "manaauth/keys/v1", 32)
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(secret, "manaauth/keys/v1")
	if err != nil {
		t.Fatal(err)
	}
	block, _ := aes.NewCipher(key)
	ref, _ := cipher.NewGCM(block)
	sealed := ref.Seal(nil, make([]byte, 12), []byte("der"), []byte("kid"))
	got, err := s.Open(append(make([]byte, 12), sealed...), []byte("kid"))
	if err != nil || string(got) != "der" {
		t.Fatalf("value sealed with the HKDF key directly: %q, %v", got, err)
	}
}
