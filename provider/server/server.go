package server

import (
	"context"
	"crypto/hkdf"
	"crypto/sha256"
	"errors"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/manacore/mana-core-auth/credits"
	"github.com/manacore/mana-core-auth/credits/billing"
	"github.com/manacore/mana-core-auth/provider"
	"github.com/manacore/mana-core-auth/provider/account"
	"github.com/manacore/mana-core-auth/provider/admin"
	"github.com/manacore/mana-core-auth/provider/httpx"
	"github.com/manacore/mana-core-auth/provider/oidc"
	"github.com/manacore/mana-core-auth/provider/ratelimit"
	"github.com/manacore/mana-core-auth/provider/websession"
)

// Config is what the HTTP layer needs besides its dependencies.
type Config struct {
	Issuer    string // BASE_URL, without trailing slash
	SecretKey []byte
	// MaxBodyBytes bounds every request body; 64 KiB is far more than any
	// form or token request needs.
	MaxBodyBytes int64
	// Audience is the JWT_AUDIENCE the first-party API checks in /validate.
	Audience string
	// Limits are the per-IP rate limits by rule name (DefaultLimits).
	Limits map[string]Limit
	// TrustedProxies may set X-Forwarded-For (TRUSTED_PROXIES).
	TrustedProxies []netip.Prefix
	// BackchannelLogout: ended sessions reach the apps by back-channel
	// logout (discovery says so).
	BackchannelLogout bool
	Now               func() time.Time
}

// Deps are the collaborators of the HTTP layer.
type Deps struct {
	Logger *slog.Logger
	Config Config
	Store  provider.Store
	OP     *oidc.Provider
	JWKS   func() []byte
	// Sessions owns login sessions: start, continue, end.
	Sessions *websession.Manager
	Accounts *account.Service
	// CORS admits the first-party web apps to the JSON API; nil admits none.
	CORS *httpx.CORS
	// Limiter enforces Config.Limits; nil disables rate limiting.
	Limiter ratelimit.Limiter
	// Backoff slows repeated failed logins per account; nil disables it.
	Backoff *ratelimit.Backoff
	// Redis reports whether the shared limits fell back to in-process
	// counters, for the readiness check; nil without Redis.
	Redis RedisState
	// Credits serves the credits API under /api/v1/credits and books the
	// signup bonus at registration; nil leaves the routes out.
	Credits *credits.Service
	// Billing serves purchases, Checkout and the Stripe webhook; nil when
	// Stripe is not configured.
	Billing *billing.Billing
	// Admin serves /api/v1/admin, the admin pages and the self-service
	// data pages.
	Admin *admin.Service
	// Observability (issue 13): HTTP sees every request by route pattern;
	// Metrics, when set, is served at GET /metrics (unset when the metrics
	// have their own listener, METRICS_ADDR).
	HTTP    HTTPObserver
	Metrics http.Handler
	// Draining reports that shutdown has begun: readiness answers 503
	// from then on (issue 13); nil never drains.
	Draining func() bool
	// Trace wraps the router (OpenTelemetry spans named by the route
	// pattern); nil installs nothing.
	Trace func(http.Handler) http.Handler
	// Passkeys serves sign-in with passkeys, the passkey as the second
	// factor and their management (issue 15); nil leaves them out.
	Passkeys Passkeys
}

// HTTPObserver counts requests (internal/metrics). RequestDone gets the
// mux pattern that served the request ("unmatched" when none did), never
// the raw path, so the series stay few.
type HTTPObserver interface {
	RequestStarted()
	RequestDone(route, method string, status int, elapsed time.Duration)
}

// RedisState tells whether Redis, which the limits are shared through,
// is down (ratelimit.Failover).
type RedisState interface {
	Degraded(ctx context.Context) bool
}

// server carries what every handler shares.
type server struct {
	Deps
	tickets *ticketer
	// logins is the password backoff, composed on Backoff; nil without it.
	logins  *ratelimit.LoginBackoff
	secure  bool
	started time.Time
}

// New returns the provider's HTTP handler.
func New(d Deps) (http.Handler, error) {
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	d.Logger = slog.New(httpx.LogRequestIDs(d.Logger.Handler())) // issue 13: no-op when app did it
	if d.Config.Now == nil {
		d.Config.Now = time.Now
	}
	if d.Config.Limits == nil {
		d.Config.Limits = DefaultLimits()
	}
	if d.Config.MaxBodyBytes == 0 {
		d.Config.MaxBodyBytes = 64 << 10
	}
	if len(d.Config.SecretKey) < 32 {
		return nil, errors.New("server: secret key must be at least 32 bytes")
	}
	key, err := hkdf.Key(sha256.New, d.Config.SecretKey, nil, "manaauth/tickets/v1", 32)
	if err != nil {
		return nil, err
	}
	s := &server{
		Deps:    d,
		tickets: &ticketer{key: key, now: d.Config.Now},
		secure:  strings.HasPrefix(d.Config.Issuer, "https://"),
		started: d.Config.Now(),
	}
	if d.Backoff != nil {
		s.logins = ratelimit.NewLoginBackoff(d.Backoff)
	}
	return s.routes(), nil
}
