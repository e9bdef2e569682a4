package server

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"github.com/manacore/mana-core-auth/provider/account"
	"github.com/manacore/mana-core-auth/templates"
)

// Registration and email verification pages.

func (s *server) handleRegisterPage() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.render(r.Context(), w, http.StatusOK, templates.RegisterPage(templates.RegisterView{
			Lang: lang(r), ReturnTo: safeReturnTo(r.URL.Query().Get("return_to")),
		}))
	})
}

// registerErrorKeys maps a validation failure (field:code) to its message.
var registerErrorKeys = map[string]string{
	"email:invalid_email": templates.KeyRegisterInvalidEmail, "email:required": templates.KeyRegisterInvalidEmail,
	"password:length": templates.KeyRegisterPasswordLength, "name:length": templates.KeyRegisterNameLength,
	"name:invalid_name": templates.KeyRegisterNameInvalid,
}

func (s *server) handleRegisterSubmit() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !s.parseForm(w, r) {
			return
		}
		l := lang(r)
		v := templates.RegisterView{Lang: l, Name: r.PostForm.Get("name"), Email: r.PostForm.Get("email"),
			ReturnTo: safeReturnTo(r.PostForm.Get("return_to")), Errors: map[string]string{}}
		u, err := s.Accounts.Register(r.Context(), account.RegisterInput{
			Email: v.Email, Password: r.PostForm.Get("password"), Name: v.Name, SourceAppURL: s.Config.Issuer,
			Lang: l, IP: s.clientIP(r), UserAgent: r.UserAgent(),
		})
		var ve *account.ValidationError
		switch {
		case errors.As(err, &ve):
			for f, code := range ve.Fields {
				key, ok := registerErrorKeys[f+":"+code]
				if !ok {
					key = templates.KeyErrorBadRequest
				}
				v.Errors[f] = templates.T(l, key)
			}
			s.render(r.Context(), w, http.StatusBadRequest, templates.RegisterPage(v))
		case errors.Is(err, account.ErrEmailTaken):
			v.Errors["email"] = templates.T(l, templates.KeyRegisterEmailTaken)
			s.render(r.Context(), w, http.StatusConflict, templates.RegisterPage(v))
		case err != nil:
			s.pageError(w, r, fmt.Errorf("register: %w", err))
		default:
			s.creditsSignup(r.Context(), u.ID)
			s.render(r.Context(), w, http.StatusOK, templates.RegisteredPage(templates.RegisteredView{Lang: l, Email: account.NormalizeEmail(v.Email)}))
		}
	})
}

func (s *server) handleResendPage() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !s.parseForm(w, r) {
			return
		}
		email := account.NormalizeEmail(r.PostForm.Get("email"))
		if account.ValidEmail(email) {
			if err := s.Accounts.ResendVerification(r.Context(), email, s.Config.Issuer, lang(r)); err != nil {
				s.pageError(w, r, fmt.Errorf("resend verification: %w", err))
				return
			}
		}
		s.render(r.Context(), w, http.StatusOK, templates.RegisteredPage(templates.RegisteredView{Lang: lang(r), Email: email}))
	})
}

// handleVerifyEmail is the link in the verification email. It sends the
// browser back to the app it came from (allowed origins only) or shows our
// own result page.
func (s *server) handleVerifyEmail() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		q := r.URL.Query()
		u, stored, err := s.Accounts.VerifyEmail(ctx, q.Get("token"))
		origin := stored
		if o := s.Accounts.RedirectOrigin(q.Get("redirectTo")); o != "" {
			origin = o
		}
		if err != nil {
			if !errors.Is(err, account.ErrInvalidToken) {
				s.pageError(w, r, fmt.Errorf("verify email: %w", err))
				return
			}
			if origin != "" {
				http.Redirect(w, r, origin+"/verification-failed?error=invalid_or_expired_token", http.StatusFound)
				return
			}
			s.render(ctx, w, http.StatusBadRequest, templates.VerifyResultPage(templates.VerifyResultView{Lang: lang(r)}))
			return
		}
		if origin != "" {
			http.Redirect(w, r, origin+"/login?"+url.Values{"verified": {"true"}, "email": {u.Email}}.Encode(), http.StatusFound)
			return
		}
		s.render(ctx, w, http.StatusOK, templates.VerifyResultPage(templates.VerifyResultView{Lang: lang(r), OK: true, Email: u.Email}))
	})
}
