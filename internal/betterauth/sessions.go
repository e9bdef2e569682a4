package betterauth

import (
	"context"
	"fmt"
	"time"

	"github.com/manacore/mana-core-auth/provider"
	"github.com/manacore/mana-core-auth/provider/oidc"
)

// oldSession is a row of auth.sessions.
type oldSession struct {
	id, userID                   string
	created, updated             time.Time
	ip, userAgent, refresh       *string
	refreshExpires, lastActivity *time.Time
	deviceID, deviceName         *string
	revoked                      *time.Time
	rememberMe                   *bool
}

// importSessions brings over the sessions behind live refresh tokens: the
// apps hold those tokens, and each is exchanged once at the first-party
// refresh for our own pair bound to the imported session (provider/oidc),
// so nobody signs in again in the apps. The old service wrote a new row on
// every refresh and revoked the old one, so only unrevoked, unexpired rows
// count. Browser cookie sessions (no refresh token) cannot move: their
// cookie was signed with the old secret under another name.
func (im *importer) importSessions(ctx context.Context) error {
	rows, err := im.old.Query(ctx, `
		SELECT id, user_id, created_at, updated_at, ip_address, user_agent, refresh_token,
		       refresh_token_expires_at, last_activity_at, device_id, device_name, revoked_at, remember_me
		FROM auth.sessions ORDER BY created_at, id`)
	if err != nil {
		return fmt.Errorf("read auth.sessions: %w", err)
	}
	defer rows.Close()
	var batch []*provider.ImportedSession
	for rows.Next() {
		var o oldSession
		if err := rows.Scan(&o.id, &o.userID, &o.created, &o.updated, &o.ip, &o.userAgent, &o.refresh,
			&o.refreshExpires, &o.lastActivity, &o.deviceID, &o.deviceName, &o.revoked, &o.rememberMe); err != nil {
			return fmt.Errorf("read auth.sessions: %w", err)
		}
		if s := im.session(o); s != nil {
			batch = append(batch, s)
		}
		if len(batch) == batchSize {
			if err := im.writeSessions(ctx, batch); err != nil {
				return err
			}
			batch = batch[:0]
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read auth.sessions: %w", err)
	}
	return im.writeSessions(ctx, batch)
}

func (im *importer) session(o oldSession) *provider.ImportedSession {
	switch {
	case o.refresh == nil || *o.refresh == "":
		im.report.Skip(KindSessions, "browser cookie session without a refresh token (signs in again in the browser)")
		return nil
	case o.revoked != nil:
		im.report.Skip(KindSessions, "refresh token revoked")
		return nil
	case o.refreshExpires == nil || !o.refreshExpires.After(im.now):
		im.report.Skip(KindSessions, "refresh token expired")
		return nil
	case !im.users[o.userID]:
		im.report.Skip(KindSessions, "user not imported")
		return nil
	case o.id == "" || len(o.id) > 255 || !provider.CleanText(o.id):
		im.report.Reject(KindSessions, fmt.Sprintf("%q", o.id), "id is not clean text of 1 to 255 bytes")
		return nil
	case !oidc.ImportedRefreshTokenShape(*o.refresh):
		// Never print the token: it is a live credential.
		im.report.Reject(KindSessions, o.id, "refresh token is not 64 characters of nanoid's alphabet")
		return nil
	}
	lastSeen := o.updated
	if o.lastActivity != nil && o.lastActivity.After(lastSeen) {
		lastSeen = *o.lastActivity
	}
	s := provider.Session{
		ID: o.id, UserID: o.userID, CreatedAt: o.created.UTC(), LastSeenAt: lastSeen.UTC(),
		ExpiresAt: o.refreshExpires.UTC(),
		// The old rows do not say when the user last signed in; a refresh
		// row was created by the refresh, so this is the best lower bound.
		AuthTime:    o.created.UTC(),
		IP:          provider.Sanitize(deref(o.ip), 64),
		UserAgent:   provider.Sanitize(deref(o.userAgent), 512),
		DeviceID:    provider.Sanitize(deref(o.deviceID), 128),
		DeviceName:  provider.Sanitize(deref(o.deviceName), 128),
		AuthMethods: []string{"pwd"},
		RememberMe:  o.rememberMe != nil && *o.rememberMe,
	}
	return &provider.ImportedSession{Session: s, TokenHash: oidc.ImportedTokenHash(*o.refresh)}
}

func (im *importer) writeSessions(ctx context.Context, batch []*provider.ImportedSession) error {
	if len(batch) == 0 {
		return nil
	}
	res, err := im.to.Store.ImportSessions(ctx, batch)
	if err != nil {
		return err
	}
	for _, r := range res {
		if r == provider.ImportInserted {
			im.report.Imported(KindSessions, 1)
		} else {
			im.report.Existing(KindSessions, 1)
		}
	}
	return nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
