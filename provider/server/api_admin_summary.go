package server

import (
	"errors"
	"net/http"

	"github.com/manacore/mana-core-auth/internal/httpapi"
	"github.com/manacore/mana-core-auth/provider"
)

// handleAdminUserData answers GET /api/v1/admin/users/{id}/data: what
// every app and this service hold about the user.
func (s *server) handleAdminUserData() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		actor, ok := s.adminActor(w, r)
		if !ok {
			return
		}
		id := r.PathValue("id")
		sum, err := s.Admin.UserData(r.Context(), actor, id)
		switch {
		case errors.Is(err, provider.ErrNotFound):
			httpapi.WriteError(w, http.StatusNotFound, "user_not_found", "User "+id+" not found")
		case err != nil:
			httpapi.InternalError(w, r, s.Logger, "admin user data", err)
		default:
			httpapi.WriteJSON(w, http.StatusOK, sum)
		}
	})
}
