// Package app is the composition root of manaauth: it builds the whole
// provider (database, keys, sessions, OIDC, accounts, credits, billing,
// back-channel logout, limits, HTTP handler) from one Config, runs its
// background jobs and HTTP server, and closes it. `manaauth serve` and the
// end-to-end tests build the server here, the same way.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/manacore/mana-core-auth/credits"
	"github.com/manacore/mana-core-auth/credits/billing"
	creditsstore "github.com/manacore/mana-core-auth/credits/store"
	"github.com/manacore/mana-core-auth/internal/database"
	"github.com/manacore/mana-core-auth/internal/metrics"
	"github.com/manacore/mana-core-auth/internal/tracing"
	"github.com/manacore/mana-core-auth/provider"
	"github.com/manacore/mana-core-auth/provider/account"
	"github.com/manacore/mana-core-auth/provider/admin"
	"github.com/manacore/mana-core-auth/provider/audit"
	"github.com/manacore/mana-core-auth/provider/backchannel"
	"github.com/manacore/mana-core-auth/provider/httpx"
	"github.com/manacore/mana-core-auth/provider/keys"
	"github.com/manacore/mana-core-auth/provider/mail"
	"github.com/manacore/mana-core-auth/provider/oidc"
	"github.com/manacore/mana-core-auth/provider/passkey"
	"github.com/manacore/mana-core-auth/provider/ratelimit"
	"github.com/manacore/mana-core-auth/provider/server"
	"github.com/manacore/mana-core-auth/provider/store"
	"github.com/manacore/mana-core-auth/provider/websession"
)

// Options are what a test replaces; production passes only a Logger.
type Options struct {
	Logger *slog.Logger // default: discard
	Now    func() time.Time
	// Mailer replaces the SMTP (or development file) sender.
	Mailer mail.Sender
	// PasswordParams replace the argon2id parameters (tests use cheap ones).
	PasswordParams *account.Params
	// WrapStore wraps the provider store every component uses.
	WrapStore func(provider.Store) provider.Store
	// Limiter and Backoff replace the ones Config asks for.
	Limiter ratelimit.Limiter
	Backoff *ratelimit.Backoff
	// HTTPClient sends back-channel logouts (default: a plain client).
	HTTPClient *http.Client
	// Outbox tunes the mail outbox (tests shorten its retries).
	Outbox account.OutboxConfig
	// Version is what the binary was built as (metrics, traces); default:
	// the module version Go stamped.
	Version string
}

// App is a built provider. Build it with New, start it with Run, and
// Close it after Run returned.
type App struct {
	Config   *Config
	Logger   *slog.Logger
	DB       *database.DB
	Store    provider.Store
	Ring     *keys.Ring
	Hasher   *account.Hasher
	OP       *oidc.Provider
	Sessions *websession.Manager
	Accounts *account.Service
	// Outbox sends the account mails queued in the database; Run runs it.
	Outbox   *account.Outbox
	Notifier *backchannel.Notifier
	Credits  *credits.Service
	// CreditsStore is what billing and the credits CLI book through.
	CreditsStore credits.BillingStore
	Billing      *billing.Billing // nil without Stripe
	Admin        *admin.Service
	Passkeys     *passkey.Service // issue 15
	Handler      http.Handler
	// Metrics is this App's Prometheus registry and domain counters
	// (issue 13).
	Metrics *metrics.Metrics

	now     func() time.Time
	version string
	redis   *redis.Client
	// metricsLn is METRICS_ADDR's listener; nil without it.
	metricsLn net.Listener
	// tracing exports spans; nil without OTEL_EXPORTER_OTLP_ENDPOINT.
	tracing *tracing.Tracing
	// failover counts limits in process while Redis is down; nil
	// without REDIS_URL.
	failover *ratelimit.Failover
	// draining is set when shutdown begins: readiness answers 503 from
	// then on (issue 13).
	draining atomic.Bool
}

// New opens and migrates the database and builds every component. On
// error everything opened so far is closed.
func New(ctx context.Context, cfg *Config, opts Options) (a *App, err error) {
	if len(cfg.SecretKey) == 0 {
		return nil, errSecretRequired
	}
	a = &App{Config: cfg, Logger: opts.Logger, now: opts.Now, version: opts.Version}
	if a.version == "" {
		a.version = buildVersion()
	}
	if a.Logger == nil {
		a.Logger = slog.New(slog.DiscardHandler)
	}
	// issue 13: every component's log lines carry the request id of the
	// request they were written for.
	a.Logger = slog.New(httpx.LogRequestIDs(a.Logger.Handler()))
	if a.now == nil {
		a.now = time.Now
	}
	defer func() {
		if err != nil {
			_ = a.Close()
		}
	}()
	log := a.Logger

	var dbOpts []database.Option
	if cfg.TracesURL != "" { // issue 13: traces only when asked for
		if a.tracing, err = tracing.New(ctx, tracing.Config{URL: cfg.TracesURL, ServiceName: cfg.ServiceName,
			Version: a.version}); err != nil {
			return nil, err
		}
		dbOpts = append(dbOpts, database.WithTracer(a.tracing.DB()))
	}
	if a.DB, err = OpenDatabase(ctx, cfg, dbOpts...); err != nil {
		return nil, err
	}
	if a.Store, err = store.New(a.DB); err != nil {
		return nil, err
	}
	a.Metrics = a.newMetrics() // issue 13 (observability)
	if cfg.MetricsAddr != "" {
		if a.metricsLn, err = net.Listen("tcp", cfg.MetricsAddr); err != nil {
			return nil, fmt.Errorf("METRICS_ADDR: %w", err)
		}
	}
	if opts.WrapStore != nil {
		a.Store = opts.WrapStore(a.Store)
	}
	// issue 13 (perf): every grant revocation of this process reaches the
	// access-token cache of introspection at once (oidc.WatchRevocations).
	var revocations *oidc.Revocations
	a.Store, revocations = oidc.WatchRevocations(a.Store, a.now)
	a.Ring, err = keys.New(a.Store, cfg.SecretKey, keys.Options{Now: a.now, Logger: log.With("component", "keys"),
		Rotated: func(ctx context.Context) { a.publish(ctx, eventKeys) }}) // issue 13 (replicas)
	if err != nil {
		return nil, err
	}
	if err := a.Ring.Init(ctx); err != nil {
		return nil, fmt.Errorf("load signing keys: %w", err)
	}
	params := account.DefaultParams
	if opts.PasswordParams != nil {
		params = *opts.PasswordParams
	}
	// Each argon2id hash holds 19 MiB: a bounded number run at once, a
	// bounded queue waits, and a flood past it gets 503 at once (issue 13).
	ph := cfg.PasswordHashing
	a.Hasher = account.NewBoundedHasher(params, account.HasherLimits{Slots: ph.Slots, Queue: ph.Queue, MaxWait: ph.MaxWait,
		OnReject: a.Metrics.PasswordHashRejected})
	if err := oidc.EnsureFirstPartyClient(ctx, a.Store); err != nil {
		return nil, err
	}
	if err := oidc.EnsureServiceClient(ctx, a.Store); err != nil {
		return nil, err
	}

	mailer := opts.Mailer
	if mailer == nil {
		if mailer, err = a.mailer(); err != nil {
			return nil, err
		}
	}
	cors, err := httpx.NewCORS(cfg.CORSOrigins)
	if err != nil {
		return nil, fmt.Errorf("CORS_ORIGINS: %w", err)
	}

	// Every ended session reaches the apps that hold its tokens, from a
	// durable queue in the database; one audit log for everyone.
	a.Notifier = backchannel.New(backchannel.Config{Issuer: cfg.BaseURL, Now: opts.Now, Client: opts.HTTPClient, Timeout: cfg.BackchannelTimeout,
		Logger: log.With("component", "backchannel"), Observe: a.Metrics.BackchannelLogout}, a.Store, a.Ring)
	auditLog := audit.New(a.Store, a.now, log.With("component", "audit"))
	a.Sessions, err = websession.New(websession.Config{SecretKey: cfg.SecretKey, Secure: strings.HasPrefix(cfg.BaseURL, "https://"),
		Domain: cfg.CookieDomain, IdleTimeout: cfg.SessionIdle, RememberTimeout: cfg.SessionRemember, MaxLifetime: cfg.SessionMax,
		Now: opts.Now, Notifier: a.Notifier, Audit: auditLog, Logger: log.With("component", "sessions")}, a.Store)
	if err != nil {
		return nil, err
	}
	grace := cfg.RefreshGrace
	if grace == 0 {
		grace = -1 // oidc reads 0 as "the default"
	}
	a.OP, err = oidc.New(oidc.Config{Issuer: cfg.BaseURL, SecretKey: cfg.SecretKey, Audience: cfg.Audience, RefreshGrace: grace,
		Now: opts.Now, Sessions: a.Sessions, Audit: auditLog,
		Logouts:     a.Notifier,  // issue 12 (connected apps): a revoked consent logs the app out
		Observer:    a.Metrics,   // issue 13
		Revocations: revocations, // issue 13 (perf)
	}, a.Store, a.Ring)
	if err != nil {
		return nil, err
	}
	limiter, backoff, err := a.limits(ctx, opts)
	if err != nil {
		return nil, err
	}
	a.watchRedis()
	var redisState server.RedisState
	if a.failover != nil {
		redisState = a.failover
	}
	var loginHolds account.LoginHolds
	if backoff != nil {
		loginHolds = ratelimit.NewLoginBackoff(backoff)
	}
	a.Accounts, err = account.NewService(account.Config{BaseURL: cfg.BaseURL, SecretKey: cfg.SecretKey, Now: opts.Now,
		Logger: log.With("component", "account"), Sessions: a.Sessions, Audit: auditLog, Outbox: opts.Outbox, LoginHolds: loginHolds,
		Observer:  a.Metrics, // issue 13
		Redirects: &account.RedirectPolicy{Domain: cfg.CookieParent, Extra: cors.Allowed, AllowLoopback: cfg.RedirectLocalhost}},
		a.Store, a.Hasher, mailer)
	if err != nil {
		return nil, err
	}
	a.Outbox = a.Accounts.Outbox()

	// Credits run on the same database handle as the provider.
	ledger, bs, err := creditsstore.New(a.DB)
	if err != nil {
		return nil, err
	}
	creditsCfg := cfg.Credits
	creditsCfg.Now = opts.Now
	creditsCfg.Spent = a.Metrics.CreditsSpent // issue 13
	if a.Credits, err = credits.NewService(ledger, creditsCfg); err != nil {
		return nil, err
	}
	a.CreditsStore = bs
	if cfg.Stripe.SecretKey != "" {
		a.Billing, err = billing.New(billing.Config{SecretKey: cfg.Stripe.SecretKey, WebhookSecret: cfg.Stripe.WebhookSecret,
			APIBase: cfg.Stripe.APIBase, SuccessURL: cfg.BaseURL + "/account/credits?purchase=success",
			CancelURL: cfg.BaseURL + "/account/credits?purchase=cancelled", Observer: a.Metrics}, bs, a.Credits)
		if err != nil {
			return nil, fmt.Errorf("stripe: %w", err)
		}
	}

	adminCfg := cfg.Admin
	adminCfg.SecretKey, adminCfg.HTTPClient, adminCfg.Now = cfg.SecretKey, opts.HTTPClient, opts.Now
	adminCfg.Logger = log.With("component", "admin")
	adminCfg.ObserveCall = a.Metrics.BackendCall // issue 13
	adminDeps := admin.Deps{Store: a.Store, Sessions: a.Sessions, Audit: auditLog, Tokens: a.OP, Clients: a.OP}
	// issue 11, part B (erasure): the ledger seen by administration, and
	// the reauthentication of a user deleting their own account.
	adminDeps.Ledger = adminLedger{svc: a.Credits, store: ledger, billing: bs}
	adminDeps.Accounts = a.Accounts
	a.Admin, err = admin.New(adminCfg, adminDeps)
	if err != nil {
		return nil, err
	}

	// issue 15 (passkeys): the relying party id is the cookie domain the
	// issuer lives under, else the issuer's host; only the issuer's
	// origin runs ceremonies.
	rpID, err := passkey.RPID(passkeyCookieDomain(cfg.CookieDomain, cfg.BaseURL), cfg.BaseURL)
	if err != nil {
		return nil, fmt.Errorf("passkeys: %w", err)
	}
	if net.ParseIP(rpID) != nil {
		// Browsers run WebAuthn for domain names only: an issuer at an IP
		// address (a bare test server) has no passkeys, and its pages do
		// not offer them.
		log.Info("passkeys are off: the issuer's host is an IP address, and WebAuthn needs a domain name", "issuer", cfg.BaseURL)
	} else {
		a.Passkeys, err = passkey.New(passkey.Config{RPID: rpID, Origins: []string{issuerOrigin(cfg.BaseURL)}, Now: opts.Now,
			Logger: log}, a.Store, auditLog, a.Accounts)
		if err != nil {
			return nil, err
		}
	}

	a.Handler, err = server.New(server.Deps{
		Logger: log,
		Config: server.Config{Issuer: cfg.BaseURL, SecretKey: cfg.SecretKey, Audience: cfg.Audience[0], Limits: cfg.Limits,
			TrustedProxies: cfg.TrustedProxies, BackchannelLogout: true, Now: opts.Now},
		Store: a.Store, OP: a.OP, JWKS: a.Ring.JWKS, Sessions: a.Sessions, Accounts: a.Accounts,
		CORS: cors, Limiter: limiter, Backoff: backoff, Redis: redisState, Credits: a.Credits, Billing: a.Billing, Admin: a.Admin,
		HTTP: a.Metrics, Metrics: a.metricsOnMain(), Trace: a.traceHTTP(),
		Draining: a.draining.Load,
		Passkeys: passkeysOf(a.Passkeys), // issue 15
	})
	if err != nil {
		return nil, err
	}
	return a, nil
}

// OpenDatabase opens the configured database and applies the migrations:
// all `manaauth migrate` does.
func OpenDatabase(ctx context.Context, cfg *Config, extra ...database.Option) (*database.DB, error) {
	bound := database.WithTimeout(cfg.DatabaseTimeout)
	if cfg.DatabaseTimeout <= 0 {
		bound = database.Unbounded()
	}
	db, err := database.Open(ctx, cfg.DatabaseURL, append([]database.Option{bound}, extra...)...)
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	if err := db.Migrate(ctx); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("migrate database: %w", err)
	}
	return db, nil
}

func (a *App) mailer() (mail.Sender, error) {
	if a.Config.SMTP.Host != "" {
		m, err := mail.NewSMTP(a.Config.SMTP)
		if err != nil {
			return nil, fmt.Errorf("SMTP configuration: %w", err)
		}
		return m, nil
	}
	if a.Config.Mode == Serve {
		return nil, errors.New("SMTP_HOST is required outside --dev")
	}
	// Development: mails land in the data directory and the log, so a
	// developer can click the link.
	return mail.NewDevSender(filepath.Join(a.Config.DataDir, "mail"), a.Logger), nil
}

// limits builds the rate limiter and login backoff: shared through Redis
// when configured (every replica sees the same counters), else per process.
// With Redis they fall back to in-process counters while it is down, and
// start-up says so when it is down already.
func (a *App) limits(ctx context.Context, opts Options) (ratelimit.Limiter, *ratelimit.Backoff, error) {
	limiter, backoff := opts.Limiter, opts.Backoff
	var backoffStore ratelimit.BackoffStore
	if a.Config.RedisURL != "" {
		ro, err := redis.ParseURL(a.Config.RedisURL)
		if err != nil {
			return nil, nil, fmt.Errorf("REDIS_URL: %w", err)
		}
		ro.DialTimeout, ro.ReadTimeout, ro.WriteTimeout, ro.MaxRetries = time.Second, 500*time.Millisecond, 500*time.Millisecond, 1
		a.redis = redis.NewClient(ro)
		if a.tracing != nil {
			a.redis.AddHook(a.tracing.Redis())
		}
		a.failover = ratelimit.NewFailover(func(ctx context.Context) error { return a.redis.Ping(ctx).Err() },
			a.Logger.With("component", "ratelimit"), 0)
		_ = a.failover.Check(ctx) // logged; the in-process counters serve meanwhile
		if limiter == nil {
			limiter = a.failover.Limiter(ratelimit.NewRedis(a.redis, "manaauth:rl:"), ratelimit.NewMemory(opts.Now))
		}
		backoffStore = a.failover.BackoffStore(ratelimit.NewRedisBackoffStore(a.redis, "manaauth:bo:"),
			ratelimit.NewMemoryBackoffStore(opts.Now))
	} else {
		if limiter == nil {
			limiter = ratelimit.NewMemory(opts.Now)
		}
		backoffStore = ratelimit.NewMemoryBackoffStore(opts.Now)
	}
	if b := a.Config.LoginBackoff; backoff == nil && b.Free > 0 {
		backoff = ratelimit.NewBackoff(backoffStore, b.Free, b.Base, b.Max)
	}
	return limiter, backoff, nil
}

// Run serves HTTP on ln (when not nil) and runs the background jobs (key
// reloads and rotation, other replicas' announcements, back-channel
// delivery, the mail outbox, the erasure retries, the janitor, pprof)
// until ctx ends. It then shuts down gracefully,
// within Config.ShutdownTimeout and in this order: readiness answers 503
// (and stays so for Config.ShutdownDelay, for the load balancer to
// notice), the listener closes and in-flight requests finish, then the
// jobs are cancelled and waited for (handing back their claims). Close,
// after Run, closes the database, so no request or job loses it halfway.
func (a *App) Run(ctx context.Context, ln net.Listener) error {
	// The jobs outlive ctx: they stop after the requests have finished,
	// which may still need them (the outbox sends what a request queued).
	bg, stop := context.WithCancel(context.WithoutCancel(ctx))
	defer stop()
	var wg sync.WaitGroup
	// issue 13 (replicas): announcements of other replicas, the reload as
	// their safety net, and the scheduled key rotation.
	wg.Go(func() { a.listen(bg) })
	wg.Go(func() { a.Ring.Run(bg, keyReloadEvery) })
	if a.Config.KeyRotationInterval > 0 {
		wg.Go(func() { a.rotateKeys(bg) })
	}
	wg.Go(func() { a.Notifier.Run(bg) })
	wg.Go(func() { a.Outbox.Run(bg) })
	// issue 11, part B (erasure): the retry of failed backend deletions.
	wg.Go(func() { _ = a.Admin.Run(bg) })
	wg.Go(func() { a.janitor(bg, 10*time.Minute) })
	if a.Config.PprofAddr != "" {
		wg.Go(func() { a.servePprof(bg) })
	}
	if a.metricsLn != nil {
		wg.Go(func() { a.serveMetrics(bg, a.metricsLn) })
	}
	var srv *http.Server
	errc := make(chan error, 1)
	if ln != nil {
		srv = &http.Server{
			Handler:           a.closeWhileDraining(a.Handler),
			ReadHeaderTimeout: 5 * time.Second,
			ReadTimeout:       15 * time.Second,
			WriteTimeout:      30 * time.Second,
			IdleTimeout:       120 * time.Second,
			MaxHeaderBytes:    32 << 10,
			ErrorLog:          slog.NewLogLogger(a.Logger.Handler(), slog.LevelWarn),
		}
		go func() { errc <- srv.Serve(ln) }()
	}
	var serveErr error
	select {
	case err := <-errc:
		serveErr = fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	// issue 13 (overload and shutdown): the graceful shutdown, each phase
	// logged, all within ShutdownTimeout.
	timeout := a.Config.ShutdownTimeout
	if timeout <= 0 {
		timeout = 20 * time.Second
	}
	log := a.Logger.With("component", "shutdown")
	began := time.Now()
	deadline, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	a.draining.Store(true)
	log.Info("shutting down: readiness answers 503", "timeout", timeout, "delay", a.Config.ShutdownDelay)
	if srv != nil && serveErr == nil {
		if d := a.Config.ShutdownDelay; d > 0 {
			select {
			case <-time.After(d):
			case <-deadline.Done():
			}
		}
		log.Info("shutting down: listener closed, finishing in-flight requests")
		if err := srv.Shutdown(deadline); err != nil && !errors.Is(err, http.ErrServerClosed) {
			// The deadline passed with requests still running: cut them
			// off rather than outlive the timeout.
			log.Warn("shutting down: requests still running at the deadline, closing their connections", "error", err)
			_ = srv.Close()
			serveErr = fmt.Errorf("shutdown: %w", err)
		}
		log.Info("shutting down: requests finished", "elapsed", time.Since(began).Round(time.Millisecond))
	}
	stop()
	jobs := make(chan struct{})
	go func() { wg.Wait(); close(jobs) }()
	select {
	case <-jobs:
		log.Info("shutting down: background jobs stopped", "elapsed", time.Since(began).Round(time.Millisecond))
	case <-deadline.Done():
		// Close would pull the database from under a job, and the pool's
		// Close waits for the connections the jobs hold, past the timeout:
		// the caller skips Close on ErrJobsStillRunning and exits.
		log.Error("shutting down: background jobs still running at the deadline")
		serveErr = errors.Join(serveErr, fmt.Errorf("shutdown: %w", ErrJobsStillRunning))
	}
	return serveErr
}

// ErrJobsStillRunning is in Run's error when background jobs had not
// stopped by SHUTDOWN_TIMEOUT; the caller must then not call Close.
var ErrJobsStillRunning = errors.New("background jobs did not stop within SHUTDOWN_TIMEOUT")

// closeWhileDraining ends each connection after its response once
// shutdown has begun, so that clients reconnect (through the balancer,
// elsewhere) instead of sending on a kept-alive connection the shutdown is
// about to close. Idle connections are not closed early: a client may be
// writing a request on one at that instant (http.Server.Shutdown closes
// them after SHUTDOWN_DELAY, when the balancer has stopped sending).
func (a *App) closeWhileDraining(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if a.draining.Load() {
			w.Header().Set("Connection", "close")
		}
		h.ServeHTTP(w, r)
	})
}

// Close releases the database and Redis connections. Call it after Run
// returned.
func (a *App) Close() error {
	var err error
	if a.metricsLn != nil {
		_ = a.metricsLn.Close() // closed already when Run served it
	}
	if a.redis != nil {
		err = a.redis.Close()
	}
	if a.DB != nil {
		err = errors.Join(err, a.DB.Close())
	}
	if a.tracing != nil { // flush the last spans
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err = errors.Join(err, a.tracing.Shutdown(ctx))
		cancel()
	}
	return err
}

// janitor deletes expired grants, sessions and one-time tokens so the
// tables do not grow without bound. A rotated refresh token keeps its row
// until its own expiry, so reuse is recognised for as long as the token
// could have been used.
func (a *App) janitor(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			a.Sweep(ctx)
		}
	}
}

// Sweep runs one janitor pass at the app's clock.
func (a *App) Sweep(ctx context.Context) {
	n, err := a.Store.DeleteExpired(ctx, a.now())
	switch {
	case err != nil && ctx.Err() == nil:
		a.Logger.ErrorContext(ctx, "delete expired grants", "error", err)
	case n > 0:
		a.Logger.InfoContext(ctx, "deleted expired grants", "count", n)
	}
}

// servePprof serves profiles on their own listener (normally loopback), so
// they are never reachable through the public port.
func (a *App) servePprof(ctx context.Context) {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Addr: a.Config.PprofAddr, Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	a.Logger.Info("pprof listening", "addr", a.Config.PprofAddr)
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		a.Logger.Error("pprof server", "error", err)
	}
}

// passkeyCookieDomain picks, from COOKIE_DOMAIN (a list), the domain the
// issuer's host lies in: the one passkeys are bound to. "" when none
// does (the issuer's host itself is then the relying party id).
func passkeyCookieDomain(cookieDomain, issuer string) string {
	u, err := url.Parse(issuer)
	if err != nil {
		return ""
	}
	host := strings.ToLower(u.Hostname())
	for d := range strings.SplitSeq(cookieDomain, ",") {
		d = strings.ToLower(strings.TrimPrefix(strings.TrimSpace(d), "."))
		if d != "" && (host == d || strings.HasSuffix(host, "."+d)) {
			return d
		}
	}
	return ""
}

// issuerOrigin is the origin (scheme, host and port) of the issuer URL.
func issuerOrigin(issuer string) string {
	u, err := url.Parse(issuer)
	if err != nil {
		return issuer
	}
	return u.Scheme + "://" + u.Host
}

// passkeysOf hands the server no service at all when there is none: a
// nil *passkey.Service in the interface would not read as nil.
func passkeysOf(p *passkey.Service) server.Passkeys {
	if p == nil {
		return nil
	}
	return p
}
