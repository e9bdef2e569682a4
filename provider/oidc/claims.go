package oidc

import (
	"context"
	"slices"
	"time"

	"github.com/ory/fosite"

	"github.com/manacore/mana-core-auth/provider"
)

// UserClaims are the claims about u that scopes release. The ID token and
// the userinfo endpoint answer from this one function, so the two views of
// a user never disagree.
func UserClaims(u *provider.User, scopes []string) map[string]any {
	c := map[string]any{"sub": u.ID}
	if slices.Contains(scopes, "email") {
		c["email"] = u.Email
		c["email_verified"] = u.EmailVerified
	}
	if slices.Contains(scopes, "profile") {
		if u.Name != "" {
			c["name"] = u.Name
		}
		// Only a picture the user set is released: no placeholder URL
		// that would claim an image where there is none.
		if u.Picture != "" {
			c["picture"] = u.Picture
		}
		c["updated_at"] = u.UpdatedAt.Unix()
	}
	return c
}

// userSession is the fosite session of every token issued to u in login
// session s for client c with scopes: what the ID token and the access
// tokens say about the user is decided here and nowhere else.
func (p *Provider) userSession(u *provider.User, s *provider.Session, c *Client, scopes []string, requestedAt time.Time) *Session {
	osess := NewSession()
	osess.Subject, osess.ClientID, osess.SessionID = u.ID, c.GetID(), s.ID
	osess.Email, osess.Role, osess.RememberMe = u.Email, u.Role, s.RememberMe
	if c.Model != nil {
		osess.IDTokenAlg = c.Model.IDTokenAlg
	}
	claims := osess.IDTokenClaims()
	claims.Subject, claims.Issuer = u.ID, p.Config.Issuer
	claims.AuthTime = s.AuthTime.UTC().Truncate(time.Second)
	claims.RequestedAt = requestedAt
	claims.AuthenticationMethodsReferences = s.AuthMethods
	claims.Extra = map[string]interface{}{"sid": s.ID}
	for k, v := range UserClaims(u, scopes) {
		if k != "sub" {
			claims.Extra[k] = v
		}
	}
	return osess
}

// Authorize issues the authorization code of ar to u, signed in with login
// session s, who has consented to the requested scopes. freshLogin says
// the user authenticated for this very request (prompt=login, max_age).
// A storage failure while issuing is ErrUnavailable, not server_error, so
// the person gets the "try again" page rather than an error at the app.
func (p *Provider) Authorize(ctx context.Context, ar fosite.AuthorizeRequester, u *provider.User, s *provider.Session, freshLogin bool) (fosite.AuthorizeResponder, error) {
	ctx, fault := watchStorage(ctx)
	resp, err := p.authorize(ctx, ar, u, s, freshLogin)
	return resp, fault.settle(err)
}

func (p *Provider) authorize(ctx context.Context, ar fosite.AuthorizeRequester, u *provider.User, s *provider.Session, freshLogin bool) (fosite.AuthorizeResponder, error) {
	for _, sc := range ar.GetRequestedScopes() {
		ar.GrantScope(sc)
	}
	for _, a := range ar.GetRequestedAudience() {
		ar.GrantAudience(a)
	}
	client, ok := ar.GetClient().(*Client)
	if !ok {
		return nil, fosite.ErrServerError.WithHint("unexpected client type")
	}
	requestedAt := p.Config.Now().UTC()
	if freshLogin {
		// fosite checks prompt=login as auth_time >= requested_at; the
		// request was first made before the login it caused.
		requestedAt = s.AuthTime.UTC().Truncate(time.Second)
	}
	return p.NewAuthorizeResponse(ctx, ar, p.userSession(u, s, client, ar.GetGrantedScopes(), requestedAt))
}
