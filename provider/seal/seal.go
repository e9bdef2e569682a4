// Package seal encrypts small secrets at rest (signing keys, TOTP seeds,
// the refresh grace cache) with AES-256-GCM under a key derived from
// SECRET_KEY by HKDF-SHA256, one derived key per purpose, so a database
// dump alone reveals none of them and one purpose's ciphertext never opens
// as another's.
package seal

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
)

// MinSecretLen is the shortest SECRET_KEY accepted.
const MinSecretLen = 32

// ErrOpen is returned when a sealed value does not open: truncated,
// tampered, sealed for other associated data, or under another secret.
var ErrOpen = errors.New("seal: cannot open sealed value")

// Sealer seals and opens values for one purpose.
type Sealer struct{ aead cipher.AEAD }

// New derives the purpose's key from secret (at least MinSecretLen bytes).
func New(secret []byte, purpose string) (*Sealer, error) {
	if len(secret) < MinSecretLen {
		return nil, fmt.Errorf("seal: secret key must be at least %d bytes, got %d", MinSecretLen, len(secret))
	}
	key, err := hkdf.Key(sha256.New, secret, nil, purpose, 32)
	if err != nil {
		return nil, fmt.Errorf("seal: derive key: %w", err)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	return &Sealer{aead: aead}, nil
}

// Seal returns nonce || ciphertext of plain, bound to ad.
func (s *Sealer) Seal(plain, ad []byte) []byte {
	n := s.aead.NonceSize()
	out := make([]byte, n, n+len(plain)+s.aead.Overhead())
	_, _ = rand.Read(out) // crypto/rand.Read never fails on supported platforms
	return s.aead.Seal(out, out, plain, ad)
}

// Open reverses Seal; ErrOpen when sealed is not a value Seal made for ad
// under this key.
func (s *Sealer) Open(sealed, ad []byte) ([]byte, error) {
	n := s.aead.NonceSize()
	if len(sealed) < n+s.aead.Overhead() {
		return nil, ErrOpen
	}
	plain, err := s.aead.Open(nil, sealed[:n], sealed[n:], ad)
	if err != nil {
		return nil, ErrOpen
	}
	return plain, nil
}
