package oidc

import (
	"time"

	"github.com/mohae/deepcopy"
	"github.com/ory/fosite"
	"github.com/ory/fosite/token/jwt"
)

// Session is the one concrete fosite session type of the provider. It is
// stored as JSON with every grant and restored into the same type, so the
// claims an access token or ID token carries survive a refresh unchanged.
type Session struct {
	Subject   string `json:"sub,omitempty"`
	ClientID  string `json:"client_id,omitempty"`
	SessionID string `json:"sid,omitempty"` // browser login session; empty for client_credentials
	Email     string `json:"email,omitempty"`
	Role      string `json:"role,omitempty"`
	// RememberMe: the user asked to stay signed in, which gives refresh
	// tokens the long lifetime.
	RememberMe bool `json:"remember,omitempty"`
	// IDTokenAlg is the client's ID token algorithm (EdDSA or RS256).
	IDTokenAlg string                         `json:"id_token_alg,omitempty"`
	ExpiresAt  map[fosite.TokenType]time.Time `json:"expires_at,omitempty"`
	Claims     *jwt.IDTokenClaims             `json:"id_token_claims,omitempty"`
	Headers    *jwt.Headers                   `json:"id_token_headers,omitempty"`
}

var _ fosite.Session = (*Session)(nil)

// NewSession returns an empty session; fosite restores into it.
func NewSession() *Session {
	return &Session{Claims: &jwt.IDTokenClaims{}, Headers: &jwt.Headers{}}
}

// hashHintHeader is the value our signer finds under "alg" in the ID token
// headers. fosite's IDTokenHandleHelper.ComputeHash picks the at_hash
// digest from alg[2:] ("256"/"384"/"512") and so falls back to SHA-256 for
// "EdDSA", while OpenID Connect requires SHA-512 for Ed25519. "ED512"
// steers it to SHA-512; the signer translates it back to EdDSA and never
// writes it into a token.
const hashHintEdDSA = "ED512"

// IDTokenHeaders implements openid.Session.
func (s *Session) IDTokenHeaders() *jwt.Headers {
	if s.Headers == nil {
		s.Headers = &jwt.Headers{}
	}
	if s.Headers.Extra == nil {
		s.Headers.Extra = map[string]interface{}{}
	}
	if s.IDTokenAlg == "RS256" {
		s.Headers.Extra["alg"] = "RS256"
	} else {
		s.Headers.Extra["alg"] = hashHintEdDSA
	}
	return s.Headers
}

// IDTokenClaims implements openid.Session.
func (s *Session) IDTokenClaims() *jwt.IDTokenClaims {
	if s.Claims == nil {
		s.Claims = &jwt.IDTokenClaims{}
	}
	return s.Claims
}

// SetExpiresAt implements fosite.Session.
func (s *Session) SetExpiresAt(key fosite.TokenType, exp time.Time) {
	if s.ExpiresAt == nil {
		s.ExpiresAt = map[fosite.TokenType]time.Time{}
	}
	s.ExpiresAt[key] = exp
}

// GetExpiresAt implements fosite.Session.
func (s *Session) GetExpiresAt(key fosite.TokenType) time.Time {
	if s.ExpiresAt == nil {
		return time.Time{}
	}
	return s.ExpiresAt[key]
}

// GetUsername implements fosite.Session.
func (s *Session) GetUsername() string {
	if s == nil {
		return ""
	}
	return s.Email
}

// SetSubject implements fosite.Session.
func (s *Session) SetSubject(subject string) { s.Subject = subject }

// GetSubject implements fosite.Session.
func (s *Session) GetSubject() string {
	if s == nil {
		return ""
	}
	return s.Subject
}

// Clone implements fosite.Session.
func (s *Session) Clone() fosite.Session {
	if s == nil {
		return nil
	}
	return deepcopy.Copy(s).(fosite.Session)
}
