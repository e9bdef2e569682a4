package server

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/manacore/mana-core-auth/credits/api"
	"github.com/manacore/mana-core-auth/provider/oidc"
)

// creditsVerifier lets the credits API trust this provider's access
// tokens: signature, access-token typ (an ID token is refused), issuer,
// expiry, audience, and that the grant is still active, so a logout or a
// revocation takes effect at once.
type creditsVerifier struct{ s *server }

var _ api.TokenVerifier = creditsVerifier{}

func (v creditsVerifier) Verify(ctx context.Context, bearer string) (api.Principal, error) {
	c, err := v.s.OP.VerifyAccessToken(ctx, bearer, v.s.Config.Audience)
	if err != nil {
		if errors.Is(err, oidc.ErrTokenInvalid) || errors.Is(err, oidc.ErrTokenExpired) || errors.Is(err, oidc.ErrTokenRevoked) {
			return api.Principal{}, fmt.Errorf("%w: %v", api.ErrUnauthorized, err)
		}
		return api.Principal{}, err
	}
	if c.Subject == "" {
		return api.Principal{}, fmt.Errorf("%w: token without subject", api.ErrUnauthorized)
	}
	// A client_credentials token names the client, not a user: it has no
	// wallet to read or spend.
	if c.SessionID == "" && c.Subject == c.ClientID {
		return api.Principal{}, fmt.Errorf("%w: token of a client, not of a user", api.ErrForbidden)
	}
	return api.Principal{Subject: c.Subject, SessionID: c.SessionID, ClientID: c.ClientID, Scopes: strings.Fields(c.Scope)}, nil
}

// creditsSignup creates the new user's balance (and so books the signup
// bonus) right away; a failure is logged, never failing the registration,
// since the first balance read grants the bonus lazily anyway.
func (s *server) creditsSignup(ctx context.Context, userID string) {
	if s.Credits == nil || userID == "" {
		return
	}
	if _, err := s.Credits.Balance(ctx, userID); err != nil {
		s.Logger.ErrorContext(ctx, "credits: signup balance", "user", userID, "error", err)
	}
}
