// Package admin is what administrators do with accounts, and what a user
// does with their own data: find users, read what every Mana app holds
// about one of them, change role and status, sign them out everywhere,
// manage OAuth clients, and erase a person everywhere with a receipt that
// proves it. The HTTP API (/api/v1/admin), the admin pages and the
// self-service account pages all call this package; none of them decides
// an admin rule itself.
package admin

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/manacore/mana-core-auth/provider"
	"github.com/manacore/mana-core-auth/provider/audit"
	"github.com/manacore/mana-core-auth/provider/websession"
)

// Config is the admin configuration, a value read once at start.
type Config struct {
	// AdminIDs are user ids that are admins whatever their role
	// (ADMIN_USER_IDS).
	AdminIDs []string
	// Backends are the Mana app backends holding user data
	// (ADMIN_BACKENDS_FILE or the old *_BACKEND_URL variables).
	Backends []Backend
	// SecretKey keys the hash that names an erased person in a receipt.
	SecretKey  []byte
	HTTPClient *http.Client
	// FetchTimeout bounds each backend's GET (5 s), DeleteTimeout each
	// DELETE (10 s); Concurrency is how many backends are called at once (8).
	FetchTimeout  time.Duration
	DeleteTimeout time.Duration
	Concurrency   int
	Now           func() time.Time
	Logger        *slog.Logger

	// issue 11, part B (erasure): the retry of failed backend deletions.
	// RetryBase is the wait after the first failure (30 s), doubling up to
	// RetryMax (1 h); the worker polls every PollEvery (5 s) and holds a
	// part for Lease (20 s) while it calls the backend.
	RetryBase time.Duration
	RetryMax  time.Duration
	PollEvery time.Duration
	Lease     time.Duration

	// ObserveCall counts each backend call by backend id and result
	// (issue 13, metrics); nil counts nothing.
	ObserveCall func(backendID, result string)
}

// Results of a backend call, as the metrics name them.
const (
	CallOK          = "ok"
	CallUnavailable = "unavailable"
	CallError       = "error"
)

// Backend is one app backend implementing the user-data contract:
// GET and DELETE {URL}/api/v1/admin/user-data/{userId} with X-Service-Key.
type Backend struct {
	ID         string `json:"id" yaml:"id"`
	Name       string `json:"name" yaml:"name"`
	Icon       string `json:"icon" yaml:"icon"`
	URL        string `json:"url" yaml:"url"`
	ServiceKey string `json:"serviceKey" yaml:"serviceKey"`
}

// Deps are the collaborators of the admin service.
type Deps struct {
	Store    provider.Store
	Sessions *websession.Manager
	Audit    *audit.Log
	// Tokens mints the access token each backend call carries; nil sends
	// the service key alone.
	Tokens TokenSource
	// Ledger is the credits module; nil when it is not mounted.
	Ledger Ledger
	// Clients (issue 11 part A) is told about client changes; nil when
	// nothing caches clients.
	Clients ClientCache

	// issue 11, part B (erasure): Accounts checks the password and second
	// factor of a user deleting their own account.
	Accounts Reauthenticator
}

// Service is the admin domain.
type Service struct {
	cfg  Config
	deps Deps
}

// New returns the admin service.
func New(cfg Config, deps Deps) (*Service, error) {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{}
	}
	if cfg.ObserveCall == nil {
		cfg.ObserveCall = func(string, string) {}
	}
	if cfg.FetchTimeout <= 0 {
		cfg.FetchTimeout = 5 * time.Second
	}
	if cfg.DeleteTimeout <= 0 {
		cfg.DeleteTimeout = 10 * time.Second
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 8
	}
	// issue 11, part B (erasure).
	cfg.RetryBase = cmp.Or(max(cfg.RetryBase, 0), 30*time.Second)
	cfg.RetryMax = cmp.Or(max(cfg.RetryMax, 0), time.Hour)
	cfg.PollEvery = cmp.Or(max(cfg.PollEvery, 0), 5*time.Second)
	cfg.Lease = cmp.Or(max(cfg.Lease, 0), 20*time.Second)
	return &Service{cfg: cfg, deps: deps}, nil
}

// IsAdmin says whether u holds admin rights: role admin, or an id listed
// in ADMIN_USER_IDS. Authorize also refuses disabled and erased accounts.
func (s *Service) IsAdmin(u *provider.User) bool {
	if u == nil {
		return false
	}
	return u.Role == provider.RoleAdmin || slices.Contains(s.cfg.AdminIDs, u.ID)
}

// ErrForbidden: the caller is not an admin.
var ErrForbidden = errors.New("admin access required")

// Actor is who acts: an admin on someone's account, or a user on their
// own (Self). Every audit event of this package carries it.
type Actor struct {
	UserID    string
	Self      bool
	IP        string
	UserAgent string
}

// Authorize loads the signed-in user and returns them as an acting admin;
// ErrForbidden when they are not one (a disabled or erased account never
// is), provider.ErrNotFound when the account is gone.
func (s *Service) Authorize(ctx context.Context, userID, ip, userAgent string) (Actor, *provider.User, error) {
	u, err := s.deps.Store.GetUser(ctx, userID)
	if err != nil {
		return Actor{}, nil, fmt.Errorf("load admin %q: %w", userID, err)
	}
	if u.Disabled || u.DeletedAt != nil || !s.IsAdmin(u) {
		return Actor{}, nil, ErrForbidden
	}
	return Actor{UserID: u.ID, IP: ip, UserAgent: userAgent}, u, nil
}

// ErrErased: the account was erased; only its tombstone is left.
var ErrErased = errors.New("account erased")

// ValidationError names the fields of a request that were refused, each
// with a machine-readable code ("required", "invalid", "mismatch", ...).
type ValidationError struct {
	Fields map[string]string
}

func (e *ValidationError) Error() string {
	names := make([]string, 0, len(e.Fields))
	for f, code := range e.Fields {
		names = append(names, f+": "+code)
	}
	slices.Sort(names)
	return "invalid request: " + strings.Join(names, ", ")
}
