package main

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/manacore/mana-core-auth/internal/database"
	"github.com/manacore/mana-core-auth/provider"
)

var errUsage = errors.New("invalid usage")

// config is the validated configuration, read once from the environment.
type config struct {
	DatabaseURL  string
	BaseURL      string
	Port         int
	SecretKey    []byte
	CookieDomain string
	Audience     []string
	RefreshGrace time.Duration
	RotationWait time.Duration
	LogLevel     slog.Level
	Dev          bool
	dataDir      string

	SMTPHost, SMTPUser, SMTPPassword, SMTPFrom string
	SMTPPort                                   int
	CORSOrigins                                []string
	TrustedProxies                             string
	CookieParent                               string // parent domain whose subdomains may be redirected to
	RedisURL                                   string
	RedirectLocalhost                          bool
	SessionIdle, SessionRemember, SessionMax   time.Duration
	RateLimits                                 string
}

// loadConfig reads the environment. Every problem is reported, one line
// each, so an operator fixes them all in one go.
func loadConfig(getenv func(string) string, dev bool) (*config, []string) {
	var problems []string
	c := &config{
		DatabaseURL:  getenv("DATABASE_URL"),
		BaseURL:      strings.TrimRight(getenv("BASE_URL"), "/"),
		CookieDomain: getenv("COOKIE_DOMAIN"),
		Dev:          dev,
		RefreshGrace: 5 * time.Second,
		RotationWait: time.Hour,
	}
	if c.BaseURL == "" {
		c.BaseURL = "http://localhost:3001"
	}
	c.Port = 3001
	if p := getenv("PORT"); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 || n > 65535 {
			problems = append(problems, fmt.Sprintf("PORT %q is not a port number", p))
		} else {
			c.Port = n
		}
	}
	u, err := url.Parse(c.BaseURL)
	switch {
	case err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https"):
		problems = append(problems, fmt.Sprintf("BASE_URL %q must be an absolute http(s) URL", c.BaseURL))
	case u.RawQuery != "" || u.Fragment != "":
		problems = append(problems, "BASE_URL must not have a query or fragment")
	case u.Scheme == "http" && !dev && !provider.IsLoopback(u.Hostname()):
		problems = append(problems, fmt.Sprintf("BASE_URL %q must use https outside --dev (http is only allowed for localhost)", c.BaseURL))
	}
	aud := getenv("JWT_AUDIENCE")
	if aud == "" {
		aud = "manacore"
	}
	for _, a := range strings.Split(aud, ",") {
		if a = strings.TrimSpace(a); a != "" {
			c.Audience = append(c.Audience, a)
		}
	}
	if v := getenv("REFRESH_GRACE"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			problems = append(problems, fmt.Sprintf("REFRESH_GRACE %q is not a duration like 5s", v))
		} else {
			c.RefreshGrace = d
		}
	}
	if v := getenv("KEY_ROTATION_DELAY"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			problems = append(problems, fmt.Sprintf("KEY_ROTATION_DELAY %q is not a duration like 1h", v))
		} else {
			c.RotationWait = d
		}
	}
	c.SMTPHost, c.SMTPUser, c.SMTPPassword = getenv("SMTP_HOST"), getenv("SMTP_USER"), getenv("SMTP_PASSWORD")
	c.SMTPFrom = getenv("SMTP_FROM")
	if c.SMTPFrom == "" {
		c.SMTPFrom = "Mana <noreply@mana.how>"
	}
	c.SMTPPort = 587
	if p := getenv("SMTP_PORT"); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n <= 0 || n > 65535 {
			problems = append(problems, fmt.Sprintf("SMTP_PORT %q is not a port number", p))
		} else {
			c.SMTPPort = n
		}
	}
	if c.SMTPHost == "" && !dev {
		// Without mail, nobody could verify an address or reset a password.
		problems = append(problems, "SMTP_HOST is required outside --dev (verification and password-reset emails)")
	}
	for _, o := range strings.Split(getenv("CORS_ORIGINS"), ",") {
		if o = strings.TrimSpace(o); o != "" {
			c.CORSOrigins = append(c.CORSOrigins, o)
		}
	}
	c.TrustedProxies = getenv("TRUSTED_PROXIES")
	c.RedisURL = getenv("REDIS_URL")
	for _, d := range []struct {
		name string
		dst  *time.Duration
		def  time.Duration
	}{
		{"SESSION_IDLE_TIMEOUT", &c.SessionIdle, 7 * 24 * time.Hour},
		{"SESSION_REMEMBER_TIMEOUT", &c.SessionRemember, 30 * 24 * time.Hour},
		{"SESSION_MAX_LIFETIME", &c.SessionMax, 30 * 24 * time.Hour},
	} {
		*d.dst = d.def
		if v := getenv(d.name); v != "" {
			x, err := time.ParseDuration(v)
			if err != nil || x <= 0 {
				problems = append(problems, fmt.Sprintf("%s %q is not a positive duration like 168h", d.name, v))
				continue
			}
			*d.dst = x
		}
	}
	// Apps under development on localhost may receive verification and
	// reset redirects (the contract); REDIRECT_LOCALHOST=false
	// closes that in production, where any local listener could get them.
	c.RedirectLocalhost = true
	if v := getenv("REDIRECT_LOCALHOST"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			problems = append(problems, fmt.Sprintf("REDIRECT_LOCALHOST %q must be true or false", v))
		}
		c.RedirectLocalhost = b
	}
	c.RateLimits = getenv("RATE_LIMITS")
	c.CookieParent = strings.TrimPrefix(strings.Split(c.CookieDomain, ",")[0], ".")
	if c.CookieParent == "" {
		c.CookieParent = "mana.how"
	}
	switch strings.ToLower(getenv("LOG_LEVEL")) {
	case "", "info":
		c.LogLevel = slog.LevelInfo
	case "debug":
		c.LogLevel = slog.LevelDebug
	case "warn":
		c.LogLevel = slog.LevelWarn
	case "error":
		c.LogLevel = slog.LevelError
	default:
		problems = append(problems, fmt.Sprintf("LOG_LEVEL %q must be debug, info, warn or error", getenv("LOG_LEVEL")))
	}
	c.dataDir = "data"
	if target, err := database.ParseURL(c.DatabaseURL); err != nil {
		problems = append(problems, err.Error())
	} else if dir := target.Dir(); dir != "" {
		c.dataDir = dir
	}
	if s := getenv("SECRET_KEY"); s != "" {
		if len(s) < 32 {
			problems = append(problems, "SECRET_KEY must be at least 32 characters (use: openssl rand -base64 48)")
		} else {
			c.SecretKey = []byte(s)
		}
	}
	return c, problems
}

// ensureSecret fills a missing SECRET_KEY. Outside --dev that is an error;
// in --dev a generated key is kept in the data directory so sessions and
// encrypted keys survive restarts.
func (c *config) ensureSecret(stderr io.Writer) error {
	if len(c.SecretKey) > 0 {
		return nil
	}
	if !c.Dev {
		return errors.New("SECRET_KEY is required (at least 32 characters; use: openssl rand -base64 48); --dev generates one")
	}
	path := filepath.Join(c.dataDir, "secret.key")
	if b, err := os.ReadFile(path); err == nil && len(strings.TrimSpace(string(b))) >= 32 {
		c.SecretKey = []byte(strings.TrimSpace(string(b)))
		return nil
	}
	if err := os.MkdirAll(c.dataDir, 0o700); err != nil {
		return fmt.Errorf("create data directory: %w", err)
	}
	raw := make([]byte, 48)
	if _, err := rand.Read(raw); err != nil {
		return err
	}
	key := base64.RawURLEncoding.EncodeToString(raw)
	if err := os.WriteFile(path, []byte(key+"\n"), 0o600); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	c.SecretKey = []byte(key)
	fmt.Fprintf(stderr, "WARNING: no SECRET_KEY set; generated one for development in %s. Set SECRET_KEY in production.\n", path)
	return nil
}

func problemsError(problems []string) error {
	return errors.New("configuration problems:\n  - " + strings.Join(problems, "\n  - "))
}
