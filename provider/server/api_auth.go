package server

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/ory/fosite"

	"github.com/manacore/mana-core-auth/internal/httpapi"
	"github.com/manacore/mana-core-auth/provider"
	"github.com/manacore/mana-core-auth/provider/account"
	"github.com/manacore/mana-core-auth/provider/oidc"
	"github.com/manacore/mana-core-auth/provider/websession"
)

// The first-party JSON API under /api/v1/auth keeps the old service's paths
// and response shapes, which the Mana apps parse, without its bugs. This
// file has signing in and out; api_recovery.go, api_account.go and
// api_sso.go have the rest.

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

// loginResponse is the token answer of login, 2FA completion, refresh and
// session-to-token.
func loginResponse(u *provider.User, pair *oidc.TokenPair) map[string]any {
	return map[string]any{
		"user": toAPIUser(u, true), "accessToken": pair.AccessToken, "refreshToken": pair.RefreshToken,
		"expiresIn": pair.ExpiresIn, "tokenType": "Bearer",
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
		if !httpapi.Decode(w, r, &in) {
			return
		}
		u, err := s.Accounts.Register(r.Context(), account.RegisterInput{
			Email: in.Email, Password: in.Password, Name: in.Name, SourceAppURL: in.SourceAppURL,
			Lang: lang(r), IP: s.clientIP(r), UserAgent: r.UserAgent(),
		})
		var ve *account.ValidationError
		switch {
		case errors.As(err, &ve):
			httpapi.WriteValidation(w, ve.Fields)
		case errors.Is(err, account.ErrEmailTaken):
			httpapi.WriteError(w, http.StatusConflict, "email_taken", "User with this email already exists")
		case err != nil:
			httpapi.InternalError(w, r, s.Logger, "register", err)
		default:
			s.creditsSignup(r.Context(), u.ID)
			httpapi.WriteJSON(w, http.StatusCreated, map[string]any{"user": toAPIUser(u, false)})
		}
	})
}

type twoFactorChallenge struct {
	UserID     string `json:"u"`
	DeviceID   string `json:"d,omitempty"`
	DeviceName string `json:"n,omitempty"`
	// Methods are the first factor's amr values when it was a passkey
	// without user verification (issue 15); empty for the password.
	Methods []string `json:"m,omitempty"`
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
		if !httpapi.Decode(w, r, &in) {
			return
		}
		fields := map[string]string{}
		httpapi.RequireFields(fields, map[string]string{"email": in.Email, "password": in.Password})
		if len(fields) > 0 {
			httpapi.WriteValidation(w, fields)
			return
		}
		turn, wait := s.loginWait(r, in.Email)
		if wait > 0 {
			s.Accounts.LoginThrottled(ctx, in.Email, s.clientIP(r), r.UserAgent(), "api")
			s.tooMany(w, r, false, wait)
			return
		}
		u, err := s.Accounts.Authenticate(ctx, in.Email, in.Password)
		s.loginResult(r, turn, err)
		switch {
		case errors.Is(err, account.ErrInvalidCredentials):
			s.Accounts.LoginFailed(ctx, in.Email, s.clientIP(r), r.UserAgent(), "api")
			httpapi.WriteError(w, http.StatusUnauthorized, "invalid_credentials", "Invalid email or password")
			return
		case errors.Is(err, account.ErrEmailNotVerified):
			httpapi.WriteError(w, http.StatusForbidden, "email_not_verified", "Email not verified")
			return
		case errors.Is(err, provider.ErrAccountDisabled):
			writeAccountDisabled(w)
			return
		case err != nil:
			httpapi.InternalError(w, r, s.Logger, "login", err)
			return
		}
		enabled, err := s.Accounts.PasswordAccepted(ctx, u.ID)
		if err != nil {
			httpapi.InternalError(w, r, s.Logger, "login: totp state", err)
			return
		}
		if enabled {
			challenge, err := s.tickets.seal("api-2fa", twoFactorChallenge{UserID: u.ID, DeviceID: in.DeviceID, DeviceName: in.DeviceName}, 5*time.Minute)
			if err != nil {
				httpapi.InternalError(w, r, s.Logger, "login: 2fa challenge", err)
				return
			}
			httpapi.WriteJSON(w, http.StatusOK, map[string]any{"twoFactorRequired": true, "challenge": challenge})
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
		if !httpapi.Decode(w, r, &in) {
			return
		}
		var c twoFactorChallenge
		if err := s.tickets.open("api-2fa", in.Challenge, &c); err != nil {
			httpapi.WriteError(w, http.StatusUnauthorized, "invalid_challenge", "Invalid or expired challenge")
			return
		}
		u, err := s.Store.GetUser(ctx, c.UserID)
		if err != nil {
			if !errors.Is(err, provider.ErrNotFound) {
				httpapi.InternalError(w, r, s.Logger, "2fa: load user", err)
				return
			}
			httpapi.WriteError(w, http.StatusUnauthorized, "invalid_challenge", "Invalid or expired challenge")
			return
		}
		if u.CanSignIn() != nil {
			writeAccountDisabled(w)
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
				httpapi.WriteError(w, http.StatusUnauthorized, "invalid_code", "Invalid two-factor code")
				return
			}
			httpapi.InternalError(w, r, s.Logger, "login 2fa", err)
			return
		}
		first := c.Methods
		if len(first) == 0 {
			first = []string{"pwd"}
		}
		s.apiIssue(w, r, u, withMethods(first, method), c.DeviceID, c.DeviceName)
	})
}

// apiIssue starts the session and issues the token pair of a successful
// API login.
func (s *server) apiIssue(w http.ResponseWriter, r *http.Request, u *provider.User, methods []string, deviceID, deviceName string) {
	ctx := r.Context()
	sess, err := s.Sessions.Start(ctx, websession.LoginInfo{
		UserID: u.ID, Methods: methods, IP: s.clientIP(r), UserAgent: r.UserAgent(), DeviceID: deviceID, DeviceName: deviceName, Via: "api",
	})
	if err != nil {
		httpapi.InternalError(w, r, s.Logger, "login: session", err)
		return
	}
	pair, err := s.OP.IssueFirstParty(ctx, u, sess, oidc.GrantPassword)
	switch {
	case errors.Is(err, oidc.ErrSessionEnded):
		// Signed out everywhere in the moment between the two steps.
		httpapi.WriteError(w, http.StatusUnauthorized, "session_expired", "Invalid or expired session")
		return
	case err != nil:
		httpapi.InternalError(w, r, s.Logger, "login: tokens", err)
		return
	}
	s.rememberDevice(w, r, account.NormalizeEmail(u.Email))
	httpapi.WriteJSON(w, http.StatusOK, loginResponse(u, pair))
}

func (s *server) handleAPIRefresh() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			RefreshToken string `json:"refreshToken"`
		}
		if !httpapi.Decode(w, r, &in) {
			return
		}
		if strings.TrimSpace(in.RefreshToken) == "" {
			httpapi.WriteValidation(w, map[string]string{"refreshToken": "required"})
			return
		}
		res, err := s.OP.RefreshFirstParty(r.Context(), in.RefreshToken, s.caller(r), s.admitClient(r, "token"))
		var rl *rateLimited
		switch {
		case errors.As(err, &rl):
			s.tooMany(w, r, false, rl.wait)
		case errors.Is(err, oidc.ErrUserGone):
			httpapi.WriteError(w, http.StatusUnauthorized, "user_not_found", "User not found")
		case errors.Is(err, provider.ErrAccountDisabled):
			writeAccountDisabled(w)
		case errors.Is(err, oidc.ErrSessionEnded):
			httpapi.WriteError(w, http.StatusUnauthorized, "session_expired", "Invalid or expired session")
		case errors.Is(err, oidc.ErrTokenRevoked):
			httpapi.WriteError(w, http.StatusUnauthorized, "invalid_refresh_token", "Refresh token revoked")
		case err != nil && fosite.ErrorToRFC6749Error(err).CodeField >= 500:
			httpapi.InternalError(w, r, s.Logger, "refresh", err)
		case err != nil:
			httpapi.WriteError(w, http.StatusUnauthorized, "invalid_refresh_token", "Invalid refresh token")
		default:
			httpapi.WriteJSON(w, http.StatusOK, loginResponse(res.User, &res.Pair))
		}
	})
}

// bearerClaims verifies the request's Bearer access token, revocation
// included, and answers 401 itself when it is missing or invalid.
func (s *server) bearerClaims(w http.ResponseWriter, r *http.Request) (*oidc.AccessClaims, bool) {
	token := httpapi.BearerToken(r)
	if token == "" {
		httpapi.WriteError(w, http.StatusUnauthorized, "missing_token", "No token provided")
		return nil, false
	}
	c, err := s.OP.VerifyAccessToken(r.Context(), token, "")
	if err != nil {
		if !errors.Is(err, oidc.ErrTokenInvalid) && !errors.Is(err, oidc.ErrTokenExpired) && !errors.Is(err, oidc.ErrTokenRevoked) {
			httpapi.InternalError(w, r, s.Logger, "verify bearer token", err)
			return nil, false
		}
		httpapi.WriteError(w, http.StatusUnauthorized, "invalid_token", "Invalid token")
		return nil, false
	}
	// The account API manages the user's sessions, password and second
	// factor: only tokens of first-party (trusted) clients bound to a login
	// session may call it, never a third-party app the user consented to.
	cl, err := s.OP.Client(r.Context(), c.ClientID)
	if err != nil && !errors.Is(err, provider.ErrNotFound) {
		httpapi.InternalError(w, r, s.Logger, "load client of bearer token", err)
		return nil, false
	}
	if c.SessionID == "" || err != nil || cl.Model == nil || !cl.Model.Trusted {
		httpapi.WriteError(w, http.StatusForbidden, "insufficient_scope", "This token may not use the account API")
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
		// The token vouches for its session, expired or not.
		if _, err := s.Sessions.End(r.Context(), c.Subject, c.SessionID, s.ending(r, websession.EndLogout)); err != nil {
			httpapi.InternalError(w, r, s.Logger, "logout", err)
			return
		}
		httpapi.WriteJSON(w, http.StatusOK, map[string]any{"success": true, "message": "Signed out successfully"})
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
		var sess *provider.Session
		if err == nil {
			sess, err = s.Store.GetSession(ctx, c.SessionID, s.Config.Now())
		}
		if errors.Is(err, provider.ErrNotFound) {
			httpapi.WriteError(w, http.StatusUnauthorized, "invalid_session", "Invalid or expired session")
			return
		}
		if err != nil {
			httpapi.InternalError(w, r, s.Logger, "session", err)
			return
		}
		httpapi.WriteJSON(w, http.StatusOK, map[string]any{"user": toAPIUser(u, true), "session": toAPISession(sess, sess.ID)})
	})
}

func (s *server) handleAPIValidate() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			Token string `json:"token"`
		}
		if !httpapi.Decode(w, r, &in) {
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
				httpapi.InternalError(w, r, s.Logger, "validate", err)
				return
			}
			httpapi.WriteJSON(w, http.StatusOK, map[string]any{"valid": false, "error": reason})
			return
		}
		httpapi.WriteJSON(w, http.StatusOK, map[string]any{"valid": true, "payload": c})
	})
}

// writeAccountDisabled is the JSON API's answer for a disabled account
// (issue 11 part A), the same on every sign-in path.
func writeAccountDisabled(w http.ResponseWriter) {
	httpapi.WriteError(w, http.StatusForbidden, "account_disabled", "This account has been disabled")
}
