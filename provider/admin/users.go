package admin

import (
	"context"
	"fmt"
	"strings"
	"time"
	"unicode"

	"github.com/manacore/mana-core-auth/provider"
	"github.com/manacore/mana-core-auth/provider/account"
	"github.com/manacore/mana-core-auth/provider/websession"
)

// Security events of user administration (the actor is the event's user,
// the account concerned its "target").
const (
	EventUserUpdated         = "admin_user_updated"
	EventUserSessionsRevoked = "admin_user_sessions_revoked"
)

// UserQuery selects a page of the user list.
type UserQuery struct {
	Page, Limit    int    // Page from 1; Limit clamped to 1..100 (default 20)
	Search         string // case-insensitive substring of email or name
	IncludeDeleted bool
}

// UserRow is one user as the admin list shows them.
type UserRow struct {
	ID           string     `json:"id"`
	Email        string     `json:"email"`
	Name         string     `json:"name"`
	Role         string     `json:"role"`
	Disabled     bool       `json:"disabled"`
	CreatedAt    time.Time  `json:"createdAt"`
	LastActiveAt *time.Time `json:"lastActiveAt"`
	DeletedAt    *time.Time `json:"deletedAt,omitempty"`
}

// UserPage is one page of the user list and how many users match in all.
type UserPage struct {
	Users []UserRow `json:"users"`
	Total int       `json:"total"`
	Page  int       `json:"page"`
	Limit int       `json:"limit"`
}

// Paging bounds. maxPage keeps the offset far from overflowing and from
// asking the database to skip billions of rows.
const (
	defaultLimit = 20
	maxLimit     = 100
	maxPage      = 1_000_000
	maxSearchLen = 320 // an email address at most
)

// ListUsers returns a page of users, newest first, matching q.Search in
// the email or name whatever the case. Listing is not audited (a search as
// you type would flood the admin's log); opening a user's data is.
func (s *Service) ListUsers(ctx context.Context, actor Actor, q UserQuery) (*UserPage, error) {
	switch {
	case q.Limit == 0:
		q.Limit = defaultLimit
	case q.Limit < 1:
		q.Limit = 1
	case q.Limit > maxLimit:
		q.Limit = maxLimit
	}
	q.Page = max(q.Page, 1)
	q.Search = strings.TrimSpace(q.Search)
	fields := map[string]string{}
	if q.Page > maxPage {
		fields["page"] = "invalid"
	}
	// Control characters are refused: no address or name holds one, and
	// the PostgreSQL search column separates email and name with a newline.
	if len(q.Search) > maxSearchLen || !provider.CleanText(q.Search) || strings.ContainsFunc(q.Search, unicode.IsControl) {
		fields["search"] = "invalid"
	}
	if len(fields) > 0 {
		return nil, &ValidationError{Fields: fields}
	}
	ls, total, err := s.deps.Store.SearchUsers(ctx, provider.UserSearch{Query: q.Search, IncludeDeleted: q.IncludeDeleted,
		Offset: (q.Page - 1) * q.Limit, Limit: q.Limit})
	if err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	page := &UserPage{Users: make([]UserRow, 0, len(ls)), Total: total, Page: q.Page, Limit: q.Limit}
	for _, l := range ls {
		page.Users = append(page.Users, userRow(&l.User, l.LastActiveAt))
	}
	return page, nil
}

func userRow(u *provider.User, lastActive *time.Time) UserRow {
	r := UserRow{ID: u.ID, Email: u.Email, Name: u.Name, Role: u.Role, Disabled: u.Disabled, CreatedAt: u.CreatedAt,
		LastActiveAt: lastActive, DeletedAt: u.DeletedAt}
	if u.DeletedAt != nil {
		r.Email = "" // the tombstone's placeholder is no address
	}
	return r
}

// UserPatch changes an account; nil leaves a field unchanged.
type UserPatch struct {
	Role          *string `json:"role"`
	Name          *string `json:"name"`
	EmailVerified *bool   `json:"emailVerified"`
	Disabled      *bool   `json:"disabled"`
}

// UpdateUser changes role, name, verification and status. An admin cannot
// disable or demote themself (field "self"): the last admin could lock
// everyone out. Disabling ends every session of the user, with
// back-channel logout, and revokes every token at once.
func (s *Service) UpdateUser(ctx context.Context, actor Actor, userID string, p UserPatch) (*UserRow, error) {
	u, err := s.user(ctx, userID)
	if err != nil {
		return nil, err
	}
	if u.DeletedAt != nil {
		return nil, ErrErased
	}
	fields := map[string]string{}
	var changed []string
	if p.Role != nil {
		switch *p.Role {
		case provider.RoleAdmin, provider.RoleUser:
			if *p.Role != provider.RoleAdmin && u.Role == provider.RoleAdmin && u.ID == actor.UserID {
				fields["self"] = "demote"
			}
			if *p.Role != u.Role {
				u.Role, changed = *p.Role, append(changed, "role")
			}
		default:
			fields["role"] = "invalid"
		}
	}
	if p.Name != nil {
		name := strings.TrimSpace(*p.Name)
		if !account.ValidName(name) {
			fields["name"] = "invalid"
		} else if name != u.Name {
			u.Name, changed = name, append(changed, "name")
		}
	}
	if p.EmailVerified != nil && *p.EmailVerified != u.EmailVerified {
		u.EmailVerified, changed = *p.EmailVerified, append(changed, "emailVerified")
	}
	disabling := false
	if p.Disabled != nil {
		if *p.Disabled && u.ID == actor.UserID {
			fields["self"] = "disable"
		}
		if *p.Disabled != u.Disabled {
			disabling = *p.Disabled
			u.Disabled, changed = *p.Disabled, append(changed, "disabled")
		}
	}
	if len(fields) > 0 {
		return nil, &ValidationError{Fields: fields}
	}
	if len(changed) > 0 {
		u.UpdatedAt = s.cfg.Now().UTC()
		// The flag is stored first: from here no sign-in path lets the user
		// in, so no session can start behind the sign-out below.
		if err := s.deps.Store.UpdateUser(ctx, u); err != nil {
			return nil, fmt.Errorf("update user %q: %w", u.ID, err)
		}
		s.recordDetail(ctx, actor, EventUserUpdated, map[string]string{"target": u.ID, "fields": strings.Join(changed, ",")})
	}
	if disabling {
		if _, err := s.signOutEverywhere(ctx, actor, u.ID); err != nil {
			return nil, err
		}
	}
	last, err := s.lastActive(ctx, u.ID)
	if err != nil {
		return nil, err
	}
	row := userRow(u, last)
	return &row, nil
}

// RevokeSessions signs the user out everywhere (back-channel logout) and
// revokes every token of theirs; it returns how many sessions ended.
func (s *Service) RevokeSessions(ctx context.Context, actor Actor, userID string) (int, error) {
	u, err := s.user(ctx, userID)
	if err != nil {
		return 0, err
	}
	if u.DeletedAt != nil {
		return 0, ErrErased
	}
	n, err := s.signOutEverywhere(ctx, actor, u.ID)
	if err != nil {
		return 0, err
	}
	s.recordDetail(ctx, actor, EventUserSessionsRevoked, map[string]string{"target": u.ID, "sessions": fmt.Sprint(n)})
	return n, nil
}

// signOutEverywhere is the session lifecycle's "sign out everywhere"
// (every session, with back-channel logout, and the tokens issued from
// them), plus the user's tokens bound to no session.
func (s *Service) signOutEverywhere(ctx context.Context, actor Actor, userID string) (int, error) {
	ended, err := s.deps.Sessions.EndAll(ctx, userID, "", websession.Ending{Reason: websession.EndAdmin, IP: actor.IP, UserAgent: actor.UserAgent})
	if err != nil {
		return 0, fmt.Errorf("sign %q out everywhere: %w", userID, err)
	}
	if _, err := s.deps.Store.RevokeSubject(ctx, userID); err != nil {
		return 0, fmt.Errorf("revoke tokens of %q: %w", userID, err)
	}
	return len(ended), nil
}

func (s *Service) lastActive(ctx context.Context, userID string) (*time.Time, error) {
	sessions, err := s.deps.Store.ListSessions(ctx, userID, s.cfg.Now())
	if err != nil {
		return nil, fmt.Errorf("sessions of %q: %w", userID, err)
	}
	var last *time.Time
	for _, x := range sessions {
		if last == nil || x.LastSeenAt.After(*last) {
			t := x.LastSeenAt
			last = &t
		}
	}
	return last, nil
}

// recordDetail writes an admin audit event with its own detail.
func (s *Service) recordDetail(ctx context.Context, actor Actor, typ string, detail map[string]string) {
	if s.deps.Audit == nil {
		return
	}
	s.deps.Audit.Record(ctx, &provider.SecurityEvent{UserID: actor.UserID, Type: typ, IP: actor.IP, UserAgent: actor.UserAgent,
		Detail: detail})
}
