package keys

import (
	"crypto"
	"time"

	"github.com/manacore/mana-core-auth/provider"
)

// entry is a key as of one snapshot: shared material plus the times,
// which rotation changes.
type entry struct {
	*material
	createdAt time.Time
	activeAt  time.Time
	retiredAt time.Time // zero: not retired
	expiresAt time.Time // zero: published indefinitely
}

func (e *entry) publishedAt(t time.Time) bool {
	return e.expiresAt.IsZero() || t.Before(e.expiresAt)
}

func (e *entry) signsAt(t time.Time) bool {
	// publicOnly keys are not signer candidates at all; checked here too
	// because signing with one would panic on the missing private key.
	return !e.publicOnly && !t.Before(e.activeAt) && (e.retiredAt.IsZero() || t.Before(e.retiredAt)) && e.publishedAt(t)
}

// snapshot is immutable once published: readers hold it without locks.
type snapshot struct {
	byKid map[string]*entry
	all   []*entry // newest CreatedAt first; imported public-only keys too
	// The keys that may sign, latest ActiveAt first: public-only keys are
	// left out, so they are never a signer nor the newest key.
	eddsa []*entry
	rs256 []*entry
}

func (s *snapshot) candidates(alg string) []*entry {
	switch alg {
	case provider.AlgEdDSA:
		return s.eddsa
	case provider.AlgRS256:
		return s.rs256
	}
	return nil
}

// newest is the most recently created key of alg, or nil.
func (s *snapshot) newest(alg string) *entry {
	if s == nil {
		return nil
	}
	var n *entry
	for _, e := range s.candidates(alg) {
		if n == nil || e.createdAt.After(n.createdAt) {
			n = e
		}
	}
	return n
}

// signer is the key of alg that signs at t: the one with the latest
// ActiveAt among those allowed to sign then.
func (s *snapshot) signer(alg string, t time.Time) *entry {
	if s == nil {
		return nil
	}
	for _, e := range s.candidates(alg) {
		if e.signsAt(t) {
			return e
		}
	}
	return nil
}

// PublicKeys returns the published public keys of alg (ed25519.PublicKey
// or *rsa.PublicKey), newest first.
func (r *Ring) PublicKeys(alg string) []crypto.PublicKey {
	s := r.snap.Load()
	if s == nil {
		return nil
	}
	now := r.now()
	var out []crypto.PublicKey
	for _, e := range s.all {
		if e.alg == alg && e.publishedAt(now) {
			out = append(out, e.publicKey())
		}
	}
	return out
}

// jwksCache is the served JWKS document. It depends on the snapshot and on
// the clock (keys expire), hence both in the validity check.
type jwksCache struct {
	snap       *snapshot
	body       []byte
	validUntil time.Time // zero: until the snapshot changes
}

// JWKS returns {"keys":[...]} with every published public key. The bytes
// are shared between callers and must not be modified; they are rebuilt
// only when the keys change or a key expires.
func (r *Ring) JWKS() []byte {
	s := r.snap.Load()
	now := r.now()
	if c := r.jwks.Load(); c != nil && c.snap == s && (c.validUntil.IsZero() || now.Before(c.validUntil)) {
		return c.body
	}
	c := &jwksCache{snap: s}
	c.body = append(c.body, `{"keys":[`...)
	n := 0
	if s != nil {
		for _, e := range s.all {
			if !e.publishedAt(now) {
				continue
			}
			if n > 0 {
				c.body = append(c.body, ',')
			}
			c.body = append(c.body, e.jwk...)
			n++
			if !e.expiresAt.IsZero() && (c.validUntil.IsZero() || e.expiresAt.Before(c.validUntil)) {
				c.validUntil = e.expiresAt
			}
		}
	}
	c.body = append(c.body, "]}"...)
	// Concurrent rebuilds may race to store; any of them is correct for
	// this snapshot and a stale one fails the snapshot check next time.
	r.jwks.Store(c)
	return c.body
}
