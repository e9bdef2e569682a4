package app

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/manacore/mana-core-auth/credits"
	"github.com/manacore/mana-core-auth/internal/database"
	"github.com/manacore/mana-core-auth/provider"
	"github.com/manacore/mana-core-auth/provider/admin"
	"github.com/manacore/mana-core-auth/provider/httpx"
	"github.com/manacore/mana-core-auth/provider/mail"
	"github.com/manacore/mana-core-auth/provider/seal"
	"github.com/manacore/mana-core-auth/provider/server"
)

// Mode says what a configuration is loaded for; it decides what is
// required.
type Mode int

const (
	// Serve is the production server: SECRET_KEY, SMTP_HOST and an https
	// issuer (except on localhost) are required.
	Serve Mode = iota
	// Dev is `serve --dev`: an http issuer is fine, a missing SECRET_KEY
	// is generated and kept in the data directory (UseDevSecret), mail
	// goes to files.
	Dev
	// Tool is a CLI command: nothing is generated, and each command asks
	// for what it uses (RequireSecret).
	Tool
)

// Config is the whole configuration, read once from the environment and
// validated before anything is opened.
type Config struct {
	Mode        Mode
	DatabaseURL string
	// DatabaseTimeout bounds every database call: connecting, waiting for
	// a pooled connection, each statement (DATABASE_TIMEOUT); 0 leaves
	// them unbounded, as the command-line tools do.
	DatabaseTimeout time.Duration
	// DataDir holds the development secret and mail files: the SQLite
	// database's directory, else ./data.
	DataDir string
	BaseURL string // the issuer, without trailing slash
	// BaseURLDefault says BASE_URL was not set: serve then names the
	// issuer after the port really bound (FollowListener).
	BaseURLDefault bool
	Port           int
	// ListenAddr is LISTEN_ADDR: ":PORT" (every interface) in production,
	// "127.0.0.1:PORT" in --dev, where nobody else should reach the demo
	// credentials.
	ListenAddr string
	LogLevel   slog.Level
	// SecretKey is SECRET_KEY; empty until UseDevSecret or RequireSecret
	// supply one outside Serve.
	SecretKey []byte

	CookieDomain string // COOKIE_DOMAIN as given (a list)
	// CookieParent is the parent domain whose subdomains flows may return to.
	CookieParent      string
	Audience          []string
	RefreshGrace      time.Duration // 0 disables the grace window
	KeyRotationDelay  time.Duration
	SessionIdle       time.Duration
	SessionRemember   time.Duration
	SessionMax        time.Duration
	CORSOrigins       []string
	TrustedProxies    []netip.Prefix
	RedirectLocalhost bool
	// Limits are the rate limits by rule; nil means server.DefaultLimits,
	// an empty map none.
	Limits map[string]server.Limit
	// LoginBackoff slows repeated failures per account; Free == 0 turns it off.
	LoginBackoff Backoff
	RedisURL     string // "" keeps counters per process

	SMTP    mail.SMTPConfig // Host "" writes mail to DataDir/mail (Dev only)
	Credits credits.Config
	Stripe  Stripe
	// Admin holds ADMIN_USER_IDS and the app backends registry
	// (ADMIN_BACKENDS_FILE, else the old *_BACKEND_URL variables with
	// ADMIN_SERVICE_KEY).
	Admin admin.Config
	// PprofAddr serves /debug/pprof on its own listener when set.
	PprofAddr string
	// Observability (issue 13). MetricsAddr serves /metrics on its own
	// listener, and then not on the public one (METRICS_ADDR).
	MetricsAddr string
	// MetricsPublic serves /metrics on the main listener when MetricsAddr
	// is unset: always in --dev and the tools, in serve only with
	// METRICS_PUBLIC=true (the counts and build are nobody else's business).
	MetricsPublic bool
	// TracesURL is where spans are exported by OTLP/HTTP
	// (OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, else
	// OTEL_EXPORTER_OTLP_ENDPOINT + /v1/traces); "" traces nothing.
	TracesURL   string
	ServiceName string // OTEL_SERVICE_NAME, default manaauth

	// issue 13 (overload and shutdown)
	// PasswordHashing bounds the argon2id work: PASSWORD_HASH_CONCURRENCY,
	// PASSWORD_HASH_QUEUE, PASSWORD_HASH_MAX_WAIT.
	PasswordHashing PasswordHashing
	// ShutdownTimeout bounds the whole graceful shutdown (SHUTDOWN_TIMEOUT).
	ShutdownTimeout time.Duration
	// ShutdownDelay is how long readiness answers 503 before the listener
	// closes, so a load balancer stops sending first (SHUTDOWN_DELAY).
	ShutdownDelay time.Duration

	// issue 13 (replicas):
	// KeyRotationInterval rotates both signing keys when the newest is
	// this old (KEY_ROTATION_INTERVAL, default 90 days; 0 turns it off).
	// One replica rotates; the new key signs after KeyRotationDelay.
	KeyRotationInterval time.Duration
	// BackchannelTimeout bounds one back-channel logout POST
	// (BACKCHANNEL_TIMEOUT, default 5s); a delivery whose replica died is
	// taken over by another after twice this.
	BackchannelTimeout time.Duration
}

// PasswordHashing bounds concurrent argon2id hashes and the queue in
// front of them (account.HasherLimits).
type PasswordHashing struct {
	Slots, Queue int
	MaxWait      time.Duration
}

// Backoff is the login backoff policy: Free failures, then Base doubling
// up to Max.
type Backoff struct {
	Free      int
	Base, Max time.Duration
}

// Stripe is the purchase configuration; SecretKey "" turns purchases off.
type Stripe struct {
	SecretKey, WebhookSecret, APIBase string
}

// ProblemsError lists every configuration problem, one line each, so an
// operator fixes them all in one go.
type ProblemsError []string

func (p ProblemsError) Error() string {
	return "configuration problems:\n  - " + strings.Join(p, "\n  - ")
}

// LoadConfig reads and checks the environment for mode. It reports every
// problem at once and opens nothing.
func LoadConfig(getenv func(string) string, mode Mode) (*Config, error) {
	l := loader{getenv: getenv}
	c := &Config{Mode: mode}

	c.DatabaseURL = getenv("DATABASE_URL")
	c.DataDir = "data"
	if t, err := database.ParseURL(c.DatabaseURL); err != nil {
		l.problem(err.Error())
	} else if dir := t.Dir(); dir != "" {
		c.DataDir = dir
	}

	c.DatabaseTimeout = l.duration("DATABASE_TIMEOUT", 5*time.Second, false)

	c.Port = l.port("PORT", 3001, true)
	c.BaseURL = strings.TrimRight(getenv("BASE_URL"), "/")
	if c.BaseURL == "" {
		// The default issuer follows PORT, so `PORT=3902 make run`
		// publishes a discovery document that points at itself.
		c.BaseURL, c.BaseURLDefault = "http://localhost:"+strconv.Itoa(c.Port), true
	}
	u, err := url.Parse(c.BaseURL)
	switch {
	case err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https"):
		l.problem(fmt.Sprintf("BASE_URL %q must be an absolute http(s) URL", c.BaseURL))
	case u.RawQuery != "" || u.Fragment != "":
		l.problem("BASE_URL must not have a query or fragment")
	case u.Scheme == "http" && mode == Serve && !provider.IsLoopback(u.Hostname()):
		l.problem(fmt.Sprintf("BASE_URL %q must use https outside --dev (http is only allowed for localhost)", c.BaseURL))
	}
	c.ListenAddr = strings.TrimSpace(getenv("LISTEN_ADDR"))
	switch {
	case c.ListenAddr == "" && mode == Dev:
		c.ListenAddr = net.JoinHostPort("127.0.0.1", strconv.Itoa(c.Port))
	case c.ListenAddr == "":
		c.ListenAddr = ":" + strconv.Itoa(c.Port)
	default:
		if _, p, err := net.SplitHostPort(c.ListenAddr); err != nil || !validPort(p) {
			l.problem(fmt.Sprintf("LISTEN_ADDR %q must be host:port, e.g. 127.0.0.1:3001 or :3001", c.ListenAddr))
		}
	}
	c.LogLevel = l.logLevel()

	if s := getenv("SECRET_KEY"); s != "" {
		if len(s) < seal.MinSecretLen {
			l.problem(fmt.Sprintf("SECRET_KEY must be at least %d characters (use: openssl rand -base64 48)", seal.MinSecretLen))
		} else {
			c.SecretKey = []byte(s)
		}
	} else if mode == Serve {
		l.problem(errSecretRequired.Error())
	}

	c.CookieDomain = getenv("COOKIE_DOMAIN")
	c.CookieParent = strings.TrimPrefix(strings.TrimSpace(strings.Split(c.CookieDomain, ",")[0]), ".")
	if c.CookieParent == "" {
		c.CookieParent = "mana.how"
	}
	c.Audience = l.list("JWT_AUDIENCE", "manacore")
	c.RefreshGrace = l.duration("REFRESH_GRACE", 5*time.Second, true)
	c.KeyRotationDelay = l.duration("KEY_ROTATION_DELAY", time.Hour, true)
	c.KeyRotationInterval = l.duration("KEY_ROTATION_INTERVAL", 90*24*time.Hour, true) // issue 13 (replicas)
	c.BackchannelTimeout = l.duration("BACKCHANNEL_TIMEOUT", 5*time.Second, false)     // issue 13 (replicas)
	c.SessionIdle = l.duration("SESSION_IDLE_TIMEOUT", 7*24*time.Hour, false)
	c.SessionRemember = l.duration("SESSION_REMEMBER_TIMEOUT", 30*24*time.Hour, false)
	c.SessionMax = l.duration("SESSION_MAX_LIFETIME", 30*24*time.Hour, false)

	c.CORSOrigins = l.list("CORS_ORIGINS", "")
	if _, err := httpx.NewCORS(c.CORSOrigins); err != nil {
		l.problem("CORS_ORIGINS: " + err.Error())
	}
	if c.TrustedProxies, err = httpx.ParseTrustedProxies(getenv("TRUSTED_PROXIES")); err != nil {
		l.problem("TRUSTED_PROXIES: " + err.Error())
	}
	// Apps under development on localhost may receive verification and
	// reset redirects; REDIRECT_LOCALHOST=false closes that in production,
	// where any local listener could get them.
	c.RedirectLocalhost = true
	if v := getenv("REDIRECT_LOCALHOST"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			l.problem(fmt.Sprintf("REDIRECT_LOCALHOST %q must be true or false", v))
		}
		c.RedirectLocalhost = b
	}
	if c.Limits, err = server.ParseLimits(getenv("RATE_LIMITS")); err != nil {
		l.problem("RATE_LIMITS: " + err.Error())
	}
	// Five free failures per account, then 1 s doubling up to 5 min.
	c.LoginBackoff = Backoff{Free: 5, Base: time.Second, Max: 5 * time.Minute}
	if c.RedisURL = getenv("REDIS_URL"); c.RedisURL != "" {
		if _, err := redis.ParseURL(c.RedisURL); err != nil {
			l.problem("REDIS_URL: " + err.Error())
		}
	}

	c.SMTP = mail.SMTPConfig{Host: getenv("SMTP_HOST"), Port: l.port("SMTP_PORT", 587, false),
		User: getenv("SMTP_USER"), Password: getenv("SMTP_PASSWORD"), From: getenv("SMTP_FROM")}
	if c.SMTP.From == "" {
		c.SMTP.From = "Mana <noreply@mana.how>"
	}
	switch {
	case c.SMTP.Host != "":
		if _, err := mail.NewSMTP(c.SMTP); err != nil {
			l.problem("SMTP: " + err.Error())
		}
	case mode == Serve:
		// Without mail, nobody could verify an address or reset a password.
		l.problem("SMTP_HOST is required outside --dev (verification and password-reset emails)")
	}

	c.Credits = l.credits()
	c.Admin.Backends = l.backends()
	// issue 11 part A: admins by id, whatever their role (comma- or
	// space-separated, as the old service read it).
	c.Admin.AdminIDs = strings.FieldsFunc(getenv("ADMIN_USER_IDS"), func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\n' })
	c.Stripe = Stripe{SecretKey: getenv("STRIPE_SECRET_KEY"), WebhookSecret: getenv("STRIPE_WEBHOOK_SECRET"), APIBase: getenv("STRIPE_API_BASE")}
	if c.Stripe.SecretKey != "" && c.Stripe.WebhookSecret == "" {
		l.problem("STRIPE_WEBHOOK_SECRET is required with STRIPE_SECRET_KEY (webhooks are verified)")
	}
	if c.PprofAddr = getenv("PPROF_ADDR"); c.PprofAddr != "" {
		if _, _, err := net.SplitHostPort(c.PprofAddr); err != nil {
			l.problem(fmt.Sprintf("PPROF_ADDR %q must be host:port, e.g. 127.0.0.1:6060", c.PprofAddr))
		}
	}
	// issue 13 (observability)
	if c.MetricsAddr = getenv("METRICS_ADDR"); c.MetricsAddr != "" {
		if _, _, err := net.SplitHostPort(c.MetricsAddr); err != nil {
			l.problem(fmt.Sprintf("METRICS_ADDR %q must be host:port, e.g. 127.0.0.1:9090", c.MetricsAddr))
		}
	}
	switch v := getenv("METRICS_PUBLIC"); v {
	case "":
		c.MetricsPublic = mode != Serve
	case "true", "false":
		c.MetricsPublic = v == "true"
	default:
		l.problem(fmt.Sprintf("METRICS_PUBLIC %q must be true or false", v))
	}
	c.TracesURL = getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
	if base := getenv("OTEL_EXPORTER_OTLP_ENDPOINT"); c.TracesURL == "" && base != "" {
		c.TracesURL = strings.TrimRight(base, "/") + "/v1/traces"
	}
	if c.TracesURL != "" {
		if u, err := url.Parse(c.TracesURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			l.problem(fmt.Sprintf("OTEL_EXPORTER_OTLP_ENDPOINT %q must be an http(s) URL, e.g. http://otel-collector:4318", c.TracesURL))
		}
	}
	if c.ServiceName = getenv("OTEL_SERVICE_NAME"); c.ServiceName == "" {
		c.ServiceName = "manaauth"
	}
	// issue 13 (overload and shutdown): one hash per core uses every core;
	// more would only hold more 19 MiB buffers while they share the CPU.
	slots := l.count("PASSWORD_HASH_CONCURRENCY", runtime.GOMAXPROCS(0), 1)
	c.PasswordHashing = PasswordHashing{Slots: slots, Queue: l.count("PASSWORD_HASH_QUEUE", 4*slots, 0),
		MaxWait: l.duration("PASSWORD_HASH_MAX_WAIT", 500*time.Millisecond, false)}
	c.ShutdownTimeout = l.duration("SHUTDOWN_TIMEOUT", 20*time.Second, false)
	delay := 2 * time.Second
	if mode != Serve {
		delay = 0 // nobody balances load over a development server
	}
	c.ShutdownDelay = l.duration("SHUTDOWN_DELAY", delay, true)
	if c.ShutdownDelay >= c.ShutdownTimeout {
		l.problem(fmt.Sprintf("SHUTDOWN_DELAY (%v) must be shorter than SHUTDOWN_TIMEOUT (%v)", c.ShutdownDelay, c.ShutdownTimeout))
	}
	if len(l.problems) > 0 {
		return nil, l.problems
	}
	return c, nil
}

func validPort(p string) bool {
	n, err := strconv.Atoi(p)
	return err == nil && n >= 0 && n <= 65535
}

// FollowListener names the default issuer (BASE_URL unset) after the
// port really bound (PORT=0 or LISTEN_ADDR pick it): the issuer must be
// where the browser finds the server.
func (c *Config) FollowListener(addr net.Addr) {
	tcp, ok := addr.(*net.TCPAddr)
	if !ok || !c.BaseURLDefault {
		return
	}
	c.BaseURL = "http://localhost:" + strconv.Itoa(tcp.Port)
}

var errSecretRequired = errors.New("SECRET_KEY is required (at least 32 characters; use: openssl rand -base64 48); --dev generates one")

// devSecretFile is where --dev keeps its generated SECRET_KEY.
func (c *Config) devSecretFile() string { return filepath.Join(c.DataDir, "secret.key") }

// UseDevSecret supplies a missing SECRET_KEY in Dev mode: the one kept in
// the data directory, or a new one written there, so sessions and sealed
// signing keys survive restarts.
func (c *Config) UseDevSecret(stderr io.Writer) error {
	if len(c.SecretKey) > 0 {
		return nil
	}
	if c.Mode != Dev {
		return errSecretRequired
	}
	if key, ok := c.readDevSecret(); ok {
		c.SecretKey = key
		return nil
	}
	if err := os.MkdirAll(c.DataDir, 0o700); err != nil {
		return fmt.Errorf("create data directory: %w", err)
	}
	raw := make([]byte, 48)
	_, _ = rand.Read(raw) // crypto/rand.Read never fails on supported platforms
	key := base64.RawURLEncoding.EncodeToString(raw)
	if err := os.WriteFile(c.devSecretFile(), []byte(key+"\n"), 0o600); err != nil {
		return fmt.Errorf("write %s: %w", c.devSecretFile(), err)
	}
	c.SecretKey = []byte(key)
	fmt.Fprintf(stderr, "WARNING: no SECRET_KEY set; generated one for development in %s. Set SECRET_KEY in production.\n", c.devSecretFile())
	return nil
}

// RequireSecret makes sure a command that uses SECRET_KEY (what) has one.
// Without SECRET_KEY a command may use the key `serve --dev` keeps beside
// its SQLite database, but never makes one up: a throwaway key would seal
// signing keys that the real server cannot open.
func (c *Config) RequireSecret(what string, stderr io.Writer) error {
	if len(c.SecretKey) > 0 {
		return nil
	}
	if key, ok := c.readDevSecret(); ok {
		c.SecretKey = key
		fmt.Fprintf(stderr, "using the development SECRET_KEY in %s\n", c.devSecretFile())
		return nil
	}
	return fmt.Errorf("%s needs SECRET_KEY (it seals and opens the signing keys): set the one the server runs with", what)
}

func (c *Config) readDevSecret() ([]byte, bool) {
	t, err := database.ParseURL(c.DatabaseURL)
	if err != nil || t.Dialect != database.SQLite {
		return nil, false // a development key never belongs to a PostgreSQL installation
	}
	b, err := os.ReadFile(c.devSecretFile())
	if key := strings.TrimSpace(string(b)); err == nil && len(key) >= seal.MinSecretLen {
		return []byte(key), true
	}
	return nil, false
}

// loader reads variables and collects what is wrong with them.
type loader struct {
	getenv   func(string) string
	problems ProblemsError
}

func (l *loader) problem(p string) { l.problems = append(l.problems, p) }

func (l *loader) port(name string, def int, zeroOK bool) int {
	v := l.getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 || n > 65535 || (n == 0 && !zeroOK) {
		l.problem(fmt.Sprintf("%s %q is not a port number", name, v))
		return def
	}
	return n
}

// duration reads a duration; zeroOK admits 0 (which turns the feature off).
func (l *loader) duration(name string, def time.Duration, zeroOK bool) time.Duration {
	v := l.getenv(name)
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 || (d == 0 && !zeroOK) {
		l.problem(fmt.Sprintf("%s %q is not a positive duration like 168h", name, v))
		return def
	}
	return d
}

// count reads a whole number of at least least.
func (l *loader) count(name string, def, least int) int {
	v := strings.TrimSpace(l.getenv(name))
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < least {
		l.problem(fmt.Sprintf("%s %q must be a whole number of at least %d", name, v, least))
		return def
	}
	return n
}

func (l *loader) list(name, def string) []string {
	v := l.getenv(name)
	if v == "" {
		v = def
	}
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

func (l *loader) logLevel() slog.Level {
	switch v := l.getenv("LOG_LEVEL"); strings.ToLower(v) {
	case "", "info":
		return slog.LevelInfo
	case "debug":
		return slog.LevelDebug
	case "warn":
		return slog.LevelWarn
	case "error":
		return slog.LevelError
	default:
		l.problem(fmt.Sprintf("LOG_LEVEL %q must be debug, info, warn or error", v))
		return slog.LevelInfo
	}
}

// credits reads CREDITS_SIGNUP_BONUS (150), CREDITS_DAILY_FREE (5),
// CREDITS_TIMEZONE (Europe/Berlin) and CREDITS_FREE_CAP (unset: no cap).
func (l *loader) credits() credits.Config {
	num := func(name string, def int64) int64 {
		s := strings.TrimSpace(l.getenv(name))
		if s == "" {
			return def
		}
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 0 {
			l.problem(fmt.Sprintf("%s=%q: want a non-negative integer", name, s))
			return def
		}
		return n
	}
	cfg := credits.Config{
		SignupBonus: num("CREDITS_SIGNUP_BONUS", credits.DefaultSignupBonus),
		DailyFree:   num("CREDITS_DAILY_FREE", credits.DefaultDailyFree),
		FreeCap:     num("CREDITS_FREE_CAP", 0),
	}
	// The Service reads 0 as "the default": an explicit 0 means none.
	if cfg.SignupBonus == 0 {
		cfg.SignupBonus = -1
	}
	if cfg.DailyFree == 0 {
		cfg.DailyFree = -1
	}
	tz := strings.TrimSpace(l.getenv("CREDITS_TIMEZONE"))
	if tz == "" {
		tz = "Europe/Berlin"
	}
	loc, err := time.LoadLocation(tz)
	if err != nil {
		l.problem(fmt.Sprintf("CREDITS_TIMEZONE=%q: %v", tz, err))
	}
	cfg.Timezone = loc
	return cfg
}

// backends reads the app backends registry. The service key has no
// default (the old one shipped "dev-admin-key"): without one, the admin
// data features say "not configured".
func (l *loader) backends() []admin.Backend {
	key := strings.TrimSpace(l.getenv("ADMIN_SERVICE_KEY"))
	if file := strings.TrimSpace(l.getenv("ADMIN_BACKENDS_FILE")); file != "" {
		data, err := os.ReadFile(file)
		if err != nil {
			l.problem(fmt.Sprintf("ADMIN_BACKENDS_FILE: %v", err))
			return nil
		}
		bs, err := admin.ParseBackends(data)
		if err != nil {
			l.problem(fmt.Sprintf("ADMIN_BACKENDS_FILE %s: %v", file, err))
			return nil
		}
		for i := range bs {
			if bs[i].ServiceKey == "" {
				bs[i].ServiceKey = key // one shared key for every backend, as before
			}
		}
		return bs
	}
	bs, err := admin.LegacyBackends(l.getenv, key)
	if err != nil {
		l.problem(err.Error())
	}
	return bs
}
