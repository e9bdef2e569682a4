package oidc

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/manacore/mana-core-auth/provider"
)

// Revocations records the grant revocations of one process, in order,
// for the access-token cache (activeGrants): each revocation takes the
// next number of a sequence once it has taken effect (its call returned,
// and inside a transaction again when the transaction commits). A cache
// entry remembers the sequence number read before its row was read
// (Mark), and is used only while no later revocation could have touched
// it: one of its own access token (by signature, as a refresh rotation
// revokes the paired token), of its request, or one whose reach is wider
// or unknown (a session, a user, a client, an erasure, the expiry sweep),
// which ends every entry. So a revocation made through this process ends
// the cached answers it concerns at once; one made by another replica, the
// CLI or by hand in SQL is seen when the entry's time is up (activeTTL).
type Revocations struct {
	now    func() time.Time
	seq    atomic.Uint64
	global atomic.Uint64 // number of the last revocation of everything

	mu        sync.Mutex
	bySig     map[string]revocation // access-token grants by signature
	byReq     map[string]revocation // access-token grants by request id
	lastPrune time.Time
}

type revocation struct {
	seq uint64
	at  time.Time
}

// Mark is the sequence number to read before reading a grant's row.
func (r *Revocations) Mark() uint64 { return r.seq.Load() }

// valid reports whether a row of the access token sig of request reqID,
// read after mark was taken, may still be used.
func (r *Revocations) valid(mark uint64, sig, reqID string) bool {
	if r.global.Load() > mark {
		return false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.bySig[sig].seq <= mark && r.byReq[reqID].seq <= mark
}

func (r *Revocations) all() {
	v := r.seq.Add(1)
	for { // keep the largest: concurrent revocations may store out of order
		old := r.global.Load()
		if old >= v || r.global.CompareAndSwap(old, v) {
			return
		}
	}
}

func (r *Revocations) record(m map[string]revocation, key string) {
	v := r.seq.Add(1)
	now := r.now()
	r.mu.Lock()
	defer r.mu.Unlock()
	if m[key].seq < v {
		m[key] = revocation{seq: v, at: now}
	}
	// A record older than two entry lifetimes can no longer matter: every
	// entry read before it has expired.
	if now.Sub(r.lastPrune) > activeTTL {
		r.lastPrune = now
		for _, mm := range []map[string]revocation{r.bySig, r.byReq} {
			for k, rv := range mm {
				if now.Sub(rv.at) > 2*activeTTL {
					delete(mm, k)
				}
			}
		}
	}
}

// WatchRevocations wraps st so that its grant revocations are recorded in
// the returned Revocations (now is the process clock). Every part of the
// process must use the wrapped store; the oidc.Provider given the same
// Revocations (Config.Revocations) then caches the active state of access
// tokens for at most activeTTL.
func WatchRevocations(st provider.Store, now func() time.Time) (provider.Store, *Revocations) {
	if now == nil {
		now = time.Now
	}
	r := &Revocations{now: now, bySig: map[string]revocation{}, byReq: map[string]revocation{}}
	return &revokingStore{Store: st, rev: r}, r
}

// revokingStore overrides every store method that can make a grant
// inactive or remove it (TestRevokingStoreCoversEveryGrantWrite checks the
// list against the SQL of both backends). Only access-token grants are
// cached, so a revocation of another kind is not recorded.
type revokingStore struct {
	provider.Store
	rev *Revocations
}

// txRevocations are the revocations made inside one transaction: its
// commit records them again, since readers may have cached what they read
// before the commit made them visible.
type txRevocations struct {
	mu         sync.Mutex
	all        bool
	sigs, reqs []string
}

type txKey struct{}

func (s *revokingStore) revokedAll(ctx context.Context) {
	s.rev.all()
	if tx, ok := ctx.Value(txKey{}).(*txRevocations); ok {
		tx.mu.Lock()
		tx.all = true
		tx.mu.Unlock()
	}
}

func (s *revokingStore) revokedAccess(ctx context.Context, kind, signature string) {
	if kind != provider.KindAccessToken {
		return
	}
	s.rev.record(s.rev.bySig, signature)
	if tx, ok := ctx.Value(txKey{}).(*txRevocations); ok {
		tx.mu.Lock()
		tx.sigs = append(tx.sigs, signature)
		tx.mu.Unlock()
	}
}

func (s *revokingStore) BeginTx(ctx context.Context) (context.Context, error) {
	tx, err := s.Store.BeginTx(ctx)
	if err != nil {
		return tx, err
	}
	if _, ok := tx.Value(txKey{}).(*txRevocations); !ok { // an inner BeginTx joins the outer record
		tx = context.WithValue(tx, txKey{}, &txRevocations{})
	}
	return tx, nil
}

func (s *revokingStore) Commit(ctx context.Context) error {
	err := s.Store.Commit(ctx)
	if tx, ok := ctx.Value(txKey{}).(*txRevocations); ok {
		tx.mu.Lock()
		all, sigs, reqs := tx.all, tx.sigs, tx.reqs
		tx.mu.Unlock()
		if all {
			s.rev.all()
		}
		for _, sig := range sigs {
			s.rev.record(s.rev.bySig, sig)
		}
		for _, req := range reqs {
			s.rev.record(s.rev.byReq, req)
		}
	}
	return err
}

func (s *revokingStore) DeleteGrant(ctx context.Context, kind, signature string) error {
	defer s.revokedAccess(ctx, kind, signature)
	return s.Store.DeleteGrant(ctx, kind, signature)
}

func (s *revokingStore) DeactivateGrant(ctx context.Context, kind, signature string) error {
	defer s.revokedAccess(ctx, kind, signature)
	return s.Store.DeactivateGrant(ctx, kind, signature)
}

func (s *revokingStore) RotateGrant(ctx context.Context, kind, signature string, at time.Time) (string, error) {
	defer s.revokedAccess(ctx, kind, signature)
	return s.Store.RotateGrant(ctx, kind, signature, at)
}

func (s *revokingStore) RevokeRequest(ctx context.Context, kind, requestID string) error {
	defer func() {
		if kind != provider.KindAccessToken {
			return
		}
		s.rev.record(s.rev.byReq, requestID)
		if tx, ok := ctx.Value(txKey{}).(*txRevocations); ok {
			tx.mu.Lock()
			tx.reqs = append(tx.reqs, requestID)
			tx.mu.Unlock()
		}
	}()
	return s.Store.RevokeRequest(ctx, kind, requestID)
}

func (s *revokingStore) RevokeSession(ctx context.Context, sessionID string) (int, error) {
	defer s.revokedAll(ctx)
	return s.Store.RevokeSession(ctx, sessionID)
}

func (s *revokingStore) RevokeSubject(ctx context.Context, subject string) (int, error) {
	defer s.revokedAll(ctx)
	return s.Store.RevokeSubject(ctx, subject)
}

func (s *revokingStore) RevokeClientSubject(ctx context.Context, clientID, subject string) (int, error) {
	defer s.revokedAll(ctx)
	return s.Store.RevokeClientSubject(ctx, clientID, subject)
}

func (s *revokingStore) DeleteClient(ctx context.Context, id string) error {
	defer s.revokedAll(ctx)
	return s.Store.DeleteClient(ctx, id)
}

func (s *revokingStore) EraseUserData(ctx context.Context, userID string, t provider.Tombstone) (provider.ErasedCounts, error) {
	defer s.revokedAll(ctx)
	return s.Store.EraseUserData(ctx, userID, t)
}

func (s *revokingStore) DeleteExpired(ctx context.Context, before time.Time) (int, error) {
	defer s.revokedAll(ctx)
	return s.Store.DeleteExpired(ctx, before)
}

// activeTTL is how long a replica may answer from its cache that an access
// token's grant is active: the longest a revocation made on another
// replica goes unseen here.
const activeTTL = time.Second

// activeCap bounds the active-grant cache.
const activeCap = 8192

// activeGrants caches active access-token grants, by signature, for
// activeTTL and only while no revocation since could have touched them.
type activeGrants struct {
	mu sync.RWMutex
	m  map[string]activeGrant

	// flights lets concurrent misses for one token under one mark share a
	// single database read: a resource server checking one token from many
	// requests at once would otherwise send them all to the database when
	// the entry expires. A request that took a later mark (a revocation
	// completed since the flight began) never joins it.
	fmu     sync.Mutex
	flights map[flightKey]*flight
}

type flightKey struct {
	signature string
	mark      uint64
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

// read returns the grant through the flight for (signature, mark),
// calling load if none is in the air.
func (c *activeGrants) read(signature string, mark uint64, load func() (readGrant, error)) (readGrant, error) {
	k := flightKey{signature, mark}
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
	mark  uint64        // Revocations.Mark before the row was read
	until time.Time
}

func (c *activeGrants) get(rev *Revocations, signature string, now time.Time) *decodedGrant {
	c.mu.RLock()
	e, ok := c.m[signature]
	c.mu.RUnlock()
	if !ok || !now.Before(e.until) || !rev.valid(e.mark, signature, e.d.sr.ID) {
		return nil
	}
	return e.d
}

func (c *activeGrants) put(signature string, d *decodedGrant, mark uint64, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = make(map[string]activeGrant)
	}
	if len(c.m) >= activeCap {
		clear(c.m) // amortised O(1); the cost is a database read per token
	}
	c.m[signature] = activeGrant{d: d, mark: mark, until: now.Add(activeTTL)}
}
