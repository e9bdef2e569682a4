package oidc

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net/url"
	"sync"
	"time"

	"github.com/ory/fosite"

	"github.com/manacore/mana-core-auth/provider"
)

// ServiceClientID is the built-in confidential client the provider itself
// acts as when it calls the app backends (admin data and deletion). Its
// secret is random and never shown: only the provider mints its tokens.
const ServiceClientID = "manaauth-service"

// serviceTokenTTL is short: a leaked token is good for minutes, and a
// backend needs one for a single call.
const serviceTokenTTL = 5 * time.Minute

// EnsureServiceClient registers the built-in service client when missing.
func EnsureServiceClient(ctx context.Context, store provider.ClientStore) error {
	_, err := store.GetClient(ctx, ServiceClientID)
	if err == nil {
		return nil
	}
	if !errors.Is(err, provider.ErrNotFound) {
		return fmt.Errorf("load service client: %w", err)
	}
	err = store.CreateClient(ctx, &provider.Client{
		ID: ServiceClientID, Name: "Mana Core Auth", SecretHash: HashSecret(rand.Text() + rand.Text()),
		GrantTypes: []string{provider.GrantClientCredentials}, ResponseTypes: []string{"code"},
		IDTokenAlg: provider.AlgEdDSA, CreatedAt: time.Now().UTC(),
	})
	if err != nil && !errors.Is(err, provider.ErrAlreadyExists) {
		return fmt.Errorf("create service client: %w", err)
	}
	return nil
}

// serviceTokens caches one token per (audience, scope) until shortly
// before it expires, so a page of seven app cards does not write seven
// grants.
type serviceTokens struct {
	mu     sync.Mutex
	tokens map[string]serviceToken
}

type serviceToken struct {
	token   string
	expires time.Time
}

// ServiceToken returns a client_credentials access token of the service
// client for audience with scope: the same JWT and grant row the token
// endpoint would issue, so a backend can verify it against the JWKS or by
// introspection.
func (p *Provider) ServiceToken(ctx context.Context, audience, scope string) (string, error) {
	now := p.Config.Now().UTC()
	key := audience + " " + scope
	p.service.mu.Lock()
	if t, ok := p.service.tokens[key]; ok && now.Before(t.expires.Add(-time.Minute)) {
		p.service.mu.Unlock()
		return t.token, nil
	}
	p.service.mu.Unlock()

	client, err := p.Client(ctx, ServiceClientID)
	if err != nil {
		return "", fmt.Errorf("service client: %w", err)
	}
	sess := NewSession()
	expires := now.Add(serviceTokenTTL).Round(time.Second)
	sess.SetExpiresAt(fosite.AccessToken, expires)
	req := fosite.NewAccessRequest(sess)
	req.ID = randomID()
	req.RequestedAt = now
	req.Client = client
	req.Form = url.Values{}
	req.GrantTypes = fosite.Arguments{provider.GrantClientCredentials}
	req.AppendRequestedScope(scope)
	req.GrantScope(scope)
	req.RequestedAudience = fosite.Arguments{audience}
	req.GrantAudience(audience)
	token, sig, err := p.strategy.GenerateAccessToken(ctx, req)
	if err != nil {
		return "", fmt.Errorf("generate service token: %w", err)
	}
	if err := p.storage.CreateAccessTokenSession(ctx, sig, req); err != nil {
		return "", fmt.Errorf("store service token: %w", err)
	}
	p.service.mu.Lock()
	if p.service.tokens == nil {
		p.service.tokens = map[string]serviceToken{}
	}
	p.service.tokens[key] = serviceToken{token: token, expires: expires}
	p.service.mu.Unlock()
	return token, nil
}

// BuiltIn says whether id is one of the clients the provider registers
// itself; they are not the operator's to edit or delete.
func BuiltIn(id string) bool { return id == FirstPartyClientID || id == ServiceClientID }
