package oidc

import (
	"context"
	"slices"
	"strings"

	"github.com/ory/fosite"
)

// CheckAuthorizeRequest makes, before any login or consent page, the
// checks fosite makes only when it issues the code (the PKCE, authorize
// code and OpenID Connect handlers of NewAuthorizeResponse): a request
// refused then is refused at once, so nobody signs in or consents for
// nothing and no consent is stored for it. fosite repeats them at issue.
func (p *Provider) CheckAuthorizeRequest(ctx context.Context, ar fosite.AuthorizeRequester) error {
	form := ar.GetRequestForm()
	challenge, method := form.Get("code_challenge"), form.Get("code_challenge_method")
	switch {
	case challenge == "" && ar.GetClient().IsPublic():
		return fosite.ErrInvalidRequest.WithHint("This client must include a code_challenge (PKCE with S256).")
	case challenge != "" && method != "S256":
		return fosite.ErrInvalidRequest.WithHint("Clients must use code_challenge_method=S256.")
	}
	if !p.fosite.GetRedirectSecureChecker(ctx)(ctx, ar.GetRedirectURI()) {
		return fosite.ErrInvalidRequest.WithHint("The redirect URI uses an insecure scheme.")
	}
	if ar.GetRequestedScopes().Has("openid") && form.Get("redirect_uri") == "" {
		return fosite.ErrInvalidRequest.WithHint("The 'redirect_uri' parameter is required when using OpenID Connect 1.0.")
	}
	// The prompt values of OpenID Connect Core 3.1.2.1, all understood.
	known := []string{"none", "login", "consent", "select_account"}
	prompts := fosite.RemoveEmpty(strings.Split(form.Get("prompt"), " "))
	for _, pr := range prompts {
		if !slices.Contains(known, pr) {
			return fosite.ErrInvalidRequest.WithHintf("Unknown prompt value '%s'.", pr)
		}
	}
	if slices.Contains(prompts, "none") && len(prompts) > 1 {
		return fosite.ErrInvalidRequest.WithHint("The prompt value 'none' must not be combined with another value.")
	}
	if hint := form.Get("id_token_hint"); hint != "" {
		if _, err := p.DecodeIDToken(ctx, hint); err != nil {
			return fosite.ErrInvalidRequest.WithHint("The id_token_hint is not an ID token of this provider.").WithWrap(err)
		}
	}
	return nil
}
