package oidc

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/ory/fosite"

	"github.com/manacore/mana-core-auth/provider"
)

// Client is the fosite view of a registered client, carrying the domain
// record for what fosite has no field for (name, trust, logout URIs).
type Client struct {
	*fosite.DefaultClient
	Model *provider.Client
}

func newClient(c *provider.Client) *Client {
	grants := c.GrantTypes
	if len(grants) == 0 {
		grants = []string{provider.GrantAuthorizationCode, provider.GrantRefreshToken}
	}
	return &Client{
		DefaultClient: &fosite.DefaultClient{
			ID:            c.ID,
			Secret:        []byte(c.SecretHash),
			RedirectURIs:  c.RedirectURIs,
			GrantTypes:    grants,
			ResponseTypes: []string{"code"},
			Scopes:        c.Scopes,
			Audience:      c.Audience,
			Public:        c.Public,
		},
		Model: c,
	}
}

// clientCache keeps clients in memory for a second: every token
// request authenticates its client, and the database round trip would be
// the largest cost of a client_credentials grant. Changes made through
// this process invalidate at once; other replicas see them after ttl.
type clientCache struct {
	store provider.ClientStore
	ttl   time.Duration
	now   func() time.Time

	mu      sync.RWMutex
	entries map[string]clientEntry
}

type clientEntry struct {
	client  *Client
	expires time.Time
}

func newClientCache(store provider.ClientStore, ttl time.Duration, now func() time.Time) *clientCache {
	return &clientCache{store: store, ttl: ttl, now: now, entries: map[string]clientEntry{}}
}

func (c *clientCache) get(ctx context.Context, id string) (*Client, error) {
	now := c.now()
	c.mu.RLock()
	e, ok := c.entries[id]
	c.mu.RUnlock()
	if ok && now.Before(e.expires) {
		return e.client, nil
	}
	if !provider.CleanText(id) {
		return nil, fmt.Errorf("client %q: %w", id, provider.ErrNotFound) // PostgreSQL would refuse the lookup
	}
	m, err := c.store.GetClient(ctx, id)
	if err != nil {
		return nil, err
	}
	if m.Disabled {
		// A disabled client is an unknown one everywhere (authorize, token,
		// introspection), and like one it is not cached.
		return nil, fmt.Errorf("client %q is disabled: %w", id, provider.ErrNotFound)
	}
	cl := newClient(m)
	c.mu.Lock()
	if len(c.entries) > 10000 {
		// Unknown ids are not cached, so only registered clients fill this;
		// the bound is a guard, not a policy.
		c.entries = map[string]clientEntry{}
	}
	c.entries[id] = clientEntry{client: cl, expires: now.Add(c.ttl)}
	c.mu.Unlock()
	return cl, nil
}

func (c *clientCache) forget(id string) {
	c.mu.Lock()
	delete(c.entries, id)
	c.mu.Unlock()
}
