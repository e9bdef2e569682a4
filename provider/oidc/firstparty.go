package oidc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"time"

	"github.com/ory/fosite"

	"github.com/manacore/mana-core-auth/provider"
)

// FirstPartyClientID is the built-in client behind the first-party JSON API
// (/api/v1/auth/login): the Mana apps sign users in with email and password
// and get the same tokens the OIDC endpoints issue, bound to this client.
const FirstPartyClientID = "mana-first-party"

// FirstPartyScopes are granted to every first-party login.
var FirstPartyScopes = []string{"openid", "profile", "email", "offline_access", "credits:read", "credits:write"}

// The ways into IssueFirstParty, as the token metrics name them.
const (
	GrantPassword = "password"
	GrantSSO      = "sso"
)

// EnsureFirstPartyClient registers the built-in client when it is missing.
// It is public: the refresh token is the credential, as for a native app.
func EnsureFirstPartyClient(ctx context.Context, store provider.ClientStore) error {
	_, err := store.GetClient(ctx, FirstPartyClientID)
	if err == nil {
		return nil
	}
	if !errors.Is(err, provider.ErrNotFound) {
		return fmt.Errorf("load first-party client: %w", err)
	}
	err = store.CreateClient(ctx, &provider.Client{
		ID: FirstPartyClientID, Name: "Mana", Public: true, Trusted: true,
		GrantTypes: []string{"refresh_token"}, ResponseTypes: []string{"code"},
		Scopes: FirstPartyScopes, IDTokenAlg: provider.AlgEdDSA, CreatedAt: time.Now().UTC(),
	})
	if err != nil && !errors.Is(err, provider.ErrAlreadyExists) {
		return fmt.Errorf("create first-party client: %w", err)
	}
	return nil
}

// TokenPair is what a first-party login returns.
type TokenPair struct {
	AccessToken  string
	RefreshToken string
	ExpiresIn    int // seconds
}

// IssueFirstParty issues an access token and a refresh token for a user who
// signed in through the first-party API, as one grant family bound to the
// browser-less session sess. The grants are the same rows the token
// endpoint writes, so refresh, rotation, reuse detection, introspection and
// revocation treat them alike.
//
// via names the way in for the metrics: GrantPassword (the API login) or
// GrantSSO (a browser session turned into tokens).
func (p *Provider) IssueFirstParty(ctx context.Context, user *provider.User, sess *provider.Session, via string) (*TokenPair, error) {
	return p.issueFirstParty(ctx, user, sess, via, randomID())
}

// issueFirstParty issues the pair as the grant family requestID.
func (p *Provider) issueFirstParty(ctx context.Context, user *provider.User, sess *provider.Session, via, requestID string) (*TokenPair, error) {
	client, err := p.Client(ctx, FirstPartyClientID)
	if err != nil {
		return nil, fmt.Errorf("first-party client: %w", err)
	}
	now := p.Config.Now().UTC()
	osess := p.userSession(user, sess, client, FirstPartyScopes, now)
	osess.SetExpiresAt(fosite.AccessToken, now.Add(p.Config.AccessTokenTTL).Round(time.Second))
	osess.SetExpiresAt(fosite.RefreshToken, now.Add(p.Config.RefreshTokenTTL).Round(time.Second))

	req := fosite.NewAccessRequest(osess)
	req.ID = requestID
	req.RequestedAt = now
	req.Client = client
	req.Form = url.Values{}
	req.GrantTypes = fosite.Arguments{"password"}
	for _, sc := range FirstPartyScopes {
		req.AppendRequestedScope(sc)
		req.GrantScope(sc)
	}

	access, accessSig, err := p.strategy.GenerateAccessToken(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("generate access token: %w", err)
	}
	refresh, refreshSig, err := p.strategy.GenerateRefreshToken(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("generate refresh token: %w", err)
	}
	// One transaction that first locks the login session, as at the token
	// endpoint: a session ending meanwhile either waits for these tokens and
	// revokes them too, or has ended first and no tokens are issued.
	tx, err := p.Store.BeginTx(ctx)
	if err != nil {
		return nil, fmt.Errorf("begin: %w", err)
	}
	defer func() { _ = p.Store.Rollback(tx) }()
	if err := p.Store.LockSession(tx, sess.ID); err != nil {
		if errors.Is(err, provider.ErrNotFound) {
			return nil, ErrSessionEnded
		}
		return nil, fmt.Errorf("lock session: %w", err)
	}
	if err := p.storage.CreateAccessTokenSession(tx, accessSig, req); err != nil {
		return nil, fmt.Errorf("store access token: %w", err)
	}
	if err := p.storage.CreateRefreshTokenSession(tx, refreshSig, accessSig, req); err != nil {
		return nil, fmt.Errorf("store refresh token: %w", err)
	}
	if err := p.Store.Commit(tx); err != nil {
		return nil, fmt.Errorf("commit: %w", err)
	}
	p.observe.TokenIssued(via)
	return &TokenPair{AccessToken: access, RefreshToken: refresh, ExpiresIn: int(p.Config.AccessTokenTTL.Seconds())}, nil
}

// VerifyAccessToken checks an access token the way a resource server that
// cares about revocation must: signature, issuer, expiry, audience (when
// audience is not empty), and that its grant is still active in the store.
func (p *Provider) VerifyAccessToken(ctx context.Context, token, audience string) (*AccessClaims, error) {
	claims, err := p.ParseAccessToken(token, audience)
	if err != nil {
		return nil, err
	}
	g, err := p.Store.GetGrant(ctx, provider.KindAccessToken, p.strategy.AccessTokenSignature(ctx, token))
	if err != nil {
		if errors.Is(err, provider.ErrNotFound) {
			return nil, ErrTokenRevoked
		}
		return nil, fmt.Errorf("load access token grant: %w", err)
	}
	if !g.Active {
		return nil, ErrTokenRevoked
	}
	return claims, nil
}

// Reasons an access token is refused.
var (
	ErrTokenInvalid = errors.New("invalid token")
	ErrTokenExpired = errors.New("token expired")
	ErrTokenRevoked = errors.New("token revoked")
)

// ParseAccessToken verifies signature, type, issuer, expiry and (when
// audience is not empty) audience, without the store.
func (p *Provider) ParseAccessToken(token, audience string) (*AccessClaims, error) {
	h, payload, err := p.Ring.Verify(token)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrTokenInvalid, err)
	}
	if h.Typ != "at+jwt" {
		return nil, fmt.Errorf("%w: not an access token", ErrTokenInvalid)
	}
	var c AccessClaims
	if err := json.Unmarshal(payload, &c); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrTokenInvalid, err)
	}
	if c.Issuer != p.Config.Issuer {
		return nil, fmt.Errorf("%w: wrong issuer", ErrTokenInvalid)
	}
	if audience != "" && !slices.Contains(c.Audience, audience) {
		return nil, fmt.Errorf("%w: wrong audience", ErrTokenInvalid)
	}
	if p.Config.Now().Unix() >= c.ExpiresAt {
		return nil, ErrTokenExpired
	}
	return &c, nil
}
