package postgres

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/manacore/mana-core-auth/internal/database"
	"github.com/manacore/mana-core-auth/provider"
)

var _ provider.AdminStore = (*Store)(nil)

// SearchUsers answers the admin user list. The substring test is written
// as lower(column) LIKE lower(pattern) so the trigram indexes of migration
// 0010 serve it; the count and the page are two statements because a
// window count would sort every match for a page of twenty.
func (s *Store) SearchUsers(ctx context.Context, q provider.UserSearch) ([]*provider.UserListing, int, error) {
	var where []string
	var args []any
	if q.Query != "" {
		args = append(args, "%"+database.EscapeLike(q.Query)+"%")
		where = append(where, `(lower(u.email) LIKE lower($1) OR lower(u.name) LIKE lower($1))`)
	}
	if !q.IncludeDeleted {
		where = append(where, `u.deleted_at IS NULL`)
	}
	cond := ""
	if len(where) > 0 {
		cond = " WHERE " + strings.Join(where, " AND ")
	}
	var total int
	if err := s.db(ctx).QueryRow(ctx, `SELECT count(*) FROM auth.users u`+cond, args...).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("count users: %w", mapErr(err))
	}
	n := len(args)
	rows, err := s.db(ctx).Query(ctx, fmt.Sprintf(`SELECT u.id, u.email, u.email_verified, u.name, u.role, u.password_hash,
		u.disabled, u.created_at, u.updated_at, u.deleted_at,
		(SELECT max(x.last_seen_at) FROM auth.sessions x WHERE x.user_id = u.id)
		FROM auth.users u%s ORDER BY u.created_at DESC, u.id DESC LIMIT $%d OFFSET $%d`, cond, n+1, n+2),
		append(args, q.Limit, q.Offset)...)
	if err != nil {
		return nil, 0, fmt.Errorf("search users: %w", mapErr(err))
	}
	out, err := collect(rows, func(row pgx.Row) (*provider.UserListing, error) {
		var l provider.UserListing
		u := &l.User
		if err := row.Scan(&u.ID, &u.Email, &u.EmailVerified, &u.Name, &u.Role, &u.PasswordHash, &u.Disabled,
			&u.CreatedAt, &u.UpdatedAt, &u.DeletedAt, &l.LastActiveAt); err != nil {
			return nil, mapErr(err)
		}
		u.CreatedAt, u.UpdatedAt, u.DeletedAt = u.CreatedAt.UTC(), u.UpdatedAt.UTC(), database.UTCPtr(u.DeletedAt)
		l.LastActiveAt = database.UTCPtr(l.LastActiveAt)
		return &l, nil
	})
	if err != nil {
		return nil, 0, fmt.Errorf("search users: %w", err)
	}
	return out, total, nil
}

func (s *Store) UpdateClient(ctx context.Context, c *provider.Client) error {
	tag, err := s.db(ctx).Exec(ctx, `UPDATE auth.clients
		SET name = $2, redirect_uris = $3, post_logout_redirect_uris = $4, disabled = $5 WHERE id = $1`,
		c.ID, c.Name, list(c.RedirectURIs), list(c.PostLogoutRedirectURIs), c.Disabled)
	return affected(fmt.Sprintf("update client %q", c.ID), tag, err)
}
