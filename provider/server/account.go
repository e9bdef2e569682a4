package server

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"github.com/manacore/mana-core-auth/provider"
	"github.com/manacore/mana-core-auth/provider/account"
	"github.com/manacore/mana-core-auth/provider/websession"
	"github.com/manacore/mana-core-auth/templates"
)

// The account page and its forms. Successful changes redirect
// (post/redirect/get) so a reload does not repeat them; failures render the
// page with the error in place.

// accountUser returns the signed-in user or redirects to the login page,
// which returns to returnTo.
func (s *server) accountUser(w http.ResponseWriter, r *http.Request, returnTo string) (*provider.Session, *provider.User, bool) {
	sess, u, err := s.currentUser(r.Context(), r)
	if err != nil {
		s.pageError(w, r, err)
		return nil, nil, false
	}
	if sess == nil {
		http.Redirect(w, r, "/login?"+url.Values{"return_to": {returnTo}}.Encode(), http.StatusSeeOther)
		return nil, nil, false
	}
	return sess, u, true
}

// accountForm is accountUser for a form post to the account page, with
// the form parsed.
func (s *server) accountForm(w http.ResponseWriter, r *http.Request) (*provider.Session, *provider.User, bool) {
	sess, u, ok := s.accountUser(w, r, "/account")
	if !ok || !s.parseForm(w, r) {
		return nil, nil, false
	}
	return sess, u, true
}

func (s *server) renderAccount(w http.ResponseWriter, r *http.Request, status int, sess *provider.Session, u *provider.User, v templates.AccountView) {
	ctx := r.Context()
	v.Lang, v.Name, v.Email, v.EmailVerified = lang(r), u.Name, u.Email, u.EmailVerified
	v.Credits = s.Credits != nil
	v.Admin = s.Admin != nil && s.Admin.IsAdmin(u)
	enabled, err := s.Accounts.TOTPEnabled(ctx, u.ID)
	if err != nil {
		s.Logger.ErrorContext(ctx, "account page: totp", "error", err)
	}
	v.TwoFactorEnabled = enabled
	if list, err := s.Store.ListSessions(ctx, u.ID, s.Config.Now()); err == nil {
		for _, x := range list {
			v.Sessions = append(v.Sessions, templates.AccountSession{ID: x.ID, DeviceName: x.DeviceName, DeviceID: x.DeviceID, UserAgent: x.UserAgent,
				IP: x.IP, CreatedAt: x.CreatedAt, LastSeenAt: x.LastSeenAt, Current: x.ID == sess.ID})
		}
	}
	v.Picture, v.Apps = u.Picture, s.accountApps(r, u.ID)
	if s.Passkeys != nil { // issue 15 (passkeys)
		v.PasskeysEnabled, v.Passkeys = true, s.accountPasskeys(ctx, u.ID)
	}
	if evs, err := s.Store.ListEvents(ctx, u.ID, 20); err == nil {
		for _, e := range evs {
			v.Events = append(v.Events, templates.AccountEvent{Type: e.Type, IP: e.IP, UserAgent: e.UserAgent, At: e.CreatedAt})
		}
	}
	s.render(ctx, w, status, templates.AccountPage(v))
}

// accountFailed renders the account page with a message; an internal
// error is logged first and shown without its cause.
func (s *server) accountFailed(w http.ResponseWriter, r *http.Request, sess *provider.Session, u *provider.User, status int, key string, cause error) {
	if cause != nil {
		s.Logger.ErrorContext(r.Context(), "account page", "path", r.URL.Path, "error", cause)
	}
	s.renderAccount(w, r, status, sess, u, templates.AccountView{Error: templates.T(lang(r), key)})
}

// accountDone redirects back to the account page with a notice.
func accountDone(w http.ResponseWriter, r *http.Request, notice string) {
	http.Redirect(w, r, "/account?notice="+notice, http.StatusSeeOther)
}

var accountNotices = map[string]bool{
	templates.KeyAccountSaved: true, templates.KeyAccountPasswordChanged: true, templates.KeyAccount2FADisabled: true,
	templates.KeyAccountSessionRevoked: true, templates.KeyAccountSessionsRevoked: true,
	templates.KeyAccountAppRevoked: true,
	// issue 15 (passkeys)
	templates.KeyPasskeyAdded: true, templates.KeyPasskeyRenamed: true, templates.KeyPasskeyRemoved: true,
}

func (s *server) handleAccountPage() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sess, u, ok := s.accountUser(w, r, "/account")
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

func (s *server) handleAccountProfile() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sess, u, ok := s.accountForm(w, r)
		if !ok {
			return
		}
		ch := account.ProfileChange{Name: formField(r, "name"), Picture: formField(r, "picture")}
		_, err := s.Accounts.UpdateProfile(r.Context(), u.ID, ch, s.clientIP(r), r.UserAgent())
		var ve *account.ValidationError
		switch {
		case errors.As(err, &ve) && ve.Fields["name"] == "" && ve.Fields["picture"] != "":
			s.accountFailed(w, r, sess, u, http.StatusBadRequest, templates.KeyAccountPictureBad, nil)
		case errors.As(err, &ve):
			key, ok := registerErrorKeys["name:"+ve.Fields["name"]]
			if !ok {
				key = templates.KeyRegisterNameLength
			}
			s.accountFailed(w, r, sess, u, http.StatusBadRequest, key, nil)
		case err != nil:
			s.accountFailed(w, r, sess, u, http.StatusInternalServerError, templates.KeyErrorInternal, fmt.Errorf("profile: %w", err))
		default:
			accountDone(w, r, templates.KeyAccountSaved)
		}
	})
}

func (s *server) handleAccountPassword() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sess, u, ok := s.accountForm(w, r)
		if !ok {
			return
		}
		f := r.PostForm
		err := s.Accounts.ChangePassword(r.Context(), u.ID, f.Get("current_password"), f.Get("new_password"), s.clientIP(r), r.UserAgent())
		var ve *account.ValidationError
		switch {
		case errors.As(err, &ve):
			s.accountFailed(w, r, sess, u, http.StatusBadRequest, templates.KeyRegisterPasswordLength, nil)
		case errors.Is(err, account.ErrInvalidCredentials):
			s.accountFailed(w, r, sess, u, http.StatusBadRequest, templates.KeyPasswordWrongCurrent, nil)
		case isOverload(err):
			setOverloadRetry(w, err)
			s.accountFailed(w, r, sess, u, http.StatusServiceUnavailable, templates.KeyErrorBusy, nil)
		case err != nil:
			s.accountFailed(w, r, sess, u, http.StatusInternalServerError, templates.KeyErrorInternal, fmt.Errorf("password: %w", err))
		default:
			accountDone(w, r, templates.KeyAccountPasswordChanged)
		}
	})
}

func (s *server) handleAccount2FAEnroll() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sess, u, ok := s.accountForm(w, r)
		if !ok {
			return
		}
		e, err := s.Accounts.BeginTOTP(r.Context(), u)
		switch {
		case errors.Is(err, account.ErrTOTPAlreadyEnabled):
			http.Redirect(w, r, "/account", http.StatusSeeOther)
		case err != nil:
			s.accountFailed(w, r, sess, u, http.StatusInternalServerError, templates.KeyErrorInternal, fmt.Errorf("2fa enroll: %w", err))
		default:
			s.renderAccount(w, r, http.StatusOK, sess, u, templates.AccountView{Enroll: &templates.EnrollView{QRDataURI: e.QRDataURI, Secret: e.Secret}})
		}
	})
}

func (s *server) handleAccount2FAVerify() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sess, u, ok := s.accountForm(w, r)
		if !ok {
			return
		}
		codes, err := s.Accounts.ConfirmTOTP(r.Context(), u.ID, r.PostForm.Get("code"), s.clientIP(r), r.UserAgent())
		switch {
		case errors.Is(err, account.ErrInvalidCode) || errors.Is(err, account.ErrTOTPNotEnrolled):
			s.accountFailed(w, r, sess, u, http.StatusBadRequest, templates.Key2FAInvalidCode, nil)
		case err != nil:
			s.accountFailed(w, r, sess, u, http.StatusInternalServerError, templates.KeyErrorInternal, fmt.Errorf("2fa verify: %w", err))
		default:
			// Recovery codes are shown once, on this response only.
			s.renderAccount(w, r, http.StatusOK, sess, u, templates.AccountView{Notice: templates.T(lang(r), templates.KeyAccount2FAEnabled), RecoveryCodes: codes})
		}
	})
}

func (s *server) handleAccount2FADisable() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sess, u, ok := s.accountForm(w, r)
		if !ok {
			return
		}
		err := s.Accounts.DisableTOTP(r.Context(), u.ID, r.PostForm.Get("code"), s.clientIP(r), r.UserAgent())
		switch {
		case errors.Is(err, account.ErrInvalidCode) || errors.Is(err, account.ErrTOTPNotEnrolled):
			s.accountFailed(w, r, sess, u, http.StatusBadRequest, templates.Key2FAInvalidCode, nil)
		case err != nil:
			s.accountFailed(w, r, sess, u, http.StatusInternalServerError, templates.KeyErrorInternal, fmt.Errorf("2fa disable: %w", err))
		default:
			accountDone(w, r, templates.KeyAccount2FADisabled)
		}
	})
}

func (s *server) handleAccountRevokeSession() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sess, u, ok := s.accountForm(w, r)
		if !ok {
			return
		}
		id := r.PostForm.Get("session_id")
		if id == sess.ID {
			// Signing out this browser is a logout, with its confirmation.
			http.Redirect(w, r, "/logout", http.StatusSeeOther)
			return
		}
		err := s.Sessions.EndOwn(r.Context(), u.ID, id, s.ending(r, websession.EndRevoked))
		switch {
		case errors.Is(err, provider.ErrNotFound):
			// Someone else's session, an ended one or no session at all:
			// nothing was signed out, and the page must not say otherwise.
			s.accountFailed(w, r, sess, u, http.StatusNotFound, templates.KeyAccountSessionNotFound, nil)
		case err != nil:
			s.accountFailed(w, r, sess, u, http.StatusInternalServerError, templates.KeyErrorInternal, fmt.Errorf("revoke session: %w", err))
		default:
			accountDone(w, r, templates.KeyAccountSessionRevoked)
		}
	})
}

func (s *server) handleAccountRevokeOthers() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sess, u, ok := s.accountForm(w, r)
		if !ok {
			return
		}
		if _, err := s.Sessions.EndAll(r.Context(), u.ID, sess.ID, s.ending(r, websession.EndOthersRevoked)); err != nil {
			s.accountFailed(w, r, sess, u, http.StatusInternalServerError, templates.KeyErrorInternal, fmt.Errorf("revoke other sessions: %w", err))
			return
		}
		accountDone(w, r, templates.KeyAccountSessionsRevoked)
	})
}
