package server

// The admin API for users and clients (issue 11 part A). Every rule lives
// in provider/admin; these handlers parse, make one call and answer.

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/manacore/mana-core-auth/internal/httpapi"
	"github.com/manacore/mana-core-auth/provider"
	"github.com/manacore/mana-core-auth/provider/admin"
)

// adminFailed answers an error of the admin service: its refusals are
// 4xx with what was wrong, anything else is ours (5xx, logged; 503 when
// the database is unreachable).
func (s *server) adminFailed(w http.ResponseWriter, r *http.Request, what string, err error) {
	var ve *admin.ValidationError
	switch {
	case errors.As(err, &ve):
		httpapi.WriteValidation(w, ve.Fields)
	case errors.Is(err, provider.ErrNotFound):
		httpapi.WriteError(w, http.StatusNotFound, "not_found", "No such "+what)
	case errors.Is(err, admin.ErrErased):
		httpapi.WriteError(w, http.StatusConflict, "account_erased", "The account was erased")
	case errors.Is(err, admin.ErrClientExists):
		httpapi.WriteError(w, http.StatusConflict, "client_exists", "A client with this id already exists")
	case errors.Is(err, admin.ErrBuiltInClient):
		httpapi.WriteError(w, http.StatusForbidden, "built_in_client", "Built-in clients cannot be changed")
	default:
		httpapi.InternalError(w, r, s.Logger, "admin "+what, err)
	}
}

// handleAdminListUsers answers GET /api/v1/admin/users?page&limit&search&includeDeleted.
func (s *server) handleAdminListUsers() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		actor, ok := s.adminActor(w, r)
		if !ok {
			return
		}
		params := r.URL.Query()
		q := admin.UserQuery{Search: params.Get("search")}
		fields := map[string]string{}
		for name, dst := range map[string]*int{"page": &q.Page, "limit": &q.Limit} {
			if v := params.Get(name); v != "" {
				n, err := strconv.Atoi(v)
				if err != nil {
					fields[name] = "integer"
				}
				*dst = n
			}
		}
		switch params.Get("includeDeleted") {
		case "", "false", "0":
		case "true", "1":
			q.IncludeDeleted = true
		default:
			fields["includeDeleted"] = "invalid"
		}
		if len(fields) > 0 {
			httpapi.WriteValidation(w, fields)
			return
		}
		page, err := s.Admin.ListUsers(r.Context(), actor, q)
		if err != nil {
			s.adminFailed(w, r, "user", err)
			return
		}
		httpapi.WriteJSON(w, http.StatusOK, page)
	})
}

// handleAdminUpdateUser answers PATCH /api/v1/admin/users/{id}.
func (s *server) handleAdminUpdateUser() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		actor, ok := s.adminActor(w, r)
		if !ok {
			return
		}
		var p admin.UserPatch
		if !httpapi.Decode(w, r, &p) {
			return
		}
		row, err := s.Admin.UpdateUser(r.Context(), actor, r.PathValue("id"), p)
		if err != nil {
			s.adminFailed(w, r, "user", err)
			return
		}
		httpapi.WriteJSON(w, http.StatusOK, row)
	})
}

// handleAdminRevokeSessions answers POST /api/v1/admin/users/{id}/sessions/revoke.
func (s *server) handleAdminRevokeSessions() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		actor, ok := s.adminActor(w, r)
		if !ok {
			return
		}
		n, err := s.Admin.RevokeSessions(r.Context(), actor, r.PathValue("id"))
		if err != nil {
			s.adminFailed(w, r, "user", err)
			return
		}
		httpapi.WriteJSON(w, http.StatusOK, map[string]any{"success": true, "revokedSessions": n})
	})
}

// handleAdminListClients answers GET /api/v1/admin/clients.
func (s *server) handleAdminListClients() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		actor, ok := s.adminActor(w, r)
		if !ok {
			return
		}
		cs, err := s.Admin.ListClients(r.Context(), actor)
		if err != nil {
			s.adminFailed(w, r, "client", err)
			return
		}
		httpapi.WriteJSON(w, http.StatusOK, map[string]any{"clients": cs})
	})
}

// handleAdminCreateClient answers POST /api/v1/admin/clients; the answer
// carries the secret, the only time it is shown.
func (s *server) handleAdminCreateClient() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		actor, ok := s.adminActor(w, r)
		if !ok {
			return
		}
		var in struct {
			ID                     string   `json:"id"`
			Name                   string   `json:"name"`
			Public                 bool     `json:"public"`
			Trusted                bool     `json:"trusted"`
			RedirectURIs           []string `json:"redirectUris"`
			PostLogoutRedirectURIs []string `json:"postLogoutRedirectUris"`
			GrantTypes             []string `json:"grantTypes"`
			Scopes                 []string `json:"scopes"`
			LogoURI                string   `json:"logoUri"`
			BackchannelLogoutURI   string   `json:"backchannelLogoutUri"`
		}
		if !httpapi.Decode(w, r, &in) {
			return
		}
		c, secret, err := s.Admin.CreateClient(r.Context(), actor, admin.ClientInput{ID: in.ID, Name: in.Name, Public: in.Public,
			Trusted: in.Trusted, RedirectURIs: in.RedirectURIs, PostLogoutRedirectURIs: in.PostLogoutRedirectURIs,
			GrantTypes: in.GrantTypes, Scopes: in.Scopes, LogoURI: in.LogoURI, BackchannelLogoutURI: in.BackchannelLogoutURI})
		if err != nil {
			s.adminFailed(w, r, "client", err)
			return
		}
		out := struct {
			*admin.ClientView
			Secret string `json:"clientSecret,omitempty"`
		}{c, secret}
		w.Header().Set("Cache-Control", "no-store")
		httpapi.WriteJSON(w, http.StatusCreated, out)
	})
}

// handleAdminUpdateClient answers PATCH /api/v1/admin/clients/{id}.
func (s *server) handleAdminUpdateClient() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		actor, ok := s.adminActor(w, r)
		if !ok {
			return
		}
		var in struct {
			Name                   *string   `json:"name"`
			RedirectURIs           *[]string `json:"redirectUris"`
			PostLogoutRedirectURIs *[]string `json:"postLogoutRedirectUris"`
			Disabled               *bool     `json:"disabled"`
		}
		if !httpapi.Decode(w, r, &in) {
			return
		}
		c, err := s.Admin.UpdateClient(r.Context(), actor, r.PathValue("id"), admin.ClientPatch(in))
		if err != nil {
			s.adminFailed(w, r, "client", err)
			return
		}
		httpapi.WriteJSON(w, http.StatusOK, c)
	})
}

// handleAdminDeleteClient answers DELETE /api/v1/admin/clients/{id}.
func (s *server) handleAdminDeleteClient() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		actor, ok := s.adminActor(w, r)
		if !ok {
			return
		}
		if err := s.Admin.DeleteClient(r.Context(), actor, r.PathValue("id")); err != nil {
			s.adminFailed(w, r, "client", err)
			return
		}
		httpapi.WriteJSON(w, http.StatusOK, map[string]any{"success": true})
	})
}
