package oidc

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"strings"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/oauth2"
	"github.com/ory/fosite/handler/openid"
	"github.com/ory/fosite/token/jwt"
)

// AccessClaims are the claims of our RFC 9068 access tokens: the "minimal
// claims" the Mana apps read, nothing else (credits and orgs are fetched).
type AccessClaims struct {
	Issuer    string   `json:"iss"`
	Subject   string   `json:"sub"`
	Audience  []string `json:"aud"`
	ExpiresAt int64    `json:"exp"`
	IssuedAt  int64    `json:"iat"`
	JTI       string   `json:"jti"`
	ClientID  string   `json:"client_id"`
	Scope     string   `json:"scope,omitempty"`
	SessionID string   `json:"sid,omitempty"`
	Email     string   `json:"email,omitempty"`
	Role      string   `json:"role,omitempty"`
}

// strategy issues JWT access tokens and opaque HMAC codes and refresh
// tokens. fosite's DefaultJWTStrategy would sign through the same signer
// but adds claims we do not want (nbf, scp, ext) and cannot set typ
// at+jwt, so the access token part is ours.
type strategy struct {
	*oauth2.HMACSHAStrategyUnPrefixed
	openid.OpenIDConnectTokenStrategy
	jwt.Signer

	ring            KeyRing
	issuer          string
	defaultAudience []string
	rememberTTL     time.Duration
	now             func() time.Time
}

// GenerateRefreshToken gives the refresh tokens of a "remember me" login
// the long lifetime. fosite sets one lifetime for every refresh token just
// before generating it, and both the stored row and the validation read
// the session's expiry, so this is the one place to extend it.
func (s *strategy) GenerateRefreshToken(ctx context.Context, r fosite.Requester) (string, string, error) {
	if sess, ok := r.GetSession().(*Session); ok && sess.RememberMe && s.rememberTTL > 0 {
		sess.SetExpiresAt(fosite.RefreshToken, s.now().UTC().Add(s.rememberTTL).Round(time.Second))
	}
	return s.HMACSHAStrategyUnPrefixed.GenerateRefreshToken(ctx, r)
}

var (
	_ oauth2.CoreStrategy               = (*strategy)(nil)
	_ openid.OpenIDConnectTokenStrategy = (*strategy)(nil)
)

func (s *strategy) AccessTokenSignature(_ context.Context, token string) string {
	if i := strings.LastIndexByte(token, '.'); i >= 0 {
		return token[i+1:]
	}
	return ""
}

func (s *strategy) GenerateAccessToken(_ context.Context, r fosite.Requester) (string, string, error) {
	sess, _ := r.GetSession().(*Session)
	if sess == nil {
		sess = NewSession()
	}
	now := s.now().UTC()
	exp := sess.GetExpiresAt(fosite.AccessToken)
	if exp.IsZero() {
		exp = now.Add(15 * time.Minute)
	}
	sub := sess.Subject
	if sub == "" {
		// client_credentials: the client acts on its own behalf (RFC 9068 §2.2).
		sub = r.GetClient().GetID()
	}
	aud := appendUnique(append([]string(nil), s.audienceFor(r.GetClient())...), r.GetGrantedAudience()...)
	if len(aud) == 0 {
		// RFC 9068 requires aud; without a granted API the only resource
		// the token is good for is our own userinfo endpoint.
		aud = []string{s.issuer}
	}
	claims := AccessClaims{
		Issuer:    s.issuer,
		Subject:   sub,
		Audience:  aud,
		ExpiresAt: exp.Unix(),
		IssuedAt:  now.Unix(),
		JTI:       randomID(),
		ClientID:  r.GetClient().GetID(),
		Scope:     strings.Join(r.GetGrantedScopes(), " "),
		SessionID: sess.SessionID,
		Email:     sess.Email,
		Role:      sess.Role,
	}
	token, err := s.ring.Sign("EdDSA", "at+jwt", &claims)
	if err != nil {
		return "", "", err
	}
	return token, token[strings.LastIndexByte(token, '.')+1:], nil
}

// ValidateAccessToken checks signature and expiry; the caller (fosite's
// CoreValidator) has already found the token's grant in the store, which is
// what makes revocation effective.
func (s *strategy) ValidateAccessToken(_ context.Context, _ fosite.Requester, token string) error {
	h, payload, err := s.ring.Verify(token)
	if err != nil {
		return fosite.ErrTokenSignatureMismatch.WithWrap(err)
	}
	if h.Typ != "at+jwt" {
		return fosite.ErrTokenClaim.WithHint("The token is not an access token.")
	}
	var c struct {
		Exp int64 `json:"exp"`
	}
	if err := json.Unmarshal(payload, &c); err != nil {
		return fosite.ErrInvalidTokenFormat.WithWrap(err)
	}
	if s.now().Unix() >= c.Exp {
		return fosite.ErrTokenExpired.WithHint("The access token expired.")
	}
	return nil
}

func appendUnique(dst []string, src ...string) []string {
	for _, v := range src {
		found := false
		for _, d := range dst {
			if d == v {
				found = true
				break
			}
		}
		if !found {
			dst = append(dst, v)
		}
	}
	return dst
}

func randomID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// audienceFor returns the audience every token of the client carries. Only
// first-party (trusted) clients get JWT_AUDIENCE: the Mana APIs accept any
// token for it, so a third-party app the user merely consented to must not
// hold one. Other clients get only the audiences they were granted.
func (s *strategy) audienceFor(c fosite.Client) []string {
	if cl, ok := c.(*Client); ok && cl.Model != nil && cl.Model.Trusted {
		return s.defaultAudience
	}
	return nil
}
