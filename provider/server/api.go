package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/ory/fosite"

	"github.com/manacore/mana-core-auth/provider"
	"github.com/manacore/mana-core-auth/provider/account"
	"github.com/manacore/mana-core-auth/provider/oidc"
	"github.com/manacore/mana-core-auth/provider/websession"
	"github.com/manacore/mana-core-auth/templates"
)

// The first-party JSON API under /api/v1/auth keeps the old service's paths
// and response shapes, which the Mana apps parse, without its bugs.

// decodeBody reads a JSON object into dst, refusing unknown fields (as the
// old service's validation did) and trailing data. It answers the error
// itself and reports whether decoding succeeded.
func decodeBody(w http.ResponseWriter, r *http.Request, dst any) bool {
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(ct, "application/json") {
		writeAPIError(w, http.StatusUnsupportedMediaType, "unsupported_media_type", "Content-Type must be application/json")
		return false
	}
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		var mbe *http.MaxBytesError
		switch {
		case errors.As(err, &mbe):
			writeAPIError(w, http.StatusRequestEntityTooLarge, "body_too_large", "Request body too large")
		case errors.Is(err, io.EOF):
			writeAPIError(w, http.StatusBadRequest, "invalid_json", "Request body must be a JSON object")
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			writeValidation(w, map[string]string{strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`): "not_allowed"})
		default:
			writeAPIError(w, http.StatusBadRequest, "invalid_json", "Request body must be a JSON object with the documented fields")
		}
		return false
	}
	if dec.More() {
		writeAPIError(w, http.StatusBadRequest, "invalid_json", "Request body must be a single JSON object")
		return false
	}
	return true
}

// validationMessages turns field codes into the readable list the apps show.
var validationMessages = map[string]string{
	"invalid_email": "%s must be an email",
	"length":        "%s has an invalid length",
	"required":      "%s should not be empty",
	"not_allowed":   "property %s should not exist",
	"invalid":       "%s is invalid",
}

func writeValidation(w http.ResponseWriter, fields map[string]string) {
	names := make([]string, 0, len(fields))
	for f := range fields {
		names = append(names, f)
	}
	sort.Strings(names)
	msgs := make([]string, 0, len(names))
	for _, f := range names {
		tmpl, ok := validationMessages[fields[f]]
		if !ok {
			tmpl = "%s is invalid"
		}
		msgs = append(msgs, fmt.Sprintf(tmpl, f))
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusBadRequest, map[string]any{
		"statusCode": http.StatusBadRequest, "message": msgs, "error": "Bad Request",
		"code": "validation_failed", "errors": fields,
	})
}

// apiUser is the user shape of the old API.
type apiUser struct {
	ID    string `json:"id"`
	Email string `json:"email"`
	Name  string `json:"name"`
	Role  string `json:"role,omitempty"`
}

func toAPIUser(u *provider.User, withRole bool) apiUser {
	a := apiUser{ID: u.ID, Email: u.Email, Name: u.Name}
	if withRole {
		a.Role = u.Role
	}
	return a
}

type apiSession struct {
	ID           string    `json:"id"`
	CreatedAt    time.Time `json:"createdAt"`
	LastActiveAt time.Time `json:"lastActiveAt"`
	ExpiresAt    time.Time `json:"expiresAt"`
	IPAddress    string    `json:"ipAddress,omitempty"`
	UserAgent    string    `json:"userAgent,omitempty"`
	DeviceID     string    `json:"deviceId,omitempty"`
	DeviceName   string    `json:"deviceName,omitempty"`
	Current      bool      `json:"current"`
}

func toAPISession(s *provider.Session, current string) apiSession {
	return apiSession{ID: s.ID, CreatedAt: s.CreatedAt, LastActiveAt: s.LastSeenAt, ExpiresAt: s.ExpiresAt,
		IPAddress: s.IP, UserAgent: s.UserAgent, DeviceID: s.DeviceID, DeviceName: s.DeviceName, Current: s.ID == current}
}

func requireFields(fields map[string]string, vals map[string]string) {
	for k, v := range vals {
		if strings.TrimSpace(v) == "" {
			fields[k] = "required"
		}
	}
}

func (s *server) handleAPIRegister() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			Email        string `json:"email"`
			Password     string `json:"password"`
			Name         string `json:"name"`
			SourceAppURL string `json:"sourceAppUrl"`
		}
		if !decodeBody(w, r, &in) {
			return
		}
		u, err := s.Accounts.Register(r.Context(), account.RegisterInput{
			Email: in.Email, Password: in.Password, Name: in.Name, SourceAppURL: in.SourceAppURL,
			Lang: templates.PickLang(r.Header.Get("Accept-Language")), IP: s.clientIP(r), UserAgent: r.UserAgent(),
		})
		var ve *account.ValidationError
		switch {
		case errors.As(err, &ve):
			writeValidation(w, ve.Fields)
		case errors.Is(err, account.ErrEmailTaken):
			writeAPIError(w, http.StatusConflict, "email_taken", "User with this email already exists")
		case err != nil:
			s.internalError(w, r, "register", err)
		default:
			s.creditsSignup(r.Context(), u.ID)
			writeJSON(w, http.StatusCreated, map[string]any{"user": toAPIUser(u, false)})
		}
	})
}

// loginResponse is the token answer of login, 2FA completion, refresh and
// session-to-token.
func loginResponse(u *provider.User, access, refresh string, expiresIn int) map[string]any {
	return map[string]any{
		"user": toAPIUser(u, true), "accessToken": access, "refreshToken": refresh,
		"expiresIn": expiresIn, "tokenType": "Bearer",
	}
}

type twoFactorChallenge struct {
	UserID     string `json:"u"`
	DeviceID   string `json:"d,omitempty"`
	DeviceName string `json:"n,omitempty"`
}

func (s *server) handleAPILogin() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		var in struct {
			Email      string `json:"email"`
			Password   string `json:"password"`
			DeviceID   string `json:"deviceId"`
			DeviceName string `json:"deviceName"`
		}
		if !decodeBody(w, r, &in) {
			return
		}
		fields := map[string]string{}
		requireFields(fields, map[string]string{"email": in.Email, "password": in.Password})
		if len(fields) > 0 {
			writeValidation(w, fields)
			return
		}
		if wait := s.accountWait(r, in.Email); wait > 0 {
			s.Accounts.LoginThrottled(ctx, in.Email, s.clientIP(r), r.UserAgent(), "api")
			s.tooMany(w, r, false, wait)
			return
		}
		u, err := s.Accounts.Authenticate(ctx, in.Email, in.Password)
		s.accountResult(r, in.Email, err)
		switch {
		case errors.Is(err, account.ErrInvalidCredentials):
			s.Accounts.LoginFailed(ctx, in.Email, s.clientIP(r), r.UserAgent(), "api")
			writeAPIError(w, http.StatusUnauthorized, "invalid_credentials", "Invalid email or password")
			return
		case errors.Is(err, account.ErrEmailNotVerified):
			writeAPIError(w, http.StatusForbidden, "email_not_verified", "Email not verified")
			return
		case err != nil:
			s.internalError(w, r, "login", err)
			return
		}
		enabled, err := s.Accounts.TOTPEnabled(ctx, u.ID)
		if err != nil {
			s.internalError(w, r, "login: totp state", err)
			return
		}
		if enabled {
			challenge, err := s.tickets.seal("api-2fa", twoFactorChallenge{UserID: u.ID, DeviceID: in.DeviceID, DeviceName: in.DeviceName}, 5*time.Minute)
			if err != nil {
				s.internalError(w, r, "login: 2fa challenge", err)
				return
			}
			writeJSON(w, http.StatusOK, map[string]any{"twoFactorRequired": true, "challenge": challenge})
			return
		}
		s.apiIssue(w, r, u, []string{"pwd"}, in.DeviceID, in.DeviceName)
	})
}

func (s *server) handleAPILogin2FA() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		var in struct {
			Challenge string `json:"challenge"`
			Code      string `json:"code"`
		}
		if !decodeBody(w, r, &in) {
			return
		}
		var c twoFactorChallenge
		if err := s.tickets.open("api-2fa", in.Challenge, &c); err != nil {
			writeAPIError(w, http.StatusUnauthorized, "invalid_challenge", "Invalid or expired challenge")
			return
		}
		u, err := s.Store.GetUser(ctx, c.UserID)
		if err != nil {
			writeAPIError(w, http.StatusUnauthorized, "invalid_challenge", "Invalid or expired challenge")
			return
		}
		if wait := s.backoffWait(r, secondFactorKey(u.ID)); wait > 0 {
			s.tooMany(w, r, false, wait)
			return
		}
		method, err := s.Accounts.VerifySecondFactor(ctx, u.ID, in.Code, s.clientIP(r), r.UserAgent())
		s.backoffResult(r, secondFactorKey(u.ID), !errors.Is(err, account.ErrInvalidCode))
		if err != nil {
			if errors.Is(err, account.ErrInvalidCode) || errors.Is(err, account.ErrTOTPNotEnrolled) {
				writeAPIError(w, http.StatusUnauthorized, "invalid_code", "Invalid two-factor code")
				return
			}
			s.internalError(w, r, "login 2fa", err)
			return
		}
		s.apiIssue(w, r, u, []string{"pwd", method}, c.DeviceID, c.DeviceName)
	})
}

// apiIssue creates the session and the token pair of a successful API login.
func (s *server) apiIssue(w http.ResponseWriter, r *http.Request, u *provider.User, methods []string, deviceID, deviceName string) {
	ctx := r.Context()
	sess, err := s.Sessions.Create(ctx, websession.LoginInfo{
		UserID: u.ID, Methods: methods, IP: s.clientIP(r), UserAgent: r.UserAgent(), DeviceID: deviceID, DeviceName: deviceName,
	})
	if err != nil {
		s.internalError(w, r, "login: session", err)
		return
	}
	pair, err := s.OP.IssueFirstParty(ctx, u, sess)
	if err != nil {
		s.internalError(w, r, "login: tokens", err)
		return
	}
	s.Accounts.Event(ctx, &provider.SecurityEvent{UserID: u.ID, Type: provider.EventLoginSuccess, IP: sess.IP, UserAgent: sess.UserAgent,
		Detail: map[string]string{"via": "api", "methods": strings.Join(methods, ",")}})
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, loginResponse(u, pair.AccessToken, pair.RefreshToken, pair.ExpiresIn))
}

func (s *server) handleAPIRefresh() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		var in struct {
			RefreshToken string `json:"refreshToken"`
		}
		if !decodeBody(w, r, &in) {
			return
		}
		if strings.TrimSpace(in.RefreshToken) == "" {
			writeValidation(w, map[string]string{"refreshToken": "required"})
			return
		}
		// The refresh goes through the token endpoint's code path, so the
		// API gets the same rotation, grace window and reuse detection.
		form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {in.RefreshToken}, "client_id": {oidc.FirstPartyClientID}}
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, "/oauth2/token", strings.NewReader(form.Encode()))
		if err != nil {
			s.internalError(w, r, "refresh", err)
			return
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		body, ar, err := s.exchange(req)
		var rl *rateLimited
		if errors.As(err, &rl) {
			s.tooMany(w, r, false, rl.wait)
			return
		}
		if err != nil {
			rfc := fosite.ErrorToRFC6749Error(err)
			if rfc.CodeField >= 500 {
				s.internalError(w, r, "refresh", err)
				return
			}
			if ar != nil && ar.GetSession() != nil && ar.GetSession().GetSubject() != "" && errors.Is(err, fosite.ErrInactiveToken) {
				s.Accounts.Event(ctx, &provider.SecurityEvent{UserID: ar.GetSession().GetSubject(), Type: provider.EventRefreshReuse, IP: s.clientIP(r), UserAgent: r.UserAgent()})
			}
			writeAPIError(w, http.StatusUnauthorized, "invalid_refresh_token", "Invalid refresh token")
			return
		}
		var tok struct {
			AccessToken  string `json:"access_token"`
			RefreshToken string `json:"refresh_token"`
		}
		if err := json.Unmarshal(body, &tok); err != nil {
			s.internalError(w, r, "refresh: decode", err)
			return
		}
		sess, _ := ar.GetSession().(*oidc.Session)
		if sess == nil {
			s.internalError(w, r, "refresh: session", errors.New("unexpected session type"))
			return
		}
		u, err := s.Store.GetUser(ctx, sess.Subject)
		if err != nil {
			if errors.Is(err, provider.ErrNotFound) {
				_, _ = s.Store.RevokeSubject(ctx, sess.Subject)
				writeAPIError(w, http.StatusUnauthorized, "user_not_found", "User not found")
				return
			}
			s.internalError(w, r, "refresh: user", err)
			return
		}
		if sess.SessionID != "" {
			now := s.Config.Now()
			if _, err := s.Store.GetSession(ctx, sess.SessionID, now); err != nil {
				// The session was signed out or expired: its tokens die with it.
				_, _ = s.Store.RevokeSession(ctx, sess.SessionID)
				writeAPIError(w, http.StatusUnauthorized, "session_expired", "Invalid or expired session")
				return
			}
			_ = s.Store.TouchSession(ctx, sess.SessionID, now, now.Add(7*24*time.Hour))
		}
		w.Header().Set("Cache-Control", "no-store")
		// fosite counts expires_in down from the grant's creation, which can
		// give 899; the token lives the configured lifetime from now.
		writeJSON(w, http.StatusOK, loginResponse(u, tok.AccessToken, tok.RefreshToken, int(s.OP.Config.AccessTokenTTL.Seconds())))
	})
}

// bearerClaims verifies the request's Bearer access token, revocation
// included, and answers 401 itself when it is missing or invalid.
func (s *server) bearerClaims(w http.ResponseWriter, r *http.Request) (*oidc.AccessClaims, bool) {
	h := r.Header.Get("Authorization")
	token, ok := strings.CutPrefix(h, "Bearer ")
	if !ok || strings.TrimSpace(token) == "" {
		writeAPIError(w, http.StatusUnauthorized, "missing_token", "No token provided")
		return nil, false
	}
	c, err := s.OP.VerifyAccessToken(r.Context(), strings.TrimSpace(token), "")
	if err != nil {
		if !errors.Is(err, oidc.ErrTokenInvalid) && !errors.Is(err, oidc.ErrTokenExpired) && !errors.Is(err, oidc.ErrTokenRevoked) {
			s.internalError(w, r, "verify bearer token", err)
			return nil, false
		}
		writeAPIError(w, http.StatusUnauthorized, "invalid_token", "Invalid token")
		return nil, false
	}
	// The account API manages the user's sessions, password and second
	// factor: only tokens of first-party (trusted) clients bound to a login
	// session may call it, never a third-party app the user consented to.
	cl, err := s.OP.Client(r.Context(), c.ClientID)
	if c.SessionID == "" || err != nil || cl.Model == nil || !cl.Model.Trusted {
		writeAPIError(w, http.StatusForbidden, "insufficient_scope", "This token may not use the account API")
		return nil, false
	}
	return c, true
}

func (s *server) handleAPILogout() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, ok := s.bearerClaims(w, r)
		if !ok {
			return
		}
		ctx := r.Context()
		if c.SessionID != "" {
			if err := s.Store.DeleteSession(ctx, c.SessionID); err != nil && !errors.Is(err, provider.ErrNotFound) {
				s.internalError(w, r, "logout: session", err)
				return
			}
			if _, err := s.Store.RevokeSession(ctx, c.SessionID); err != nil {
				s.internalError(w, r, "logout: tokens", err)
				return
			}
			s.sessionEnded(ctx, c.SessionID, c.Subject)
		}
		s.Accounts.Event(ctx, &provider.SecurityEvent{UserID: c.Subject, Type: provider.EventLogout, IP: s.clientIP(r), UserAgent: r.UserAgent()})
		writeJSON(w, http.StatusOK, map[string]any{"success": true, "message": "Signed out successfully"})
	})
}

func (s *server) handleAPISession() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, ok := s.bearerClaims(w, r)
		if !ok {
			return
		}
		ctx := r.Context()
		u, err := s.Store.GetUser(ctx, c.Subject)
		if err != nil {
			writeAPIError(w, http.StatusUnauthorized, "invalid_session", "Invalid or expired session")
			return
		}
		sess, err := s.Store.GetSession(ctx, c.SessionID, s.Config.Now())
		if err != nil {
			writeAPIError(w, http.StatusUnauthorized, "invalid_session", "Invalid or expired session")
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"user": toAPIUser(u, true), "session": toAPISession(sess, sess.ID)})
	})
}

func (s *server) handleAPIValidate() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			Token string `json:"token"`
		}
		if !decodeBody(w, r, &in) {
			return
		}
		c, err := s.OP.VerifyAccessToken(r.Context(), strings.TrimSpace(in.Token), s.Config.Audience)
		if err != nil {
			reason := "invalid_token"
			switch {
			case errors.Is(err, oidc.ErrTokenExpired):
				reason = "token_expired"
			case errors.Is(err, oidc.ErrTokenRevoked):
				reason = "token_revoked"
			case !errors.Is(err, oidc.ErrTokenInvalid):
				s.internalError(w, r, "validate", err)
				return
			}
			writeJSON(w, http.StatusOK, map[string]any{"valid": false, "error": reason})
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"valid": true, "payload": c})
	})
}

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
		if err := s.Accounts.ForgotPassword(r.Context(), in.Email, in.RedirectTo, templates.PickLang(r.Header.Get("Accept-Language"))); err != nil {
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
		if err := s.Accounts.ResendVerification(r.Context(), in.Email, in.SourceAppURL, templates.PickLang(r.Header.Get("Accept-Language"))); err != nil {
			s.internalError(w, r, "resend verification", err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"success": true, "message": "If an account with that email exists, a verification email has been sent"})
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
		lang := templates.PickLang(r.Header.Get("Accept-Language"))
		if err != nil {
			if !errors.Is(err, account.ErrInvalidToken) {
				s.Logger.ErrorContext(ctx, "verify email", "error", err)
			}
			if origin != "" {
				http.Redirect(w, r, origin+"/verification-failed?error=invalid_or_expired_token", http.StatusFound)
				return
			}
			s.render(ctx, w, http.StatusBadRequest, templates.VerifyResultPage(templates.VerifyResultView{Lang: lang}))
			return
		}
		if origin != "" {
			http.Redirect(w, r, origin+"/login?"+url.Values{"verified": {"true"}, "email": {u.Email}}.Encode(), http.StatusFound)
			return
		}
		s.render(ctx, w, http.StatusOK, templates.VerifyResultPage(templates.VerifyResultView{Lang: lang, OK: true, Email: u.Email}))
	})
}

func (s *server) handleAPISessions() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, ok := s.bearerClaims(w, r)
		if !ok {
			return
		}
		list, err := s.Store.ListSessions(r.Context(), c.Subject, s.Config.Now())
		if err != nil {
			s.internalError(w, r, "list sessions", err)
			return
		}
		out := make([]apiSession, 0, len(list))
		for _, sess := range list {
			out = append(out, toAPISession(sess, c.SessionID))
		}
		writeJSON(w, http.StatusOK, map[string]any{"sessions": out})
	})
}

func (s *server) handleAPIRevokeSession() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, ok := s.bearerClaims(w, r)
		if !ok {
			return
		}
		if err := s.Accounts.EndSession(r.Context(), c.Subject, r.PathValue("id")); err != nil {
			if errors.Is(err, provider.ErrNotFound) {
				writeAPIError(w, http.StatusNotFound, "session_not_found", "Session not found")
				return
			}
			s.internalError(w, r, "revoke session", err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"success": true})
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
		if r.ContentLength != 0 && !decodeBody(w, r, &in) {
			return
		}
		keep := c.SessionID
		if in.KeepCurrent != nil && !*in.KeepCurrent {
			keep = ""
		}
		ids, err := s.Accounts.EndAllSessions(r.Context(), c.Subject, keep)
		if err != nil {
			s.internalError(w, r, "revoke all sessions", err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"success": true, "revoked": len(ids)})
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
		if !decodeBody(w, r, &in) {
			return
		}
		err := s.Accounts.ChangePassword(r.Context(), c.Subject, in.CurrentPassword, in.NewPassword, s.clientIP(r), r.UserAgent())
		var ve *account.ValidationError
		switch {
		case errors.As(err, &ve):
			writeValidation(w, ve.Fields)
		case errors.Is(err, account.ErrInvalidCredentials):
			writeAPIError(w, http.StatusUnauthorized, "invalid_credentials", "Current password is incorrect")
		case err != nil:
			s.internalError(w, r, "change password", err)
		default:
			writeJSON(w, http.StatusOK, map[string]any{"success": true, "message": "Password changed successfully"})
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
			writeAPIError(w, http.StatusUnauthorized, "invalid_token", "Invalid token")
			return
		}
		e, err := s.Accounts.BeginTOTP(r.Context(), u)
		if errors.Is(err, account.ErrTOTPAlreadyEnabled) {
			writeAPIError(w, http.StatusConflict, "2fa_already_enabled", "Two-factor authentication is already enabled")
			return
		}
		if err != nil {
			s.internalError(w, r, "2fa enroll", err)
			return
		}
		w.Header().Set("Cache-Control", "no-store")
		writeJSON(w, http.StatusOK, map[string]any{"secret": e.Secret, "otpauthUri": e.URI, "qrCode": e.QRDataURI})
	})
}

func (s *server) handleAPI2FACode(verify bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, ok := s.bearerClaims(w, r)
		if !ok {
			return
		}
		var in struct {
			Code string `json:"code"`
		}
		if !decodeBody(w, r, &in) {
			return
		}
		ctx := r.Context()
		if verify {
			codes, err := s.Accounts.ConfirmTOTP(ctx, c.Subject, in.Code, s.clientIP(r), r.UserAgent())
			switch {
			case errors.Is(err, account.ErrInvalidCode):
				writeAPIError(w, http.StatusBadRequest, "invalid_code", "Invalid two-factor code")
			case errors.Is(err, account.ErrTOTPNotEnrolled):
				writeAPIError(w, http.StatusBadRequest, "2fa_not_enrolled", "Start the set-up with /2fa/enroll first")
			case errors.Is(err, account.ErrTOTPAlreadyEnabled):
				writeAPIError(w, http.StatusConflict, "2fa_already_enabled", "Two-factor authentication is already enabled")
			case err != nil:
				s.internalError(w, r, "2fa verify", err)
			default:
				w.Header().Set("Cache-Control", "no-store")
				writeJSON(w, http.StatusOK, map[string]any{"enabled": true, "recoveryCodes": codes})
			}
			return
		}
		err := s.Accounts.DisableTOTP(ctx, c.Subject, in.Code, s.clientIP(r), r.UserAgent())
		switch {
		case errors.Is(err, account.ErrInvalidCode):
			writeAPIError(w, http.StatusBadRequest, "invalid_code", "Invalid two-factor code")
		case errors.Is(err, account.ErrTOTPNotEnrolled):
			writeAPIError(w, http.StatusBadRequest, "2fa_not_enabled", "Two-factor authentication is not enabled")
		case err != nil:
			s.internalError(w, r, "2fa disable", err)
		default:
			writeJSON(w, http.StatusOK, map[string]any{"enabled": false})
		}
	})
}

// internalError logs a server-side failure and answers a generic 500: the
// client learns nothing about the database or the code.
func (s *server) internalError(w http.ResponseWriter, r *http.Request, what string, err error) {
	if errors.Is(err, context.Canceled) {
		return
	}
	s.Logger.ErrorContext(r.Context(), what, "error", err)
	writeAPIError(w, http.StatusInternalServerError, "internal_error", "Internal server error")
}

// handleSessionToToken turns the shared browser session cookie into the
// token pair /login returns, bound to that session, for first-party SPAs on
// other subdomains. The cookie is SameSite=Lax, so only same-site pages
// send it; the Origin must also be ours or an allowed CORS origin, so a
// sibling subdomain outside CORS_ORIGINS cannot mint tokens with it.
func (s *server) handleSessionToToken() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if origin := r.Header.Get("Origin"); origin != "" && origin != s.ownOrigin() && (s.CORS == nil || !s.CORS.Allowed(origin)) {
			writeAPIError(w, http.StatusForbidden, "origin_not_allowed", "Origin not allowed")
			return
		}
		if _, err := r.Cookie(s.Sessions.Name()); err != nil {
			writeAPIError(w, http.StatusUnauthorized, "no_session", "No session cookie found")
			return
		}
		sess, u := s.currentUser(r.Context(), r)
		if sess == nil {
			writeAPIError(w, http.StatusUnauthorized, "invalid_session", "Invalid or expired session")
			return
		}
		pair, err := s.OP.IssueFirstParty(r.Context(), u, sess)
		if err != nil {
			s.internalError(w, r, "session to token", err)
			return
		}
		w.Header().Set("Cache-Control", "no-store")
		writeJSON(w, http.StatusOK, loginResponse(u, pair.AccessToken, pair.RefreshToken, pair.ExpiresIn))
	})
}

// handleGetSession answers {user, session} for the browser's live session
// or null, as the old service's /api/auth/get-session did; the session row
// is checked on every call, so a revocation takes effect at once.
func (s *server) handleGetSession() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		sess, u := s.currentUser(r.Context(), r)
		if sess == nil {
			writeJSON(w, http.StatusOK, nil)
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"user": toAPIUser(u, true), "session": toAPISession(sess, sess.ID)})
	})
}

// ownOrigin is the issuer's origin.
func (s *server) ownOrigin() string {
	u, err := url.Parse(s.Config.Issuer)
	if err != nil {
		return ""
	}
	return u.Scheme + "://" + u.Host
}
