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
			Continue: continuation(v.ReturnTo), Lang: l, IP: s.clientIP(r), UserAgent: r.UserAgent(),
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
			s.render(r.Context(), w, http.StatusOK, templates.RegisteredPage(templates.RegisteredView{Lang: l,
				Email: account.NormalizeEmail(v.Email), ReturnTo: continuation(v.ReturnTo)}))
		}
	})
}

func (s *server) handleResendPage() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !s.parseForm(w, r) {
			return
		}
		email := account.NormalizeEmail(r.PostForm.Get("email"))
		cont := continuation(r.PostForm.Get("return_to"))
		if account.ValidEmail(email) {
			err := s.Accounts.RequestLink(r.Context(), account.LinkVerify, account.LinkRequest{
				Email: email, RedirectTo: s.Config.Issuer, Continue: cont, Lang: lang(r)})
			if err != nil {
				s.pageError(w, r, fmt.Errorf("resend verification: %w", err))
				return
			}
		}
		s.render(r.Context(), w, http.StatusOK, templates.RegisteredPage(templates.RegisteredView{Lang: lang(r), Email: email, ReturnTo: cont}))
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
		// A link sent from our own pages continues on them: to the login
		// with the notice, and on to the app whose authorization waits.
		cont := continuation(q.Get(account.ContinueParam))
		ours := origin == "" || origin == s.ownOrigin()
		if cont != "" && ours {
			if err != nil {
				if !errors.Is(err, account.ErrInvalidToken) {
					s.pageError(w, r, fmt.Errorf("verify email: %w", err))
					return
				}
				s.render(ctx, w, http.StatusBadRequest, templates.VerifyResultPage(templates.VerifyResultView{Lang: lang(r), ReturnTo: cont}))
				return
			}
			http.Redirect(w, r, continueLoginURL(url.Values{"verified": {"true"}}, u.Email, cont), http.StatusFound)
			return
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

// continuation is the flow's safe continuation (account.SafeContinuation)
// worth carrying on: "" for none or for our start page.
func continuation(raw string) string {
	c := account.SafeContinuation(raw)
	if c == "/" {
		return ""
	}
	return c
}
