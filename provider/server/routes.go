package server

import (
	"net/http"

	"github.com/manacore/mana-core-auth/static"
)

// routes is the one place every route of the provider is registered.
func (s *server) routes() http.Handler {
	mux := http.NewServeMux()
	// Browser forms are protected against cross-site posts; the protocol
	// endpoints are not, because relying parties and SPAs post to them
	// cross-origin by design.
	csrf := http.NewCrossOriginProtection()
	csrf.SetDenyHandler(s.handleCSRFDenied())
	ui := func(h http.Handler) http.Handler { return csrf.Handler(h) }

	// Discovery and keys.
	mux.Handle("GET /.well-known/openid-configuration", s.handleDiscovery())
	mux.Handle("GET /.well-known/oauth-authorization-server", s.handleDiscovery())
	jwks := s.handleJWKS()
	for _, p := range []string{"/.well-known/jwks.json", "/api/auth/jwks", "/api/v1/auth/jwks", "/api/oidc/jwks"} {
		mux.Handle("GET "+p, jwks)
	}

	// OAuth 2.0 / OpenID Connect endpoints with the old service's aliases.
	authorize, token, userinfo := s.handleAuthorize(), s.handleToken(), s.handleUserinfo()
	for _, prefix := range []string{"/oauth2", "/api/auth/oauth2", "/api/oidc"} {
		mux.Handle("GET "+prefix+"/authorize", authorize)
		mux.Handle("POST "+prefix+"/authorize", authorize)
		mux.Handle("POST "+prefix+"/token", token)
		mux.Handle("GET "+prefix+"/userinfo", userinfo)
		mux.Handle("POST "+prefix+"/userinfo", userinfo)
	}
	mux.Handle("POST /oauth2/introspect", s.handleIntrospect())
	mux.Handle("POST /oauth2/revoke", s.handleRevoke())
	logout := s.handleLogout()
	mux.Handle("GET /oauth2/logout", logout)
	mux.Handle("POST /oauth2/logout", logout)
	mux.Handle("GET /logout", logout)

	// Pages.
	mux.Handle("GET /login", s.handleLoginPage())
	mux.Handle("POST /login", ui(s.handleLoginSubmit()))
	mux.Handle("GET /consent", s.handleConsentPage())
	mux.Handle("POST /consent", ui(s.handleConsentSubmit()))
	mux.Handle("GET /{$}", s.handleHome())
	mux.Handle("GET /static/", http.StripPrefix("/static/", staticFiles(static.FS)))

	// Operations.
	mux.Handle("GET /health", s.handleHealth())
	mux.Handle("GET /health/live", s.handleLive())
	mux.Handle("GET /health/ready", s.handleReady())

	mux.Handle("/", s.handleNotFound())
	return s.common(mux)
}
