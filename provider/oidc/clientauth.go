package oidc

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/ory/fosite"
)

// clientAuthentication wraps fosite's client authentication with the rules
// of RFC 6749 section 2.3 that fosite applies only to clients declaring a
// token_endpoint_auth_method, which ours do not: a request uses one
// method (Basic or body credentials, never both), and a public client has
// no secret to send. Client assertions are not offered (discovery lists
// client_secret_basic, client_secret_post and none).
func clientAuthentication(next fosite.ClientAuthenticationStrategy) fosite.ClientAuthenticationStrategy {
	return func(ctx context.Context, r *http.Request, form url.Values) (fosite.Client, error) {
		if form.Has("client_assertion") || form.Has("client_assertion_type") {
			return nil, fosite.ErrInvalidClient.WithHint("Client assertions are not supported; use client_secret_basic or client_secret_post.")
		}
		id, secret, basic := r.BasicAuth()
		if basic {
			// A body client_id naming the same client only identifies it
			// (RFC 6749 section 3.2.1); a body secret, or another id, is a
			// second authentication.
			basicID, err := url.QueryUnescape(id)
			if form.Has("client_secret") || (err == nil && form.Has("client_id") && form.Get("client_id") != basicID) {
				return nil, fosite.ErrInvalidRequest.WithHint("The client authenticated with more than one method; use either HTTP Basic or the request body (RFC 6749 section 2.3).")
			}
		} else {
			secret = form.Get("client_secret")
		}
		c, err := next(ctx, r, form)
		if err != nil {
			return nil, err
		}
		if c.IsPublic() && secret != "" {
			return nil, fosite.ErrInvalidClient.WithHint("A public client must not send a client secret.")
		}
		return c, nil
	}
}

// newIntrospectionRequest is fosite's with the token endpoint's client
// authentication: fosite's own accepts HTTP Basic only (though discovery
// lists client_secret_post too) and any live access token as a
// credential. Only confidential clients introspect, and a refresh token is
// shown only to the client it was issued to (a resource server has no use
// for one); access tokens are shown to every confidential client.
func (p *Provider) newIntrospectionRequest(ctx context.Context, r *http.Request, session fosite.Session) (fosite.IntrospectionResponder, error) {
	inactive := &fosite.IntrospectionResponse{Active: false}
	if r.Method != http.MethodPost {
		return inactive, fosite.ErrInvalidRequest.WithHintf("HTTP method is '%s' but expected 'POST'.", r.Method)
	}
	if err := r.ParseMultipartForm(1 << 20); err != nil && !errors.Is(err, http.ErrNotMultipart) {
		return inactive, fosite.ErrInvalidRequest.WithHint("Unable to parse the request body.").WithWrap(err)
	}
	if len(r.PostForm) == 0 {
		return inactive, fosite.ErrInvalidRequest.WithHint("The POST body can not be empty.")
	}
	scheme, _, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	_, _, basic := r.BasicAuth()
	if strings.EqualFold(scheme, "Bearer") || (!basic && r.PostForm.Get("client_id") == "") {
		return inactive, fosite.ErrRequestUnauthorized.WithHint("Introspection requires client authentication.")
	}
	client, err := p.authenticateClient(ctx, r, r.PostForm)
	if err != nil {
		return inactive, err
	}
	if client.IsPublic() {
		return inactive, fosite.ErrInvalidClient.WithHint("A public client cannot introspect tokens.")
	}
	form := r.PostForm
	use, ar, err := p.IntrospectToken(ctx, form.Get("token"), fosite.TokenUse(form.Get("token_type_hint")), session,
		fosite.RemoveEmpty(strings.Split(form.Get("scope"), " "))...)
	if err != nil {
		return inactive, fosite.ErrInactiveToken.WithHint("An introspection strategy indicated that the token is inactive.").WithWrap(err).WithDebug(err.Error())
	}
	if use == fosite.RefreshToken && ar.GetClient().GetID() != client.GetID() {
		return inactive, fosite.ErrInactiveToken.WithHint("The refresh token belongs to another client.")
	}
	resp := &fosite.IntrospectionResponse{Active: true, AccessRequester: ar, TokenUse: use}
	if use == fosite.AccessToken {
		resp.AccessTokenType = fosite.BearerAccessToken
	}
	return resp, nil
}

// WriteIntrospectionError writes a failed client authentication as the
// OAuth error it is; fosite's writer turns every error but invalid_request
// and request_unauthorized into {"active":false}.
func (p *Provider) WriteIntrospectionError(ctx context.Context, rw http.ResponseWriter, err error) {
	if !errors.Is(err, fosite.ErrInactiveToken) && errors.Is(err, fosite.ErrInvalidClient) {
		p.WriteAccessError(ctx, rw, nil, err)
		return
	}
	p.OAuth2Provider.WriteIntrospectionError(ctx, rw, err)
}
