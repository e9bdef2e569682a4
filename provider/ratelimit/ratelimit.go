package ratelimit

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"time"
)

// ErrInvalid reports a limit, window or backoff parameter that cannot work
// (a limit below one, a window or delay that is not positive).
var ErrInvalid = errors.New("ratelimit: invalid parameter")

// Decision is the outcome of one Limiter.Allow.
type Decision struct {
	// Allowed reports whether the hit is within the limit.
	Allowed bool
	// Remaining is how many further hits would be allowed right now.
	Remaining int
	// RetryAfter is, for a rejected hit, how long until the next hit fits
	// (> 0 and never more than window/limit); zero when Allowed. A
	// Retry-After header rounds it up to whole seconds.
	RetryAfter time.Duration
}

// Limiter counts hits per key. Implementations are safe for concurrent use.
type Limiter interface {
	// Allow counts one hit on key and reports whether it is within limit
	// per window. The algorithm is GCRA (see the package documentation):
	// a burst of limit, refilled at one hit every window/limit. A rejected
	// hit is not counted. On error the Decision is Allowed (fail open).
	Allow(ctx context.Context, key string, limit int, window time.Duration) (Decision, error)
}

// maxKeyLen is the longest key stored as is; longer keys are hashed so an
// attacker who controls a key (a typed-in email) cannot make it large.
const maxKeyLen = 64

func shortKey(key string) string {
	if len(key) <= maxKeyLen {
		return key
	}
	sum := sha256.Sum256([]byte(key))
	return "sha256:" + hex.EncodeToString(sum[:])
}

// interval returns the GCRA emission interval window/limit in units of
// unit, at least one unit so that a huge limit still makes progress.
func interval(limit int, window, unit time.Duration) (int64, error) {
	if limit < 1 {
		return 0, fmt.Errorf("%w: limit %d, want at least 1", ErrInvalid, limit)
	}
	if window <= 0 {
		return 0, fmt.Errorf("%w: window %v, want > 0", ErrInvalid, window)
	}
	t := int64(window/unit) / int64(limit)
	if t < 1 {
		t = 1
	}
	return t, nil
}

// gcra applies one hit at now to a key whose theoretical arrival time is
// tat, all in one unit. The burst tolerance is limit*t rather than the
// window so that the truncation of t = window/limit can never let limit+1
// hits of a burst through. The Redis script is a transcription of this
// function; the shared test suite keeps the two in step.
func gcra(now, tat, t int64, limit int) (d Decision, newTAT int64, retry int64) {
	if tat < now {
		tat = now
	}
	newTAT = tat + t
	burst := int64(limit) * t
	diff := newTAT - now // how far ahead of now the key would be scheduled
	if diff > burst {
		return Decision{}, tat, diff - burst
	}
	return Decision{Allowed: true, Remaining: int((burst - diff) / t)}, newTAT, 0
}
