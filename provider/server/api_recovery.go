package server

import (
	"errors"
	"net/http"

	"github.com/manacore/mana-core-auth/internal/httpapi"
	"github.com/manacore/mana-core-auth/provider"
	"github.com/manacore/mana-core-auth/provider/account"
)

// Recovering access through the first-party JSON API: forgotten
// passwords and verification mails that went missing.

func (s *server) handleAPIForgotPassword() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			Email      string `json:"email"`
			RedirectTo string `json:"redirectTo"`
		}
		if !httpapi.Decode(w, r, &in) {
			return
		}
		if !account.ValidEmail(account.NormalizeEmail(in.Email)) {
			httpapi.WriteValidation(w, map[string]string{"email": "invalid_email"})
			return
		}
		if err := s.Accounts.ForgotPassword(r.Context(), in.Email, in.RedirectTo, lang(r)); err != nil {
			httpapi.InternalError(w, r, s.Logger, "forgot password", err)
			return
		}
		httpapi.WriteJSON(w, http.StatusOK, map[string]any{"success": true, "message": "If an account with that email exists, a password reset link has been sent"})
	})
}

func (s *server) handleAPIResetPassword() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			Token       string `json:"token"`
			NewPassword string `json:"newPassword"`
		}
		if !httpapi.Decode(w, r, &in) {
			return
		}
		fields := map[string]string{}
		httpapi.RequireFields(fields, map[string]string{"token": in.Token, "newPassword": in.NewPassword})
		if len(fields) > 0 {
			httpapi.WriteValidation(w, fields)
			return
		}
		_, err := s.Accounts.ResetPassword(r.Context(), in.Token, in.NewPassword, s.clientIP(r), r.UserAgent())
		var ve *account.ValidationError
		switch {
		case errors.As(err, &ve):
			httpapi.WriteValidation(w, ve.Fields)
		case errors.Is(err, account.ErrInvalidToken):
			httpapi.WriteError(w, http.StatusUnauthorized, "invalid_token", "Invalid or expired reset token")
		case errors.Is(err, provider.ErrAccountDisabled):
			writeAccountDisabled(w)
		case err != nil:
			httpapi.InternalError(w, r, s.Logger, "reset password", err)
		default:
			httpapi.WriteJSON(w, http.StatusOK, map[string]any{"success": true, "message": "Password has been reset successfully"})
		}
	})
}

func (s *server) handleAPIResendVerification() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			Email        string `json:"email"`
			SourceAppURL string `json:"sourceAppUrl"`
		}
		if !httpapi.Decode(w, r, &in) {
			return
		}
		if !account.ValidEmail(account.NormalizeEmail(in.Email)) {
			httpapi.WriteValidation(w, map[string]string{"email": "invalid_email"})
			return
		}
		if err := s.Accounts.ResendVerification(r.Context(), in.Email, in.SourceAppURL, lang(r)); err != nil {
			httpapi.InternalError(w, r, s.Logger, "resend verification", err)
			return
		}
		httpapi.WriteJSON(w, http.StatusOK, map[string]any{"success": true, "message": "If an account with that email exists, a verification email has been sent"})
	})
}
