package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/manacore/mana-core-auth/internal/database"
	"github.com/manacore/mana-core-auth/provider"
)

var _ provider.AdminStore = (*Store)(nil)

// SearchUsers answers the admin user list. SQLite's lower() and LIKE fold
// ASCII only, so both sides go through unicode_lower (Go's
// strings.ToLower, registered by internal/database): "ÄRZTIN" finds
// "ärztin" as on PostgreSQL.
func (s *Store) SearchUsers(ctx context.Context, q provider.UserSearch) ([]*provider.UserListing, int, error) {
	var where []string
	var args []any
	if q.Query != "" {
		p := "%" + database.EscapeLike(strings.ToLower(q.Query)) + "%"
		args = append(args, p, p)
		where = append(where, `(unicode_lower(u.email) LIKE ? ESCAPE '\' OR unicode_lower(u.name) LIKE ? ESCAPE '\')`)
	}
	if !q.IncludeDeleted {
		where = append(where, `u.deleted_at IS NULL`)
	}
	cond := ""
	if len(where) > 0 {
		cond = " WHERE " + strings.Join(where, " AND ")
	}
	var total int
	if err := s.reader(ctx).QueryRowContext(ctx, `SELECT count(*) FROM users u`+cond, args...).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("count users: %w", mapErr(err))
	}
	rows, err := s.reader(ctx).QueryContext(ctx, `SELECT u.id, u.email, u.email_verified, u.name, u.role, u.password_hash,
		u.disabled, u.created_at, u.updated_at, u.deleted_at, u.picture,
		(SELECT max(x.last_seen_at) FROM sessions x WHERE x.user_id = u.id)
		FROM users u`+cond+` ORDER BY u.created_at DESC, u.id DESC LIMIT ? OFFSET ?`,
		append(args, q.Limit, q.Offset)...)
	if err != nil {
		return nil, 0, fmt.Errorf("search users: %w", mapErr(err))
	}
	out, err := collect(rows, func(row interface{ Scan(...any) error }) (*provider.UserListing, error) {
		var l provider.UserListing
		u := &l.User
		var deleted, seen sql.NullInt64
		if err := row.Scan(&u.ID, &u.Email, &u.EmailVerified, &u.Name, &u.Role, &u.PasswordHash, &u.Disabled,
			database.ScanMillis(&u.CreatedAt), database.ScanMillis(&u.UpdatedAt), &deleted, &u.Picture, &seen); err != nil {
			return nil, mapErr(err)
		}
		u.DeletedAt, l.LastActiveAt = database.FromMillisPtr(deleted), database.FromMillisPtr(seen)
		return &l, nil
	})
	if err != nil {
		return nil, 0, fmt.Errorf("search users: %w", err)
	}
	return out, total, nil
}

func (s *Store) UpdateClient(ctx context.Context, c *provider.Client) error {
	res, err := s.writer(ctx).ExecContext(ctx, `UPDATE clients
		SET name = ?, redirect_uris = ?, post_logout_redirect_uris = ?, disabled = ? WHERE id = ?`,
		c.Name, jsonList(c.RedirectURIs), jsonList(c.PostLogoutRedirectURIs), c.Disabled, c.ID)
	return affected(fmt.Sprintf("update client %q", c.ID), res, err)
}
