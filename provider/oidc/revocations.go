package oidc

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/manacore/mana-core-auth/provider"
)

// Revocations is the revocation epoch of one process: a counter that
// every call able to deactivate or delete a grant advances once it has
// taken effect (returned, and for a call inside a transaction, once that
// transaction committed). The access-token cache (activeGrants) keeps an
// entry only while the epoch it was read under is current, so a
// revocation made through this process ends every cached answer at once.
// Revocations made by another replica (or by hand in SQL) are seen when
// the entry's time is up: activeTTL.
type Revocations struct{ epoch atomic.Uint64 }

// Epoch is the current revocation epoch.
func (r *Revocations) Epoch() uint64 { return r.epoch.Load() }

func (r *Revocations) advance() { r.epoch.Add(1) }

// WatchRevocations wraps st so that its grant revocations advance the
// returned epoch. Every part of the process must use the wrapped store;
// the oidc.Provider given the same Revocations (Config.Revocations) then
// caches the active state of access tokens for at most activeTTL.
func WatchRevocations(st provider.Store) (provider.Store, *Revocations) {
	r := &Revocations{}
	return &revokingStore{Store: st, rev: r}, r
}

// revokingStore overrides every store method that can make a grant
// inactive or remove it (TestRevokingStoreCoversEveryGrantWrite checks the
// list against the SQL of both backends).
type revokingStore struct {
	provider.Store
	rev *Revocations
}

// txRevoked marks a transaction in which a grant was revoked: its commit
// advances the epoch again, since readers may have cached what they read
// before the commit made the revocation visible.
type txRevokedKey struct{}

func (s *revokingStore) revoked(ctx context.Context) {
	s.rev.advance()
	if f, ok := ctx.Value(txRevokedKey{}).(*atomic.Bool); ok {
		f.Store(true)
	}
}

func (s *revokingStore) BeginTx(ctx context.Context) (context.Context, error) {
	tx, err := s.Store.BeginTx(ctx)
	if err != nil {
		return tx, err
	}
	if _, ok := tx.Value(txRevokedKey{}).(*atomic.Bool); !ok { // an inner BeginTx joins the outer flag
		tx = context.WithValue(tx, txRevokedKey{}, &atomic.Bool{})
	}
	return tx, nil
}

func (s *revokingStore) Commit(ctx context.Context) error {
	err := s.Store.Commit(ctx)
	if f, ok := ctx.Value(txRevokedKey{}).(*atomic.Bool); ok && f.Load() {
		s.rev.advance()
	}
	return err
}

func (s *revokingStore) DeleteGrant(ctx context.Context, kind, signature string) error {
	defer s.revoked(ctx)
	return s.Store.DeleteGrant(ctx, kind, signature)
}

func (s *revokingStore) DeactivateGrant(ctx context.Context, kind, signature string) error {
	defer s.revoked(ctx)
	return s.Store.DeactivateGrant(ctx, kind, signature)
}

func (s *revokingStore) RotateGrant(ctx context.Context, kind, signature string, at time.Time) (string, error) {
	defer s.revoked(ctx)
	return s.Store.RotateGrant(ctx, kind, signature, at)
}

func (s *revokingStore) RevokeRequest(ctx context.Context, kind, requestID string) error {
	defer s.revoked(ctx)
	return s.Store.RevokeRequest(ctx, kind, requestID)
}

func (s *revokingStore) RevokeSession(ctx context.Context, sessionID string) (int, error) {
	defer s.revoked(ctx)
	return s.Store.RevokeSession(ctx, sessionID)
}

func (s *revokingStore) RevokeSubject(ctx context.Context, subject string) (int, error) {
	defer s.revoked(ctx)
	return s.Store.RevokeSubject(ctx, subject)
}

func (s *revokingStore) RevokeClientSubject(ctx context.Context, clientID, subject string) (int, error) {
	defer s.revoked(ctx)
	return s.Store.RevokeClientSubject(ctx, clientID, subject)
}

func (s *revokingStore) DeleteClient(ctx context.Context, id string) error {
	defer s.revoked(ctx)
	return s.Store.DeleteClient(ctx, id)
}

func (s *revokingStore) EraseUserData(ctx context.Context, userID string, t provider.Tombstone) (provider.ErasedCounts, error) {
	defer s.revoked(ctx)
	return s.Store.EraseUserData(ctx, userID, t)
}

func (s *revokingStore) DeleteExpired(ctx context.Context, before time.Time) (int, error) {
	defer s.revoked(ctx)
	return s.Store.DeleteExpired(ctx, before)
}

// activeTTL is how long a replica may answer from its cache that an access
// token's grant is active: the longest a revocation made on another
// replica goes unseen here.
const activeTTL = time.Second

// activeCap bounds the active-grant cache.
const activeCap = 8192

// activeGrants caches the rows of active access-token grants, by
// signature, for activeTTL and only within one revocation epoch.
type activeGrants struct {
	mu sync.RWMutex
	m  map[string]activeGrant

	// flights lets concurrent misses for one token within one epoch share
	// a single database read: a resource server checking one token from
	// many requests at once would otherwise send them all to the database
	// when the entry expires. A request that read a later epoch (a
	// revocation completed since the flight began) never joins it.
	fmu     sync.Mutex
	flights map[flightKey]*flight
}

type flightKey struct {
	signature string
	epoch     uint64
}

type flight struct {
	done   chan struct{}
	g      readGrant
	err    error
	joined int // requests waiting on it (under fmu)
}

// readGrant is what one read of an access token's row found: its decoded
// form and whether it is active.
type readGrant struct {
	d      *decodedGrant
	active bool
}

// read returns the grant through the flight for (signature, epoch),
// calling load if none is in the air.
func (c *activeGrants) read(signature string, epoch uint64, load func() (readGrant, error)) (readGrant, error) {
	k := flightKey{signature, epoch}
	c.fmu.Lock()
	if f, ok := c.flights[k]; ok {
		f.joined++
		c.fmu.Unlock()
		<-f.done
		if f.err == nil {
			return f.g, nil
		}
		return load() // the leader's failure may be its own (a cancelled request)
	}
	if c.flights == nil {
		c.flights = make(map[flightKey]*flight)
	}
	f := &flight{done: make(chan struct{})}
	c.flights[k] = f
	c.fmu.Unlock()
	defer func() {
		c.fmu.Lock()
		delete(c.flights, k)
		c.fmu.Unlock()
		close(f.done)
	}()
	f.g, f.err = load()
	return f.g, f.err
}

// activeGrant is an active access token's grant as decoded, without the
// row itself (its data is most of the memory, and a grant's data never
// changes: rows are only created, deactivated and deleted).
type activeGrant struct {
	d     *decodedGrant // shared, never modified
	epoch uint64
	until time.Time
}

func (c *activeGrants) get(signature string, epoch uint64, now time.Time) *decodedGrant {
	c.mu.RLock()
	e, ok := c.m[signature]
	c.mu.RUnlock()
	if !ok || e.epoch != epoch || !now.Before(e.until) {
		return nil
	}
	return e.d
}

func (c *activeGrants) put(signature string, d *decodedGrant, epoch uint64, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = make(map[string]activeGrant)
	}
	if len(c.m) >= activeCap {
		clear(c.m) // amortised O(1); the cost is a database read per token
	}
	c.m[signature] = activeGrant{d: d, epoch: epoch, until: now.Add(activeTTL)}
}
