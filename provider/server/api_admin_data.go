package server

// issue 11, part B (erasure): erasing a user's data, the erasure's state,
// and the self-service export and account deletion.

import (
	"errors"
	"net/http"

	"github.com/manacore/mana-core-auth/internal/httpapi"
	"github.com/manacore/mana-core-auth/provider"
	"github.com/manacore/mana-core-auth/provider/admin"
)

// erasureStatus is 200 when every part of the erasure is done, and 202
// Accepted (with success:false) when some backend failed: the local part
// is done and the rest is in the retry queue, not refused.
func erasureStatus(res *admin.ErasureResult) int {
	if res.Success {
		return http.StatusOK
	}
	return http.StatusAccepted
}

// handleAdminEraseUser answers DELETE /api/v1/admin/users/{id}/data.
func (s *server) handleAdminEraseUser() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		actor, ok := s.adminActor(w, r)
		if !ok {
			return
		}
		id := r.PathValue("id")
		res, err := s.Admin.Erase(r.Context(), actor, id)
		switch {
		case errors.Is(err, provider.ErrNotFound):
			httpapi.WriteError(w, http.StatusNotFound, "user_not_found", "User "+id+" not found")
		case errors.Is(err, admin.ErrErased):
			httpapi.WriteError(w, http.StatusConflict, "user_erased", "User "+id+" was erased already")
		case err != nil:
			httpapi.InternalError(w, r, s.Logger, "admin erase user", err)
		default:
			httpapi.WriteJSON(w, erasureStatus(res), res)
		}
	})
}

// handleAdminErasure answers GET /api/v1/admin/erasures/{id}.
func (s *server) handleAdminErasure() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		actor, ok := s.adminActor(w, r)
		if !ok {
			return
		}
		id := r.PathValue("id")
		e, err := s.Admin.Erasure(r.Context(), actor, id)
		switch {
		case errors.Is(err, provider.ErrNotFound):
			httpapi.WriteError(w, http.StatusNotFound, "erasure_not_found", "Erasure "+id+" not found")
		case err != nil:
			httpapi.InternalError(w, r, s.Logger, "admin erasure", err)
		default:
			httpapi.WriteJSON(w, http.StatusOK, e)
		}
	})
}

// handleAPIExportMe answers GET /api/v1/auth/me/data: everything this
// service holds about the signed-in user.
func (s *server) handleAPIExportMe() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, ok := s.bearerClaims(w, r)
		if !ok {
			return
		}
		ex, err := s.Admin.Export(r.Context(), c.Subject)
		switch {
		case errors.Is(err, provider.ErrNotFound), errors.Is(err, admin.ErrErased):
			httpapi.WriteError(w, http.StatusUnauthorized, "invalid_token", "Invalid token")
		case err != nil:
			httpapi.InternalError(w, r, s.Logger, "export my data", err)
		default:
			w.Header().Set("Content-Disposition", `attachment; filename="mana-data.json"`)
			httpapi.WriteJSON(w, http.StatusOK, ex)
		}
	})
}

// handleAPIDeleteMe answers DELETE /api/v1/auth/me: the signed-in user
// deletes their account, with password, second factor when enrolled, and
// the typed email.
func (s *server) handleAPIDeleteMe() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, ok := s.bearerClaims(w, r)
		if !ok {
			return
		}
		var in struct {
			Password string `json:"password"`
			Code     string `json:"code"`
			Email    string `json:"email"`
		}
		if !httpapi.Decode(w, r, &in) {
			return
		}
		res, err := s.Admin.EraseSelf(r.Context(), c.Subject, admin.SelfErasure{Password: in.Password, Code: in.Code,
			TypedEmail: in.Email, IP: s.clientIP(r), UserAgent: r.UserAgent()})
		var ve *admin.ValidationError
		switch {
		case errors.As(err, &ve):
			httpapi.WriteValidation(w, ve.Fields)
		case errors.Is(err, admin.ErrWrongPassword):
			httpapi.WriteError(w, http.StatusUnauthorized, "invalid_credentials", "Password is incorrect")
		case errors.Is(err, admin.ErrCodeRequired):
			httpapi.WriteError(w, http.StatusUnauthorized, "second_factor_required", "A valid two-factor code is required")
		case errors.Is(err, provider.ErrNotFound), errors.Is(err, admin.ErrErased):
			httpapi.WriteError(w, http.StatusUnauthorized, "invalid_token", "Invalid token")
		case err != nil:
			httpapi.InternalError(w, r, s.Logger, "delete my account", err)
		default:
			httpapi.WriteJSON(w, erasureStatus(res), res)
		}
	})
}
