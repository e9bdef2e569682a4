package websession

import (
	"context"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/gorilla/sessions"

	"github.com/manacore/mana-core-auth/provider"
)

// Store is what sessions persist through.
type Store interface {
	provider.SessionStore
	provider.Transactor
	// DeleteUserSessions and RevokeSession end sessions and their tokens.
	DeleteUserSessions(ctx context.Context, userID, exceptID string) ([]string, error)
	RevokeSession(ctx context.Context, sessionID string) (int, error)
}

// Notifier hears of every ended session so the apps holding its tokens
// sign the user out too (back-channel logout). SessionEnded is called
// inside the transaction that ends the session, so its queue entries
// commit with it; Wake after the commit, when they can be delivered.
type Notifier interface {
	SessionEnded(ctx context.Context, sessionID, subject string) error
	Wake()
}

// Auditor records security events.
type Auditor interface {
	Record(ctx context.Context, e *provider.SecurityEvent)
}

// Config configures the session cookie, lifetimes and collaborators.
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
	// Notifier and Audit are told about ended (and started) sessions;
	// nil leaves them out.
	Notifier Notifier
	Audit    Auditor
	Logger   *slog.Logger
}

// CookieName is the base name of the session cookie.
const CookieName = "mana.session"

// Why a session ended, recorded in the audit event.
const (
	EndLogout        = "logout"         // the user signed out of this session
	EndRevoked       = "revoked"        // the user signed out this device from another one
	EndOthersRevoked = "others_revoked" // "sign out everywhere else"
	EndAllRevoked    = "all_revoked"    // every session, the caller's included
	EndPasswordReset = "password_reset" // a password reset signs everyone out
	EndReplaced      = "replaced"       // another account signed in in the same browser
	EndExpired       = "expired"        // found expired where its tokens were used
	EndAdmin         = "admin"          // an administrator signed the user out or disabled them (issue 11)
)

// Ending says why and by whom sessions are ended.
type Ending struct {
	Reason        string // one of the End* constants
	IP, UserAgent string // of the request that ended it
}

// Manager owns login sessions. See the package doc.
type Manager struct {
	cfg     Config
	store   Store
	cookie  *sessions.CookieStore
	name    string
	domains []string
	log     *slog.Logger
}

// New returns a session manager.
func New(cfg Config, store Store) (*Manager, error) {
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
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
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
	return &Manager{cfg: cfg, store: store, cookie: cs, name: name, domains: domains, log: log}, nil
}

// expiry is the one expiry rule: a session seen at now lives for the idle
// timeout (longer with remember-me) from now, but never past MaxLifetime
// after creation. Every path that starts or continues a session uses it.
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

// --- starting ---

// LoginInfo describes a successful authentication.
type LoginInfo struct {
	UserID     string
	Methods    []string // "pwd", "otp", ...
	RememberMe bool
	IP         string
	UserAgent  string
	DeviceID   string
	DeviceName string
	// Via is where the user signed in ("page", "api"), for the audit log.
	Via string
}

// Start records a new session without a cookie: the first-party JSON API
// signs apps in with tokens, but the session is still listed, revocable
// and bound to the tokens like a browser's. It writes the login event.
func (m *Manager) Start(ctx context.Context, info LoginInfo) (*provider.Session, error) {
	now := m.cfg.Now().UTC()
	s := &provider.Session{
		ID: newID(), UserID: info.UserID, CreatedAt: now, LastSeenAt: now, ExpiresAt: m.expiry(now, now, info.RememberMe),
		AuthTime: now, IP: info.IP, UserAgent: provider.Sanitize(info.UserAgent, 512),
		DeviceID: provider.Sanitize(info.DeviceID, 128), DeviceName: provider.Sanitize(info.DeviceName, 128),
		AuthMethods: info.Methods, RememberMe: info.RememberMe,
	}
	if err := m.store.CreateSession(ctx, s); err != nil {
		return nil, fmt.Errorf("create session: %w", err)
	}
	m.loggedIn(ctx, s, info)
	return s, nil
}

// Login records a successful authentication in the browser and sets the
// cookie. A browser already signed in as the same user keeps its session
// (so the apps' tokens bound to it stay valid) with a fresh auth time; a
// session of another user is ended and replaced by a new id, which also
// defeats session fixation. The cookie value is re-encoded either way. It
// returns the session and, when one was replaced, the replaced id.
func (m *Manager) Login(ctx context.Context, w http.ResponseWriter, r *http.Request, info LoginInfo) (*provider.Session, string, error) {
	now := m.cfg.Now().UTC()
	var replaced string
	if old, err := m.Current(ctx, r); err == nil {
		if old.UserID == info.UserID {
			if err := m.store.UpdateSessionAuth(ctx, old.ID, now, info.Methods); err != nil {
				return nil, "", fmt.Errorf("update session auth: %w", err)
			}
			old.AuthTime, old.AuthMethods = now, info.Methods
			m.loggedIn(ctx, old, info)
			return old, "", m.writeCookie(w, r, old)
		}
		if _, err := m.End(ctx, old.UserID, old.ID, Ending{Reason: EndReplaced, IP: info.IP, UserAgent: info.UserAgent}); err != nil {
			return nil, "", fmt.Errorf("end replaced session: %w", err)
		}
		replaced = old.ID
	} else if !errors.Is(err, provider.ErrNotFound) {
		return nil, "", err
	}
	s, err := m.Start(ctx, info)
	if err != nil {
		return nil, "", err
	}
	return s, replaced, m.writeCookie(w, r, s)
}

func (m *Manager) loggedIn(ctx context.Context, s *provider.Session, info LoginInfo) {
	if m.cfg.Audit == nil {
		return
	}
	m.cfg.Audit.Record(ctx, &provider.SecurityEvent{UserID: s.UserID, Type: provider.EventLoginSuccess, IP: info.IP, UserAgent: info.UserAgent,
		Detail: map[string]string{"via": info.Via, "methods": strings.Join(info.Methods, ",")}})
}

// --- continuing ---

// Continue returns the live session id and slides its expiry by the one
// rule. The row is written at most once a minute to spare the database.
// ErrNotFound when the session ended or expired.
func (m *Manager) Continue(ctx context.Context, id string) (*provider.Session, error) {
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
		if err := m.store.TouchSession(ctx, id, now, exp); err != nil {
			// The session is alive; failing to slide it only shortens it.
			m.log.WarnContext(ctx, "slide session expiry", "error", err)
		} else {
			s.LastSeenAt, s.ExpiresAt = now, exp
		}
	}
	return s, nil
}

// Current returns the live session of the request's cookie, continued, or
// provider.ErrNotFound.
func (m *Manager) Current(ctx context.Context, r *http.Request) (*provider.Session, error) {
	return m.Continue(ctx, m.sessionID(r))
}

// --- ending ---

// End ends the user's session id, vouched for by the caller (a verified
// token names both): it deletes the row (expired or not), revokes every
// token issued from it and queues the back-channel logouts in one
// transaction, then audits. It reports whether there was a session to end;
// one that another request ended first is not announced twice, but its
// tokens are revoked all the same, so no token outlives its session.
func (m *Manager) End(ctx context.Context, userID, id string, e Ending) (bool, error) {
	var ended []string
	err := m.inTx(ctx, func(tx context.Context) error {
		ended = nil
		switch err := m.store.DeleteSession(tx, id); {
		case err == nil:
			ended = []string{id}
		case !errors.Is(err, provider.ErrNotFound):
			return fmt.Errorf("delete: %w", err)
		}
		if _, err := m.store.RevokeSession(tx, id); err != nil {
			return fmt.Errorf("revoke tokens: %w", err)
		}
		return m.notify(tx, userID, ended)
	})
	if err != nil {
		return false, err
	}
	m.ended(ctx, userID, ended, e)
	return len(ended) > 0, nil
}

// EndExpired ends a session found expired where its tokens were used (a
// first-party refresh): the tokens go, and the apps hear of it.
func (m *Manager) EndExpired(ctx context.Context, userID, id string) error {
	_, err := m.End(ctx, userID, id, Ending{Reason: EndExpired})
	return err
}

// EndOwn ends session id if it is a live session of the user (a device
// sign-out, where the id comes from the request); ErrNotFound otherwise.
func (m *Manager) EndOwn(ctx context.Context, userID, id string, e Ending) error {
	if !provider.CleanText(id) {
		return provider.ErrNotFound // no session id contains it, and PostgreSQL would refuse to look
	}
	s, err := m.store.GetSession(ctx, id, m.cfg.Now())
	if err != nil {
		return err
	}
	if s.UserID != userID {
		return provider.ErrNotFound
	}
	_, err = m.End(ctx, s.UserID, s.ID, e)
	return err
}

// EndAll ends every session of the user except keepID ("" keeps none),
// expired ones included, and returns the ended ids.
func (m *Manager) EndAll(ctx context.Context, userID, keepID string, e Ending) ([]string, error) {
	var ended []string
	err := m.inTx(ctx, func(tx context.Context) error {
		var err error
		if ended, err = m.store.DeleteUserSessions(tx, userID, keepID); err != nil {
			return fmt.Errorf("delete: %w", err)
		}
		for _, id := range ended {
			if _, err := m.store.RevokeSession(tx, id); err != nil {
				return fmt.Errorf("revoke tokens: %w", err)
			}
		}
		return m.notify(tx, userID, ended)
	})
	if err != nil {
		return nil, err
	}
	m.ended(ctx, userID, ended, e)
	return ended, nil
}

// Logout ends the request's session and then clears the cookie; a session
// that could not be ended keeps its cookie, so the user can try again. It
// returns the ended session; nil when the browser had none (nothing was
// ended).
func (m *Manager) Logout(ctx context.Context, w http.ResponseWriter, r *http.Request, e Ending) (*provider.Session, error) {
	id := m.sessionID(r)
	if id == "" {
		m.ClearCookie(w, r)
		return nil, nil
	}
	s, err := m.store.GetSession(ctx, id, m.cfg.Now())
	switch {
	case errors.Is(err, provider.ErrNotFound):
		m.ClearCookie(w, r)
		return nil, nil
	case err != nil:
		return nil, err
	}
	ended, err := m.End(ctx, s.UserID, s.ID, e)
	if err != nil {
		return nil, err
	}
	m.ClearCookie(w, r)
	if !ended {
		return nil, nil
	}
	return s, nil
}

// inTx runs fn in one store transaction: a session is either gone with all
// of its tokens and its apps told, or not ended at all. A transaction the
// database aborted for a conflict with another one (a deadlock with a
// revocation of the same tokens, say) is run again: fn starts over from
// nothing, since nothing of the aborted run stays.
func (m *Manager) inTx(ctx context.Context, fn func(tx context.Context) error) error {
	var err error
	for range 3 {
		if err = m.tryTx(ctx, fn); !errors.Is(err, provider.ErrConflict) {
			return err
		}
	}
	return err
}

func (m *Manager) tryTx(ctx context.Context, fn func(tx context.Context) error) error {
	tx, err := m.store.BeginTx(ctx)
	if err != nil {
		return fmt.Errorf("end session: %w", err)
	}
	defer func() { _ = m.store.Rollback(tx) }()
	if err := fn(tx); err != nil {
		return fmt.Errorf("end session: %w", err)
	}
	if err := m.store.Commit(tx); err != nil {
		return fmt.Errorf("end session: %w", err)
	}
	return nil
}

// notify queues the back-channel logouts of the ended sessions in the
// transaction tx.
func (m *Manager) notify(tx context.Context, userID string, ended []string) error {
	if m.cfg.Notifier == nil {
		return nil
	}
	for _, id := range ended {
		if err := m.cfg.Notifier.SessionEnded(tx, id, userID); err != nil {
			return err
		}
	}
	return nil
}

// ended follows a committed ending: the notifier delivers at once (the
// queue entries are visible now) and the owner's log says why.
func (m *Manager) ended(ctx context.Context, userID string, ids []string, e Ending) {
	if len(ids) == 0 {
		return
	}
	if m.cfg.Notifier != nil {
		m.cfg.Notifier.Wake()
	}
	m.audit(ctx, userID, ids, e)
}

func (m *Manager) audit(ctx context.Context, userID string, ids []string, e Ending) {
	if m.cfg.Audit == nil {
		return
	}
	typ := provider.EventSessionRevoked
	if e.Reason == EndLogout || e.Reason == EndReplaced {
		typ = provider.EventLogout
	}
	for _, id := range ids {
		m.cfg.Audit.Record(ctx, &provider.SecurityEvent{UserID: userID, Type: typ, IP: e.IP, UserAgent: e.UserAgent,
			Detail: map[string]string{"reason": e.Reason, "session": shortID(id)}})
	}
}

// shortID identifies a session in the audit log without handing out the
// whole id, which a cookie carries (sealed) and the API accepts for revocation.
func shortID(id string) string { return id[:min(len(id), 8)] }

// --- the cookie ---

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

func (m *Manager) sessionID(r *http.Request) string {
	c, err := r.Cookie(m.name)
	if err != nil || c.Value == "" {
		return ""
	}
	// A cookie that does not decode (wrong key, tampered, expired) is
	// treated as no session.
	vals := map[interface{}]interface{}{}
	for _, codec := range m.cookie.Codecs {
		if codec.Decode(m.name, c.Value, &vals) == nil {
			id, _ := vals["sid"].(string)
			return id
		}
	}
	return ""
}

func (m *Manager) writeCookie(w http.ResponseWriter, r *http.Request, s *provider.Session) error {
	gs := sessions.NewSession(m.cookie, m.name)
	gs.Values["sid"] = s.ID
	maxAge := 0 // a browser-session cookie unless the user asked to be remembered
	if s.RememberMe {
		maxAge = int(m.cfg.RememberTimeout.Seconds())
	}
	gs.Options = &sessions.Options{Path: "/", Domain: m.domainFor(r), MaxAge: maxAge, Secure: m.cfg.Secure,
		HttpOnly: true, SameSite: http.SameSiteLaxMode}
	gs.IsNew = true
	return m.cookie.Save(r, w, gs)
}

// HasCookie reports whether the request carries a session cookie at all
// (valid or not).
func (m *Manager) HasCookie(r *http.Request) bool {
	_, err := r.Cookie(m.name)
	return err == nil
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
