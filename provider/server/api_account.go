package server

import (
	"errors"
	"net/http"

	"github.com/manacore/mana-core-auth/internal/httpapi"
	"github.com/manacore/mana-core-auth/provider"
	"github.com/manacore/mana-core-auth/provider/account"
	"github.com/manacore/mana-core-auth/provider/websession"
)

// Account management through the first-party JSON API: sessions and
// devices, the password and the second factor. Every route takes a
// first-party access token bound to a login session (bearerClaims).

func (s *server) handleAPISessions() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, ok := s.bearerClaims(w, r)
		if !ok {
			return
		}
		list, err := s.Store.ListSessions(r.Context(), c.Subject, s.Config.Now())
		if err != nil {
			httpapi.InternalError(w, r, s.Logger, "list sessions", err)
			return
		}
		out := make([]apiSession, 0, len(list))
		for _, sess := range list {
			out = append(out, toAPISession(sess, c.SessionID))
		}
		httpapi.WriteJSON(w, http.StatusOK, map[string]any{"sessions": out})
	})
}

func (s *server) handleAPIRevokeSession() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, ok := s.bearerClaims(w, r)
		if !ok {
			return
		}
		err := s.Sessions.EndOwn(r.Context(), c.Subject, r.PathValue("id"), s.ending(r, websession.EndRevoked))
		switch {
		case errors.Is(err, provider.ErrNotFound):
			httpapi.WriteError(w, http.StatusNotFound, "session_not_found", "Session not found")
		case err != nil:
			httpapi.InternalError(w, r, s.Logger, "revoke session", err)
		default:
			httpapi.WriteJSON(w, http.StatusOK, map[string]any{"success": true})
		}
	})
}

func (s *server) handleAPIRevokeAll() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, ok := s.bearerClaims(w, r)
		if !ok {
			return
		}
		in := struct {
			KeepCurrent *bool `json:"keepCurrent"`
		}{}
		if r.ContentLength != 0 && !httpapi.Decode(w, r, &in) {
			return
		}
		keep, reason := c.SessionID, websession.EndOthersRevoked
		if in.KeepCurrent != nil && !*in.KeepCurrent {
			keep, reason = "", websession.EndAllRevoked
		}
		ids, err := s.Sessions.EndAll(r.Context(), c.Subject, keep, s.ending(r, reason))
		if err != nil {
			httpapi.InternalError(w, r, s.Logger, "revoke all sessions", err)
			return
		}
		httpapi.WriteJSON(w, http.StatusOK, map[string]any{"success": true, "revoked": len(ids)})
	})
}

func (s *server) handleAPIChangePassword() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, ok := s.bearerClaims(w, r)
		if !ok {
			return
		}
		var in struct {
			CurrentPassword string `json:"currentPassword"`
			NewPassword     string `json:"newPassword"`
		}
		if !httpapi.Decode(w, r, &in) {
			return
		}
		err := s.Accounts.ChangePassword(r.Context(), c.Subject, in.CurrentPassword, in.NewPassword, s.clientIP(r), r.UserAgent())
		var ve *account.ValidationError
		switch {
		case errors.As(err, &ve):
			httpapi.WriteValidation(w, ve.Fields)
		case errors.Is(err, account.ErrInvalidCredentials):
			httpapi.WriteError(w, http.StatusUnauthorized, "invalid_credentials", "Current password is incorrect")
		case err != nil:
			httpapi.InternalError(w, r, s.Logger, "change password", err)
		default:
			httpapi.WriteJSON(w, http.StatusOK, map[string]any{"success": true, "message": "Password changed successfully"})
		}
	})
}

func (s *server) handleAPI2FAEnroll() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, ok := s.bearerClaims(w, r)
		if !ok {
			return
		}
		u, err := s.Store.GetUser(r.Context(), c.Subject)
		if err != nil {
			if !errors.Is(err, provider.ErrNotFound) {
				httpapi.InternalError(w, r, s.Logger, "2fa enroll: load user", err)
				return
			}
			httpapi.WriteError(w, http.StatusUnauthorized, "invalid_token", "Invalid token")
			return
		}
		e, err := s.Accounts.BeginTOTP(r.Context(), u)
		if errors.Is(err, account.ErrTOTPAlreadyEnabled) {
			httpapi.WriteError(w, http.StatusConflict, "2fa_already_enabled", "Two-factor authentication is already enabled")
			return
		}
		if err != nil {
			httpapi.InternalError(w, r, s.Logger, "2fa enroll", err)
			return
		}
		httpapi.WriteJSON(w, http.StatusOK, map[string]any{"secret": e.Secret, "otpauthUri": e.URI, "qrCode": e.QRDataURI})
	})
}

// codeRequest reads the {code} body of the 2FA routes.
func codeRequest(w http.ResponseWriter, r *http.Request) (string, bool) {
	var in struct {
		Code string `json:"code"`
	}
	ok := httpapi.Decode(w, r, &in)
	return in.Code, ok
}

func (s *server) handleAPI2FAVerify() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, ok := s.bearerClaims(w, r)
		if !ok {
			return
		}
		code, ok := codeRequest(w, r)
		if !ok {
			return
		}
		codes, err := s.Accounts.ConfirmTOTP(r.Context(), c.Subject, code, s.clientIP(r), r.UserAgent())
		switch {
		case errors.Is(err, account.ErrInvalidCode):
			httpapi.WriteError(w, http.StatusBadRequest, "invalid_code", "Invalid two-factor code")
		case errors.Is(err, account.ErrTOTPNotEnrolled):
			httpapi.WriteError(w, http.StatusBadRequest, "2fa_not_enrolled", "Start the set-up with /2fa/enroll first")
		case errors.Is(err, account.ErrTOTPAlreadyEnabled):
			httpapi.WriteError(w, http.StatusConflict, "2fa_already_enabled", "Two-factor authentication is already enabled")
		case err != nil:
			httpapi.InternalError(w, r, s.Logger, "2fa verify", err)
		default:
			httpapi.WriteJSON(w, http.StatusOK, map[string]any{"enabled": true, "recoveryCodes": codes})
		}
	})
}

func (s *server) handleAPI2FADisable() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, ok := s.bearerClaims(w, r)
		if !ok {
			return
		}
		code, ok := codeRequest(w, r)
		if !ok {
			return
		}
		err := s.Accounts.DisableTOTP(r.Context(), c.Subject, code, s.clientIP(r), r.UserAgent())
		switch {
		case errors.Is(err, account.ErrInvalidCode):
			httpapi.WriteError(w, http.StatusBadRequest, "invalid_code", "Invalid two-factor code")
		case errors.Is(err, account.ErrTOTPNotEnrolled):
			httpapi.WriteError(w, http.StatusBadRequest, "2fa_not_enabled", "Two-factor authentication is not enabled")
		case err != nil:
			httpapi.InternalError(w, r, s.Logger, "2fa disable", err)
		default:
			httpapi.WriteJSON(w, http.StatusOK, map[string]any{"enabled": false})
		}
	})
}
