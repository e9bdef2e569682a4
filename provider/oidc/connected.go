package oidc

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/manacore/mana-core-auth/provider"
)

// Connected apps (issue 12): the third-party apps a user consented to,
// and taking that consent back. The account page and the first-party API
// both go through ConnectedApps and RevokeConsent.

// AppLogouts tells a client that a user took their consent back
// (*backchannel.Notifier): it queues inside the caller's transaction and
// is woken after the commit.
type AppLogouts interface {
	AppRevoked(ctx context.Context, clientID, subject string) error
	Wake()
}

// ConnectedApp is one remembered consent with what the user needs to
// recognise the app.
type ConnectedApp struct {
	ClientID  string
	Name      string
	LogoURI   string
	Scopes    []string
	GrantedAt time.Time
}

// ConnectedApps lists the third-party apps the user consented to, the
// most recent consent first. First-party clients never ask for consent;
// a consent left from before a client became first-party is not shown,
// since it no longer decides anything.
func (p *Provider) ConnectedApps(ctx context.Context, userID string) ([]ConnectedApp, error) {
	consents, err := p.Store.ListConsents(ctx, userID)
	if err != nil {
		return nil, fmt.Errorf("connected apps: %w", err)
	}
	out := make([]ConnectedApp, 0, len(consents))
	for _, c := range consents {
		cl, err := p.Store.GetClient(ctx, c.ClientID)
		if errors.Is(err, provider.ErrNotFound) {
			continue // deleted concurrently: its consents go with it
		}
		if err != nil {
			return nil, fmt.Errorf("connected apps: %w", err)
		}
		if cl.Trusted {
			continue
		}
		name := cl.Name
		if name == "" {
			name = cl.ID
		}
		out = append(out, ConnectedApp{ClientID: cl.ID, Name: name, LogoURI: cl.LogoURI, Scopes: c.Scopes, GrantedAt: c.GrantedAt})
	}
	return out, nil
}

// RevokeConsent takes back the user's consent to clientID: in one
// transaction the remembered consent goes, every token the app holds for
// the user (refresh and access, all sessions) is revoked, and the app's
// back-channel logouts are queued; then the audit log records it. The
// next authorization request of the app asks for consent again.
// ErrNotFound when the user has no consent for clientID.
func (p *Provider) RevokeConsent(ctx context.Context, userID, clientID, ip, ua string) error {
	if !provider.CleanText(clientID) {
		return provider.ErrNotFound // no client id contains it, and PostgreSQL would refuse to look
	}
	var err error
	for range 3 {
		// A conflict with a concurrent refresh of the same tokens aborts
		// the transaction; it is run again from nothing.
		if err = p.revokeConsent(ctx, userID, clientID); !errors.Is(err, provider.ErrConflict) {
			break
		}
	}
	if err != nil {
		return err
	}
	if p.Config.Logouts != nil {
		p.Config.Logouts.Wake()
	}
	p.audit.Record(ctx, &provider.SecurityEvent{UserID: userID, Type: provider.EventConsentRevoked, IP: ip, UserAgent: ua,
		Detail: map[string]string{"client_id": clientID}})
	return nil
}

func (p *Provider) revokeConsent(ctx context.Context, userID, clientID string) error {
	tx, err := p.Store.BeginTx(ctx)
	if err != nil {
		return fmt.Errorf("revoke consent: %w", err)
	}
	defer func() { _ = p.Store.Rollback(tx) }()
	if err := p.Store.DeleteConsent(tx, userID, clientID); err != nil {
		return fmt.Errorf("revoke consent: %w", err)
	}
	if p.Config.Logouts != nil {
		if err := p.Config.Logouts.AppRevoked(tx, clientID, userID); err != nil {
			return fmt.Errorf("revoke consent: %w", err)
		}
	}
	if _, err := p.Store.RevokeClientSubject(tx, clientID, userID); err != nil {
		return fmt.Errorf("revoke consent: tokens: %w", err)
	}
	if err := p.Store.Commit(tx); err != nil {
		return fmt.Errorf("revoke consent: %w", err)
	}
	return nil
}
