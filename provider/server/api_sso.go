package server

import (
	"errors"
	"net/http"

	"github.com/manacore/mana-core-auth/internal/httpapi"
	"github.com/manacore/mana-core-auth/provider/oidc"
)

// Single sign-on for first-party SPAs on other subdomains: the shared
// browser session cookie turned into tokens or a session description.

// handleSessionToToken turns the shared browser session cookie into the
// token pair /login returns, bound to that session, for first-party SPAs on
// other subdomains. The cookie is SameSite=Lax, so only same-site pages
// send it; the Origin must also be ours or an allowed CORS origin, so a
// sibling subdomain outside CORS_ORIGINS cannot mint tokens with it.
func (s *server) handleSessionToToken() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if origin := r.Header.Get("Origin"); origin != "" && origin != s.ownOrigin() && (s.CORS == nil || !s.CORS.Allowed(origin)) {
			httpapi.WriteError(w, http.StatusForbidden, "origin_not_allowed", "Origin not allowed")
			return
		}
		if !s.Sessions.HasCookie(r) {
			httpapi.WriteError(w, http.StatusUnauthorized, "no_session", "No session cookie found")
			return
		}
		sess, u, err := s.currentUser(r.Context(), r)
		if err != nil {
			httpapi.InternalError(w, r, s.Logger, "session to token", err)
			return
		}
		if sess == nil {
			httpapi.WriteError(w, http.StatusUnauthorized, "invalid_session", "Invalid or expired session")
			return
		}
		pair, err := s.OP.IssueFirstParty(r.Context(), u, sess, oidc.GrantSSO)
		switch {
		case errors.Is(err, oidc.ErrSessionEnded):
			httpapi.WriteError(w, http.StatusUnauthorized, "invalid_session", "Invalid or expired session")
			return
		case err != nil:
			httpapi.InternalError(w, r, s.Logger, "session to token", err)
			return
		}
		httpapi.WriteJSON(w, http.StatusOK, loginResponse(u, pair))
	})
}

// handleGetSession answers {user, session} for the browser's live session
// or null, as the old service's /api/auth/get-session did; the session row
// is checked on every call, so a revocation takes effect at once.
func (s *server) handleGetSession() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sess, u, err := s.currentUser(r.Context(), r)
		if err != nil {
			httpapi.InternalError(w, r, s.Logger, "get session", err)
			return
		}
		if sess == nil {
			httpapi.WriteJSON(w, http.StatusOK, nil)
			return
		}
		httpapi.WriteJSON(w, http.StatusOK, map[string]any{"user": toAPIUser(u, true), "session": toAPISession(sess, sess.ID)})
	})
}
