package oidc

import (
	"context"
	"crypto/hkdf"
	"crypto/sha256"
	"errors"
	"fmt"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/fosite/compose"
	"github.com/ory/fosite/handler/oauth2"
	"github.com/ory/fosite/handler/openid"
	"github.com/ory/fosite/token/hmac"
	"github.com/ory/fosite/token/jwt"

	"github.com/manacore/mana-core-auth/provider"
	"github.com/manacore/mana-core-auth/provider/seal"
)

// Config holds what the OAuth 2.0 provider needs to know; defaults are
// filled by New.
type Config struct {
	Issuer    string
	SecretKey []byte // >= 32 bytes; fosite's HMAC secret and the grace-cache key derive from it
	// Audience is put into every access token (JWT_AUDIENCE, "manacore" in
	// the old service) so the Mana APIs accept it.
	Audience        []string
	AccessTokenTTL  time.Duration // 15m
	RefreshTokenTTL time.Duration // 7d
	// RememberRefreshTTL is the refresh token lifetime after a login with
	// "remember me".
	RememberRefreshTTL time.Duration // 30d
	AuthCodeTTL        time.Duration // 10m
	IDTokenTTL         time.Duration // 1h
	RefreshGrace       time.Duration // 5s; negative disables the grace window
	// ClientCacheTTL bounds how long a replica keeps using a client
	// another replica (or the CLI) disabled, deleted or changed: 1s, the
	// promise that a revocation holds on every replica within a second.
	// At a thousand token requests a second it still saves all but one
	// lookup per client and second.
	ClientCacheTTL time.Duration
	Now            func() time.Time
	// Sessions continues the login session of first-party tokens at each
	// refresh (*websession.Manager); nil skips that check.
	Sessions Sessions
	// Audit records refresh-token reuse; nil records nothing.
	Audit Auditor
	// Logouts tells an app whose consent a user took back (issue 12,
	// connected apps); nil tells nobody.
	Logouts AppLogouts
	// Observer counts tokens, refresh token reuse and introspections
	// (issue 13, metrics); nil counts nothing.
	Observer Observer
	// Revocations (issue 13, performance), from WatchRevocations over the
	// store every part of the process uses, lets introspection answer
	// repeated checks of an access token from memory for up to a second;
	// nil reads every check from the store.
	Revocations *Revocations
}

// Observer is told of token events, for the metrics.
type Observer interface {
	// TokenIssued: grant is authorization_code, refresh_token,
	// client_credentials, password (first-party API login) or sso
	// (a session turned into tokens).
	TokenIssued(grant string)
	RefreshTokenReused()
	Introspected(active bool)
}

type noObserver struct{}

func (noObserver) TokenIssued(string)  {}
func (noObserver) RefreshTokenReused() {}
func (noObserver) Introspected(bool)   {}

// Sessions continues login sessions by their one expiry rule, and ends
// one that a refresh found expired.
type Sessions interface {
	Continue(ctx context.Context, id string) (*provider.Session, error)
	EndExpired(ctx context.Context, userID, id string) error
}

// Auditor records security events.
type Auditor interface {
	Record(ctx context.Context, e *provider.SecurityEvent)
}

type noAudit struct{}

func (noAudit) Record(context.Context, *provider.SecurityEvent) {}

// Provider is the composed fosite provider plus what the HTTP handlers
// need around it.
type Provider struct {
	fosite.OAuth2Provider
	Config   Config
	Store    provider.Store
	Ring     KeyRing
	storage  *storage
	strategy *strategy
	signer   *signer
	grace    *seal.Sealer // the grace cache holds live tokens
	fosite   *fosite.Config
	sessions Sessions
	audit    Auditor
	observe  Observer
	service  serviceTokens

	// authenticateClient is the client authentication of the token,
	// revocation and introspection endpoints.
	authenticateClient fosite.ClientAuthenticationStrategy
}

// New composes fosite with exactly the grants of provider.GrantTypes,
// introspection, revocation and the OpenID Connect layer.
func New(cfg Config, store provider.Store, ring KeyRing) (*Provider, error) {
	if len(cfg.SecretKey) < 32 {
		return nil, errors.New("oidc: secret key must be at least 32 bytes")
	}
	if cfg.Issuer == "" {
		return nil, errors.New("oidc: issuer is required")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	setDefault(&cfg.AccessTokenTTL, 15*time.Minute)
	setDefault(&cfg.RefreshTokenTTL, 7*24*time.Hour)
	setDefault(&cfg.RememberRefreshTTL, 30*24*time.Hour)
	setDefault(&cfg.AuthCodeTTL, 10*time.Minute)
	setDefault(&cfg.IDTokenTTL, time.Hour)
	setDefault(&cfg.RefreshGrace, 5*time.Second)
	setDefault(&cfg.ClientCacheTTL, time.Second) // issue 13 (replicas)
	if cfg.RefreshGrace < 0 {
		cfg.RefreshGrace = 0
	}

	hmacSecret, err := hkdf.Key(sha256.New, cfg.SecretKey, nil, "manaauth/fosite-hmac/v1", 32)
	if err != nil {
		return nil, fmt.Errorf("derive hmac secret: %w", err)
	}
	graceSealer, err := seal.New(cfg.SecretKey, "manaauth/refresh-grace/v1")
	if err != nil {
		return nil, err
	}

	fc := &fosite.Config{
		AccessTokenLifespan:            cfg.AccessTokenTTL,
		RefreshTokenLifespan:           cfg.RefreshTokenTTL,
		AuthorizeCodeLifespan:          cfg.AuthCodeTTL,
		IDTokenLifespan:                cfg.IDTokenTTL,
		IDTokenIssuer:                  cfg.Issuer,
		AccessTokenIssuer:              cfg.Issuer,
		TokenURL:                       cfg.Issuer + "/oauth2/token",
		GlobalSecret:                   hmacSecret,
		ScopeStrategy:                  fosite.ExactScopeStrategy,
		AudienceMatchingStrategy:       fosite.DefaultAudienceMatchingStrategy,
		EnforcePKCEForPublicClients:    true,
		EnablePKCEPlainChallengeMethod: false,
		// OpenID Connect only recommends state and puts no length on state
		// or nonce. fosite treats 0 as "use the default of 8" and refuses a
		// missing state whatever the floor, so the floor is 1 (any length)
		// and the server accepts a request whose only fault is a missing
		// state.
		MinParameterEntropy:        1,
		ClientSecretsHasher:        secretHasher{},
		OmitRedirectScopeParam:     true,
		SendDebugMessagesToClients: false,
		RefreshTokenScopes:         []string{"offline_access", "offline"},
		FormPostHTMLTemplate:       formPostTemplate(cfg.Issuer),
	}

	st := &storage{store: store, clients: newClientCache(store, cfg.ClientCacheTTL, cfg.Now), grace: cfg.RefreshGrace, now: cfg.Now,
		rev: cfg.Revocations}
	fc.ClientAuthenticationStrategy = clientAuthentication((&fosite.Fosite{Store: st, Config: fc}).DefaultClientAuthenticationStrategy)
	sg := &signer{ring: ring, now: cfg.Now}
	strat := &strategy{
		HMACSHAStrategyUnPrefixed: oauth2.NewHMACSHAStrategyUnPrefixed(&hmac.HMACStrategy{Config: fc}, fc),
		Signer:                    sg,
		ring:                      ring,
		issuer:                    cfg.Issuer,
		defaultAudience:           cfg.Audience,
		rememberTTL:               cfg.RememberRefreshTTL,
		now:                       cfg.Now,
	}
	strat.OpenIDConnectTokenStrategy = &openid.DefaultStrategy{Signer: sg, Config: fc}

	factories, err := composeFactories(provider.GrantTypes())
	if err != nil {
		return nil, err
	}
	op := compose.Compose(fc, st, strat, factories...)
	var audit Auditor = noAudit{}
	if cfg.Audit != nil {
		audit = cfg.Audit
	}
	var observe Observer = noObserver{}
	if cfg.Observer != nil {
		observe = cfg.Observer
	}
	return &Provider{OAuth2Provider: op, Config: cfg, Store: store, Ring: ring, storage: st, strategy: strat, signer: sg,
		grace: graceSealer, fosite: fc, authenticateClient: fc.ClientAuthenticationStrategy, sessions: cfg.Sessions, audit: audit,
		observe: observe}, nil
}

// composeFactories lists the fosite handlers for grants: the OAuth 2.0
// handler of each grant, the endpoints every deployment has, then the
// OpenID Connect layer, which must come after the OAuth 2.0 handlers it
// extends (it signs the ID token over their access token). fosite's
// ComposeAllEnabled would also turn on implicit, hybrid and password grants.
func composeFactories(grants []string) ([]compose.Factory, error) {
	var oauth, openid []compose.Factory
	for _, g := range grants {
		switch g {
		case provider.GrantAuthorizationCode:
			oauth = append(oauth, compose.OAuth2AuthorizeExplicitFactory, compose.OAuth2PKCEFactory)
			openid = append(openid, compose.OpenIDConnectExplicitFactory)
		case provider.GrantRefreshToken:
			oauth = append(oauth, compose.OAuth2RefreshTokenGrantFactory)
			openid = append(openid, compose.OpenIDConnectRefreshFactory)
		case provider.GrantClientCredentials:
			oauth = append(oauth, compose.OAuth2ClientCredentialsGrantFactory)
		default:
			return nil, fmt.Errorf("oidc: no handler for grant type %q", g)
		}
	}
	oauth = append(oauth, compose.OAuth2TokenIntrospectionFactory, compose.OAuth2TokenRevocationFactory)
	return append(oauth, openid...), nil
}

func setDefault(d *time.Duration, v time.Duration) {
	if *d == 0 {
		*d = v
	}
}

// Client returns the registered client with the given id; provider.ErrNotFound
// when there is none.
func (p *Provider) Client(ctx context.Context, id string) (*Client, error) {
	return p.storage.clients.get(ctx, id)
}

// ForgetClient drops a cached client after it was changed or deleted.
func (p *Provider) ForgetClient(id string) { p.storage.clients.forget(id) }

// DecodeIDToken verifies an ID token we issued (expired ones included, as
// id_token_hint allows) and returns its claims.
func (p *Provider) DecodeIDToken(ctx context.Context, token string) (jwt.MapClaims, error) {
	t, err := p.signer.Decode(ctx, token)
	var ve *jwt.ValidationError
	if err != nil && !(errors.As(err, &ve) && ve.Has(jwt.ValidationErrorExpired) && t != nil) {
		return nil, err
	}
	if typ, _ := t.Header["typ"].(string); typ != "JWT" {
		// An access token (at+jwt) is signed by the same keys but is no
		// ID token.
		return nil, errors.New("not an id token")
	}
	if iss, _ := t.Claims["iss"].(string); iss != p.Config.Issuer {
		return nil, errors.New("id token from another issuer")
	}
	return t.Claims, nil
}

// Introspect validates an access token against its stored grant (so a
// revoked token fails at once) and returns its session. Refresh tokens are
// refused.
func (p *Provider) Introspect(ctx context.Context, token string, scopes ...string) (fosite.AccessRequester, *Session, error) {
	ctx, fault := watchStorage(ctx)
	sess := NewSession()
	use, ar, err := p.IntrospectToken(ctx, token, fosite.AccessToken, sess, scopes...)
	if err != nil {
		return nil, nil, fault.settle(err)
	}
	// fosite falls back to the refresh tokens when no access token
	// matches; a refresh token must never work as a bearer token.
	if use != fosite.AccessToken {
		return nil, nil, fosite.ErrRequestUnauthorized.WithHint("The token is not an access token.")
	}
	s, _ := ar.GetSession().(*Session)
	if s == nil {
		return nil, nil, fosite.ErrServerError.WithDebug("unexpected session type")
	}
	return ar, s, nil
}
