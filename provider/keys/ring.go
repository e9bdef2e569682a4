package keys

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/manacore/mana-core-auth/provider"
	"github.com/manacore/mana-core-auth/provider/seal"
)

const (
	hkdfInfo        = "manaauth/keys/v1"
	minSecretLen    = 32
	minRSABits      = 2048
	defaultRSABits  = 2048
	defaultLifetime = 24 * time.Hour
	defaultReload   = time.Minute
)

// algs are the algorithms Init guarantees a signing key for.
var algs = []string{provider.AlgEdDSA, provider.AlgRS256}

// Options tune a Ring; the zero value is usable.
type Options struct {
	Now func() time.Time // default time.Now
	// RSA and Ed25519 are both kept: EdDSA is the default, RS256 is for
	// older relying parties (OpenID Connect requires RS256 support).
	RSABits int // default 2048, at least 2048
	// MaxTokenLifetime: how long a retired key stays published in the JWKS
	// after it stopped signing. It must cover the longest-lived token it
	// signed (ID tokens and access tokens). Default 24h.
	MaxTokenLifetime time.Duration
	Logger           *slog.Logger // default: discard
	// Rotated, when set, is called after a rotation stored a new key, so
	// the other replicas can reload at once (the app publishes it on
	// Redis) instead of at their next periodic reload.
	Rotated func(ctx context.Context)
}

// Ring is the set of signing keys of the provider. See the package doc.
type Ring struct {
	store   provider.KeyStore
	sealer  *seal.Sealer
	now     func() time.Time
	rsaBits int
	maxLife time.Duration
	log     *slog.Logger
	rotated func(ctx context.Context)

	// mu serialises writers so a slow Reload cannot publish a snapshot
	// older than the one a concurrent Rotate just published.
	mu   sync.Mutex
	snap atomic.Pointer[snapshot]
	jwks atomic.Pointer[jwksCache]
	// verified spares repeated checks of one token the signature math.
	verified verifiedCache
}

// New returns a Ring over store. secretKey is SECRET_KEY (at least 32
// bytes); the key that encrypts private keys at rest is derived from it.
// Call Init before using the Ring.
func New(store provider.KeyStore, secretKey []byte, opts Options) (*Ring, error) {
	if store == nil {
		return nil, errors.New("keys: nil store")
	}
	if len(secretKey) < minSecretLen {
		return nil, fmt.Errorf("keys: SECRET_KEY must be at least %d bytes, got %d", minSecretLen, len(secretKey))
	}
	if opts.RSABits == 0 {
		opts.RSABits = defaultRSABits
	}
	if opts.RSABits < minRSABits {
		return nil, fmt.Errorf("keys: RSABits must be at least %d, got %d", minRSABits, opts.RSABits)
	}
	if opts.MaxTokenLifetime == 0 {
		opts.MaxTokenLifetime = defaultLifetime
	}
	if opts.MaxTokenLifetime < 0 {
		return nil, fmt.Errorf("keys: negative MaxTokenLifetime %s", opts.MaxTokenLifetime)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	sealer, err := seal.New(secretKey, hkdfInfo)
	if err != nil {
		return nil, fmt.Errorf("keys: %w", err)
	}
	return &Ring{
		store:   store,
		sealer:  sealer,
		now:     opts.Now,
		rsaBits: opts.RSABits,
		maxLife: opts.MaxTokenLifetime,
		log:     opts.Logger,
		rotated: opts.Rotated,
	}, nil
}

// storeNow is the time written to the store: UTC without a monotonic
// reading, at the microsecond precision PostgreSQL keeps, so the times the
// ring compares after a reload are the ones it wrote.
func (r *Ring) storeNow() time.Time {
	return r.now().UTC().Truncate(time.Microsecond)
}

// Init loads the keys and, for each algorithm without a key that can sign
// now, generates one that is active immediately. It fails when a stored
// key cannot be decrypted (ErrSecretMismatch) rather than replacing it,
// because new keys would invalidate every token already issued.
func (r *Ring) Init(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	// Listed before the reload, so a key another replica stores after this
	// list is either in the snapshot or newer than every key listed here.
	stored, err := r.store.ListKeys(ctx)
	if err != nil {
		return fmt.Errorf("keys: list keys: %w", err)
	}
	if err := r.reloadLocked(ctx, nil); err != nil {
		return err
	}
	fresh := map[string]*material{}
	lost := false
	for _, alg := range algs {
		if r.snap.Load().signer(alg, r.now()) != nil {
			continue
		}
		k, m, err := r.generate(alg)
		if err != nil {
			return err
		}
		now := r.storeNow()
		k.CreatedAt, k.ActiveAt = now, now
		// Replicas starting together on a fresh database would each store
		// (and sign with) their own key. The insert is serialised like a
		// rotation's and skipped when a key of alg newer than every key
		// listed here exists: another replica's, which the reload picks up.
		ok, err := r.store.InsertKeyIfDue(ctx, k, newestCreated(stored, alg))
		if err != nil {
			return fmt.Errorf("keys: store new %s key: %w", alg, err)
		}
		if !ok {
			lost = true
			continue
		}
		fresh[k.ID] = m
		r.log.Info("generated signing key", "kid", k.ID, "alg", alg)
	}
	if len(fresh) == 0 && !lost {
		return nil
	}
	if err := r.reloadLocked(ctx, fresh); err != nil {
		return err
	}
	for _, alg := range algs {
		if r.snap.Load().signer(alg, r.now()) == nil {
			// The winner's key is active from its clock's now: this host's
			// clock is behind it, and signing works once it catches up.
			r.log.Warn("another replica's new signing key is not active yet here; clocks differ", "alg", alg)
		}
	}
	return nil
}

// newestCreated is a time at or after the creation of every listed key of
// alg (the zero time when there is none), rounded up to the millisecond
// the stores compare at, so none of them counts as newer.
func newestCreated(keys []*provider.Key, alg string) time.Time {
	var newest time.Time
	for _, k := range keys {
		if k.Alg == alg && k.CreatedAt.After(newest) {
			newest = k.CreatedAt
		}
	}
	if newest.IsZero() {
		return newest
	}
	return newest.Truncate(time.Millisecond).Add(time.Millisecond)
}

// Reload re-reads the store so rotations made by other replicas (or the
// CLI) take effect. On error the previous snapshot stays in use.
func (r *Ring) Reload(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.reloadLocked(ctx, nil)
}

// reloadLocked builds a new snapshot from the store. Key material is taken
// from fresh (keys this ring just generated) or the current snapshot when
// possible, so only keys new to this ring are decrypted.
func (r *Ring) reloadLocked(ctx context.Context, fresh map[string]*material) error {
	stored, err := r.store.ListKeys(ctx)
	if err != nil {
		return fmt.Errorf("keys: list keys: %w", err)
	}
	old := r.snap.Load()
	now := r.now()
	s := &snapshot{byKid: make(map[string]*entry, len(stored))}
	for _, k := range stored {
		if k.ExpiresAt != nil && !now.Before(*k.ExpiresAt) {
			continue // no longer published: not needed, not even decrypted
		}
		if k.Alg != provider.AlgEdDSA && k.Alg != provider.AlgRS256 {
			// A newer release may add algorithms; during a rolling deploy
			// the old replicas must keep working with the keys they know.
			r.log.Warn("ignoring signing key with unsupported alg", "kid", k.ID, "alg", k.Alg)
			continue
		}
		publicOnly := PublicOnly(k)
		m := fresh[k.ID]
		if m == nil && old != nil {
			if e := old.byKid[k.ID]; e != nil && e.alg == k.Alg && e.publicOnly == publicOnly {
				m = e.material
			}
		}
		switch {
		case m != nil:
		case publicOnly:
			// Imported without its private half: nothing to decrypt.
			if m, err = openPublic(k); err != nil {
				return err
			}
		default:
			if m, err = r.open(k); err != nil {
				return err
			}
		}
		e := &entry{material: m, createdAt: k.CreatedAt, activeAt: k.ActiveAt}
		if k.RetiredAt != nil {
			e.retiredAt = *k.RetiredAt
		}
		if k.ExpiresAt != nil {
			e.expiresAt = *k.ExpiresAt
		}
		s.byKid[k.ID] = e
		s.all = append(s.all, e)
		if publicOnly {
			// Published and verifying, but never a signer and never the
			// newest key of its alg for rotation (issue 14).
			continue
		}
		switch k.Alg {
		case provider.AlgEdDSA:
			s.eddsa = append(s.eddsa, e)
		case provider.AlgRS256:
			s.rs256 = append(s.rs256, e)
		}
	}
	// JWKS order: newest first, which puts the key about to sign first.
	slices.SortStableFunc(s.all, func(a, b *entry) int { return b.createdAt.Compare(a.createdAt) })
	// Signer order: latest ActiveAt first, so the first key that may sign
	// at a given instant is the one that should.
	bySigning := func(a, b *entry) int {
		return cmp.Or(b.activeAt.Compare(a.activeAt), b.createdAt.Compare(a.createdAt))
	}
	slices.SortStableFunc(s.eddsa, bySigning)
	slices.SortStableFunc(s.rs256, bySigning)
	r.snap.Store(s)
	return nil
}

// Rotate generates a new key for alg. It is published at once and signs
// from now+delay; delay should exceed the time relying parties cache the
// JWKS. Every older key of alg that would still sign then is retired at the
// new key's ActiveAt and expires MaxTokenLifetime later.
//
// Rotate always rotates (the operator's `manaauth keys rotate`); the
// scheduled rotation is RotateIfDue, which one replica wins. Two
// concurrent Rotate calls leave two new keys, of which the one with the
// later ActiveAt signs and the other is retired by the next rotation.
func (r *Ring) Rotate(ctx context.Context, alg string, delay time.Duration) (*provider.Key, error) {
	if alg != provider.AlgEdDSA && alg != provider.AlgRS256 {
		return nil, fmt.Errorf("keys: unsupported alg %q", alg)
	}
	if delay < 0 {
		return nil, fmt.Errorf("keys: negative rotation delay %s", delay)
	}
	// Generate before locking: RSA generation takes long enough to stall
	// the periodic reload.
	k, m, err := r.generate(alg)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.storeNow()
	k.CreatedAt = now
	k.ActiveAt = now.Add(delay)
	existing, err := r.store.ListKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("keys: list keys: %w", err)
	}
	// Insert before retiring: if retiring fails halfway, the new key still
	// takes over at ActiveAt because the latest ActiveAt wins.
	if err := r.store.InsertKey(ctx, k); err != nil {
		return nil, fmt.Errorf("keys: store new %s key: %w", alg, err)
	}
	return withoutPrivate(k), r.finishRotation(ctx, k, m, existing, now)
}

// RotateIfDue rotates alg like Rotate when its newest key is at least
// interval old, and reports whether it did. Imported public-only keys do
// not count: they never sign, however recent their creation. Replicas may all call it on
// the same schedule: the store inserts the new key for one of them only
// (InsertKeyIfDue), so a fleet rotates once per interval.
func (r *Ring) RotateIfDue(ctx context.Context, alg string, interval, delay time.Duration) (*provider.Key, bool, error) {
	if alg != provider.AlgEdDSA && alg != provider.AlgRS256 {
		return nil, false, fmt.Errorf("keys: unsupported alg %q", alg)
	}
	if interval <= 0 || delay < 0 {
		return nil, false, fmt.Errorf("keys: rotation interval %s and delay %s must be positive", interval, delay)
	}
	// Most calls find a young key: decide on the snapshot (refreshed by
	// the reloads) before paying for key generation.
	if newest := r.snap.Load().newest(alg); newest != nil && r.now().Sub(newest.createdAt) < interval {
		return nil, false, nil
	}
	k, m, err := r.generate(alg)
	if err != nil {
		return nil, false, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.storeNow()
	k.CreatedAt = now
	k.ActiveAt = now.Add(delay)
	existing, err := r.store.ListKeys(ctx)
	if err != nil {
		return nil, false, fmt.Errorf("keys: list keys: %w", err)
	}
	since, due := rotationSince(existing, alg, now.Add(-interval))
	if !due {
		// Another replica rotated since this ring's last reload.
		return nil, false, r.reloadLocked(ctx, nil)
	}
	ok, err := r.store.InsertKeyIfDue(ctx, k, since)
	if err != nil {
		return nil, false, fmt.Errorf("keys: store new %s key: %w", alg, err)
	}
	if !ok {
		// Another replica rotated first: take its key now.
		return nil, false, r.reloadLocked(ctx, nil)
	}
	// existing was listed before the insert; a key another replica
	// inserted in between is older than k (created before the insert's
	// lock) and is retired with the rest by the next rotation at the latest.
	return withoutPrivate(k), true, r.finishRotation(ctx, k, m, existing, now)
}

// finishRotation retires the keys k replaces, reloads and tells the other
// replicas; r.mu is held and k is stored.
func (r *Ring) finishRotation(ctx context.Context, k *provider.Key, m *material, existing []*provider.Key, now time.Time) error {
	alg := k.Alg
	r.log.Info("rotated signing key", "kid", k.ID, "alg", alg, "active_at", k.ActiveAt)
	retired := k.ActiveAt
	expires := retired.Add(r.maxLife)
	var errs []error
	for _, o := range existing {
		if o.Alg != alg || (o.RetiredAt != nil && !o.RetiredAt.After(retired)) {
			continue
		}
		if PublicOnly(o) {
			continue // never signs here; its expiry was fixed at import
		}
		if o.ExpiresAt != nil && !o.ExpiresAt.After(now) {
			continue
		}
		if err := r.store.UpdateKeyTimes(ctx, o.ID, &retired, &expires); err != nil {
			errs = append(errs, fmt.Errorf("keys: retire %s: %w", o.ID, err))
			continue
		}
		r.log.Info("retiring signing key", "kid", o.ID, "alg", alg, "retired_at", retired, "expires_at", expires)
	}
	if err := r.reloadLocked(ctx, map[string]*material{k.ID: m}); err != nil {
		errs = append(errs, err)
	}
	if r.rotated != nil {
		r.rotated(ctx)
	}
	return errors.Join(errs...)
}

// Keys lists every stored key, expired ones included, oldest first. The
// encrypted private halves are left out: listing keys must not hand them
// around.
func (r *Ring) Keys(ctx context.Context) ([]*provider.Key, error) {
	ks, err := r.store.ListKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("keys: list keys: %w", err)
	}
	out := make([]*provider.Key, len(ks))
	for i, k := range ks {
		out[i] = withoutPrivate(k)
	}
	return out, nil
}

func withoutPrivate(k *provider.Key) *provider.Key {
	c := *k
	c.PrivateEnc = nil
	return &c
}

// Run reloads every interval (default one minute) until ctx ends, so that
// replicas pick up rotations made elsewhere. Switching to a rotated key at
// its ActiveAt does not depend on it.
func (r *Ring) Run(ctx context.Context, every time.Duration) {
	if every <= 0 {
		every = defaultReload
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := r.Reload(ctx); err != nil && ctx.Err() == nil {
				r.log.Error("reload signing keys", "err", err)
			}
		}
	}
}
