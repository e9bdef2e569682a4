package keys

import (
	"bytes"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/manacore/mana-core-auth/provider"
)

// material is the immutable cryptographic part of a key. It is cached by
// kid across reloads because parsing an RSA key and opening the ciphertext
// are far too slow to repeat every reload interval.
type material struct {
	kid     string
	alg     string
	edPriv  ed25519.PrivateKey
	edPub   ed25519.PublicKey
	rsaPriv *rsa.PrivateKey
	rsaPub  *rsa.PublicKey
	jwk     []byte // public JWK exactly as served in the JWKS
	// publicOnly: an imported key without private half (edPriv and
	// rsaPriv nil); it verifies, it never signs.
	publicOnly bool
	// headers maps the common typ values to the encoded protected header
	// so Sign does not marshal a header per token.
	headers map[string]string
}

// commonTyps are the typ values the provider signs with (ID tokens,
// RFC 9068 access tokens, back-channel logout tokens, none).
var commonTyps = []string{"", "JWT", "at+jwt", "logout+jwt"}

func (m *material) publicKey() crypto.PublicKey {
	if m.alg == provider.AlgEdDSA {
		return m.edPub
	}
	return m.rsaPub
}

func (m *material) sigSize() int {
	if m.alg == provider.AlgEdDSA {
		return ed25519.SignatureSize
	}
	return m.rsaPub.Size()
}

// header returns the base64url protected header for typ.
func (m *material) header(typ string) string {
	if h, ok := m.headers[typ]; ok {
		return h
	}
	return encodeHeader(m.alg, m.kid, typ)
}

func encodeHeader(alg, kid, typ string) string {
	h := struct {
		Alg string `json:"alg"`
		Kid string `json:"kid"`
		Typ string `json:"typ,omitempty"`
	}{alg, kid, typ}
	b, err := json.Marshal(h)
	if err != nil { // cannot happen: three strings always marshal
		panic(err)
	}
	return b64.EncodeToString(b)
}

// newMaterial checks that priv belongs to alg and builds the public parts.
func newMaterial(alg string, priv crypto.PrivateKey) (*material, error) {
	m := &material{alg: alg}
	var pub crypto.PublicKey
	switch alg {
	case provider.AlgEdDSA:
		k, ok := priv.(ed25519.PrivateKey)
		if !ok {
			return nil, fmt.Errorf("private key is %T, want Ed25519", priv)
		}
		m.edPriv = k
		m.edPub = k.Public().(ed25519.PublicKey)
		pub = m.edPub
	case provider.AlgRS256:
		k, ok := priv.(*rsa.PrivateKey)
		if !ok {
			return nil, fmt.Errorf("private key is %T, want RSA", priv)
		}
		if k.N.BitLen() < minRSABits {
			return nil, fmt.Errorf("RSA key has %d bits, want at least %d", k.N.BitLen(), minRSABits)
		}
		m.rsaPriv = k
		m.rsaPub = &k.PublicKey
		pub = m.rsaPub
	default:
		return nil, fmt.Errorf("unsupported alg %q", alg)
	}
	tp, err := (&jose.JSONWebKey{Key: pub}).Thumbprint(crypto.SHA256)
	if err != nil {
		return nil, fmt.Errorf("thumbprint: %w", err)
	}
	m.kid = base64.RawURLEncoding.EncodeToString(tp)
	if m.jwk, err = publicJWKBytes(pub, m.kid, alg); err != nil {
		return nil, err
	}
	m.headers = make(map[string]string, len(commonTyps))
	for _, typ := range commonTyps {
		m.headers[typ] = encodeHeader(alg, m.kid, typ)
	}
	return m, nil
}

// generate creates a new key of alg; the caller sets its times.
func (r *Ring) generate(alg string) (*provider.Key, *material, error) {
	var priv crypto.PrivateKey
	switch alg {
	case provider.AlgEdDSA:
		_, k, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return nil, nil, err
		}
		priv = k
	case provider.AlgRS256:
		k, err := rsa.GenerateKey(rand.Reader, r.rsaBits)
		if err != nil {
			return nil, nil, err
		}
		priv = k
	default:
		return nil, nil, fmt.Errorf("keys: unsupported alg %q", alg)
	}
	m, err := newMaterial(alg, priv)
	if err != nil {
		return nil, nil, fmt.Errorf("keys: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, nil, fmt.Errorf("keys: marshal private key: %w", err)
	}
	k := &provider.Key{
		ID:         m.kid,
		Alg:        alg,
		PublicJWK:  m.jwk,
		PrivateEnc: r.sealer.Seal(der, []byte(m.kid)),
	}
	return k, m, nil
}

// open decrypts and checks a stored key. Every inconsistency is an error:
// a row whose private key does not match its public JWK would sign tokens
// nobody can verify.
func (r *Ring) open(k *provider.Key) (*material, error) {
	der, err := r.sealer.Open(k.PrivateEnc, []byte(k.ID))
	if err != nil {
		return nil, fmt.Errorf("keys: cannot decrypt the private key of %s: %w", k.ID, ErrSecretMismatch)
	}
	priv, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("keys: key %s: parse private key: %w", k.ID, err)
	}
	m, err := newMaterial(k.Alg, priv)
	if err != nil {
		return nil, fmt.Errorf("keys: key %s: %w", k.ID, err)
	}
	if m.kid != k.ID {
		return nil, fmt.Errorf("keys: key %s: private key thumbprint is %s", k.ID, m.kid)
	}
	var stored jose.JSONWebKey
	if err := stored.UnmarshalJSON(k.PublicJWK); err != nil {
		return nil, fmt.Errorf("keys: key %s: parse public JWK: %w", k.ID, err)
	}
	if !stored.IsPublic() {
		return nil, fmt.Errorf("keys: key %s: stored public JWK holds a private key", k.ID)
	}
	if stored.KeyID != k.ID || stored.Algorithm != k.Alg {
		return nil, fmt.Errorf("keys: key %s: public JWK has kid %q alg %q", k.ID, stored.KeyID, stored.Algorithm)
	}
	if !samePublic(stored.Key, m.publicKey()) {
		return nil, fmt.Errorf("keys: key %s: public JWK does not match the private key", k.ID)
	}
	return m, nil
}

func samePublic(a, b crypto.PublicKey) bool {
	switch a := a.(type) {
	case ed25519.PublicKey:
		b, ok := b.(ed25519.PublicKey)
		return ok && bytes.Equal(a, b)
	case *rsa.PublicKey:
		return a.Equal(b)
	}
	return false
}

// ErrSecretMismatch: a stored private key does not decrypt with the
// configured SECRET_KEY.
var ErrSecretMismatch = errors.New("SECRET_KEY does not match the one the signing keys were created with " +
	"(restore the previous SECRET_KEY; changing it invalidates every stored signing key)")
