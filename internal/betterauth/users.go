package betterauth

import (
	"context"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/manacore/mana-core-auth/provider"
	"github.com/manacore/mana-core-auth/provider/account"
)

// batchSize rows go to the target per store call.
const batchSize = 1000

// oldUser is a row of auth.users with its password hash.
type oldUser struct {
	id, name, email, role string
	verified              bool
	image, password       *string
	created, updated      time.Time
	deleted               *time.Time
}

// importUsers copies auth.users with their ids, so the apps' data keeps
// its owner, and the Better Auth password hash of each (auth.accounts,
// provider "credential"), which login verifies and re-hashes to argon2id
// on the first success.
func (im *importer) importUsers(ctx context.Context) error {
	// One pass over both tables: the old auth.accounts has no index on
	// user_id, so a lookup per user would scan it per user.
	rows, err := im.old.Query(ctx, `
		SELECT u.id, u.name, u.email, u.email_verified, u.image, u.created_at, u.updated_at,
		       u.role::text, u.deleted_at, a.password
		FROM auth.users u
		LEFT JOIN (SELECT DISTINCT ON (user_id) user_id, password FROM auth.accounts
		           WHERE provider_id = 'credential' ORDER BY user_id, updated_at DESC) a ON a.user_id = u.id
		ORDER BY u.created_at, u.id`)
	if err != nil {
		return fmt.Errorf("read auth.users: %w", err)
	}
	defer rows.Close()
	var batch []*provider.User
	for rows.Next() {
		var o oldUser
		if err := rows.Scan(&o.id, &o.name, &o.email, &o.verified, &o.image, &o.created, &o.updated, &o.role, &o.deleted, &o.password); err != nil {
			return fmt.Errorf("read auth.users: %w", err)
		}
		if u := im.user(o); u != nil {
			batch = append(batch, u)
		}
		if len(batch) == batchSize {
			if err := im.writeUsers(ctx, batch); err != nil {
				return err
			}
			batch = batch[:0]
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read auth.users: %w", err)
	}
	return im.writeUsers(ctx, batch)
}

// user validates one old user and returns ours, or nil when it is left
// out (reported).
func (im *importer) user(o oldUser) *provider.User {
	switch {
	case o.id == "" || len(o.id) > 255 || !provider.CleanText(o.id):
		im.report.Reject(KindUsers, fmt.Sprintf("%q", o.id), "id is not clean text of 1 to 255 bytes")
		return nil
	case o.deleted != nil:
		im.report.Reject(KindUsers, o.id, "soft-deleted in the old service")
		return nil
	}
	email := account.NormalizeEmail(o.email)
	if !account.ValidEmail(email) {
		im.report.Reject(KindUsers, o.id, "email is not a valid address")
		return nil
	}
	// Existing names are kept as they are; registration's stricter rules
	// (no link-like names) are for new ones.
	if !provider.CleanText(o.name) || utf8.RuneCountInString(o.name) > 255 {
		im.report.Reject(KindUsers, o.id, "name is not clean text of at most 255 characters")
		return nil
	}
	u := &provider.User{
		ID: o.id, Email: email, EmailVerified: o.verified, Name: o.name, Role: provider.RoleUser,
		CreatedAt: o.created.UTC(), UpdatedAt: o.updated.UTC(),
	}
	switch o.role {
	case provider.RoleUser, provider.RoleAdmin:
		u.Role = o.role
	default:
		im.report.Change(KindUsers, o.id, fmt.Sprintf("role %q does not exist here: imported as %q", o.role, provider.RoleUser))
	}
	if o.image != nil && *o.image != "" {
		if account.PictureProblem(*o.image) == "" {
			u.Picture = *o.image
		} else {
			im.report.Change(KindUsers, o.id, "image is not an https URL: left out")
		}
	}
	switch {
	case o.password == nil || *o.password == "":
		im.report.Skip(KindPasswords, "no password in the old database (signs in after a reset)")
	case account.IsBetterAuthHash(*o.password):
		u.PasswordHash = *o.password
	default:
		im.report.Reject(KindPasswords, o.id, "unreadable Better Auth hash: user imported without a password (signs in after a reset)")
	}
	return u
}

func (im *importer) writeUsers(ctx context.Context, batch []*provider.User) error {
	if len(batch) == 0 {
		return nil
	}
	res, err := im.to.Store.ImportUsers(ctx, batch)
	if err != nil {
		return err
	}
	for i, r := range res {
		u := batch[i]
		switch r {
		case provider.ImportInserted:
			im.users[u.ID] = true
			im.report.Imported(KindUsers, 1)
			if u.PasswordHash != "" {
				im.report.Imported(KindPasswords, 1)
			}
		case provider.ImportExists:
			im.users[u.ID] = true
			im.report.Existing(KindUsers, 1)
			if u.PasswordHash != "" {
				im.report.Existing(KindPasswords, 1)
			}
		case provider.ImportConflict:
			im.report.Reject(KindUsers, u.ID, "another account here has the email address")
		}
	}
	return nil
}
