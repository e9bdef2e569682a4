package admin

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/manacore/mana-core-auth/provider"
)

// Export is everything this service holds about a user, ready to encode
// as JSON for a download, plus what each app backend reports it holds.
type Export struct {
	ExportedAt       time.Time       `json:"exportedAt"`
	Profile          ExportProfile   `json:"profile"`
	TwoFactorEnabled bool            `json:"twoFactorEnabled"`
	Sessions         []ExportSession `json:"sessions"`
	ConnectedApps    []ConnectedApp  `json:"connectedApps"`
	SecurityEvents   []ExportEvent   `json:"securityEvents"`
	Credits          LedgerExport    `json:"credits"`
	Projects         []ProjectData   `json:"projects"`
}

// ExportProfile is the account.
type ExportProfile struct {
	ID            string    `json:"id"`
	Email         string    `json:"email"`
	EmailVerified bool      `json:"emailVerified"`
	Name          string    `json:"name"`
	Picture       string    `json:"picture,omitempty"` // issue 12
	Role          string    `json:"role"`
	CreatedAt     time.Time `json:"createdAt"`
	UpdatedAt     time.Time `json:"updatedAt"`
}

// ExportSession is one live login session. Its id is left out: it is
// the credential the session cookie carries.
type ExportSession struct {
	CreatedAt   time.Time `json:"createdAt"`
	LastSeenAt  time.Time `json:"lastSeenAt"`
	ExpiresAt   time.Time `json:"expiresAt"`
	IP          string    `json:"ip"`
	UserAgent   string    `json:"userAgent"`
	DeviceName  string    `json:"deviceName,omitempty"`
	AuthMethods []string  `json:"authMethods"`
}

// ConnectedApp is a client holding tokens of one of the user's sessions.
type ConnectedApp struct {
	ClientID string `json:"clientId"`
	Name     string `json:"name"`
}

// ExportEvent is one security event of the user.
type ExportEvent struct {
	Type      string            `json:"type"`
	IP        string            `json:"ip,omitempty"`
	UserAgent string            `json:"userAgent,omitempty"`
	Detail    map[string]string `json:"detail,omitempty"`
	CreatedAt time.Time         `json:"createdAt"`
}

// EventDataExported: the user downloaded their data.
const EventDataExported = "data_exported"

// exportEvents bounds the security events of an export: the log is
// append-only and would otherwise grow the download without bound.
const exportEvents = 1000

// Export gathers what this service holds about the user and, in parallel,
// the entity counts every backend reports. ErrErased for an erased
// account.
func (s *Service) Export(ctx context.Context, userID string) (*Export, error) {
	u, err := s.user(ctx, userID)
	if err != nil {
		return nil, err
	}
	if u.DeletedAt != nil {
		return nil, ErrErased
	}
	projects := make(chan []ProjectData, 1)
	go func() { projects <- s.fetchAll(ctx, userID) }()
	ex, err := s.exportLocal(ctx, u)
	sum := <-projects
	if err != nil {
		return nil, err
	}
	ex.Projects = sum
	if s.deps.Audit != nil {
		s.deps.Audit.Record(ctx, &provider.SecurityEvent{UserID: u.ID, Type: EventDataExported})
	}
	return ex, nil
}

func (s *Service) exportLocal(ctx context.Context, u *provider.User) (*Export, error) {
	st := s.deps.Store
	now := s.cfg.Now().UTC()
	ex := &Export{ExportedAt: now, Profile: ExportProfile{ID: u.ID, Email: u.Email, EmailVerified: u.EmailVerified, Name: u.Name,
		Picture: u.Picture, Role: u.Role, CreatedAt: u.CreatedAt, UpdatedAt: u.UpdatedAt},
		Sessions: []ExportSession{}, ConnectedApps: []ConnectedApp{}, SecurityEvents: []ExportEvent{}}
	switch t, err := st.GetTOTP(ctx, u.ID); {
	case err == nil:
		ex.TwoFactorEnabled = t.Enabled
	case !errors.Is(err, provider.ErrNotFound):
		return nil, fmt.Errorf("export %q: 2FA: %w", u.ID, err)
	}
	sessions, err := st.ListSessions(ctx, u.ID, now)
	if err != nil {
		return nil, fmt.Errorf("export %q: sessions: %w", u.ID, err)
	}
	var clients []string
	for _, ss := range sessions {
		ex.Sessions = append(ex.Sessions, ExportSession{CreatedAt: ss.CreatedAt, LastSeenAt: ss.LastSeenAt, ExpiresAt: ss.ExpiresAt,
			IP: ss.IP, UserAgent: ss.UserAgent, DeviceName: ss.DeviceName, AuthMethods: ss.AuthMethods})
		ids, err := st.SessionClients(ctx, ss.ID)
		if err != nil {
			return nil, fmt.Errorf("export %q: apps: %w", u.ID, err)
		}
		clients = append(clients, ids...)
	}
	slices.Sort(clients)
	for _, id := range slices.Compact(clients) {
		app := ConnectedApp{ClientID: id, Name: id}
		switch c, err := st.GetClient(ctx, id); {
		case err == nil:
			app.Name = c.Name
		case !errors.Is(err, provider.ErrNotFound):
			return nil, fmt.Errorf("export %q: client %q: %w", u.ID, id, err)
		}
		ex.ConnectedApps = append(ex.ConnectedApps, app)
	}
	events, err := st.ListEvents(ctx, u.ID, exportEvents)
	if err != nil {
		return nil, fmt.Errorf("export %q: events: %w", u.ID, err)
	}
	for _, e := range events {
		ex.SecurityEvents = append(ex.SecurityEvents, ExportEvent{Type: e.Type, IP: e.IP, UserAgent: e.UserAgent, Detail: e.Detail,
			CreatedAt: e.CreatedAt})
	}
	if s.deps.Ledger != nil {
		if ex.Credits, err = s.deps.Ledger.Export(ctx, u.ID); err != nil {
			return nil, fmt.Errorf("export %q: credits: %w", u.ID, err)
		}
	}
	return ex, nil
}
