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

// SearchUsers answers the admin user list. The term is matched against
// the stored lower-cased search column (migration 0010), which its trigram
// index serves; the count and the page are two statements because a
// window count would sort every match for a page of twenty, and the last
// activity is looked up for the page's rows only.
func (s *Store) SearchUsers(ctx context.Context, q provider.UserSearch) ([]*provider.UserListing, int, error) {
	var where []string
	var args []any
	if q.Query != "" {
		args = append(args, "%"+database.EscapeLike(q.Query)+"%")
		where = append(where, `u.search LIKE lower($1)`)
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
	if q.Offset >= total {
		return nil, total, nil
	}
	// A page nearer the end is read from the end: the index walk then stops
	// after the page instead of skipping every match before it.
	order, limit, offset := "DESC", q.Limit, q.Offset
	reverse := q.Offset > total-q.Offset-q.Limit
	if reverse {
		order, limit, offset = "ASC", min(q.Limit, total-q.Offset), max(0, total-q.Offset-q.Limit)
	}
	n := len(args)
	rows, err := s.db(ctx).Query(ctx, fmt.Sprintf(`SELECT p.*, (SELECT max(x.last_seen_at) FROM auth.sessions x WHERE x.user_id = p.id)
		FROM (SELECT u.id, u.email, u.email_verified, u.name, u.role, u.password_hash, u.disabled, u.created_at, u.updated_at, u.deleted_at, u.picture
			FROM auth.users u%s ORDER BY u.created_at %s, u.id %s LIMIT $%d OFFSET $%d) p
		ORDER BY p.created_at DESC, p.id DESC`, cond, order, order, n+1, n+2),
		append(args, limit, offset)...)
	if err != nil {
		return nil, 0, fmt.Errorf("search users: %w", mapErr(err))
	}
	out, err := collect(rows, func(row pgx.Row) (*provider.UserListing, error) {
		var l provider.UserListing
		u := &l.User
		if err := row.Scan(&u.ID, &u.Email, &u.EmailVerified, &u.Name, &u.Role, &u.PasswordHash, &u.Disabled,
			&u.CreatedAt, &u.UpdatedAt, &u.DeletedAt, &u.Picture, &l.LastActiveAt); err != nil {
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
