package keys

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/manacore/mana-core-auth/provider"
)

// Verification failures; Verify wraps them with detail.
var (
	// ErrUnknownKey: the token's kid names no published key (never
	// existed, expired, or missing kid).
	ErrUnknownKey = errors.New("unknown signing key")
	// ErrInvalidSignature: the signature does not verify, or the token's
	// alg is not the alg of the key it names (including "none").
	ErrInvalidSignature = errors.New("invalid token signature")
	// ErrMalformed: not a compact JWS this package produces.
	ErrMalformed = errors.New("malformed token")
	// ErrNoSigningKey: no key of the alg may sign now (Init not called,
	// unsupported alg, or every key retired).
	ErrNoSigningKey = errors.New("no signing key")
)

// maxTokenLen bounds the work an attacker can cause per Verify; real
// tokens are a few kilobytes.
const maxTokenLen = 64 << 10

// b64 rejects padding and non-zero trailing bits, so every token has
// exactly one encoding and a signature cannot be varied without breaking.
var b64 = base64.RawURLEncoding.Strict()

// Header is the JOSE header of a verified token.
type Header struct{ Alg, Kid, Typ string }

// Sign returns a compact JWS of claims (marshalled with encoding/json)
// signed with the key of alg that signs now; the header carries alg, kid
// and typ (omitted when empty). It never touches the store.
func (r *Ring) Sign(alg string, typ string, claims any) (string, error) {
	s := r.snap.Load()
	if s == nil {
		return "", fmt.Errorf("keys: %w: ring not initialised", ErrNoSigningKey)
	}
	e := s.signer(alg, r.now())
	if e == nil {
		return "", fmt.Errorf("keys: %w for alg %q", ErrNoSigningKey, alg)
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", fmt.Errorf("keys: marshal claims: %w", err)
	}
	hdr := e.header(typ)
	enc := base64.RawURLEncoding
	buf := make([]byte, 0, len(hdr)+1+enc.EncodedLen(len(payload))+1+enc.EncodedLen(e.sigSize()))
	buf = append(buf, hdr...)
	buf = append(buf, '.')
	buf = enc.AppendEncode(buf, payload)
	var sig []byte
	if e.alg == provider.AlgEdDSA {
		sig = ed25519.Sign(e.edPriv, buf)
	} else {
		digest := sha256.Sum256(buf)
		if sig, err = rsa.SignPKCS1v15(nil, e.rsaPriv, crypto.SHA256, digest[:]); err != nil {
			return "", fmt.Errorf("keys: sign: %w", err)
		}
	}
	buf = append(buf, '.')
	buf = enc.AppendEncode(buf, sig)
	return string(buf), nil
}

// Verify checks a compact JWS against the published key its kid names and
// returns its header and raw payload. The key, not the token, decides the
// algorithm. Claims are not checked.
func (r *Ring) Verify(token string) (Header, []byte, error) {
	if len(token) > maxTokenLen {
		return Header{}, nil, fmt.Errorf("keys: %w: token longer than %d bytes", ErrMalformed, maxTokenLen)
	}
	ck := tokenKey(token)
	if v, ok := r.verified.get(ck); ok {
		// Verified before: valid while the same key is still published
		// under its kid (see verifiedCache).
		if s := r.snap.Load(); s != nil {
			if e := s.byKid[v.header.Kid]; e != nil && e.material == v.key && e.publishedAt(r.now()) {
				return v.header, append([]byte(nil), v.payload...), nil
			}
		}
	}
	h64, rest, ok1 := strings.Cut(token, ".")
	p64, s64, ok2 := strings.Cut(rest, ".")
	if !ok1 || !ok2 || strings.IndexByte(s64, '.') >= 0 {
		return Header{}, nil, fmt.Errorf("keys: %w: not three dot-separated parts", ErrMalformed)
	}
	hj, err := b64.DecodeString(h64)
	if err != nil {
		return Header{}, nil, fmt.Errorf("keys: %w: header: %v", ErrMalformed, err)
	}
	var raw struct {
		Alg  string          `json:"alg"`
		Kid  string          `json:"kid"`
		Typ  string          `json:"typ"`
		Crit json.RawMessage `json:"crit"`
	}
	if err := json.Unmarshal(hj, &raw); err != nil {
		return Header{}, nil, fmt.Errorf("keys: %w: header: %v", ErrMalformed, err)
	}
	// RFC 7515 4.1.11: extensions we do not understand must be rejected,
	// and this package understands none.
	if raw.Crit != nil {
		return Header{}, nil, fmt.Errorf("keys: %w: unsupported crit header", ErrMalformed)
	}
	if raw.Alg != provider.AlgEdDSA && raw.Alg != provider.AlgRS256 {
		return Header{}, nil, fmt.Errorf("keys: %w: alg %q not accepted", ErrInvalidSignature, raw.Alg)
	}
	if raw.Kid == "" {
		return Header{}, nil, fmt.Errorf("keys: %w: token has no kid", ErrUnknownKey)
	}
	s := r.snap.Load()
	var e *entry
	if s != nil {
		e = s.byKid[raw.Kid]
	}
	if e == nil || !e.publishedAt(r.now()) {
		return Header{}, nil, fmt.Errorf("keys: %w: kid %q", ErrUnknownKey, raw.Kid)
	}
	if raw.Alg != e.alg {
		return Header{}, nil, fmt.Errorf("keys: %w: alg %q does not match the %s key %q", ErrInvalidSignature, raw.Alg, e.alg, e.kid)
	}
	sig, err := b64.DecodeString(s64)
	if err != nil {
		return Header{}, nil, fmt.Errorf("keys: %w: signature: %v", ErrMalformed, err)
	}
	payload, err := b64.DecodeString(p64)
	if err != nil {
		return Header{}, nil, fmt.Errorf("keys: %w: payload: %v", ErrMalformed, err)
	}
	signed := []byte(token[:len(h64)+1+len(p64)])
	valid := false
	if e.alg == provider.AlgEdDSA {
		valid = ed25519.Verify(e.edPub, signed, sig)
	} else {
		digest := sha256.Sum256(signed)
		valid = len(sig) == e.rsaPub.Size() && rsa.VerifyPKCS1v15(e.rsaPub, crypto.SHA256, digest[:], sig) == nil
	}
	if !valid {
		return Header{}, nil, fmt.Errorf("keys: %w", ErrInvalidSignature)
	}
	h := Header{Alg: raw.Alg, Kid: raw.Kid, Typ: raw.Typ}
	r.verified.put(ck, verifiedToken{key: e.material, header: h, payload: append([]byte(nil), payload...)})
	return h, payload, nil
}
