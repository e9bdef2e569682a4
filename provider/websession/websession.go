package websession

import (
	"context"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/gorilla/sessions"

	"github.com/manacore/mana-core-auth/provider"
)

// Config configures the session cookie and lifetimes.
type Config struct {
	SecretKey []byte // >= 32 bytes; cookie keys derive from it
	// Secure marks the cookie Secure and gives it the __Secure- prefix; set
	// whenever the issuer is https.
	Secure bool
	// Domain is COOKIE_DOMAIN: ".mana.how" shares the login with every
	// app below it; a comma-separated list (".mana.how,.mana.test") serves
	// several parent domains, each request getting the one its host belongs
	// to. Empty, or a host outside every listed domain, means a host-only
	// cookie.
	Domain          string
	IdleTimeout     time.Duration // default 7 days
	RememberTimeout time.Duration // default 30 days (remember me)
	// MaxLifetime bounds a session from its creation however active it
	// is (default 30 days): a stolen cookie cannot be kept alive forever.
	MaxLifetime time.Duration
	Now         func() time.Time
}

// CookieName is the base name of the session cookie.
const CookieName = "mana.session"

// Manager reads and writes browser sessions.
type Manager struct {
	cfg     Config
	store   provider.SessionStore
	cookie  *sessions.CookieStore
	name    string
	domains []string
}

// New returns a session manager.
func New(cfg Config, store provider.SessionStore) (*Manager, error) {
	if len(cfg.SecretKey) < 32 {
		return nil, errors.New("websession: secret key must be at least 32 bytes")
	}
	if cfg.IdleTimeout == 0 {
		cfg.IdleTimeout = 7 * 24 * time.Hour
	}
	if cfg.RememberTimeout == 0 {
		cfg.RememberTimeout = 30 * 24 * time.Hour
	}
	if cfg.MaxLifetime == 0 {
		cfg.MaxLifetime = 30 * 24 * time.Hour
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	var domains []string
	for _, d := range strings.Split(cfg.Domain, ",") {
		if d = strings.ToLower(strings.Trim(strings.TrimSpace(d), ".")); d != "" {
			domains = append(domains, d)
		}
	}
	hashKey, err := hkdf.Key(sha256.New, cfg.SecretKey, nil, "manaauth/session-cookie-hmac/v1", 32)
	if err != nil {
		return nil, err
	}
	blockKey, err := hkdf.Key(sha256.New, cfg.SecretKey, nil, "manaauth/session-cookie-aes/v1", 32)
	if err != nil {
		return nil, err
	}
	cs := sessions.NewCookieStore(hashKey, blockKey)
	// The sealed value expires with the longest a session may live.
	cs.MaxAge(int(max(cfg.RememberTimeout, cfg.MaxLifetime).Seconds()))
	name := CookieName
	if cfg.Secure {
		name = "__Secure-" + CookieName
	}
	return &Manager{cfg: cfg, store: store, cookie: cs, name: name, domains: domains}, nil
}

// expiry is when a session seen at now expires: the idle timeout (longer
// with remember-me) slides, but never past MaxLifetime after creation.
func (m *Manager) expiry(created, now time.Time, remember bool) time.Time {
	exp := now.Add(m.cfg.IdleTimeout)
	if remember {
		exp = now.Add(m.cfg.RememberTimeout)
	}
	if limit := created.Add(m.cfg.MaxLifetime); exp.After(limit) {
		exp = limit
	}
	return exp
}

// Name is the cookie name in use.
func (m *Manager) Name() string { return m.name }

// domainFor picks the configured parent domain the request's host belongs
// to; "" (a host-only cookie) when it belongs to none.
func (m *Manager) domainFor(r *http.Request) string {
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.ToLower(host)
	for _, d := range m.domains {
		if host == d || strings.HasSuffix(host, "."+d) {
			return d
		}
	}
	return ""
}

func (m *Manager) options(r *http.Request, maxAge int) *sessions.Options {
	return &sessions.Options{
		Path:     "/",
		Domain:   m.domainFor(r),
		MaxAge:   maxAge,
		Secure:   m.cfg.Secure,
		HttpOnly: true,
		SameSite: http.SameSiteLaxMode,
	}
}

func (m *Manager) sessionID(r *http.Request) string {
	c, err := r.Cookie(m.name)
	if err != nil || c.Value == "" {
		return ""
	}
	var id string
	// A cookie that does not decode (wrong key, tampered, expired) is
	// treated as no session.
	vals := map[interface{}]interface{}{}
	if err := decodeCookie(m.cookie, m.name, c.Value, &vals); err != nil {
		return ""
	}
	id, _ = vals["sid"].(string)
	return id
}

func decodeCookie(cs *sessions.CookieStore, name, value string, dst *map[interface{}]interface{}) error {
	for _, codec := range cs.Codecs {
		if err := codec.Decode(name, value, dst); err == nil {
			return nil
		}
	}
	return errors.New("undecodable session cookie")
}

// Current returns the live session of the request, or provider.ErrNotFound.
// It slides the idle timeout at most once a minute to spare the database.
func (m *Manager) Current(ctx context.Context, r *http.Request) (*provider.Session, error) {
	id := m.sessionID(r)
	if id == "" {
		return nil, provider.ErrNotFound
	}
	now := m.cfg.Now()
	s, err := m.store.GetSession(ctx, id, now)
	if err != nil {
		return nil, err
	}
	if now.Sub(s.LastSeenAt) > time.Minute {
		exp := m.expiry(s.CreatedAt, now, s.RememberMe)
		if err := m.store.TouchSession(ctx, id, now, exp); err == nil {
			s.LastSeenAt, s.ExpiresAt = now, exp
		}
	}
	return s, nil
}

// LoginInfo describes a successful authentication.
type LoginInfo struct {
	UserID     string
	Methods    []string // "pwd", "otp", ...
	RememberMe bool
	IP         string
	UserAgent  string
	DeviceID   string
	DeviceName string
}

// Login records a successful authentication and sets the cookie. A browser
// already signed in as the same user keeps its session (so the apps'
// tokens bound to it stay valid) with a fresh auth time; any other session
// is replaced by a new id, which defeats session fixation. The cookie value
// is re-encoded either way. It returns the session and, when a session of
// another user was replaced, that session's id.
func (m *Manager) Login(ctx context.Context, w http.ResponseWriter, r *http.Request, info LoginInfo) (*provider.Session, string, error) {
	now := m.cfg.Now().UTC()
	var replaced string
	if old, err := m.Current(ctx, r); err == nil {
		if old.UserID == info.UserID {
			if err := m.store.UpdateSessionAuth(ctx, old.ID, now, info.Methods); err != nil {
				return nil, "", fmt.Errorf("update session auth: %w", err)
			}
			old.AuthTime, old.AuthMethods = now, info.Methods
			return old, "", m.writeCookie(w, r, old)
		}
		replaced = old.ID
		if err := m.store.DeleteSession(ctx, old.ID); err != nil && !errors.Is(err, provider.ErrNotFound) {
			return nil, "", fmt.Errorf("delete replaced session: %w", err)
		}
	}
	exp := m.expiry(now, now, info.RememberMe)
	s := &provider.Session{
		ID:          newID(),
		UserID:      info.UserID,
		CreatedAt:   now,
		LastSeenAt:  now,
		ExpiresAt:   exp,
		AuthTime:    now,
		IP:          info.IP,
		UserAgent:   truncate(info.UserAgent, 512),
		DeviceID:    truncate(info.DeviceID, 128),
		DeviceName:  truncate(info.DeviceName, 128),
		AuthMethods: info.Methods,
		RememberMe:  info.RememberMe,
	}
	if err := m.store.CreateSession(ctx, s); err != nil {
		return nil, "", fmt.Errorf("create session: %w", err)
	}
	return s, replaced, m.writeCookie(w, r, s)
}

// Create records a session without a cookie: the first-party JSON API
// signs apps in with tokens, but the session is still listed, revocable and
// bound to the tokens like a browser's.
func (m *Manager) Create(ctx context.Context, info LoginInfo) (*provider.Session, error) {
	now := m.cfg.Now().UTC()
	exp := m.expiry(now, now, info.RememberMe)
	s := &provider.Session{
		ID: newID(), UserID: info.UserID, CreatedAt: now, LastSeenAt: now, ExpiresAt: exp, AuthTime: now,
		IP: info.IP, UserAgent: truncate(info.UserAgent, 512), DeviceID: truncate(info.DeviceID, 128),
		DeviceName: truncate(info.DeviceName, 128), AuthMethods: info.Methods, RememberMe: info.RememberMe,
	}
	if err := m.store.CreateSession(ctx, s); err != nil {
		return nil, fmt.Errorf("create session: %w", err)
	}
	return s, nil
}

func (m *Manager) writeCookie(w http.ResponseWriter, r *http.Request, s *provider.Session) error {
	gs := sessions.NewSession(m.cookie, m.name)
	gs.Values["sid"] = s.ID
	maxAge := 0 // a browser-session cookie unless the user asked to be remembered
	if s.RememberMe {
		maxAge = int(m.cfg.RememberTimeout.Seconds())
	}
	gs.Options = m.options(r, maxAge)
	gs.IsNew = true
	return m.cookie.Save(r, w, gs)
}

// Logout deletes the request's session row and clears the cookie. It
// returns the ended session (nil when there was none).
func (m *Manager) Logout(ctx context.Context, w http.ResponseWriter, r *http.Request) (*provider.Session, error) {
	m.ClearCookie(w, r)
	id := m.sessionID(r)
	if id == "" {
		return nil, nil
	}
	s, err := m.store.GetSession(ctx, id, m.cfg.Now())
	if err != nil {
		if errors.Is(err, provider.ErrNotFound) {
			return nil, nil
		}
		return nil, err
	}
	if err := m.store.DeleteSession(ctx, id); err != nil && !errors.Is(err, provider.ErrNotFound) {
		return nil, fmt.Errorf("delete session: %w", err)
	}
	return s, nil
}

// ClearCookie expires the session cookie.
func (m *Manager) ClearCookie(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{
		Name: m.name, Value: "", Path: "/", Domain: m.domainFor(r), MaxAge: -1,
		Secure: m.cfg.Secure, HttpOnly: true, SameSite: http.SameSiteLaxMode,
	})
}

func newID() string {
	var b [32]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func truncate(s string, n int) string {
	// PostgreSQL refuses NUL and invalid UTF-8 in text columns; header
	// values are attacker-chosen.
	s = strings.ReplaceAll(strings.ToValidUTF8(s, ""), "\x00", "")
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "")
}
