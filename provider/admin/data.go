package admin

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/manacore/mana-core-auth/provider"
)

// Entity is one kind of record an app holds about a user.
type Entity struct {
	Entity string `json:"entity"`
	Count  int64  `json:"count"`
	Label  string `json:"label"`
}

// ProjectData is what one app backend reported, or why it could not.
type ProjectData struct {
	ProjectID      string     `json:"projectId"`
	ProjectName    string     `json:"projectName"`
	Icon           string     `json:"icon"`
	Available      bool       `json:"available"`
	Error          string     `json:"error,omitempty"`
	Entities       []Entity   `json:"entities"`
	TotalCount     int64      `json:"totalCount"`
	LastActivityAt *time.Time `json:"lastActivityAt,omitempty"`
}

// Summary is everything known about one user across the Mana apps: the
// old service's UserDataSummary.
type Summary struct {
	User       SummaryUser    `json:"user"`
	Auth       AuthSummary    `json:"auth"`
	Credits    CreditsSummary `json:"credits"`
	Projects   []ProjectData  `json:"projects"`
	Totals     Totals         `json:"totals"`
	Configured bool           `json:"configured"`

	// issue 11, part B (erasure): backend deletions still being retried,
	// and the receipts of finished erasures of this user.
	Pending  []PendingDeletion `json:"pendingDeletions"`
	Receipts []Receipt         `json:"receipts"`
}

// SummaryUser is the account part of a Summary.
type SummaryUser struct {
	ID            string     `json:"id"`
	Email         string     `json:"email"`
	Name          string     `json:"name"`
	Role          string     `json:"role"`
	CreatedAt     time.Time  `json:"createdAt"`
	EmailVerified bool       `json:"emailVerified"`
	Disabled      bool       `json:"disabled"`
	DeletedAt     *time.Time `json:"deletedAt,omitempty"`
}

// AuthSummary is what this service holds for signing the user in.
type AuthSummary struct {
	SessionsCount int        `json:"sessionsCount"`
	AccountsCount int        `json:"accountsCount"`
	Has2FA        bool       `json:"has2FA"`
	LastLoginAt   *time.Time `json:"lastLoginAt"`
}

// CreditsSummary is the user's credits account.
type CreditsSummary struct {
	Balance           int64 `json:"balance"`
	TotalEarned       int64 `json:"totalEarned"`
	TotalSpent        int64 `json:"totalSpent"`
	TransactionsCount int64 `json:"transactionsCount"`
}

// Totals add up the apps that answered.
type Totals struct {
	TotalEntities    int64 `json:"totalEntities"`
	ProjectsWithData int   `json:"projectsWithData"`
}

// Ledger is the credits module as administration sees it.
type Ledger interface {
	Summary(ctx context.Context, userID string) (CreditsSummary, error)
	// Export is the user's ledger and purchases, ready to encode as JSON.
	Export(ctx context.Context, userID string) (LedgerExport, error)
	// Detach re-keys the user's ledger to pseudonym: the entries stay for
	// accounting and keep balancing, but no longer name the person. It
	// returns how many transactions it detached.
	Detach(ctx context.Context, userID, pseudonym string) (int64, error)
}

// LedgerExport is the credits part of a data export.
type LedgerExport struct {
	Transactions any `json:"transactions"`
	Purchases    any `json:"purchases"`
}

// Security events of administration. The event's UserID is the admin;
// Detail["target"] names the user concerned.
const (
	EventUserDataViewed = "admin_user_data_viewed"
)

// UserData gathers what every app and this service hold about the user.
// Each backend is asked in parallel and given FetchTimeout; one that is
// slow, down or refuses the key is reported unavailable with the reason,
// and never delays the answer beyond the timeout. The read is audited.
func (s *Service) UserData(ctx context.Context, actor Actor, userID string) (*Summary, error) {
	u, err := s.user(ctx, userID)
	if err != nil {
		return nil, err
	}
	s.record(ctx, actor, EventUserDataViewed, userID)
	sum := &Summary{User: SummaryUser{ID: u.ID, Email: u.Email, Name: u.Name, Role: u.Role, CreatedAt: u.CreatedAt,
		EmailVerified: u.EmailVerified, Disabled: u.Disabled, DeletedAt: u.DeletedAt}, Configured: s.Configured()}
	if u.DeletedAt != nil {
		sum.User.Email = "" // the tombstone's placeholder is no address
	}

	// The backends are the slow part: ask them while the local reads run.
	projects := make(chan []ProjectData, 1)
	go func() { projects <- s.fetchAll(ctx, userID) }()
	if sum.Auth, err = s.authSummary(ctx, u); err != nil {
		<-projects
		return nil, err
	}
	// issue 11, part B (erasure).
	if sum.Pending, sum.Receipts, err = s.erasureState(ctx, userID); err != nil {
		<-projects
		return nil, err
	}
	if s.deps.Ledger != nil {
		if sum.Credits, err = s.deps.Ledger.Summary(ctx, userID); err != nil {
			<-projects
			return nil, fmt.Errorf("credits of %q: %w", userID, err)
		}
	}
	sum.Projects = <-projects
	for _, p := range sum.Projects {
		if p.Available {
			sum.Totals.TotalEntities += p.TotalCount
			if p.TotalCount > 0 {
				sum.Totals.ProjectsWithData++
			}
		}
	}
	return sum, nil
}

// lastLoginWindow is how far back in the user's security log the last
// sign-in is looked for.
const lastLoginWindow = 200

func (s *Service) authSummary(ctx context.Context, u *provider.User) (AuthSummary, error) {
	var a AuthSummary
	sessions, err := s.deps.Store.ListSessions(ctx, u.ID, s.cfg.Now())
	if err != nil {
		return a, fmt.Errorf("sessions of %q: %w", u.ID, err)
	}
	a.SessionsCount = len(sessions)
	if u.PasswordHash != "" {
		a.AccountsCount = 1 // the password credential; no social logins yet
	}
	switch t, err := s.deps.Store.GetTOTP(ctx, u.ID); {
	case err == nil:
		a.Has2FA = t.Enabled
	case !errors.Is(err, provider.ErrNotFound):
		return a, fmt.Errorf("2FA of %q: %w", u.ID, err)
	}
	events, err := s.deps.Store.ListEvents(ctx, u.ID, lastLoginWindow)
	if err != nil {
		return a, fmt.Errorf("events of %q: %w", u.ID, err)
	}
	for _, e := range events {
		if e.Type == provider.EventLoginSuccess {
			at := e.CreatedAt
			a.LastLoginAt = &at
			break
		}
	}
	return a, nil
}

// fetchAll asks every backend in parallel, at most Concurrency at once,
// each bounded by FetchTimeout, and returns their answers in registry
// order.
func (s *Service) fetchAll(ctx context.Context, userID string) []ProjectData {
	out := make([]ProjectData, len(s.cfg.Backends))
	sem := make(chan struct{}, s.cfg.Concurrency)
	var wg sync.WaitGroup
	for i, b := range s.cfg.Backends {
		out[i] = ProjectData{ProjectID: b.ID, ProjectName: b.Name, Icon: b.Icon, Entities: []Entity{}}
		wg.Go(func() {
			// The timeout starts before waiting for a slot, so a queue of
			// slow backends cannot push the answer past it.
			cctx, cancel := context.WithTimeout(ctx, s.cfg.FetchTimeout)
			defer cancel()
			select {
			case sem <- struct{}{}:
				defer func() { <-sem }()
			case <-cctx.Done():
				out[i].Error = "no answer in time (timeout)"
				return
			}
			d, err := s.fetchFromBackend(cctx, b, userID)
			if err != nil {
				out[i].Error = err.Error()
				s.cfg.Logger.WarnContext(ctx, "backend user data", "backend", b.ID, "error", err)
				return
			}
			out[i].Available, out[i].TotalCount, out[i].LastActivityAt = true, d.TotalCount, d.LastActivityAt
			if d.Entities != nil {
				out[i].Entities = d.Entities
			}
		})
	}
	wg.Wait()
	return out
}

// record writes an admin audit event: the actor is the event's user, the
// target user is in its detail.
func (s *Service) record(ctx context.Context, actor Actor, typ, target string) {
	if s.deps.Audit == nil {
		return
	}
	s.deps.Audit.Record(ctx, &provider.SecurityEvent{UserID: actor.UserID, Type: typ, IP: actor.IP, UserAgent: actor.UserAgent,
		Detail: map[string]string{"target": target}})
}

// user loads the account an admin names; provider.ErrNotFound for an id
// no account can have (the database would refuse to compare it).
func (s *Service) user(ctx context.Context, id string) (*provider.User, error) {
	if id == "" || !provider.CleanText(id) {
		return nil, provider.ErrNotFound
	}
	u, err := s.deps.Store.GetUser(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("load user %q: %w", id, err)
	}
	return u, nil
}
