package oidc

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	jose3 "github.com/go-jose/go-jose/v3"
	"github.com/ory/fosite/token/jwt"

	"github.com/manacore/mana-core-auth/provider"
	"github.com/manacore/mana-core-auth/provider/keys"
)

// KeyRing signs and verifies compact JWS with the provider's keys.
type KeyRing interface {
	Sign(alg, typ string, claims any) (string, error)
	Verify(token string) (keys.Header, []byte, error)
}

// signer implements fosite's jwt.Signer on top of the key ring. fosite's
// DefaultSigner can sign with an Ed25519 JWK but cannot validate or decode
// EdDSA tokens, which breaks id_token_hint at logout and prompt=none.
type signer struct {
	ring KeyRing
	now  func() time.Time
}

var _ jwt.Signer = (*signer)(nil)

func (s *signer) Generate(_ context.Context, claims jwt.MapClaims, header jwt.Mapper) (string, string, error) {
	// jwt.Headers.ToMap drops "alg", so read it with Get: the session puts
	// the client's ID token algorithm there.
	alg := provider.AlgEdDSA
	if h, ok := header.(interface{ Get(string) interface{} }); ok && h != nil {
		if a, _ := h.Get("alg").(string); a == provider.AlgRS256 {
			alg = provider.AlgRS256
		}
	}
	token, err := s.ring.Sign(alg, "JWT", map[string]interface{}(claims))
	if err != nil {
		return "", "", fmt.Errorf("sign id token: %w", err)
	}
	return token, token[strings.LastIndexByte(token, '.')+1:], nil
}

func (s *signer) Validate(ctx context.Context, token string) (string, error) {
	t, err := s.Decode(ctx, token)
	if err != nil {
		return "", err
	}
	if err := t.Claims.Valid(); err != nil {
		return "", err
	}
	return token[strings.LastIndexByte(token, '.')+1:], nil
}

// Decode verifies the signature and returns the claims. Like fosite's own
// decoder it returns the token together with a ValidationError when it is
// expired, because an expired ID token is still a valid id_token_hint.
func (s *signer) Decode(_ context.Context, token string) (*jwt.Token, error) {
	h, payload, err := s.ring.Verify(token)
	if err != nil {
		return nil, &jwt.ValidationError{Inner: err, Errors: jwt.ValidationErrorSignatureInvalid}
	}
	claims := jwt.MapClaims{}
	dec := json.NewDecoder(bytes.NewReader(payload))
	if err := dec.Decode(&claims); err != nil {
		return nil, &jwt.ValidationError{Inner: err, Errors: jwt.ValidationErrorMalformed}
	}
	t := &jwt.Token{
		Header: map[string]interface{}{"alg": h.Alg, "kid": h.Kid, "typ": h.Typ},
		Claims: claims,
		Method: jose3.SignatureAlgorithm(h.Alg),
	}
	if !claims.VerifyExpiresAt(s.now().Unix(), true) {
		return t, &jwt.ValidationError{Inner: errors.New("token is expired"), Errors: jwt.ValidationErrorExpired}
	}
	return t, nil
}

func (s *signer) Hash(_ context.Context, in []byte) ([]byte, error) {
	sum := sha256.Sum256(in)
	return sum[:], nil
}

func (s *signer) GetSignature(_ context.Context, token string) (string, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return "", errors.New("header, body and signature must all be set")
	}
	return parts[2], nil
}

func (s *signer) GetSigningMethodLength(context.Context) int { return sha256.Size }
