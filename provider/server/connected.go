package server

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/manacore/mana-core-auth/internal/httpapi"
	"github.com/manacore/mana-core-auth/provider"
	"github.com/manacore/mana-core-auth/templates"
)

// Connected apps (issue 12): the account page section and the first-party
// API, both on oidc.Provider.ConnectedApps and RevokeConsent.

// apiConsent is one entry of GET /api/v1/auth/consents.
type apiConsent struct {
	ClientID  string    `json:"clientId"`
	Name      string    `json:"name"`
	LogoURI   string    `json:"logoUri,omitempty"`
	Scopes    []string  `json:"scopes"`
	GrantedAt time.Time `json:"grantedAt"`
}

func (s *server) handleAPIConsents() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, ok := s.bearerClaims(w, r)
		if !ok {
			return
		}
		apps, err := s.OP.ConnectedApps(r.Context(), c.Subject)
		if err != nil {
			httpapi.InternalError(w, r, s.Logger, "list consents", err)
			return
		}
		out := make([]apiConsent, 0, len(apps))
		for _, a := range apps {
			scopes := a.Scopes
			if scopes == nil {
				scopes = []string{}
			}
			out = append(out, apiConsent{ClientID: a.ClientID, Name: a.Name, LogoURI: a.LogoURI, Scopes: scopes, GrantedAt: a.GrantedAt})
		}
		httpapi.WriteJSON(w, http.StatusOK, map[string]any{"consents": out})
	})
}

func (s *server) handleAPIRevokeConsent() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, ok := s.bearerClaims(w, r)
		if !ok {
			return
		}
		err := s.OP.RevokeConsent(r.Context(), c.Subject, r.PathValue("clientId"), s.clientIP(r), r.UserAgent())
		switch {
		case errors.Is(err, provider.ErrNotFound):
			httpapi.WriteError(w, http.StatusNotFound, "consent_not_found", "No consent for this app")
		case err != nil:
			httpapi.InternalError(w, r, s.Logger, "revoke consent", err)
		default:
			httpapi.WriteJSON(w, http.StatusOK, map[string]any{"success": true})
		}
	})
}

func (s *server) handleAccountRevokeConsent() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sess, u, ok := s.accountForm(w, r)
		if !ok {
			return
		}
		err := s.OP.RevokeConsent(r.Context(), u.ID, r.PostForm.Get("client_id"), s.clientIP(r), r.UserAgent())
		switch {
		case errors.Is(err, provider.ErrNotFound):
			s.accountFailed(w, r, sess, u, http.StatusNotFound, templates.KeyAccountAppNotFound, nil)
		case err != nil:
			s.accountFailed(w, r, sess, u, http.StatusInternalServerError, templates.KeyErrorInternal, fmt.Errorf("revoke consent: %w", err))
		default:
			accountDone(w, r, templates.KeyAccountAppRevoked)
		}
	})
}

// accountApps is the connected apps section of the account page; a store
// failure leaves it empty and is logged, like the other sections.
func (s *server) accountApps(r *http.Request, userID string) []templates.AccountApp {
	apps, err := s.OP.ConnectedApps(r.Context(), userID)
	if err != nil {
		s.Logger.ErrorContext(r.Context(), "account page: connected apps", "error", err)
		return nil
	}
	out := make([]templates.AccountApp, 0, len(apps))
	for _, a := range apps {
		out = append(out, templates.AccountApp{ClientID: a.ClientID, Name: a.Name, LogoURI: a.LogoURI, Scopes: a.Scopes, GrantedAt: a.GrantedAt})
	}
	return out
}
