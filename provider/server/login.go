package server

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/manacore/mana-core-auth/provider"
	"github.com/manacore/mana-core-auth/provider/account"
	"github.com/manacore/mana-core-auth/provider/oidc"
	"github.com/manacore/mana-core-auth/provider/websession"
	"github.com/manacore/mana-core-auth/templates"
)

// The browser login: the password form, its TOTP step, and the start of
// the session that resumes where the user was going.

// loginClient finds the client a return target belongs to, for the page
// header ("Sign in to Chat").
func (s *server) loginClient(r *http.Request, returnTo string) *oidc.Client {
	u, err := url.Parse(returnTo)
	if err != nil {
		return nil
	}
	id := u.Query().Get("client_id")
	if id == "" {
		return nil
	}
	c, err := s.OP.Client(r.Context(), id)
	if err != nil {
		return nil
	}
	return c
}

func (s *server) renderLogin(w http.ResponseWriter, r *http.Request, status int, email, returnTo, errKey string) {
	s.render(r.Context(), w, status, templates.LoginPage(s.loginView(r, email, returnTo, errKey)))
}

func (s *server) loginView(r *http.Request, email, returnTo, errKey string) templates.LoginView {
	l := lang(r)
	name, logo := clientView(s.loginClient(r, returnTo))
	v := templates.LoginView{Lang: l, ClientName: name, ClientLogoURI: logo, Email: email, ReturnTo: returnTo, Passkeys: s.Passkeys != nil}
	if errKey != "" {
		v.Error = templates.T(l, errKey)
	}
	return v
}

func (s *server) handleLoginPage() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		email := q.Get("login_hint")
		if email == "" {
			email = q.Get("email") // set by the verification and reset links' continuation
		}
		v := s.loginView(r, email, safeReturnTo(q.Get("return_to")), "")
		v.Notice = loginNotice(v.Lang, v.ClientName, q)
		if q.Get("prompt") == "select_account" {
			// The authorization request asked to choose: offer the
			// signed-in account beside the form for another.
			sess, u, err := s.currentUser(r.Context(), r)
			if err != nil {
				s.pageError(w, r, fmt.Errorf("login page: %w", err))
				return
			}
			if sess != nil {
				v.CurrentEmail, v.ContinueURL = u.Email, s.accountChoiceURL(v.ReturnTo, sess)
			}
		}
		s.render(r.Context(), w, http.StatusOK, templates.LoginPage(v))
	})
}

// loginNotice is the confirmation the login page shows after a mail link
// sent the browser here: the address was confirmed, or the password
// changed. With an app waiting it names the app.
func loginNotice(l, app string, q url.Values) string {
	var key, appKey string
	switch {
	case q.Get("verified") == "true":
		key, appKey = templates.KeyLoginVerified, templates.KeyLoginVerifiedApp
	case q.Get("reset") == "done":
		key, appKey = templates.KeyLoginResetDone, templates.KeyLoginResetDoneApp
	default:
		return ""
	}
	if app != "" {
		return fmt.Sprintf(templates.T(l, appKey), app)
	}
	return templates.T(l, key)
}

// continueLoginURL is our login page after a mail link: the notice
// (verified=true or reset=done), the address filled in and the flow's
// continuation.
func continueLoginURL(notice url.Values, email, continuation string) string {
	notice.Set("email", email)
	if continuation != "" && continuation != "/" {
		notice.Set("return_to", continuation)
	}
	return "/login?" + notice.Encode()
}

func (s *server) handleLoginSubmit() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		if !s.parseForm(w, r) {
			return
		}
		email := account.NormalizeEmail(r.PostForm.Get("email"))
		password := r.PostForm.Get("password")
		returnTo := safeReturnTo(r.PostForm.Get("return_to"))
		remember := r.PostForm.Get("remember") == "1"
		if email == "" || password == "" {
			s.renderLogin(w, r, http.StatusBadRequest, email, returnTo, templates.KeyLoginRequired)
			return
		}
		turn, wait := s.loginWait(r, email)
		if wait > 0 {
			s.Accounts.LoginThrottled(ctx, email, s.clientIP(r), r.UserAgent(), "page")
			s.tooMany(w, r, true, wait)
			return
		}
		u, err := s.Accounts.Authenticate(ctx, email, password)
		s.loginResult(r, turn, err)
		switch {
		case errors.Is(err, account.ErrInvalidCredentials):
			s.Accounts.LoginFailed(ctx, email, s.clientIP(r), r.UserAgent(), "page")
			s.renderLogin(w, r, http.StatusUnauthorized, email, returnTo, templates.KeyLoginInvalid)
			return
		case errors.Is(err, account.ErrEmailNotVerified):
			s.renderLogin(w, r, http.StatusForbidden, email, returnTo, templates.KeyLoginUnverified)
			return
		case errors.Is(err, provider.ErrAccountDisabled):
			s.renderLogin(w, r, http.StatusForbidden, email, returnTo, templates.KeyLoginDisabled)
			return
		case isOverload(err):
			// The form stays filled in; the password was not checked.
			setOverloadRetry(w, err)
			s.renderLogin(w, r, http.StatusServiceUnavailable, email, returnTo, templates.KeyErrorBusy)
			return
		case err != nil:
			s.pageError(w, r, fmt.Errorf("login: %w", err))
			return
		}
		enabled, err := s.Accounts.PasswordAccepted(ctx, u.ID)
		if err != nil {
			s.pageError(w, r, fmt.Errorf("login: totp state: %w", err))
			return
		}
		if enabled {
			s.renderTwoFactor(w, r, http.StatusOK, pageTwoFactor{UserID: u.ID, Remember: remember, ReturnTo: returnTo}, "")
			return
		}
		s.completeLogin(w, r, u, []string{"pwd"}, remember, returnTo)
	})
}

// pageTwoFactor is the sealed state between the password and the TOTP step.
type pageTwoFactor struct {
	UserID   string `json:"u"`
	Remember bool   `json:"r,omitempty"`
	ReturnTo string `json:"t"`
	// Methods are the first factor's amr values when it was a passkey
	// without user verification (issue 15); empty for the password.
	Methods []string `json:"m,omitempty"`
}

func (s *server) handleLogin2FASubmit() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		if !s.parseForm(w, r) {
			return
		}
		l := lang(r)
		challenge := r.PostForm.Get("challenge")
		var c pageTwoFactor
		if err := s.tickets.open("page-2fa", challenge, &c); err != nil {
			s.renderLogin(w, r, http.StatusBadRequest, "", "/", templates.KeyLoginRequired)
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
				s.render(ctx, w, http.StatusUnauthorized, templates.TwoFactorPage(templates.TwoFactorView{Lang: l, Challenge: challenge,
					Error: templates.T(l, templates.Key2FAInvalidCode), Passkey: s.hasPasskeys(ctx, c.UserID)}))
				return
			}
			s.pageError(w, r, fmt.Errorf("login 2fa: %w", err))
			return
		}
		u, err := s.Store.GetUser(ctx, c.UserID)
		if err != nil && !errors.Is(err, provider.ErrNotFound) {
			s.pageError(w, r, fmt.Errorf("login 2fa: load user: %w", err))
			return
		}
		if err != nil {
			s.renderLogin(w, r, http.StatusBadRequest, "", c.ReturnTo, templates.KeyLoginRequired)
			return
		}
		if u.CanSignIn() != nil {
			s.renderLogin(w, r, http.StatusForbidden, "", c.ReturnTo, templates.KeyLoginDisabled)
			return
		}
		s.completeLogin(w, r, u, withMethods(firstFactor(c), method), c.Remember, c.ReturnTo)
	})
}

// completeLogin starts the browser session after every factor passed and
// resumes where the user was going.
func (s *server) completeLogin(w http.ResponseWriter, r *http.Request, u *provider.User, methods []string, remember bool, returnTo string) {
	sess, _, err := s.Sessions.Login(r.Context(), w, r, websession.LoginInfo{
		UserID: u.ID, Methods: methods, RememberMe: remember, IP: s.clientIP(r), UserAgent: r.UserAgent(), Via: "page",
	})
	if err != nil {
		s.pageError(w, r, fmt.Errorf("login: start session: %w", err))
		return
	}
	s.rememberDevice(w, r, account.NormalizeEmail(u.Email))
	if isAuthorizePath(returnTo) {
		sep := "?"
		if strings.Contains(returnTo, "?") {
			sep = "&"
		}
		returnTo += sep + loginTicketParam + "=" + url.QueryEscape(s.newLoginTicket(sess))
	}
	http.Redirect(w, r, returnTo, http.StatusSeeOther)
}

func (s *server) handleHome() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sess, _, err := s.currentUser(r.Context(), r)
		if err != nil {
			s.pageError(w, r, err)
			return
		}
		if sess != nil {
			http.Redirect(w, r, "/account", http.StatusSeeOther)
			return
		}
		http.Redirect(w, r, "/login", http.StatusSeeOther)
	})
}
