package server

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/manacore/mana-core-auth/internal/httpapi"
	"github.com/manacore/mana-core-auth/provider"
	"github.com/manacore/mana-core-auth/provider/account"
	"github.com/manacore/mana-core-auth/templates"
)

// Connected apps (issue 12): the account page section and the first-party
// API, both on oidc.Provider.ConnectedApps and RevokeConsent; and the
// profile API (name and picture) on account.Service.UpdateProfile.

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

// formField is a form value that is present (possibly empty), or nil
// when the form has no such field: an older form leaves the picture alone.
func formField(r *http.Request, name string) *string {
	if _, ok := r.PostForm[name]; !ok {
		return nil
	}
	v := r.PostForm.Get(name)
	return &v
}

// apiProfile is the answer of the profile API.
type apiProfile struct {
	ID        string    `json:"id"`
	Email     string    `json:"email"`
	Name      string    `json:"name"`
	Picture   string    `json:"picture"`
	UpdatedAt time.Time `json:"updatedAt"`
}

func toAPIProfile(u *provider.User) apiProfile {
	return apiProfile{ID: u.ID, Email: u.Email, Name: u.Name, Picture: u.Picture, UpdatedAt: u.UpdatedAt}
}

func (s *server) handleAPIProfile() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, ok := s.bearerClaims(w, r)
		if !ok {
			return
		}
		u, err := s.Store.GetUser(r.Context(), c.Subject)
		switch {
		case errors.Is(err, provider.ErrNotFound):
			httpapi.WriteError(w, http.StatusUnauthorized, "invalid_token", "Invalid token")
		case err != nil:
			httpapi.InternalError(w, r, s.Logger, "get profile", err)
		default:
			httpapi.WriteJSON(w, http.StatusOK, toAPIProfile(u))
		}
	})
}

func (s *server) handleAPIUpdateProfile() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, ok := s.bearerClaims(w, r)
		if !ok {
			return
		}
		var in struct {
			Name    *string `json:"name"`
			Picture *string `json:"picture"`
		}
		if !httpapi.Decode(w, r, &in) {
			return
		}
		u, err := s.Accounts.UpdateProfile(r.Context(), c.Subject, account.ProfileChange{Name: in.Name, Picture: in.Picture}, s.clientIP(r), r.UserAgent())
		var ve *account.ValidationError
		switch {
		case errors.As(err, &ve):
			httpapi.WriteValidation(w, ve.Fields)
		case errors.Is(err, provider.ErrNotFound):
			httpapi.WriteError(w, http.StatusUnauthorized, "invalid_token", "Invalid token")
		case err != nil:
			httpapi.InternalError(w, r, s.Logger, "update profile", err)
		default:
			httpapi.WriteJSON(w, http.StatusOK, toAPIProfile(u))
		}
	})
}
