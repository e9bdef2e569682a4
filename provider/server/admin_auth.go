package server

import (
	"errors"
	"net/http"

	"github.com/manacore/mana-core-auth/internal/httpapi"
	"github.com/manacore/mana-core-auth/provider"
	"github.com/manacore/mana-core-auth/provider/admin"
)

// adminActor authorises an admin API request: a Bearer access token of a
// first-party client bound to a login session (401 without one, 403 for a
// third-party token), whose user is an admin (403 otherwise). It answers
// the refusal itself.
func (s *server) adminActor(w http.ResponseWriter, r *http.Request) (admin.Actor, bool) {
	c, ok := s.bearerClaims(w, r)
	if !ok {
		return admin.Actor{}, false
	}
	actor, _, err := s.Admin.Authorize(r.Context(), c.Subject, s.clientIP(r), r.UserAgent())
	switch {
	case errors.Is(err, admin.ErrForbidden), errors.Is(err, provider.ErrNotFound):
		httpapi.WriteError(w, http.StatusForbidden, "admin_required", "Admin access required")
		return admin.Actor{}, false
	case err != nil:
		httpapi.InternalError(w, r, s.Logger, "authorise admin", err)
		return admin.Actor{}, false
	}
	return actor, true
}
