package server

import (
	"net/http"

	creditsapi "github.com/manacore/mana-core-auth/credits/api"
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
	mux.Handle("POST /login", ui(s.limited("login", true, s.handleLoginSubmit())))
	mux.Handle("GET /consent", s.handleConsentPage())
	mux.Handle("POST /consent", ui(s.handleConsentSubmit()))
	mux.Handle("POST /login/2fa", ui(s.limited("login", true, s.handleLogin2FASubmit())))
	mux.Handle("GET /register", s.handleRegisterPage())
	mux.Handle("POST /register", ui(s.limited("register", true, s.handleRegisterSubmit())))
	mux.Handle("POST /verify-email/resend", ui(s.limited("resend-verification", true, s.handleResendPage())))
	mux.Handle("GET /forgot-password", s.handleForgotPage())
	mux.Handle("POST /forgot-password", ui(s.limited("forgot-password", true, s.handleForgotSubmit())))
	mux.Handle("GET /reset-password", s.handleResetPage())
	mux.Handle("POST /reset-password", ui(s.limited("reset-password", true, s.handleResetSubmit())))
	mux.Handle("GET /account", s.handleAccountPage())
	mux.Handle("POST /account/profile", ui(s.handleAccountProfile()))
	mux.Handle("POST /account/password", ui(s.handleAccountPassword()))
	mux.Handle("POST /account/2fa/enroll", ui(s.handleAccount2FAEnroll()))
	mux.Handle("POST /account/2fa/verify", ui(s.handleAccount2FAVerify()))
	mux.Handle("POST /account/2fa/disable", ui(s.handleAccount2FADisable()))
	mux.Handle("POST /account/sessions/revoke", ui(s.handleAccountRevokeSession()))
	mux.Handle("POST /account/sessions/revoke-others", ui(s.handleAccountRevokeOthers()))
	if s.Credits != nil {
		mux.Handle("GET "+creditsPagePath, s.handleCreditsPage())
		if s.Billing != nil {
			mux.Handle("POST "+creditsPagePath+"/checkout", ui(s.handleCreditsCheckout()))
		}
	}
	mux.Handle("GET /{$}", s.handleHome())
	mux.Handle("GET /static/", http.StripPrefix("/static/", staticFiles(static.FS, s.handleNotFound())))

	// Admin pages. Issue 11 (pages): the browser session of an admin, with
	// the second factor when one is enrolled; and the user's own data.
	mux.Handle("GET /admin", s.handleAdminPageUsers())
	mux.Handle("POST /admin/step-up", ui(s.limited("login", true, s.handleAdminPageStepUp())))
	mux.Handle("GET /admin/users/{id}", s.handleAdminPageUser())
	mux.Handle("POST /admin/users/{id}/sessions/revoke", ui(s.handleAdminPageRevokeSessions()))
	mux.Handle("POST /admin/users/{id}/role", ui(s.handleAdminPageRole()))
	mux.Handle("POST /admin/users/{id}/status", ui(s.handleAdminPageStatus()))
	mux.Handle("GET /admin/users/{id}/delete", s.handleAdminPageDeleteDialog())
	mux.Handle("POST /admin/users/{id}/delete", ui(s.handleAdminPageDelete()))
	mux.Handle("GET /admin/clients", s.handleAdminPageClients())
	mux.Handle("POST /admin/clients", ui(s.handleAdminPageCreateClient()))
	mux.Handle("POST /admin/clients/{id}/redirects", ui(s.handleAdminPageClientRedirects()))
	mux.Handle("POST /admin/clients/{id}/status", ui(s.handleAdminPageClientStatus()))
	mux.Handle("POST /admin/clients/{id}/delete", ui(s.handleAdminPageClientDelete()))
	mux.Handle("GET /account/data", s.handleAccountData())
	mux.Handle("GET /account/data/export", s.handleAccountExport())
	mux.Handle("GET /account/delete", s.handleAccountDeletePage())
	mux.Handle("POST /account/delete", ui(s.limited("delete-account", true, s.handleAccountDelete())))
	mux.Handle("GET /account/deleted", s.handleAccountDeleted())

	// First-party JSON API (old paths and shapes), open to the origins in
	// CORS_ORIGINS with credentials.
	cors := func(h http.Handler) http.Handler { return h }
	if s.CORS != nil {
		cors = s.CORS.Handler
	}
	api := func(rule string, h http.Handler) http.Handler { return cors(s.limited(rule, false, h)) }
	mux.Handle("OPTIONS /api/", cors(s.handleNotFound()))
	mux.Handle("POST /api/v1/auth/register", api("register", s.handleAPIRegister()))
	mux.Handle("POST /api/v1/auth/login", api("login", s.handleAPILogin()))
	mux.Handle("POST /api/v1/auth/login/2fa", api("login", s.handleAPILogin2FA()))
	mux.Handle("POST /api/v1/auth/refresh", api("auth", s.handleAPIRefresh()))
	mux.Handle("POST /api/v1/auth/logout", api("auth", s.handleAPILogout()))
	mux.Handle("GET /api/v1/auth/session", api("auth", s.handleAPISession()))
	mux.Handle("POST /api/v1/auth/validate", api("auth", s.handleAPIValidate()))
	mux.Handle("POST /api/v1/auth/forgot-password", api("forgot-password", s.handleAPIForgotPassword()))
	mux.Handle("POST /api/v1/auth/reset-password", api("reset-password", s.handleAPIResetPassword()))
	mux.Handle("POST /api/v1/auth/resend-verification", api("resend-verification", s.handleAPIResendVerification()))
	mux.Handle("GET /api/auth/verify-email", s.limited("auth", true, s.handleVerifyEmail()))
	mux.Handle("GET /verify-email", s.limited("auth", true, s.handleVerifyEmail()))
	mux.Handle("GET /api/v1/auth/sessions", api("auth", s.handleAPISessions()))
	mux.Handle("DELETE /api/v1/auth/sessions/{id}", api("auth", s.handleAPIRevokeSession()))
	mux.Handle("POST /api/v1/auth/sessions/revoke-all", api("auth", s.handleAPIRevokeAll()))
	mux.Handle("POST /api/v1/auth/password", api("auth", s.handleAPIChangePassword()))
	mux.Handle("POST /api/v1/auth/session-to-token", api("auth", s.handleSessionToToken()))
	mux.Handle("GET /api/auth/get-session", api("auth", s.handleGetSession()))
	mux.Handle("POST /api/v1/auth/2fa/enroll", api("auth", s.handleAPI2FAEnroll()))
	mux.Handle("POST /api/v1/auth/2fa/verify", api("auth", s.handleAPI2FAVerify()))
	mux.Handle("POST /api/v1/auth/2fa/disable", api("auth", s.handleAPI2FADisable()))

	// issue 12 (B): connected apps on the account page and in the API; the
	// profile (name, picture) in the API.
	mux.Handle("POST /account/apps/revoke", ui(s.handleAccountRevokeConsent()))
	mux.Handle("GET /api/v1/auth/consents", api("auth", s.handleAPIConsents()))
	mux.Handle("DELETE /api/v1/auth/consents/{clientId}", api("auth", s.handleAPIRevokeConsent()))
	mux.Handle("GET /api/v1/auth/profile", api("auth", s.handleAPIProfile()))
	mux.Handle("PATCH /api/v1/auth/profile", api("auth", s.handleAPIUpdateProfile()))

	// issue 15 (passkeys): sign-in, the second factor and the account
	// page's panel; the first-party API's ceremonies and management.
	if s.Passkeys != nil {
		mux.Handle("POST /login/passkey/options", ui(s.limited("auth", false, s.handlePasskeyLoginOptions())))
		mux.Handle("POST /login/passkey", ui(s.limited("login", true, s.handlePasskeyLogin())))
		mux.Handle("POST /login/2fa/passkey/options", ui(s.limited("auth", false, s.handlePasskey2FAOptions())))
		mux.Handle("POST /login/2fa/passkey", ui(s.limited("login", true, s.handlePasskey2FA())))
		mux.Handle("POST /account/passkeys/options", ui(s.limited("login", false, s.handleAccountPasskeyOptions())))
		mux.Handle("POST /account/passkeys", ui(s.handleAccountPasskeyAdd()))
		mux.Handle("POST /account/passkeys/rename", ui(s.handleAccountPasskeyRename()))
		mux.Handle("POST /account/passkeys/remove", ui(s.handleAccountPasskeyRemove()))
		mux.Handle("POST /api/v1/auth/passkeys/login/options", api("auth", s.handleAPIPasskeyLoginOptions()))
		mux.Handle("POST /api/v1/auth/passkeys/login/verify", api("login", s.handleAPIPasskeyLoginVerify()))
		mux.Handle("POST /api/v1/auth/passkeys/register/options", api("login", s.handleAPIPasskeyRegisterOptions()))
		mux.Handle("POST /api/v1/auth/passkeys/register/verify", api("auth", s.handleAPIPasskeyRegisterVerify()))
		mux.Handle("GET /api/v1/auth/passkeys", api("auth", s.handleAPIPasskeys()))
		mux.Handle("PATCH /api/v1/auth/passkeys/{id}", api("auth", s.handleAPIRenamePasskey()))
		mux.Handle("DELETE /api/v1/auth/passkeys/{id}", api("auth", s.handleAPIRemovePasskey()))
	}

	// Admin API. (issue 11 part A: users and clients)
	mux.Handle("GET /api/v1/admin/users", api("admin", s.handleAdminListUsers()))
	mux.Handle("PATCH /api/v1/admin/users/{id}", api("admin", s.handleAdminUpdateUser()))
	mux.Handle("POST /api/v1/admin/users/{id}/sessions/revoke", api("admin", s.handleAdminRevokeSessions()))
	mux.Handle("GET /api/v1/admin/clients", api("admin", s.handleAdminListClients()))
	mux.Handle("POST /api/v1/admin/clients", api("admin", s.handleAdminCreateClient()))
	mux.Handle("PATCH /api/v1/admin/clients/{id}", api("admin", s.handleAdminUpdateClient()))
	mux.Handle("DELETE /api/v1/admin/clients/{id}", api("admin", s.handleAdminDeleteClient()))

	// Admin API: what the apps hold.
	mux.Handle("GET /api/v1/admin/users/{id}/data", api("auth", s.handleAdminUserData()))
	// issue 11, part B (erasure): erase a user everywhere, the erasure's
	// state and receipt; the user's own export and account deletion.
	mux.Handle("DELETE /api/v1/admin/users/{id}/data", api("auth", s.handleAdminEraseUser()))
	mux.Handle("GET /api/v1/admin/erasures/{id}", api("auth", s.handleAdminErasure()))
	mux.Handle("GET /api/v1/auth/me/data", api("auth", s.handleAPIExportMe()))
	mux.Handle("DELETE /api/v1/auth/me", api("auth", s.handleAPIDeleteMe()))

	// Credits: a protected resource server trusting only our access tokens.
	if s.Credits != nil {
		c := creditsapi.New(s.Credits, creditsVerifier{s}, s.Logger.With("component", "credits"))
		mux.Handle("GET /api/v1/credits/balance", api("credits", c.Balance()))
		mux.Handle("POST /api/v1/credits/use", api("credits", c.Use()))
		mux.Handle("GET /api/v1/credits/transactions", api("credits", c.Transactions()))
		if s.Billing != nil {
			mux.Handle("GET /api/v1/credits/packages", api("credits", c.Packages(s.Billing)))
			mux.Handle("GET /api/v1/credits/purchases", api("credits", c.Purchases(s.Billing)))
			mux.Handle("POST /api/v1/credits/purchase", api("credits", c.Purchase(s.Billing)))
			mux.Handle("POST /api/v1/credits/checkout", api("credits", c.Checkout(s.Billing)))
			// Stripe calls the webhook; its signature, not a token, is the
			// credential.
			mux.Handle("POST /api/v1/credits/stripe/webhook", s.Billing.WebhookHandler(s.Logger.With("component", "stripe")))
		}
	}

	// Operations.
	mux.Handle("GET /health", s.handleHealth())
	mux.Handle("GET /health/live", s.handleLive())
	mux.Handle("GET /health/ready", s.handleReady())
	if s.Metrics != nil {
		mux.Handle("GET /metrics", s.Metrics)
	}

	// Issue 12, part A: what no route takes is a 405 when the path has
	// routes for other methods, else a 404; the error page for browsers.
	mux.Handle("/", s.handleUnmatched(mux))
	var h http.Handler = recordPattern(mux)
	if s.Trace != nil {
		// Inside common, so the tracer's request copy is the one the mux
		// sets the Pattern of, which the span is named after.
		h = s.Trace(h)
	}
	return s.common(h)
}
