package server

import (
	"errors"
	"net/http"

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
		if !decodeBody(w, r, &in) {
			return
		}
		if !account.ValidEmail(account.NormalizeEmail(in.Email)) {
			writeValidation(w, map[string]string{"email": "invalid_email"})
			return
		}
		if err := s.Accounts.ForgotPassword(r.Context(), in.Email, in.RedirectTo, lang(r)); err != nil {
			s.internalError(w, r, "forgot password", err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"success": true, "message": "If an account with that email exists, a password reset link has been sent"})
	})
}

func (s *server) handleAPIResetPassword() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			Token       string `json:"token"`
			NewPassword string `json:"newPassword"`
		}
		if !decodeBody(w, r, &in) {
			return
		}
		fields := map[string]string{}
		requireFields(fields, map[string]string{"token": in.Token, "newPassword": in.NewPassword})
		if len(fields) > 0 {
			writeValidation(w, fields)
			return
		}
		_, err := s.Accounts.ResetPassword(r.Context(), in.Token, in.NewPassword, s.clientIP(r), r.UserAgent())
		var ve *account.ValidationError
		switch {
		case errors.As(err, &ve):
			writeValidation(w, ve.Fields)
		case errors.Is(err, account.ErrInvalidToken):
			writeAPIError(w, http.StatusUnauthorized, "invalid_token", "Invalid or expired reset token")
		case err != nil:
			s.internalError(w, r, "reset password", err)
		default:
			writeJSON(w, http.StatusOK, map[string]any{"success": true, "message": "Password has been reset successfully"})
		}
	})
}

func (s *server) handleAPIResendVerification() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			Email        string `json:"email"`
			SourceAppURL string `json:"sourceAppUrl"`
		}
		if !decodeBody(w, r, &in) {
			return
		}
		if !account.ValidEmail(account.NormalizeEmail(in.Email)) {
			writeValidation(w, map[string]string{"email": "invalid_email"})
			return
		}
		if err := s.Accounts.ResendVerification(r.Context(), in.Email, in.SourceAppURL, lang(r)); err != nil {
			s.internalError(w, r, "resend verification", err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"success": true, "message": "If an account with that email exists, a verification email has been sent"})
	})
}
