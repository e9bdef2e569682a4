package server

import (
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/manacore/mana-core-auth/internal/httpapi"
	"github.com/manacore/mana-core-auth/provider"
	"github.com/manacore/mana-core-auth/provider/passkey"
)

// issue 15 (passkeys): the first-party API for the native and SPA apps.
// Apps hold no cookie of ours, so a ceremony is bound to its challenge id,
// which the options answer returns and the verify call presents; the
// stored challenge is single use and expires after five minutes.

// apiPasskey is a passkey in the API's answers.
type apiPasskey struct {
	ID         string     `json:"id"`
	Name       string     `json:"name"`
	CreatedAt  time.Time  `json:"createdAt"`
	LastUsedAt *time.Time `json:"lastUsedAt"`
	// Synced: a multi-device passkey, backed up by its provider.
	Synced     bool     `json:"synced"`
	Transports []string `json:"transports,omitempty"`
}

func toAPIPasskey(p *provider.Passkey) apiPasskey {
	return apiPasskey{ID: p.ID, Name: p.Name, CreatedAt: p.CreatedAt, LastUsedAt: p.LastUsedAt, Synced: p.BackupState, Transports: p.Transports}
}

// ceremonyResponse is the answer of the options calls.
func ceremonyResponse(c *passkey.Ceremony) map[string]any {
	return map[string]any{"challengeId": c.ChallengeID, "publicKey": c.Options}
}

// requireCredential checks the members every verify call needs; false
// after answering 400.
func requireCredential(w http.ResponseWriter, challengeID string, credential json.RawMessage) bool {
	fields := map[string]string{}
	httpapi.RequireFields(fields, map[string]string{"challengeId": challengeID})
	var obj map[string]json.RawMessage
	if len(credential) == 0 || json.Unmarshal(credential, &obj) != nil {
		fields["credential"] = "required"
	}
	if len(fields) > 0 {
		httpapi.WriteValidation(w, fields)
		return false
	}
	if !provider.CleanText(challengeID) {
		// Not text a database can hold, so no challenge we issued.
		writePasskeyRefused(w, passkey.ErrCeremony)
		return false
	}
	return true
}

// passkeyID is the {id} of the path; "" when it is no text we could have
// stored (PostgreSQL refuses NUL and invalid UTF-8), which then names no
// passkey.
func passkeyID(r *http.Request) string {
	if id := r.PathValue("id"); provider.CleanText(id) {
		return id
	}
	return ""
}

// writePasskeyRefused answers the service's refusal of a ceremony (401);
// false when err is none of them.
func writePasskeyRefused(w http.ResponseWriter, err error) bool {
	switch {
	case errors.Is(err, passkey.ErrCounterRegression):
		httpapi.WriteError(w, http.StatusUnauthorized, "passkey_cloned", "The passkey's signature counter went backwards; it was refused")
	case errors.Is(err, passkey.ErrUnknownPasskey):
		httpapi.WriteError(w, http.StatusUnauthorized, "unknown_passkey", "Unknown passkey")
	case errors.Is(err, passkey.ErrCeremony):
		httpapi.WriteError(w, http.StatusUnauthorized, "passkey_failed", "The passkey could not be verified; start again")
	default:
		return false
	}
	return true
}

// optionalBody decodes a JSON body when there is one: the options calls
// may be posted empty.
func optionalBody(w http.ResponseWriter, r *http.Request, dst any) bool {
	if r.ContentLength == 0 {
		return true
	}
	return httpapi.Decode(w, r, dst)
}

func (s *server) handleAPIPasskeyLoginOptions() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var in struct{}
		if !optionalBody(w, r, &in) {
			return
		}
		c, err := s.Passkeys.BeginLogin(r.Context())
		if err != nil {
			httpapi.InternalError(w, r, s.Logger, "passkey login: begin", err)
			return
		}
		httpapi.WriteJSON(w, http.StatusOK, ceremonyResponse(c))
	})
}

// handleAPIPasskeyLoginVerify answers like POST /api/v1/auth/login: the
// token pair, or the TOTP step for a passkey that did not verify its user
// on an account with TOTP.
func (s *server) handleAPIPasskeyLoginVerify() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		var in struct {
			ChallengeID string          `json:"challengeId"`
			Credential  json.RawMessage `json:"credential"`
			DeviceID    string          `json:"deviceId"`
			DeviceName  string          `json:"deviceName"`
		}
		if !httpapi.Decode(w, r, &in) || !requireCredential(w, in.ChallengeID, in.Credential) {
			return
		}
		l, err := s.Passkeys.FinishLogin(ctx, in.ChallengeID, in.Credential, s.clientIP(r), r.UserAgent())
		if writePasskeyRefused(w, err) {
			return
		}
		switch {
		case errors.Is(err, provider.ErrAccountDisabled):
			writeAccountDisabled(w)
			return
		case err != nil:
			httpapi.InternalError(w, r, s.Logger, "passkey login", err)
			return
		}
		if l.User.CanSignIn() != nil {
			writeAccountDisabled(w)
			return
		}
		if !l.MultiFactor() {
			enabled, err := s.Accounts.TOTPEnabled(ctx, l.User.ID)
			if err != nil {
				httpapi.InternalError(w, r, s.Logger, "passkey login: totp state", err)
				return
			}
			if enabled {
				challenge, err := s.tickets.seal("api-2fa", twoFactorChallenge{UserID: l.User.ID, DeviceID: in.DeviceID,
					DeviceName: in.DeviceName, Methods: l.Methods}, 5*time.Minute)
				if err != nil {
					httpapi.InternalError(w, r, s.Logger, "passkey login: 2fa challenge", err)
					return
				}
				httpapi.WriteJSON(w, http.StatusOK, map[string]any{"twoFactorRequired": true, "challenge": challenge})
				return
			}
		}
		s.apiIssue(w, r, l.User, l.Methods, in.DeviceID, in.DeviceName)
	})
}

// handleAPIPasskeyRegisterOptions starts a registration for the token's
// user after their password (and second factor): a stolen access token
// alone must not add a key that outlives it.
func (s *server) handleAPIPasskeyRegisterOptions() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		c, ok := s.bearerClaims(w, r)
		if !ok {
			return
		}
		var in struct {
			Password string `json:"password"`
			Code     string `json:"code"`
		}
		if !httpapi.Decode(w, r, &in) {
			return
		}
		if in.Password == "" {
			httpapi.WriteValidation(w, map[string]string{"password": "required"})
			return
		}
		u, ok := s.reauthForPasskey(w, r, c.Subject, in.Password, in.Code, "")
		if !ok {
			return
		}
		cer, err := s.Passkeys.BeginRegistration(ctx, u)
		if err != nil {
			httpapi.InternalError(w, r, s.Logger, "passkey register: begin", err)
			return
		}
		httpapi.WriteJSON(w, http.StatusOK, ceremonyResponse(cer))
	})
}

func (s *server) handleAPIPasskeyRegisterVerify() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		c, ok := s.bearerClaims(w, r)
		if !ok {
			return
		}
		var in struct {
			ChallengeID string          `json:"challengeId"`
			Name        string          `json:"name"`
			Credential  json.RawMessage `json:"credential"`
		}
		if !httpapi.Decode(w, r, &in) || !requireCredential(w, in.ChallengeID, in.Credential) {
			return
		}
		u, err := s.Store.GetUser(ctx, c.Subject)
		if err != nil {
			if !errors.Is(err, provider.ErrNotFound) {
				httpapi.InternalError(w, r, s.Logger, "passkey register: load user", err)
				return
			}
			httpapi.WriteError(w, http.StatusUnauthorized, "invalid_token", "Invalid token")
			return
		}
		p, err := s.Passkeys.FinishRegistration(ctx, u, in.ChallengeID, in.Name, in.Credential, s.clientIP(r), r.UserAgent(), lang(r))
		switch {
		case errors.Is(err, passkey.ErrInvalidName):
			httpapi.WriteValidation(w, map[string]string{"name": "invalid"})
		case errors.Is(err, provider.ErrAlreadyExists):
			httpapi.WriteError(w, http.StatusConflict, "passkey_exists", "This passkey is registered already")
		case writePasskeyRefused(w, err):
		case err != nil:
			httpapi.InternalError(w, r, s.Logger, "passkey register", err)
		default:
			httpapi.WriteJSON(w, http.StatusCreated, map[string]any{"passkey": toAPIPasskey(p)})
		}
	})
}

func (s *server) handleAPIPasskeys() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, ok := s.bearerClaims(w, r)
		if !ok {
			return
		}
		list, err := s.Passkeys.List(r.Context(), c.Subject)
		if err != nil {
			httpapi.InternalError(w, r, s.Logger, "list passkeys", err)
			return
		}
		out := make([]apiPasskey, 0, len(list))
		for _, p := range list {
			out = append(out, toAPIPasskey(p))
		}
		httpapi.WriteJSON(w, http.StatusOK, map[string]any{"passkeys": out})
	})
}

func (s *server) handleAPIRenamePasskey() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, ok := s.bearerClaims(w, r)
		if !ok {
			return
		}
		var in struct {
			Name string `json:"name"`
		}
		if !httpapi.Decode(w, r, &in) {
			return
		}
		err := s.Passkeys.Rename(r.Context(), c.Subject, passkeyID(r), in.Name)
		switch {
		case errors.Is(err, passkey.ErrInvalidName):
			httpapi.WriteValidation(w, map[string]string{"name": "invalid"})
		case errors.Is(err, passkey.ErrUnknownPasskey), errors.Is(err, provider.ErrNotFound):
			httpapi.WriteError(w, http.StatusNotFound, "passkey_not_found", "Passkey not found")
		case err != nil:
			httpapi.InternalError(w, r, s.Logger, "rename passkey", err)
		default:
			httpapi.WriteJSON(w, http.StatusOK, map[string]any{"success": true})
		}
	})
}

func (s *server) handleAPIRemovePasskey() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, ok := s.bearerClaims(w, r)
		if !ok {
			return
		}
		err := s.Passkeys.Remove(r.Context(), c.Subject, passkeyID(r), s.clientIP(r), r.UserAgent())
		switch {
		case errors.Is(err, passkey.ErrUnknownPasskey), errors.Is(err, provider.ErrNotFound):
			httpapi.WriteError(w, http.StatusNotFound, "passkey_not_found", "Passkey not found")
		case err != nil:
			httpapi.InternalError(w, r, s.Logger, "remove passkey", err)
		default:
			httpapi.WriteJSON(w, http.StatusOK, map[string]any{"success": true})
		}
	})
}
