package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/manacore/mana-core-auth/internal/httpapi"
	"github.com/manacore/mana-core-auth/provider"
	"github.com/manacore/mana-core-auth/provider/account"
	"github.com/manacore/mana-core-auth/provider/passkey"
	"github.com/manacore/mana-core-auth/templates"
)

// issue 15 (passkeys): the browser side. Every ceremony is two requests:
// a JSON call for the options (POST, so the cross-origin protection of the
// forms covers it) and a plain form post of the authenticator's answer,
// which then behaves exactly like the password form it stands in for (the
// login's redirects, the account page's post/redirect/get).
//
// The challenge id never travels through the page: the options call puts
// it in a short-lived sealed cookie, and the finishing post reads it from
// there. A challenge therefore finishes only in the browser that started
// it, whatever the page's script is made to send.

// Passkeys is the passkey service the handlers use (passkey.Service).
type Passkeys interface {
	BeginRegistration(ctx context.Context, u *provider.User) (*passkey.Ceremony, error)
	FinishRegistration(ctx context.Context, u *provider.User, challengeID, name string, response []byte, ip, ua, lang string) (*provider.Passkey, error)
	BeginLogin(ctx context.Context) (*passkey.Ceremony, error)
	FinishLogin(ctx context.Context, challengeID string, response []byte, ip, ua string) (*passkey.Login, error)
	BeginSecondFactor(ctx context.Context, userID string) (*passkey.Ceremony, error)
	FinishSecondFactor(ctx context.Context, userID, challengeID string, response []byte, ip, ua string) (*passkey.Login, error)
	List(ctx context.Context, userID string) ([]*provider.Passkey, error)
	Rename(ctx context.Context, userID, id, name string) error
	Remove(ctx context.Context, userID, id, ip, ua string) error
}

// ceremonyTTL bounds the binding cookie; the stored challenge expires
// after the same five minutes.
const ceremonyTTL = 5 * time.Minute

// ceremonyBinding is the sealed content of the binding cookie.
type ceremonyBinding struct {
	ChallengeID string `json:"c"`
	// UserID is the user the ceremony was started for (registration,
	// second factor); empty for a discoverable sign-in.
	UserID string `json:"u,omitempty"`
}

// ceremonyCookie names the binding cookie of a kind of ceremony, so a
// sign-in started on the login page does not void a registration under
// way in another tab.
func (s *server) ceremonyCookie(kind string) string {
	name := "mana.passkey." + kind
	if s.secure {
		// Host-only, https-only and path /: nobody on a sibling
		// subdomain can plant or read it.
		name = "__Host-" + name
	}
	return name
}

// bindCeremony answers a started ceremony: the binding cookie, and the
// options for the page's script.
func (s *server) bindCeremony(w http.ResponseWriter, r *http.Request, kind string, c *passkey.Ceremony, userID string) {
	v, err := s.tickets.seal("passkey-"+kind, ceremonyBinding{ChallengeID: c.ChallengeID, UserID: userID}, ceremonyTTL)
	if err != nil {
		httpapi.InternalError(w, r, s.Logger, "passkey: seal challenge", err)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: s.ceremonyCookie(kind), Value: v, Path: "/", MaxAge: int(ceremonyTTL / time.Second),
		HttpOnly: true, Secure: s.secure, SameSite: http.SameSiteStrictMode})
	httpapi.WriteJSON(w, http.StatusOK, map[string]any{"publicKey": c.Options})
}

// boundCeremony reads and clears the binding cookie of kind: a challenge
// is offered for one answer only (the store enforces it as well).
func (s *server) boundCeremony(w http.ResponseWriter, r *http.Request, kind string) (ceremonyBinding, bool) {
	var b ceremonyBinding
	c, err := r.Cookie(s.ceremonyCookie(kind))
	http.SetCookie(w, &http.Cookie{Name: s.ceremonyCookie(kind), Path: "/", MaxAge: -1, HttpOnly: true, Secure: s.secure,
		SameSite: http.SameSiteStrictMode})
	if err != nil || s.tickets.open("passkey-"+kind, c.Value, &b) != nil || b.ChallengeID == "" {
		return ceremonyBinding{}, false
	}
	return b, true
}

// credentialField is the authenticator's answer the page's script put in
// the form, as JSON; nil when it is missing or not a JSON object.
func credentialField(r *http.Request) []byte {
	raw := []byte(r.PostForm.Get("credential"))
	var obj map[string]json.RawMessage
	if len(raw) == 0 || json.Unmarshal(raw, &obj) != nil {
		return nil
	}
	return raw
}

// passkeyRefused maps the service's refusals of an answer to the page's
// message; ok is false for any other error (a fault of ours).
func passkeyRefused(err error) (key string, ok bool) {
	switch {
	case errors.Is(err, passkey.ErrCounterRegression):
		return templates.KeyPasskeyRejected, true
	case errors.Is(err, passkey.ErrCeremony), errors.Is(err, passkey.ErrUnknownPasskey), errors.Is(err, provider.ErrNotFound):
		return templates.KeyPasskeyFailed, true
	}
	return "", false
}

// withMethods is base followed by the methods of more not in it yet.
func withMethods(base []string, more ...string) []string {
	out := slices.Clone(base)
	for _, m := range more {
		if !slices.Contains(out, m) {
			out = append(out, m)
		}
	}
	return out
}

// formPasskeyID is the form's passkey_id; "" when it is no text we could
// have stored, which then names no passkey.
func formPasskeyID(r *http.Request) string {
	if id := r.PostForm.Get("passkey_id"); provider.CleanText(id) {
		return id
	}
	return ""
}

// --- Sign-in on /login ---

func (s *server) handlePasskeyLoginOptions() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := s.Passkeys.BeginLogin(r.Context())
		if err != nil {
			httpapi.InternalError(w, r, s.Logger, "passkey login: begin", err)
			return
		}
		s.bindCeremony(w, r, passkey.KindLogin, c, "")
	})
}

// handlePasskeyLogin finishes a passkey sign-in like the password form:
// the same session, the same return into a pending authorization. A
// passkey that verified its user (amr "user") is two factors in one; one
// that did not leaves a user with TOTP enrolled at the code step.
func (s *server) handlePasskeyLogin() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		if !s.parseForm(w, r) {
			return
		}
		returnTo := safeReturnTo(r.PostForm.Get("return_to"))
		remember := r.PostForm.Get("remember") == "1"
		b, bound := s.boundCeremony(w, r, passkey.KindLogin)
		cred := credentialField(r)
		if !bound || cred == nil {
			s.renderLogin(w, r, http.StatusBadRequest, "", returnTo, templates.KeyPasskeyFailed)
			return
		}
		l, err := s.Passkeys.FinishLogin(ctx, b.ChallengeID, cred, s.clientIP(r), r.UserAgent())
		if key, refused := passkeyRefused(err); refused {
			s.renderLogin(w, r, http.StatusUnauthorized, "", returnTo, key)
			return
		}
		switch {
		case errors.Is(err, provider.ErrAccountDisabled):
			s.renderLogin(w, r, http.StatusForbidden, "", returnTo, templates.KeyLoginDisabled)
			return
		case err != nil:
			s.pageError(w, r, fmt.Errorf("passkey login: %w", err))
			return
		}
		if l.User.CanSignIn() != nil {
			s.renderLogin(w, r, http.StatusForbidden, "", returnTo, templates.KeyLoginDisabled)
			return
		}
		if !l.MultiFactor() {
			enabled, err := s.Accounts.TOTPEnabled(ctx, l.User.ID)
			if err != nil {
				s.pageError(w, r, fmt.Errorf("passkey login: totp state: %w", err))
				return
			}
			if enabled {
				s.renderTwoFactor(w, r, http.StatusOK, pageTwoFactor{UserID: l.User.ID, Remember: remember, ReturnTo: returnTo, Methods: l.Methods}, "")
				return
			}
		}
		s.completeLogin(w, r, l.User, l.Methods, remember, returnTo)
	})
}

// --- The second factor on the 2FA page ---

// renderTwoFactor shows the code step under a fresh seal of c, with the
// passkey offered when the user has one, and the message of errKey.
func (s *server) renderTwoFactor(w http.ResponseWriter, r *http.Request, status int, c pageTwoFactor, errKey string) {
	ctx := r.Context()
	challenge, err := s.tickets.seal("page-2fa", c, 5*time.Minute)
	if err != nil {
		s.pageError(w, r, fmt.Errorf("login: 2fa challenge: %w", err))
		return
	}
	v := templates.TwoFactorView{Lang: lang(r), Challenge: challenge, Passkey: s.hasPasskeys(ctx, c.UserID)}
	if errKey != "" {
		v.Error = templates.T(v.Lang, errKey)
	}
	s.render(ctx, w, status, templates.TwoFactorPage(v))
}

// hasPasskeys reports whether the user has a passkey to offer; a failure
// to tell only hides the offer (the code still works).
func (s *server) hasPasskeys(ctx context.Context, userID string) bool {
	if s.Passkeys == nil {
		return false
	}
	list, err := s.Passkeys.List(ctx, userID)
	if err != nil {
		s.Logger.ErrorContext(ctx, "passkeys of user", "error", err)
		return false
	}
	return len(list) > 0
}

func (s *server) handlePasskey2FAOptions() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			httpapi.WriteError(w, http.StatusBadRequest, "invalid_request", "Invalid form")
			return
		}
		var c pageTwoFactor
		if err := s.tickets.open("page-2fa", r.PostForm.Get("challenge"), &c); err != nil {
			httpapi.WriteError(w, http.StatusUnauthorized, "invalid_challenge", templates.T(lang(r), templates.KeyLoginRequired))
			return
		}
		cer, err := s.Passkeys.BeginSecondFactor(r.Context(), c.UserID)
		if errors.Is(err, passkey.ErrUnknownPasskey) || errors.Is(err, provider.ErrNotFound) {
			httpapi.WriteError(w, http.StatusNotFound, "no_passkey", templates.T(lang(r), templates.KeyPasskeyNotFound))
			return
		}
		if err != nil {
			httpapi.InternalError(w, r, s.Logger, "passkey 2fa: begin", err)
			return
		}
		s.bindCeremony(w, r, passkey.KindSecondFactor, cer, c.UserID)
	})
}

func (s *server) handlePasskey2FA() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		if !s.parseForm(w, r) {
			return
		}
		var c pageTwoFactor
		if err := s.tickets.open("page-2fa", r.PostForm.Get("challenge"), &c); err != nil {
			s.renderLogin(w, r, http.StatusBadRequest, "", "/", templates.KeyLoginRequired)
			return
		}
		b, bound := s.boundCeremony(w, r, passkey.KindSecondFactor)
		cred := credentialField(r)
		if !bound || b.UserID != c.UserID || cred == nil {
			s.renderTwoFactor(w, r, http.StatusUnauthorized, c, templates.KeyPasskeyFailed)
			return
		}
		l, err := s.Passkeys.FinishSecondFactor(ctx, c.UserID, b.ChallengeID, cred, s.clientIP(r), r.UserAgent())
		if key, refused := passkeyRefused(err); refused {
			s.renderTwoFactor(w, r, http.StatusUnauthorized, c, key)
			return
		}
		if err != nil {
			s.pageError(w, r, fmt.Errorf("passkey 2fa: %w", err))
			return
		}
		if l.User.CanSignIn() != nil {
			s.renderLogin(w, r, http.StatusForbidden, "", c.ReturnTo, templates.KeyLoginDisabled)
			return
		}
		s.completeLogin(w, r, l.User, withMethods(firstFactor(c), l.Methods...), c.Remember, c.ReturnTo)
	})
}

// firstFactor is what the user proved before the code step: the password,
// or a passkey without user verification.
func firstFactor(c pageTwoFactor) []string {
	if len(c.Methods) > 0 {
		return c.Methods
	}
	return []string{"pwd"}
}

// --- The account page's panel ---

func (s *server) accountPasskeys(ctx context.Context, userID string) []templates.AccountPasskey {
	list, err := s.Passkeys.List(ctx, userID)
	if err != nil {
		s.Logger.ErrorContext(ctx, "account page: passkeys", "error", err)
		return nil
	}
	out := make([]templates.AccountPasskey, 0, len(list))
	for _, p := range list {
		v := templates.AccountPasskey{ID: p.ID, Name: p.Name, CreatedAt: p.CreatedAt, Synced: p.BackupState}
		if p.LastUsedAt != nil {
			v.LastUsedAt = *p.LastUsedAt
		}
		out = append(out, v)
	}
	return out
}

// handleAccountPasskeyOptions starts a registration after the password
// (and the second factor when enrolled): whoever holds a signed-in
// browser for a moment must not be able to add a key of their own.
func (s *server) handleAccountPasskeyOptions() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		l := lang(r)
		sess, u, err := s.currentUser(ctx, r)
		if err != nil {
			httpapi.InternalError(w, r, s.Logger, "passkey register: session", err)
			return
		}
		if sess == nil {
			httpapi.WriteError(w, http.StatusUnauthorized, "not_signed_in", templates.T(l, templates.KeyLoginRequired))
			return
		}
		if err := r.ParseForm(); err != nil {
			httpapi.WriteError(w, http.StatusBadRequest, "invalid_request", templates.T(l, templates.KeyErrorBadRequest))
			return
		}
		if _, ok := s.reauthForPasskey(w, r, u.ID, r.PostForm.Get("password"), r.PostForm.Get("code"), l); !ok {
			return
		}
		c, err := s.Passkeys.BeginRegistration(ctx, u)
		if err != nil {
			httpapi.InternalError(w, r, s.Logger, "passkey register: begin", err)
			return
		}
		s.bindCeremony(w, r, passkey.KindRegister, c, u.ID)
	})
}

func (s *server) handleAccountPasskeyAdd() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sess, u, ok := s.accountForm(w, r)
		if !ok {
			return
		}
		b, bound := s.boundCeremony(w, r, passkey.KindRegister)
		cred := credentialField(r)
		if !bound || b.UserID != u.ID || cred == nil {
			s.accountFailed(w, r, sess, u, http.StatusBadRequest, templates.KeyPasskeyFailed, nil)
			return
		}
		_, err := s.Passkeys.FinishRegistration(r.Context(), u, b.ChallengeID, r.PostForm.Get("name"), cred, s.clientIP(r), r.UserAgent(), lang(r))
		switch {
		case errors.Is(err, passkey.ErrInvalidName):
			s.accountFailed(w, r, sess, u, http.StatusBadRequest, templates.KeyPasskeyNameInvalid, nil)
		case errors.Is(err, passkey.ErrCeremony), errors.Is(err, provider.ErrAlreadyExists):
			s.accountFailed(w, r, sess, u, http.StatusBadRequest, templates.KeyPasskeyFailed, nil)
		case err != nil:
			s.accountFailed(w, r, sess, u, http.StatusInternalServerError, templates.KeyErrorInternal, fmt.Errorf("passkey register: %w", err))
		default:
			accountDone(w, r, templates.KeyPasskeyAdded)
		}
	})
}

func (s *server) handleAccountPasskeyRename() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sess, u, ok := s.accountForm(w, r)
		if !ok {
			return
		}
		err := s.Passkeys.Rename(r.Context(), u.ID, formPasskeyID(r), r.PostForm.Get("name"))
		switch {
		case errors.Is(err, passkey.ErrInvalidName):
			s.accountFailed(w, r, sess, u, http.StatusBadRequest, templates.KeyPasskeyNameInvalid, nil)
		case errors.Is(err, passkey.ErrUnknownPasskey), errors.Is(err, provider.ErrNotFound):
			s.accountFailed(w, r, sess, u, http.StatusNotFound, templates.KeyPasskeyNotFound, nil)
		case err != nil:
			s.accountFailed(w, r, sess, u, http.StatusInternalServerError, templates.KeyErrorInternal, fmt.Errorf("passkey rename: %w", err))
		default:
			accountDone(w, r, templates.KeyPasskeyRenamed)
		}
	})
}

func (s *server) handleAccountPasskeyRemove() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sess, u, ok := s.accountForm(w, r)
		if !ok {
			return
		}
		err := s.Passkeys.Remove(r.Context(), u.ID, formPasskeyID(r), s.clientIP(r), r.UserAgent())
		switch {
		case errors.Is(err, passkey.ErrUnknownPasskey), errors.Is(err, provider.ErrNotFound):
			s.accountFailed(w, r, sess, u, http.StatusNotFound, templates.KeyPasskeyNotFound, nil)
		case err != nil:
			s.accountFailed(w, r, sess, u, http.StatusInternalServerError, templates.KeyErrorInternal, fmt.Errorf("passkey remove: %w", err))
		default:
			accountDone(w, r, templates.KeyPasskeyRemoved)
		}
	})
}

// reauthForPasskey checks the password (and the second factor when
// enrolled) before a passkey is added, under the second-factor backoff,
// for the account page and the API alike, and answers a refusal itself in
// JSON: messages in lang for the page, the API's English for "".
func (s *server) reauthForPasskey(w http.ResponseWriter, r *http.Request, userID, password, code, lang string) (*provider.User, bool) {
	if wait := s.backoffWait(r, secondFactorKey(userID)); wait > 0 {
		s.tooMany(w, r, false, wait)
		return nil, false
	}
	u, err := s.Accounts.Reauthenticate(r.Context(), userID, password, code, s.clientIP(r), r.UserAgent())
	s.backoffResult(r, secondFactorKey(userID), !errors.Is(err, account.ErrInvalidCredentials) && !errors.Is(err, account.ErrInvalidCode))
	msg := func(key, english string) string {
		if lang == "" {
			return english
		}
		return templates.T(lang, key)
	}
	switch {
	case errors.Is(err, account.ErrInvalidCredentials):
		httpapi.WriteError(w, http.StatusUnauthorized, "invalid_credentials", msg(templates.KeyPasswordWrongCurrent, "Password is incorrect"))
	case errors.Is(err, account.ErrSecondFactorRequired):
		httpapi.WriteError(w, http.StatusUnauthorized, "second_factor_required", msg(templates.KeyDeleteCodeRequired, "A two-factor code is required"))
	case errors.Is(err, account.ErrInvalidCode):
		httpapi.WriteError(w, http.StatusUnauthorized, "invalid_code", msg(templates.Key2FAInvalidCode, "Invalid two-factor code"))
	case errors.Is(err, provider.ErrNotFound):
		httpapi.WriteError(w, http.StatusUnauthorized, "invalid_token", "Invalid token")
	case err != nil:
		httpapi.InternalError(w, r, s.Logger, "passkey register: reauthenticate", err)
	default:
		return u, true
	}
	return nil, false
}
