package server

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/ory/fosite"

	"github.com/manacore/mana-core-auth/internal/httpapi"
	"github.com/manacore/mana-core-auth/provider"
	"github.com/manacore/mana-core-auth/provider/oidc"
)

func writeTokenJSON(w http.ResponseWriter, body []byte) {
	h := w.Header()
	h.Set("Content-Type", "application/json;charset=UTF-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}

// authChallengeWriter adds the WWW-Authenticate header RFC 6749 §5.2
// requires on a 401 from the token endpoint; fosite leaves it out.
type authChallengeWriter struct {
	http.ResponseWriter
	challenge string
}

func (w *authChallengeWriter) WriteHeader(code int) {
	if code == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", w.challenge)
	}
	w.ResponseWriter.WriteHeader(code)
}

func (s *server) handleToken() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w = &authChallengeWriter{ResponseWriter: w, challenge: `Basic realm="manaauth"`}
		if err := singleValued(r); err != nil {
			s.accessError(w, r, nil, err)
			return
		}
		if err := cleanTokenRequest(r); err != nil {
			s.accessError(w, r, nil, err)
			return
		}
		body, ar, err := s.OP.Token(r.Context(), r, s.caller(r), s.admitClient(r, "token"))
		if err != nil {
			var rl *rateLimited
			if errors.As(err, &rl) {
				retryAfter(w, rl.wait)
				s.OP.WriteAccessError(r.Context(), w, ar, rl.rfc())
				return
			}
			s.accessError(w, r, ar, err)
			return
		}
		writeTokenJSON(w, body)
	})
}

// admitClient applies the per-client rule to a client that authenticated.
func (s *server) admitClient(r *http.Request, rule string) oidc.Admit {
	return func(_ context.Context, clientID string) error {
		if ok, wait := s.clientLimited(r, rule, clientID); !ok {
			return &rateLimited{wait: wait}
		}
		return nil
	}
}

// cleanTokenRequest refuses a token request whose parameters or Basic
// credentials are not clean text (NUL, invalid UTF-8): no client, code or
// token can contain them, and PostgreSQL would refuse to look them up,
// which would surface as a server error.
func cleanTokenRequest(r *http.Request) error {
	if err := r.ParseForm(); err != nil {
		return fosite.ErrInvalidRequest.WithHint("Unable to parse the request body.").WithWrap(err)
	}
	for k, vs := range r.Form {
		if !provider.CleanText(k) {
			return fosite.ErrInvalidRequest.WithHint("The request contains invalid characters.")
		}
		for _, v := range vs {
			if !provider.CleanText(v) {
				return fosite.ErrInvalidRequest.WithHint("The request contains invalid characters.")
			}
		}
	}
	if id, secret, ok := r.BasicAuth(); ok {
		uid, err1 := url.QueryUnescape(id)
		usecret, err2 := url.QueryUnescape(secret)
		if !provider.CleanText(id) || !provider.CleanText(secret) || err1 != nil || err2 != nil ||
			!provider.CleanText(uid) || !provider.CleanText(usecret) {
			return fosite.ErrInvalidClient.WithHint("The client credentials contain invalid characters.")
		}
	}
	return nil
}

// singleValued parses the request form and refuses a parameter given more
// than once (RFC 6749 section 3.1); fosite would silently use the first.
func singleValued(r *http.Request) error {
	if err := r.ParseForm(); err != nil {
		return fosite.ErrInvalidRequest.WithHint("Unable to parse the request body.").WithWrap(err)
	}
	return firstRepeated(r.Form)
}

func firstRepeated(form url.Values) error {
	for k, v := range form {
		if len(v) > 1 {
			return fosite.ErrInvalidRequest.WithHintf("The parameter '%s' must not be included more than once.", k)
		}
	}
	return nil
}

func (s *server) accessError(w http.ResponseWriter, r *http.Request, ar fosite.AccessRequester, err error) {
	var rfc *fosite.RFC6749Error
	if !errors.As(err, &rfc) {
		// fosite would answer an error it does not know as
		// {"error":"error","error_description":"The error is unrecognizable"}.
		err = fosite.ErrServerError.WithWrap(err).WithDebug(err.Error())
	}
	rfc = fosite.ErrorToRFC6749Error(err)
	switch {
	case errors.Is(err, oidc.ErrUnavailable):
		s.Logger.ErrorContext(r.Context(), "token endpoint: storage unavailable", "error", err, "debug", rfc.DebugField)
	case rfc.CodeField >= 500:
		s.Logger.ErrorContext(r.Context(), "token endpoint", "error", err, "debug", rfc.DebugField)
	}
	if rfc.CodeField == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", httpapi.RetryAfter)
	}
	s.OP.WriteAccessError(r.Context(), w, ar, err)
}

// oauthUnavailable answers an OAuth endpoint whose storage failed: 503
// temporarily_unavailable with Retry-After, never the inactive token or
// invalid client that fosite would make of it.
func (s *server) oauthUnavailable(w http.ResponseWriter, r *http.Request, what string, err error) {
	s.Logger.ErrorContext(r.Context(), what+": storage unavailable", "error", err)
	w.Header().Set("Retry-After", httpapi.RetryAfter)
	httpapi.WriteJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "temporarily_unavailable",
		"error_description": "The authorization server is temporarily unavailable; try again shortly."})
}

func (s *server) handleIntrospect() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		w = &authChallengeWriter{ResponseWriter: w, challenge: `Basic realm="manaauth"`}
		w.Header().Set("Cache-Control", "no-store")
		// fosite also accepts any live access token as the caller's
		// credential, which would let every user's app introspect every
		// token; only clients may introspect.
		if scheme, _, _ := strings.Cut(r.Header.Get("Authorization"), " "); strings.EqualFold(scheme, "Bearer") {
			s.OP.WriteIntrospectionError(ctx, w, fosite.ErrRequestUnauthorized.WithHint("Introspection requires client authentication."))
			return
		}
		ir, err := s.OP.NewIntrospectionRequest(ctx, r, oidc.NewSession())
		if errors.Is(err, oidc.ErrUnavailable) {
			s.oauthUnavailable(w, r, "introspect", err)
			return
		}
		if err != nil {
			rfc := fosite.ErrorToRFC6749Error(err)
			if rfc.CodeField >= 500 {
				s.Logger.ErrorContext(ctx, "introspect", "error", err, "debug", rfc.DebugField)
			}
			s.OP.WriteIntrospectionError(ctx, w, err)
			return
		}
		// The caller authenticated (fosite requires it); count its calls.
		caller, _, ok := r.BasicAuth()
		if !ok {
			caller = r.PostForm.Get("client_id")
		}
		if ok, wait := s.clientLimited(r, "introspect", caller); !ok {
			retryAfter(w, wait)
			rfc := (&rateLimited{wait: wait}).rfc()
			httpapi.WriteJSON(w, rfc.CodeField, map[string]string{"error": rfc.ErrorField, "error_description": rfc.DescriptionField})
			return
		}
		s.writeIntrospection(w, ir)
	})
}

// rateLimited is a token or introspection request over its client's limit.
type rateLimited struct{ wait time.Duration }

func (e *rateLimited) Error() string { return "client rate limit exceeded" }

func (e *rateLimited) rfc() *fosite.RFC6749Error {
	return &fosite.RFC6749Error{ErrorField: "rate_limited", DescriptionField: "Too many requests for this client; retry later.", CodeField: http.StatusTooManyRequests}
}

// writeIntrospection writes the RFC 7662 response. fosite's own writer
// reports the access token's expiry for a refresh token and omits the
// audience every access token carries, so the two views of one token
// (its JWT and its introspection) would disagree.
func (s *server) writeIntrospection(w http.ResponseWriter, ir fosite.IntrospectionResponder) {
	h := w.Header()
	h.Set("Content-Type", "application/json;charset=UTF-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	if !ir.IsActive() {
		_ = json.NewEncoder(w).Encode(map[string]bool{"active": false})
		return
	}
	ar, use := ir.GetAccessRequester(), ir.GetTokenUse()
	sess := ar.GetSession()
	resp := introspection{
		Active:   true,
		Issuer:   s.Config.Issuer,
		ClientID: ar.GetClient().GetID(),
		TokenUse: string(use),
	}
	if exp := sess.GetExpiresAt(use); !exp.IsZero() {
		resp.Exp = exp.Unix()
	}
	if at := ar.GetRequestedAt(); !at.IsZero() {
		resp.Iat = at.Unix()
	}
	if sc := ar.GetGrantedScopes(); len(sc) > 0 {
		resp.Scope = strings.Join(sc, " ")
	}
	aud := []string(ar.GetGrantedAudience())
	if use == fosite.AccessToken {
		resp.TokenType = "Bearer"
		// Mirror the JWT: JWT_AUDIENCE only for trusted clients, and the
		// issuer when nothing else was granted.
		if c, ok := ar.GetClient().(*oidc.Client); ok && c.Model != nil && c.Model.Trusted {
			aud = append(append([]string(nil), s.OP.Config.Audience...), aud...)
		}
		if len(aud) == 0 {
			aud = []string{s.Config.Issuer}
		}
	}
	resp.Aud = slices.Compact(slices.Sorted(slices.Values(aud)))
	resp.Sub = sess.GetSubject()
	if resp.Sub == "" && use == fosite.AccessToken {
		resp.Sub = ar.GetClient().GetID() // client_credentials, as in the JWT
	}
	if os, ok := sess.(*oidc.Session); ok {
		resp.Username, resp.SID = os.Email, os.SessionID
	}
	_ = json.NewEncoder(w).Encode(&resp)
}

// introspection is an active token's RFC 7662 response. A struct, not a
// map: encoding a map sorts its keys and boxes every value, a measurable
// part of an introspection's CPU; the fields are in key order so the
// bytes are what the map gave.
type introspection struct {
	Active    bool     `json:"active"`
	Aud       []string `json:"aud,omitempty"`
	ClientID  string   `json:"client_id,omitempty"`
	Exp       int64    `json:"exp,omitempty"`
	Iat       int64    `json:"iat,omitempty"`
	Issuer    string   `json:"iss,omitempty"`
	Scope     string   `json:"scope,omitempty"`
	SID       string   `json:"sid,omitempty"`
	Sub       string   `json:"sub,omitempty"`
	TokenType string   `json:"token_type,omitempty"`
	TokenUse  string   `json:"token_use,omitempty"`
	Username  string   `json:"username,omitempty"`
}

func (s *server) handleRevoke() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		w = &authChallengeWriter{ResponseWriter: w, challenge: `Basic realm="manaauth"`}
		err := s.OP.NewRevocationRequest(ctx, r)
		if err == nil && r.PostForm.Get("token") == "" {
			// fosite treats a missing token like an unknown one; RFC 7009
			// makes it a required parameter.
			err = fosite.ErrInvalidRequest.WithHint("The 'token' parameter is missing.")
		}
		if errors.Is(err, oidc.ErrUnavailable) {
			s.oauthUnavailable(w, r, "revoke", err)
			return
		}
		// ErrorToRFC6749Error panics on nil.
		if err != nil {
			if rfc := fosite.ErrorToRFC6749Error(err); rfc.CodeField >= 500 {
				s.Logger.ErrorContext(ctx, "revoke", "error", err, "debug", rfc.DebugField)
			}
		}
		w.Header().Set("Cache-Control", "no-store")
		s.OP.WriteRevocationResponse(ctx, w, err)
	})
}

// bearerToken reads an RFC 6750 access token from the Authorization header
// or, for POST, the form body.
func bearerToken(r *http.Request) string {
	if r.Header.Get("Authorization") != "" {
		return httpapi.BearerToken(r)
	}
	if r.Method == http.MethodPost && strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		if err := r.ParseForm(); err == nil {
			return r.PostForm.Get("access_token")
		}
	}
	return ""
}

func (s *server) handleUserinfo() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		w.Header().Set("Cache-Control", "no-store")
		token := bearerToken(r)
		if token == "" {
			w.Header().Set("WWW-Authenticate", `Bearer realm="manaauth"`)
			httpapi.WriteJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid_request", "error_description": "An access token is required."})
			return
		}
		ar, sess, err := s.OP.Introspect(ctx, token)
		if errors.Is(err, oidc.ErrUnavailable) {
			s.oauthUnavailable(w, r, "userinfo", err)
			return
		}
		if err != nil {
			w.Header().Set("WWW-Authenticate", `Bearer realm="manaauth", error="invalid_token"`)
			httpapi.WriteJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid_token", "error_description": "The access token is invalid, expired or revoked."})
			return
		}
		scopes := ar.GetGrantedScopes()
		if !scopes.Has("openid") || sess.Subject == "" {
			w.Header().Set("WWW-Authenticate", `Bearer realm="manaauth", error="insufficient_scope", scope="openid"`)
			httpapi.WriteJSON(w, http.StatusForbidden, map[string]string{"error": "insufficient_scope", "error_description": "The access token lacks the openid scope."})
			return
		}
		user, err := s.Store.GetUser(ctx, sess.Subject)
		if err != nil {
			if errors.Is(err, provider.ErrNotFound) {
				w.Header().Set("WWW-Authenticate", `Bearer realm="manaauth", error="invalid_token"`)
				httpapi.WriteJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid_token", "error_description": "The user no longer exists."})
				return
			}
			s.oauthUnavailable(w, r, "userinfo: load user", err)
			return
		}
		if user.CanSignIn() != nil {
			w.Header().Set("WWW-Authenticate", `Bearer realm="manaauth", error="invalid_token"`)
			httpapi.WriteJSON(w, http.StatusForbidden, map[string]string{"error": "account_disabled", "error_description": "The account is disabled."})
			return
		}
		claims := oidc.UserClaims(user, scopes)
		httpapi.WriteJSON(w, http.StatusOK, claims)
	})
}
