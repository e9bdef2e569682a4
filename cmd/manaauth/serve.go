package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/manacore/mana-core-auth/internal/database"
	"github.com/manacore/mana-core-auth/provider"
	"github.com/manacore/mana-core-auth/provider/account"
	"github.com/manacore/mana-core-auth/provider/audit"
	"github.com/manacore/mana-core-auth/provider/backchannel"
	"github.com/manacore/mana-core-auth/provider/httpx"
	"github.com/manacore/mana-core-auth/provider/keys"
	"github.com/manacore/mana-core-auth/provider/mail"
	"github.com/manacore/mana-core-auth/provider/oidc"
	"github.com/manacore/mana-core-auth/provider/ratelimit"
	"github.com/manacore/mana-core-auth/provider/server"
	"github.com/manacore/mana-core-auth/provider/store"
	"github.com/manacore/mana-core-auth/provider/websession"
)

// app is an opened configuration: database migrated and keys loaded.
type app struct {
	cfg    *config
	log    *slog.Logger
	db     *database.DB // the one handle: the provider and credits stores run on it
	store  provider.Store
	ring   *keys.Ring
	hasher *account.Hasher
}

// open reads the configuration, opens and migrates the database and loads
// the key ring: what every command needs.
func open(ctx context.Context, getenv func(string) string, stderr io.Writer, dev bool) (*app, error) {
	cfg, problems := loadConfig(getenv, dev)
	if len(problems) > 0 {
		return nil, problemsError(problems)
	}
	if err := cfg.ensureSecret(stderr); err != nil {
		return nil, err
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: cfg.LogLevel}))
	db, err := database.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	if err := db.Migrate(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("migrate database: %w", err)
	}
	st, err := store.New(db)
	if err != nil {
		db.Close()
		return nil, err
	}
	ring, err := keys.New(st, cfg.SecretKey, keys.Options{Logger: logger.With("component", "keys")})
	if err != nil {
		db.Close()
		return nil, err
	}
	if err := ring.Init(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("load signing keys: %w", err)
	}
	// Each argon2id hash holds 19 MiB; two per core keeps a login flood from
	// exhausting memory while using every core.
	hasher := account.NewHasher(account.DefaultParams, 2*runtime.GOMAXPROCS(0))
	return &app{cfg: cfg, log: logger, db: db, store: st, ring: ring, hasher: hasher}, nil
}

func cmdMigrate(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	a, err := open(ctx, getenv, stderr, true)
	if err != nil {
		return err
	}
	defer a.db.Close()
	fmt.Fprintln(stdout, "migrations applied")
	return nil
}

func cmdServe(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dev := fs.Bool("dev", false, "development mode: http issuer, generated SECRET_KEY, demo client and user")
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	a, err := open(ctx, getenv, stderr, *dev)
	if err != nil {
		return err
	}
	defer a.db.Close()
	cfg := a.cfg

	if cfg.Dev {
		if err := ensureDemo(ctx, a, stdout); err != nil {
			return fmt.Errorf("create demo data: %w", err)
		}
	}

	if err := oidc.EnsureFirstPartyClient(ctx, a.store); err != nil {
		return err
	}
	var mailer mail.Sender
	if cfg.SMTPHost != "" {
		m, err := mail.NewSMTP(mail.SMTPConfig{Host: cfg.SMTPHost, Port: cfg.SMTPPort, User: cfg.SMTPUser, Password: cfg.SMTPPassword, From: cfg.SMTPFrom})
		if err != nil {
			return fmt.Errorf("SMTP configuration: %w", err)
		}
		mailer = m
	} else {
		// Development: mails land in ./data/mail and the log, so a
		// developer can click the link.
		mailer = mail.NewDevSender(filepath.Join(cfg.dataDir, "mail"), a.log)
	}
	trusted, err := httpx.ParseTrustedProxies(cfg.TrustedProxies)
	if err != nil {
		return fmt.Errorf("TRUSTED_PROXIES: %w", err)
	}
	cors, err := httpx.NewCORS(cfg.CORSOrigins)
	if err != nil {
		return fmt.Errorf("CORS_ORIGINS: %w", err)
	}
	// Back-channel logout: every ended session reaches the apps that hold
	// its tokens, from a durable queue in the database.
	notifier := backchannel.New(backchannel.Config{Issuer: cfg.BaseURL, Logger: a.log.With("component", "backchannel")}, a.store, a.ring)
	auditLog := audit.New(a.store, nil, a.log.With("component", "audit"))
	secure := strings.HasPrefix(cfg.BaseURL, "https://")
	sessions, err := websession.New(websession.Config{SecretKey: cfg.SecretKey, Secure: secure, Domain: cfg.CookieDomain,
		IdleTimeout: cfg.SessionIdle, RememberTimeout: cfg.SessionRemember, MaxLifetime: cfg.SessionMax,
		Notifier: notifier, Audit: auditLog, Logger: a.log.With("component", "sessions")}, a.store)
	if err != nil {
		return err
	}
	accounts, err := account.NewService(account.Config{
		Sessions: sessions, Audit: auditLog,
		BaseURL: cfg.BaseURL, SecretKey: cfg.SecretKey, Logger: a.log.With("component", "account"),
		Redirects: &account.RedirectPolicy{Domain: cfg.CookieParent, Extra: cors.Allowed, AllowLoopback: cfg.RedirectLocalhost},
	}, a.store, a.hasher, mailer)
	if err != nil {
		return err
	}

	limits, err := server.ParseLimits(cfg.RateLimits)
	if err != nil {
		return fmt.Errorf("RATE_LIMITS: %w", err)
	}
	var limiter ratelimit.Limiter
	var backoffStore ratelimit.BackoffStore
	if cfg.RedisURL != "" {
		// Shared counters: every replica sees the same limits.
		opts, err := redis.ParseURL(cfg.RedisURL)
		if err != nil {
			return fmt.Errorf("REDIS_URL: %w", err)
		}
		opts.DialTimeout, opts.ReadTimeout, opts.WriteTimeout, opts.MaxRetries = time.Second, 500*time.Millisecond, 500*time.Millisecond, 1
		rdb := redis.NewClient(opts)
		defer rdb.Close()
		limiter = ratelimit.NewRedis(rdb, "manaauth:rl:")
		backoffStore = ratelimit.NewRedisBackoffStore(rdb, "manaauth:bo:")
	} else {
		limiter = ratelimit.NewMemory(nil)
		backoffStore = ratelimit.NewMemoryBackoffStore(nil)
	}
	// Five free failures per account, then 1 s doubling up to 5 min.
	backoff := ratelimit.NewBackoff(backoffStore, 5, time.Second, 5*time.Minute)

	op, err := oidc.New(oidc.Config{
		Issuer:       cfg.BaseURL,
		SecretKey:    cfg.SecretKey,
		Audience:     cfg.Audience,
		RefreshGrace: graceOrDisabled(cfg.RefreshGrace),
		Sessions:     sessions,
		Audit:        auditLog,
	}, a.store, a.ring)
	if err != nil {
		return err
	}
	// Credits: the same database handle, migrated above with the provider's schema.
	creditsSvc, creditsSt, err := openCreditsStore(a, getenv)
	if err != nil {
		return fmt.Errorf("credits: %w", err)
	}
	bill, err := openBilling(getenv, cfg.BaseURL, creditsSt, creditsSvc)
	if err != nil {
		return fmt.Errorf("stripe: %w", err)
	}
	handler, err := server.New(server.Deps{
		Logger: a.log,
		Config: server.Config{Issuer: cfg.BaseURL, SecretKey: cfg.SecretKey, Audience: cfg.Audience[0], TrustedProxies: trusted, Limits: limits,
			BackchannelLogout: true},
		Store:    a.store,
		OP:       op,
		JWKS:     a.ring.JWKS,
		Sessions: sessions,
		Accounts: accounts,
		CORS:     cors,
		Limiter:  limiter,
		Backoff:  backoff,
		Credits:  creditsSvc,
		Billing:  bill,
	})
	if err != nil {
		return err
	}

	ln, err := net.Listen("tcp", net.JoinHostPort("", strconv.Itoa(cfg.Port)))
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    32 << 10,
		ErrorLog:          slog.NewLogLogger(a.log.Handler(), slog.LevelWarn),
	}

	bg, stopBG := context.WithCancel(ctx)
	defer stopBG()
	go a.ring.Run(bg, time.Minute)
	go notifier.Run(bg)
	if addr := getenv("PPROF_ADDR"); addr != "" {
		// Profiling stays on its own listener (normally loopback) so it is
		// never reachable through the public port.
		go servePprof(bg, addr, a.log)
	}
	go janitor(bg, a.store, a.log)

	port := ln.Addr().(*net.TCPAddr).Port
	fmt.Fprintf(stdout, "manaauth listening on http://127.0.0.1:%d (issuer %s)\n", port, cfg.BaseURL)
	a.log.Info("serving", "port", port, "issuer", cfg.BaseURL, "dev", cfg.Dev)

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("shutdown: %w", err)
	}
	a.log.Info("stopped")
	return nil
}

func servePprof(ctx context.Context, addr string, log *slog.Logger) {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Addr: addr, Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	log.Info("pprof listening", "addr", addr)
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Error("pprof server", "error", err)
	}
}

// graceOrDisabled maps REFRESH_GRACE=0 to "no grace window" (oidc treats
// zero as "use the default").
func graceOrDisabled(d time.Duration) time.Duration {
	if d == 0 {
		return -1
	}
	return d
}

// janitor deletes expired grants and sessions so the tables do not grow
// without bound. A rotated refresh token keeps its row until its own expiry,
// so reuse is recognised for as long as the token could have been used.
func janitor(ctx context.Context, st provider.Store, log *slog.Logger) {
	t := time.NewTicker(10 * time.Minute)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			n, err := st.DeleteExpired(ctx, time.Now())
			if err != nil {
				log.Error("delete expired grants", "error", err)
			} else if n > 0 {
				log.Info("deleted expired grants", "count", n)
			}
		}
	}
}
