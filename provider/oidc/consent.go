package oidc

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/ory/fosite"

	"github.com/manacore/mana-core-auth/provider"
)

// Consent issues the authorization code of ar to u, who has just allowed
// the consent page (see Authorize for s and freshLogin), and, with
// remember, adds the requested scopes to those u already let the client
// have, so that later requests for them skip the page.
//
// The code is issued first: fosite repeats its checks at issue and only
// then compares an id_token_hint with the user, and a request refused
// there must leave no consent behind. A store failure on the way is
// ErrUnavailable, never "no earlier consent": the remembered scopes must
// not be replaced by this request's alone because they could not be read.
func (p *Provider) Consent(ctx context.Context, ar fosite.AuthorizeRequester, u *provider.User, s *provider.Session, freshLogin, remember bool) (fosite.AuthorizeResponder, error) {
	ctx, fault := watchStorage(ctx)
	resp, err := p.Authorize(ctx, ar, u, s, freshLogin)
	if err != nil {
		return nil, fault.settle(err)
	}
	if remember {
		if err := p.rememberConsent(ctx, u.ID, ar.GetClient().GetID(), ar.GetRequestedScopes()); err != nil {
			return nil, fault.settle(fosite.ErrServerError.WithWrap(err).WithDebug(err.Error()))
		}
	}
	return resp, nil
}

// rememberConsent adds scopes to the user's consent for the client.
func (p *Provider) rememberConsent(ctx context.Context, userID, clientID string, scopes []string) error {
	granted := slices.Clone(scopes)
	old, err := p.Store.GetConsent(ctx, userID, clientID)
	switch {
	case err == nil:
		for _, sc := range old.Scopes {
			if !slices.Contains(granted, sc) {
				granted = append(granted, sc)
			}
		}
	case !errors.Is(err, provider.ErrNotFound):
		noteFault(ctx, err)
		return fmt.Errorf("read consent of %s for %s: %w", userID, clientID, err)
	}
	c := &provider.Consent{UserID: userID, ClientID: clientID, Scopes: granted, GrantedAt: p.Config.Now().UTC()}
	if err := p.Store.SaveConsent(ctx, c); err != nil {
		noteFault(ctx, err)
		return fmt.Errorf("save consent of %s for %s: %w", userID, clientID, err)
	}
	return nil
}
