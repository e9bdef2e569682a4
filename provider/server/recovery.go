package server

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"github.com/manacore/mana-core-auth/provider"
	"github.com/manacore/mana-core-auth/provider/account"
	"github.com/manacore/mana-core-auth/templates"
)

// Forgotten and reset password pages.

func (s *server) handleForgotPage() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.render(r.Context(), w, http.StatusOK, templates.ForgotPasswordPage(templates.ForgotView{Lang: lang(r),
			ReturnTo: continuation(r.URL.Query().Get("return_to"))}))
	})
}

func (s *server) handleForgotSubmit() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !s.parseForm(w, r) {
			return
		}
		l := lang(r)
		email := account.NormalizeEmail(r.PostForm.Get("email"))
		cont := continuation(r.PostForm.Get("return_to"))
		if !account.ValidEmail(email) {
			s.render(r.Context(), w, http.StatusBadRequest, templates.ForgotPasswordPage(templates.ForgotView{Lang: l,
				Email: r.PostForm.Get("email"), Error: templates.T(l, templates.KeyRegisterInvalidEmail), ReturnTo: cont}))
			return
		}
		err := s.Accounts.RequestLink(r.Context(), account.LinkReset, account.LinkRequest{
			Email: email, RedirectTo: s.Config.Issuer, Continue: cont, Lang: l})
		if err != nil {
			s.pageError(w, r, fmt.Errorf("forgot password: %w", err))
			return
		}
		s.render(r.Context(), w, http.StatusOK, templates.ForgotPasswordPage(templates.ForgotView{Lang: l, Email: email, Sent: true, ReturnTo: cont}))
	})
}

func (s *server) handleResetPage() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		s.render(r.Context(), w, http.StatusOK, templates.ResetPasswordPage(templates.ResetView{Lang: lang(r), Token: q.Get("token"),
			Continue: continuation(q.Get(account.ContinueParam))}))
	})
}

func (s *server) handleResetSubmit() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !s.parseForm(w, r) {
			return
		}
		l := lang(r)
		v := templates.ResetView{Lang: l, Token: r.PostForm.Get("token"), Continue: continuation(r.PostForm.Get(account.ContinueParam))}
		pw := r.PostForm.Get("password")
		if pw != r.PostForm.Get("password_confirm") {
			v.Error = templates.T(l, templates.KeyResetMismatch)
			s.render(r.Context(), w, http.StatusBadRequest, templates.ResetPasswordPage(v))
			return
		}
		u, err := s.Accounts.ResetPassword(r.Context(), v.Token, pw, s.clientIP(r), r.UserAgent())
		var ve *account.ValidationError
		switch {
		case errors.As(err, &ve):
			v.Error = templates.T(l, templates.KeyRegisterPasswordLength)
			s.render(r.Context(), w, http.StatusBadRequest, templates.ResetPasswordPage(v))
		case errors.Is(err, account.ErrInvalidToken):
			v.Error = templates.T(l, templates.KeyResetInvalidToken)
			s.render(r.Context(), w, http.StatusBadRequest, templates.ResetPasswordPage(v))
		case errors.Is(err, provider.ErrAccountDisabled):
			v.Error = templates.T(l, templates.KeyLoginDisabled)
			s.render(r.Context(), w, http.StatusForbidden, templates.ResetPasswordPage(v))
		case err != nil:
			s.pageError(w, r, fmt.Errorf("reset password: %w", err))
		default:
			// Every session ended with the reset, this browser's included.
			s.Sessions.ClearCookie(w, r)
			if v.Continue != "" {
				// Started from an app: sign in again and go on to it.
				http.Redirect(w, r, continueLoginURL(url.Values{"reset": {"done"}}, u.Email, v.Continue), http.StatusSeeOther)
				return
			}
			s.render(r.Context(), w, http.StatusOK, templates.ResetPasswordPage(templates.ResetView{Lang: l, Done: true}))
		}
	})
}
