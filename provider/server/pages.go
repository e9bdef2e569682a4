package server

import (
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/manacore/mana-core-auth/provider"
	"github.com/manacore/mana-core-auth/provider/account"
	"github.com/manacore/mana-core-auth/provider/websession"
	"github.com/manacore/mana-core-auth/templates"
)

func lang(r *http.Request) string { return templates.PickLang(r.Header.Get("Accept-Language")) }

// --- registration ---

func (s *server) handleRegisterPage() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.render(r.Context(), w, http.StatusOK, templates.RegisterPage(templates.RegisterView{
			Lang: lang(r), ReturnTo: safeReturnTo(r.URL.Query().Get("return_to")),
		}))
	})
}

var registerErrorKeys = map[string]string{
	"email:invalid_email": "register.invalid_email", "email:required": "register.invalid_email",
	"password:length": "register.password_length", "name:length": "register.name_length",
}

func (s *server) handleRegisterSubmit() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			s.errorPage(w, r, http.StatusBadRequest, "error.bad_request")
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
					key = "error.bad_request"
				}
				v.Errors[f] = templates.T(l, key)
			}
			s.render(r.Context(), w, http.StatusBadRequest, templates.RegisterPage(v))
		case errors.Is(err, account.ErrEmailTaken):
			v.Errors["email"] = templates.T(l, "register.email_taken")
			s.render(r.Context(), w, http.StatusConflict, templates.RegisterPage(v))
		case err != nil:
			s.Logger.ErrorContext(r.Context(), "register page", "error", err)
			s.errorPage(w, r, http.StatusInternalServerError, "error.internal")
		default:
			s.creditsSignup(r.Context(), u.ID)
			s.render(r.Context(), w, http.StatusOK, templates.RegisteredPage(templates.RegisteredView{Lang: l, Email: account.NormalizeEmail(v.Email)}))
		}
	})
}

func (s *server) handleResendPage() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			s.errorPage(w, r, http.StatusBadRequest, "error.bad_request")
			return
		}
		email := account.NormalizeEmail(r.PostForm.Get("email"))
		if account.ValidEmail(email) {
			if err := s.Accounts.ResendVerification(r.Context(), email, s.Config.Issuer, lang(r)); err != nil {
				s.Logger.ErrorContext(r.Context(), "resend verification page", "error", err)
			}
		}
		s.render(r.Context(), w, http.StatusOK, templates.RegisteredPage(templates.RegisteredView{Lang: lang(r), Email: email}))
	})
}

// --- forgotten and reset passwords ---

func (s *server) handleForgotPage() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.render(r.Context(), w, http.StatusOK, templates.ForgotPasswordPage(templates.ForgotView{Lang: lang(r)}))
	})
}

func (s *server) handleForgotSubmit() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			s.errorPage(w, r, http.StatusBadRequest, "error.bad_request")
			return
		}
		l := lang(r)
		email := account.NormalizeEmail(r.PostForm.Get("email"))
		if !account.ValidEmail(email) {
			s.render(r.Context(), w, http.StatusBadRequest, templates.ForgotPasswordPage(templates.ForgotView{Lang: l, Email: r.PostForm.Get("email"), Error: templates.T(l, "register.invalid_email")}))
			return
		}
		if err := s.Accounts.ForgotPassword(r.Context(), email, s.Config.Issuer, l); err != nil {
			s.Logger.ErrorContext(r.Context(), "forgot password page", "error", err)
			s.errorPage(w, r, http.StatusInternalServerError, "error.internal")
			return
		}
		s.render(r.Context(), w, http.StatusOK, templates.ForgotPasswordPage(templates.ForgotView{Lang: l, Email: email, Sent: true}))
	})
}

func (s *server) handleResetPage() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.render(r.Context(), w, http.StatusOK, templates.ResetPasswordPage(templates.ResetView{Lang: lang(r), Token: r.URL.Query().Get("token")}))
	})
}

func (s *server) handleResetSubmit() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			s.errorPage(w, r, http.StatusBadRequest, "error.bad_request")
			return
		}
		l := lang(r)
		v := templates.ResetView{Lang: l, Token: r.PostForm.Get("token")}
		pw := r.PostForm.Get("password")
		if pw != r.PostForm.Get("password_confirm") {
			v.Error = templates.T(l, "reset.mismatch")
			s.render(r.Context(), w, http.StatusBadRequest, templates.ResetPasswordPage(v))
			return
		}
		_, err := s.Accounts.ResetPassword(r.Context(), v.Token, pw, s.clientIP(r), r.UserAgent())
		var ve *account.ValidationError
		switch {
		case errors.As(err, &ve):
			v.Error = templates.T(l, "register.password_length")
			s.render(r.Context(), w, http.StatusBadRequest, templates.ResetPasswordPage(v))
		case errors.Is(err, account.ErrInvalidToken):
			v.Error = templates.T(l, "reset.invalid_token")
			s.render(r.Context(), w, http.StatusBadRequest, templates.ResetPasswordPage(v))
		case err != nil:
			s.Logger.ErrorContext(r.Context(), "reset password page", "error", err)
			s.errorPage(w, r, http.StatusInternalServerError, "error.internal")
		default:
			// Every session ended with the reset, this browser's included.
			s.Sessions.ClearCookie(w, r)
			s.render(r.Context(), w, http.StatusOK, templates.ResetPasswordPage(templates.ResetView{Lang: l, Done: true}))
		}
	})
}

// --- the TOTP step of the browser login ---

type pageTwoFactor struct {
	UserID   string `json:"u"`
	Remember bool   `json:"r,omitempty"`
	ReturnTo string `json:"t"`
}

func (s *server) handleLogin2FASubmit() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		if err := r.ParseForm(); err != nil {
			s.errorPage(w, r, http.StatusBadRequest, "error.bad_request")
			return
		}
		l := lang(r)
		challenge := r.PostForm.Get("challenge")
		var c pageTwoFactor
		if err := s.tickets.open("page-2fa", challenge, &c); err != nil {
			s.renderLogin(w, r, http.StatusBadRequest, "", "/", "login.required")
			return
		}
		if wait := s.backoffWait(r, secondFactorKey(c.UserID)); wait > 0 {
			s.tooMany(w, r, true, wait)
			return
		}
		method, err := s.Accounts.VerifySecondFactor(ctx, c.UserID, r.PostForm.Get("code"), s.clientIP(r), r.UserAgent())
		s.backoffResult(r, secondFactorKey(c.UserID), !errors.Is(err, account.ErrInvalidCode))
		if err != nil {
			if errors.Is(err, account.ErrInvalidCode) || errors.Is(err, account.ErrTOTPNotEnrolled) {
				s.render(ctx, w, http.StatusUnauthorized, templates.TwoFactorPage(templates.TwoFactorView{Lang: l, Challenge: challenge, Error: templates.T(l, "2fa.invalid_code")}))
				return
			}
			s.Logger.ErrorContext(ctx, "login 2fa page", "error", err)
			s.errorPage(w, r, http.StatusInternalServerError, "error.internal")
			return
		}
		u, err := s.Store.GetUser(ctx, c.UserID)
		if err != nil {
			s.renderLogin(w, r, http.StatusBadRequest, "", c.ReturnTo, "login.required")
			return
		}
		s.completeLogin(w, r, u, []string{"pwd", method}, c.Remember, c.ReturnTo)
	})
}

// completeLogin starts the browser session after every factor passed and
// resumes where the user was going.
func (s *server) completeLogin(w http.ResponseWriter, r *http.Request, u *provider.User, methods []string, remember bool, returnTo string) {
	ctx := r.Context()
	sess, replaced, err := s.Sessions.Login(ctx, w, r, websession.LoginInfo{
		UserID: u.ID, Methods: methods, RememberMe: remember, IP: s.clientIP(r), UserAgent: r.UserAgent(),
	})
	if err != nil {
		s.Logger.ErrorContext(ctx, "login: create session", "error", err)
		s.errorPage(w, r, http.StatusInternalServerError, "error.internal")
		return
	}
	if replaced != "" {
		// The browser was signed in as someone else: that session ends,
		// and so do the tokens issued from it.
		if _, err := s.Store.RevokeSession(ctx, replaced); err != nil {
			s.Logger.ErrorContext(ctx, "login: revoke replaced session", "error", err)
		}
		// The replaced session belonged to another user, whose id the
		// logout token may omit (sid alone identifies it).
		s.sessionEnded(ctx, replaced, "")
	}
	s.Accounts.Event(ctx, &provider.SecurityEvent{UserID: u.ID, Type: provider.EventLoginSuccess, IP: sess.IP, UserAgent: sess.UserAgent,
		Detail: map[string]string{"via": "page", "methods": strings.Join(methods, ",")}})
	if isAuthorizePath(returnTo) {
		sep := "?"
		if strings.Contains(returnTo, "?") {
			sep = "&"
		}
		returnTo += sep + loginTicketParam + "=" + url.QueryEscape(s.newLoginTicket(sess))
	}
	http.Redirect(w, r, returnTo, http.StatusSeeOther)
}

// --- the account page ---

// accountUser returns the signed-in user or redirects to the login page.
func (s *server) accountUser(w http.ResponseWriter, r *http.Request) (*provider.Session, *provider.User, bool) {
	return s.accountUserAt(w, r, "/account")
}

// accountUserAt is accountUser returning to returnTo after the login.
func (s *server) accountUserAt(w http.ResponseWriter, r *http.Request, returnTo string) (*provider.Session, *provider.User, bool) {
	sess, u := s.currentUser(r.Context(), r)
	if sess == nil {
		http.Redirect(w, r, "/login?"+url.Values{"return_to": {returnTo}}.Encode(), http.StatusSeeOther)
		return nil, nil, false
	}
	return sess, u, true
}

func (s *server) renderAccount(w http.ResponseWriter, r *http.Request, status int, sess *provider.Session, u *provider.User, v templates.AccountView) {
	ctx := r.Context()
	v.Lang, v.Name, v.Email, v.EmailVerified = lang(r), u.Name, u.Email, u.EmailVerified
	v.Credits = s.Credits != nil
	enabled, err := s.Accounts.TOTPEnabled(ctx, u.ID)
	if err != nil {
		s.Logger.ErrorContext(ctx, "account page: totp", "error", err)
	}
	v.TwoFactorEnabled = enabled
	if list, err := s.Store.ListSessions(ctx, u.ID, s.Config.Now()); err == nil {
		for _, x := range list {
			v.Sessions = append(v.Sessions, templates.AccountSession{ID: x.ID, DeviceName: x.DeviceName, UserAgent: x.UserAgent,
				IP: x.IP, CreatedAt: x.CreatedAt, LastSeenAt: x.LastSeenAt, Current: x.ID == sess.ID})
		}
	}
	if evs, err := s.Store.ListEvents(ctx, u.ID, 20); err == nil {
		for _, e := range evs {
			v.Events = append(v.Events, templates.AccountEvent{Type: e.Type, IP: e.IP, UserAgent: e.UserAgent, At: e.CreatedAt})
		}
	}
	s.render(ctx, w, status, templates.AccountPage(v))
}

var accountNotices = map[string]bool{
	"account.saved": true, "account.password_changed": true, "account.2fa_disabled": true,
	"account.session_revoked": true, "account.sessions_revoked": true,
}

func (s *server) handleAccountPage() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sess, u, ok := s.accountUser(w, r)
		if !ok {
			return
		}
		v := templates.AccountView{}
		if n := r.URL.Query().Get("notice"); accountNotices[n] {
			v.Notice = templates.T(lang(r), n)
		}
		s.renderAccount(w, r, http.StatusOK, sess, u, v)
	})
}

// handleAccountAction runs one account form. Successful changes redirect
// (post/redirect/get) so a reload does not repeat them; failures render
// the page with the error in place.
func (s *server) handleAccountAction(action string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sess, u, ok := s.accountUser(w, r)
		if !ok {
			return
		}
		if err := r.ParseForm(); err != nil {
			s.errorPage(w, r, http.StatusBadRequest, "error.bad_request")
			return
		}
		ctx, l, f := r.Context(), lang(r), r.PostForm
		done := func(notice string) {
			http.Redirect(w, r, "/account?notice="+notice, http.StatusSeeOther)
		}
		fail := func(status int, key string) {
			s.renderAccount(w, r, status, sess, u, templates.AccountView{Error: templates.T(l, key)})
		}
		switch action {
		case "profile":
			name := strings.TrimSpace(f.Get("name"))
			if !account.ValidName(name) {
				fail(http.StatusBadRequest, "register.name_length")
				return
			}
			u.Name, u.UpdatedAt = name, s.Config.Now().UTC()
			if err := s.Store.UpdateUser(ctx, u); err != nil {
				s.Logger.ErrorContext(ctx, "account: profile", "error", err)
				fail(http.StatusInternalServerError, "error.internal")
				return
			}
			done("account.saved")
		case "password":
			err := s.Accounts.ChangePassword(ctx, u.ID, f.Get("current_password"), f.Get("new_password"), s.clientIP(r), r.UserAgent())
			var ve *account.ValidationError
			switch {
			case errors.As(err, &ve):
				fail(http.StatusBadRequest, "register.password_length")
			case errors.Is(err, account.ErrInvalidCredentials):
				fail(http.StatusBadRequest, "password.wrong_current")
			case err != nil:
				s.Logger.ErrorContext(ctx, "account: password", "error", err)
				fail(http.StatusInternalServerError, "error.internal")
			default:
				done("account.password_changed")
			}
		case "2fa-enroll":
			e, err := s.Accounts.BeginTOTP(ctx, u)
			if err != nil {
				if errors.Is(err, account.ErrTOTPAlreadyEnabled) {
					http.Redirect(w, r, "/account", http.StatusSeeOther)
					return
				}
				s.Logger.ErrorContext(ctx, "account: 2fa enroll", "error", err)
				fail(http.StatusInternalServerError, "error.internal")
				return
			}
			s.renderAccount(w, r, http.StatusOK, sess, u, templates.AccountView{Enroll: &templates.EnrollView{QRDataURI: e.QRDataURI, Secret: e.Secret}})
		case "2fa-verify":
			codes, err := s.Accounts.ConfirmTOTP(ctx, u.ID, f.Get("code"), s.clientIP(r), r.UserAgent())
			if err != nil {
				if errors.Is(err, account.ErrInvalidCode) || errors.Is(err, account.ErrTOTPNotEnrolled) {
					fail(http.StatusBadRequest, "2fa.invalid_code")
					return
				}
				s.Logger.ErrorContext(ctx, "account: 2fa verify", "error", err)
				fail(http.StatusInternalServerError, "error.internal")
				return
			}
			// Recovery codes are shown once, on this response only.
			s.renderAccount(w, r, http.StatusOK, sess, u, templates.AccountView{Notice: templates.T(l, "account.2fa_enabled"), RecoveryCodes: codes})
		case "2fa-disable":
			if err := s.Accounts.DisableTOTP(ctx, u.ID, f.Get("code"), s.clientIP(r), r.UserAgent()); err != nil {
				if errors.Is(err, account.ErrInvalidCode) || errors.Is(err, account.ErrTOTPNotEnrolled) {
					fail(http.StatusBadRequest, "2fa.invalid_code")
					return
				}
				s.Logger.ErrorContext(ctx, "account: 2fa disable", "error", err)
				fail(http.StatusInternalServerError, "error.internal")
				return
			}
			done("account.2fa_disabled")
		case "revoke":
			id := f.Get("session_id")
			if id == sess.ID {
				http.Redirect(w, r, "/logout", http.StatusSeeOther)
				return
			}
			if err := s.Accounts.EndSession(ctx, u.ID, id); err != nil && !errors.Is(err, provider.ErrNotFound) {
				s.Logger.ErrorContext(ctx, "account: revoke session", "error", err)
				fail(http.StatusInternalServerError, "error.internal")
				return
			}
			done("account.session_revoked")
		case "revoke-others":
			if _, err := s.Accounts.EndAllSessions(ctx, u.ID, sess.ID); err != nil {
				s.Logger.ErrorContext(ctx, "account: revoke other sessions", "error", err)
				fail(http.StatusInternalServerError, "error.internal")
				return
			}
			done("account.sessions_revoked")
		default:
			s.errorPage(w, r, http.StatusNotFound, "error.not_found")
		}
	})
}
