package oidc

import (
	"context"
	"crypto/sha256"
	"maps"
	"net/url"
	"slices"
	"sync"

	"github.com/ory/fosite"

	"github.com/manacore/mana-core-auth/provider"
)

// decodedCap bounds the decoded-grant cache (a few KiB an entry).
const decodedCap = 4096

// decodedGrants keeps the decoded form of access-token grants. Every
// introspection (and userinfo call) still reads the grant's row, so
// revocation and expiry are decided by the database as before; what is
// kept is only the JSON decoding of the row's request data, the largest
// CPU cost of an introspection once the signature check is cached. An
// entry is used only when the row's data has the SHA-256 of the data it
// was decoded from, and every caller gets its own deep copy.
type decodedGrants struct {
	mu sync.RWMutex
	m  map[string]*decodedGrant // by signature
}

type decodedGrant struct {
	sum  [32]byte      // SHA-256 of the row's data this was decoded from (not a copy: memory)
	sr   storedRequest // without Session
	sess *Session
}

func (c *decodedGrants) get(signature string, data []byte) *decodedGrant {
	c.mu.RLock()
	d := c.m[signature]
	c.mu.RUnlock()
	if d == nil || d.sum != sha256.Sum256(data) {
		return nil
	}
	return d
}

func (c *decodedGrants) put(signature string, d *decodedGrant) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = make(map[string]*decodedGrant)
	}
	if len(c.m) >= decodedCap {
		for k := range c.m { // evict an arbitrary entry: only the bound matters
			delete(c.m, k)
			break
		}
	}
	c.m[signature] = d
}

// decodeAccess is decode for access-token grants, through the cache.
func (s *storage) decodeAccess(ctx context.Context, g *provider.Grant, proto fosite.Session) (*fosite.Request, error) {
	d, err := s.decodedOf(ctx, g)
	if err != nil {
		return nil, err
	}
	return s.request(ctx, d, proto)
}

// decodedOf returns the decoded form of the row g, from the cache or
// decoded now (and cached).
func (s *storage) decodedOf(ctx context.Context, g *provider.Grant) (*decodedGrant, error) {
	if d := s.decoded.get(g.Signature, g.Data); d != nil {
		return d, nil
	}
	r, err := s.decode(ctx, g, nil)
	if err != nil {
		return nil, err
	}
	sess, _ := r.Session.(*Session)
	d := &decodedGrant{sum: sha256.Sum256(g.Data), sess: sess.clone(), sr: storedRequest{
		ID: r.ID, RequestedAt: r.RequestedAt, ClientID: r.Client.GetID(),
		RequestedScope: r.RequestedScope, GrantedScope: r.GrantedScope,
		RequestedAudience: r.RequestedAudience, GrantedAudience: r.GrantedAudience, Form: r.Form,
	}}
	s.decoded.put(g.Signature, d)
	return d, nil
}

// request builds a fresh requester from d, sharing nothing with it.
func (s *storage) request(ctx context.Context, d *decodedGrant, proto fosite.Session) (*fosite.Request, error) {
	// The client is looked up every time, as decode does: a disabled or
	// changed client takes effect on its grants.
	client, err := s.GetClient(ctx, d.sr.ClientID)
	if err != nil {
		return nil, err
	}
	sess, _ := proto.(*Session)
	if sess == nil {
		sess = NewSession()
	}
	*sess = *d.sess.clone()
	form := make(url.Values, len(d.sr.Form))
	for k, v := range d.sr.Form {
		form[k] = slices.Clone(v)
	}
	return &fosite.Request{
		ID:                d.sr.ID,
		RequestedAt:       d.sr.RequestedAt,
		Client:            client,
		RequestedScope:    slices.Clone(d.sr.RequestedScope),
		GrantedScope:      slices.Clone(d.sr.GrantedScope),
		RequestedAudience: slices.Clone(d.sr.RequestedAudience),
		GrantedAudience:   slices.Clone(d.sr.GrantedAudience),
		Form:              form,
		Session:           sess,
	}, nil
}

// clone is a deep copy without reflection (Clone's deepcopy costs about as
// much as decoding the JSON again). Claim values are JSON-shaped.
func (s *Session) clone() *Session {
	if s == nil {
		return NewSession()
	}
	c := *s
	c.ExpiresAt = maps.Clone(s.ExpiresAt)
	if s.Claims != nil {
		cl := *s.Claims
		cl.Audience = slices.Clone(cl.Audience)
		cl.AuthenticationMethodsReferences = slices.Clone(cl.AuthenticationMethodsReferences)
		cl.Extra = copyJSONMap(cl.Extra)
		c.Claims = &cl
	}
	if s.Headers != nil {
		h := *s.Headers
		h.Extra = copyJSONMap(h.Extra)
		c.Headers = &h
	}
	return &c
}

func copyJSONMap(m map[string]any) map[string]any {
	if m == nil {
		return nil
	}
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = copyJSON(v)
	}
	return out
}

func copyJSON(v any) any {
	switch x := v.(type) {
	case map[string]any:
		return copyJSONMap(x)
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = copyJSON(e)
		}
		return out
	case []string:
		return slices.Clone(x)
	}
	return v
}
