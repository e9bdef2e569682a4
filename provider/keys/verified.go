package keys

import (
	"crypto/sha256"
	"sync"
)

// verifiedCap bounds the verified-token cache: at ~0.5 KiB an entry it
// holds at most a few MiB, whatever the traffic.
const verifiedCap = 8192

// verifiedCache remembers tokens whose signature verified, keyed by the
// SHA-256 of the whole compact token, so a token that is checked again
// (introspection by a resource server on every call, userinfo, logout
// hints) skips the public-key operation: an Ed25519 verification costs
// ~45 µs, most of an introspection's CPU. Only the cryptography is
// skipped: a hit is honoured only while the current snapshot still
// publishes the same key material under the token's kid, so key expiry
// and removal take effect exactly as without the cache, and callers still
// check the claims (expiry) and the stored grant (revocation) every time.
type verifiedCache struct {
	mu sync.RWMutex
	m  map[[32]byte]verifiedToken
}

type verifiedToken struct {
	key     *material // the key that verified it
	header  Header
	payload []byte
}

func tokenKey(token string) [32]byte { return sha256.Sum256([]byte(token)) }

func (c *verifiedCache) get(k [32]byte) (verifiedToken, bool) {
	c.mu.RLock()
	v, ok := c.m[k]
	c.mu.RUnlock()
	return v, ok
}

func (c *verifiedCache) put(k [32]byte, v verifiedToken) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = make(map[[32]byte]verifiedToken)
	}
	if len(c.m) >= verifiedCap {
		// Evict an arbitrary entry (map order is randomised): the bound
		// matters, not which token pays one more verification.
		for old := range c.m {
			delete(c.m, old)
			break
		}
	}
	c.m[k] = v
}

func (c *verifiedCache) len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.m)
}
