package oidc

import (
	"context"
	"slices"
	"strings"

	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/pkce"
)

// CheckAuthorizeRequest makes, before any login or consent page, the
// checks fosite makes only when it issues the code (the PKCE, authorize
// code and OpenID Connect handlers of NewAuthorizeResponse): a request
// refused then is refused at once, so nobody signs in or consents for
// nothing and no consent is stored for it. fosite repeats them at issue.
// PKCE is fosite's own handler over the same config (checkPKCE).
func (p *Provider) CheckAuthorizeRequest(ctx context.Context, ar fosite.AuthorizeRequester) error {
	form := ar.GetRequestForm()
	if err := p.checkPKCE(ctx, ar); err != nil {
		return err
	}
	// The same checker, from the same config, as fosite's authorize code
	// handler.
	if !p.fosite.GetRedirectSecureChecker(ctx)(ctx, ar.GetRedirectURI()) {
		return fosite.ErrInvalidRequest.WithHint("The redirect URI uses an insecure scheme.")
	}
	// fosite's OpenID Connect handler asks this of a granted openid scope;
	// Authorize grants every requested scope.
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

// checkPKCE applies fosite's own PKCE handler, over the provider's fosite
// config, to a request whose code does not exist yet: its rules and its
// settings (EnforcePKCE, EnforcePKCEForPublicClients,
// EnablePKCEPlainChallengeMethod) are then those of the issue, by
// construction. The handler stores the challenge once it has checked it;
// here it stores nothing, under a placeholder code.
func (p *Provider) checkPKCE(ctx context.Context, ar fosite.AuthorizeRequester) error {
	h := &pkce.Handler{AuthorizeCodeStrategy: p.strategy, Storage: noPKCEStorage{}, Config: p.fosite}
	resp := fosite.NewAuthorizeResponse()
	resp.AddParameter("code", "unissued")
	return h.HandleAuthorizeEndpointRequest(ctx, ar, resp)
}

// noPKCEStorage keeps nothing: checkPKCE only wants the verdict.
type noPKCEStorage struct{}

func (noPKCEStorage) CreatePKCERequestSession(context.Context, string, fosite.Requester) error {
	return nil
}

func (noPKCEStorage) GetPKCERequestSession(context.Context, string, fosite.Session) (fosite.Requester, error) {
	return nil, fosite.ErrNotFound
}

func (noPKCEStorage) DeletePKCERequestSession(context.Context, string) error { return nil }
