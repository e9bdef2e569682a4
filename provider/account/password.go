package account

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/scrypt"
	"golang.org/x/text/unicode/norm"
)

// Params are argon2id parameters. The defaults follow OWASP's second
// recommended configuration (m=19 MiB, t=2, p=1), which costs about 20-30 ms
// per hash on the 2-core machines we run on.
type Params struct {
	Memory  uint32 // KiB
	Time    uint32
	Threads uint8
	KeyLen  uint32
	SaltLen uint32
}

// DefaultParams are used for new hashes.
var DefaultParams = Params{Memory: 19 * 1024, Time: 2, Threads: 1, KeyLen: 32, SaltLen: 16}

// ErrMismatch is returned when a password does not match its hash.
var ErrMismatch = errors.New("password does not match")

// ErrBusy is returned (as a *BusyError) when every hashing slot is taken
// and the queue in front of them is full, or a waiter's turn did not come
// within the queue's maximum wait. Nothing about the request was wrong:
// callers answer 503 with Retry-After, never "invalid credentials".
var ErrBusy = errors.New("password hashing is at capacity")

// BusyError is the ErrBusy a Hasher returns; it says when to retry.
type BusyError struct{ Wait time.Duration }

func (e *BusyError) Error() string { return ErrBusy.Error() }

// Is makes errors.Is(err, ErrBusy) hold.
func (e *BusyError) Is(target error) bool { return target == ErrBusy }

// RetryAfter is how long a client should wait before trying again; the
// HTTP layers turn it into the Retry-After header.
func (e *BusyError) RetryAfter() time.Duration { return e.Wait }

// HasherLimits bound the work a Hasher accepts.
type HasherLimits struct {
	// Slots is how many hashes run at once; each holds Params.Memory.
	// Below 1 means 1.
	Slots int
	// Queue is how many callers may wait for a slot; a caller beyond it is
	// refused at once with ErrBusy. Negative means unbounded.
	Queue int
	// MaxWait is the longest a queued caller waits before it is refused
	// with ErrBusy; 0 waits as long as the caller's context allows.
	MaxWait time.Duration
	// RetryAfter is what a refusal tells the client; default 1 s.
	RetryAfter time.Duration
	// OnReject, when set, is called for every refusal (a metrics counter).
	OnReject func()
}

// Hasher hashes and verifies passwords. It bounds how many hashes run at
// once: each holds Params.Memory of RAM, so an unbounded login flood could
// exhaust memory. In front of the slots it keeps a bounded queue: past it
// a hash is refused at once (ErrBusy) instead of every caller waiting for
// seconds.
type Hasher struct {
	params  Params
	limits  HasherLimits
	slots   chan struct{}
	waiting atomic.Int64
	dummy   string
}

// NewHasher returns a hasher running at most concurrency hashes at a time,
// with an unbounded queue (the command-line tools, tests).
func NewHasher(p Params, concurrency int) *Hasher {
	return NewBoundedHasher(p, HasherLimits{Slots: concurrency, Queue: -1})
}

// NewBoundedHasher returns a hasher within l.
func NewBoundedHasher(p Params, l HasherLimits) *Hasher {
	l.Slots = max(l.Slots, 1)
	if l.RetryAfter <= 0 {
		l.RetryAfter = time.Second
	}
	h := &Hasher{params: p, limits: l, slots: make(chan struct{}, l.Slots)}
	// A fixed hash to verify against when the user does not exist, so an
	// unknown email costs the same time as a wrong password.
	h.dummy = h.encode(make([]byte, p.SaltLen), argon2.IDKey([]byte("dummy"), make([]byte, p.SaltLen), p.Time, p.Memory, p.Threads, p.KeyLen), p)
	return h
}

func (h *Hasher) acquire(ctx context.Context) error {
	select {
	case h.slots <- struct{}{}:
		return nil
	default:
	}
	if q := h.limits.Queue; q >= 0 && h.waiting.Add(1) > int64(q) {
		h.waiting.Add(-1)
		return h.reject()
	} else if q >= 0 {
		defer h.waiting.Add(-1)
	}
	var expired <-chan time.Time
	if h.limits.MaxWait > 0 {
		t := time.NewTimer(h.limits.MaxWait)
		defer t.Stop()
		expired = t.C
	}
	select {
	case h.slots <- struct{}{}:
		return nil
	case <-expired:
		return h.reject()
	case <-ctx.Done():
		return fmt.Errorf("wait for password hash slot: %w", ctx.Err())
	}
}

func (h *Hasher) reject() error {
	if h.limits.OnReject != nil {
		h.limits.OnReject()
	}
	return &BusyError{Wait: h.limits.RetryAfter}
}

func (h *Hasher) release() { <-h.slots }

// Slot is a hashing slot held across several steps, so that a step which
// cannot be undone (consuming a reset token) happens only once the hash
// after it is sure to run. Release it when done; releasing twice is safe.
type Slot struct {
	h    *Hasher
	once sync.Once
}

// Acquire takes a slot, queueing within the hasher's limits: ErrBusy past
// them.
func (h *Hasher) Acquire(ctx context.Context) (*Slot, error) {
	if err := h.acquire(ctx); err != nil {
		return nil, err
	}
	return &Slot{h: h}, nil
}

// Release gives the slot back.
func (s *Slot) Release() {
	s.once.Do(s.h.release)
}

// Hash returns a PHC-formatted argon2id hash of password.
func (h *Hasher) Hash(ctx context.Context, password string) (string, error) {
	s, err := h.Acquire(ctx)
	if err != nil {
		return "", err
	}
	defer s.Release()
	return s.Hash(password)
}

// Hash hashes password in the held slot.
func (s *Slot) Hash(password string) (string, error) {
	h := s.h
	salt := make([]byte, h.params.SaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	key := argon2.IDKey([]byte(password), salt, h.params.Time, h.params.Memory, h.params.Threads, h.params.KeyLen)
	return h.encode(salt, key, h.params), nil
}

func (h *Hasher) encode(salt, key []byte, p Params) string {
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.Memory, p.Time, p.Threads,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key))
}

// Verify checks password against encoded. An empty encoded hash (a user
// without a password) is checked against a dummy hash and never matches,
// so the timing does not tell whether the account exists: the dummy check
// takes a slot like any other.
func (h *Hasher) Verify(ctx context.Context, encoded, password string) error {
	s, err := h.Acquire(ctx)
	if err != nil {
		return err
	}
	defer s.Release()
	return s.Verify(encoded, password)
}

// Verify checks password against encoded in the held slot.
func (s *Slot) Verify(encoded, password string) error {
	match := true
	if encoded == "" {
		encoded, match = s.h.dummy, false
	}
	var got, want []byte
	if salt, key, ok := decodeBetterAuth(encoded); ok {
		// issue 14: a hash imported from the old service.
		k, err := scrypt.Key([]byte(norm.NFKC.String(password)), salt, betterAuthN, betterAuthR, betterAuthP, len(key))
		if err != nil {
			return fmt.Errorf("scrypt: %w", err)
		}
		got, want = k, key
	} else {
		p, salt, key, err := decode(encoded)
		if err != nil {
			return err
		}
		got, want = argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, uint32(len(key))), key
	}
	if subtle.ConstantTimeCompare(got, want) != 1 || !match {
		return ErrMismatch
	}
	return nil
}

// Better Auth 1.4.4 (the old service) hashed passwords with scrypt N=16384,
// r=16, p=1 into 64 bytes, over the NFKC form of the password, and stored
// "saltHex:keyHex" where the salt given to scrypt is the 32-character hex
// string itself, not the 16 bytes it spells.
const (
	betterAuthN, betterAuthR, betterAuthP = 16384, 16, 1
	betterAuthSaltLen, betterAuthKeyLen   = 32, 64
)

// decodeBetterAuth splits an imported Better Auth hash; ok is false for
// anything else.
func decodeBetterAuth(encoded string) (salt, key []byte, ok bool) {
	saltHex, keyHex, found := strings.Cut(encoded, ":")
	if !found || len(saltHex) != betterAuthSaltLen || len(keyHex) != 2*betterAuthKeyLen || !isLowerHex(saltHex) {
		return nil, nil, false
	}
	key, err := hex.DecodeString(keyHex)
	if err != nil {
		return nil, nil, false
	}
	return []byte(saltHex), key, true
}

func isLowerHex(s string) bool {
	for _, c := range s {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// NeedsRehash reports whether a stored hash should be replaced by one with
// the current algorithm and parameters after a successful login: imported
// Better Auth hashes, and argon2id hashes with other parameters.
func (h *Hasher) NeedsRehash(encoded string) bool {
	if encoded == "" {
		return false
	}
	if _, _, ok := decodeBetterAuth(encoded); ok {
		return true
	}
	p, salt, key, err := decode(encoded)
	if err != nil {
		return true
	}
	want := h.params
	return p.Memory != want.Memory || p.Time != want.Time || p.Threads != want.Threads ||
		uint32(len(salt)) != want.SaltLen || uint32(len(key)) != want.KeyLen
}

func decode(encoded string) (Params, []byte, []byte, error) {
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return Params{}, nil, nil, errors.New("unsupported password hash format")
	}
	var version int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return Params{}, nil, nil, errors.New("unsupported argon2 version")
	}
	var p Params
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.Memory, &p.Time, &p.Threads); err != nil {
		return Params{}, nil, nil, fmt.Errorf("parse argon2 parameters: %w", err)
	}
	salt, err := base64.RawStdEncoding.DecodeString(parts[4])
	if err != nil {
		return Params{}, nil, nil, fmt.Errorf("decode salt: %w", err)
	}
	key, err := base64.RawStdEncoding.DecodeString(parts[5])
	if err != nil {
		return Params{}, nil, nil, fmt.Errorf("decode key: %w", err)
	}
	return p, salt, key, nil
}

// IsBetterAuthHash reports whether encoded is a password hash of the old
// service that Verify can check (issue 14: the import validates hashes
// before it copies them).
func IsBetterAuthHash(encoded string) bool {
	_, _, ok := decodeBetterAuth(encoded)
	return ok
}
