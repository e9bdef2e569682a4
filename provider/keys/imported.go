package keys

import (
	"context"
	"crypto/ed25519"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/manacore/mana-core-auth/provider"
)

// issue 14 (keys import): signing keys of the service this one replaces.
//
// The apps hold tokens that service signed just before the switch; they
// must keep verifying until they expire. Its private keys are deliberately
// not imported (they never sign again, and they are encrypted with a
// secret we do not want to hold), so such a key is stored with its public
// half only: an empty PrivateEnc. The ring publishes and verifies with it
// like any retired key but never treats it as one of its own: it never
// signs, never counts as the newest key of its algorithm when deciding
// whether a rotation is due, and rotation never changes its times.

// maxImportedKidLen bounds the kid of an imported key; the old service's
// ids are 32 characters.
const maxImportedKidLen = 255

// privateJWKMembers are the JWK members that carry private key material
// (RFC 7517/7518: EC/OKP "d", RSA "d p q dp dq qi oth", symmetric "k").
var privateJWKMembers = []string{"d", "p", "q", "dp", "dq", "qi", "oth", "k"}

// ImportPublicKey builds the stored form of another service's Ed25519
// signing key from its public JWK as jose's exportJWK wrote it (kty OKP,
// crv Ed25519, x; "alg" EdDSA, "kid" and "use" sig allowed), so tokens it
// signed with kid id verify here. The result has no private half: the ring
// publishes it and verifies with it from createdAt until expiresAt and
// never signs with it. PublicJWK is re-encoded in the form the JWKS serves
// (kid id, alg EdDSA, use sig). Every error names what is wrong with the
// JWK or the times, for a per-row import report.
func ImportPublicKey(id string, publicJWK []byte, createdAt, retiredAt, expiresAt time.Time) (*provider.Key, error) {
	if err := checkImportedKid(id); err != nil {
		return nil, err
	}
	pub, err := parseOldEd25519JWK(id, publicJWK)
	if err != nil {
		return nil, fmt.Errorf("key %q: %w", id, err)
	}
	switch {
	case createdAt.IsZero() || retiredAt.IsZero() || expiresAt.IsZero():
		return nil, fmt.Errorf("key %q: created, retired and expiry times are all required", id)
	case retiredAt.Before(createdAt):
		return nil, fmt.Errorf("key %q: retired at %s, before it was created at %s", id,
			retiredAt.UTC().Format(time.RFC3339), createdAt.UTC().Format(time.RFC3339))
	case !expiresAt.After(retiredAt):
		return nil, fmt.Errorf("key %q: expires at %s, not after it is retired at %s", id,
			expiresAt.UTC().Format(time.RFC3339), retiredAt.UTC().Format(time.RFC3339))
	}
	jwk, err := publicJWKBytes(pub, id, provider.AlgEdDSA)
	if err != nil {
		return nil, fmt.Errorf("key %q: %w", id, err)
	}
	// UTC without a monotonic reading, like every time the ring stores.
	created, retired, expires := createdAt.UTC().Round(0), retiredAt.UTC().Round(0), expiresAt.UTC().Round(0)
	return &provider.Key{
		ID:        id,
		Alg:       provider.AlgEdDSA,
		PublicJWK: jwk,
		// Empty, not a sealed dummy: the columns are NOT NULL and both
		// stores write nil as an empty blob; empty is what marks the key
		// as public-only (PublicOnly).
		PrivateEnc: nil,
		CreatedAt:  created,
		// It signed (in the old service) from its creation; here it only
		// matters that ActiveAt is not after RetiredAt.
		ActiveAt:  created,
		RetiredAt: &retired,
		ExpiresAt: &expires,
	}, nil
}

// PublicOnly reports whether the stored key k has no private half: a key
// imported with ImportPublicKey, which verifies but never signs.
func PublicOnly(k *provider.Key) bool { return len(k.PrivateEnc) == 0 }

func checkImportedKid(id string) error {
	if id == "" {
		return errors.New("key id is empty")
	}
	if len(id) > maxImportedKidLen {
		return fmt.Errorf("key id is %d bytes long, at most %d allowed", len(id), maxImportedKidLen)
	}
	for i := 0; i < len(id); i++ {
		// A kid is echoed in token headers and logs: printable ASCII only.
		if c := id[i]; c < 0x21 || c > 0x7e {
			return fmt.Errorf("key id %q: byte %d (0x%02x) is not printable ASCII", id, i, c)
		}
	}
	return nil
}

// parseOldEd25519JWK checks the old service's public JWK member by member,
// so the import report says exactly what is wrong, and refuses anything
// that is not a bare public Ed25519 key.
func parseOldEd25519JWK(id string, raw []byte) (ed25519.PublicKey, error) {
	var members map[string]json.RawMessage
	if err := json.Unmarshal(raw, &members); err != nil {
		return nil, fmt.Errorf("public key is not a JSON object: %w", err)
	}
	for _, m := range privateJWKMembers {
		if _, ok := members[m]; ok {
			return nil, fmt.Errorf("public key JWK holds private member %q; refusing to import private key material", m)
		}
	}
	str := func(name string) (string, bool, error) {
		v, ok := members[name]
		if !ok {
			return "", false, nil
		}
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			return "", true, fmt.Errorf("JWK member %q is not a string", name)
		}
		return s, true, nil
	}
	kty, ok, err := str("kty")
	switch {
	case err != nil:
		return nil, err
	case !ok:
		return nil, errors.New(`JWK has no "kty"`)
	case kty != "OKP":
		return nil, fmt.Errorf("JWK kty is %q, want \"OKP\" (Ed25519)", kty)
	}
	crv, ok, err := str("crv")
	switch {
	case err != nil:
		return nil, err
	case !ok:
		return nil, errors.New(`JWK has no "crv"`)
	case crv != "Ed25519":
		return nil, fmt.Errorf("JWK crv is %q, want \"Ed25519\"", crv)
	}
	if alg, ok, err := str("alg"); err != nil {
		return nil, err
	} else if ok && alg != provider.AlgEdDSA {
		return nil, fmt.Errorf("JWK alg is %q, want %q", alg, provider.AlgEdDSA)
	}
	if kid, ok, err := str("kid"); err != nil {
		return nil, err
	} else if ok && kid != id {
		// Tokens name the key by the row id; a different kid in the JWK
		// means the row is not what it claims to be.
		return nil, fmt.Errorf("JWK kid is %q, not the key id", kid)
	}
	if use, ok, err := str("use"); err != nil {
		return nil, err
	} else if ok && use != "sig" {
		return nil, fmt.Errorf("JWK use is %q, want \"sig\"", use)
	}
	x, ok, err := str("x")
	switch {
	case err != nil:
		return nil, err
	case !ok:
		return nil, errors.New(`JWK has no "x"`)
	}
	// jose writes base64url without padding; accept exactly that.
	pub, err := b64.DecodeString(x)
	if err != nil {
		return nil, fmt.Errorf("JWK x is not unpadded base64url: %w", err)
	}
	if len(pub) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("JWK x is %d bytes, an Ed25519 public key is %d", len(pub), ed25519.PublicKeySize)
	}
	return ed25519.PublicKey(pub), nil
}

// publicJWKBytes is the JWK the JWKS serves for pub.
func publicJWKBytes(pub any, kid, alg string) ([]byte, error) {
	b, err := jose.JSONWebKey{Key: pub, KeyID: kid, Algorithm: alg, Use: "sig"}.MarshalJSON()
	if err != nil {
		return nil, fmt.Errorf("marshal public JWK: %w", err)
	}
	return b, nil
}

// openPublic builds the material of a public-only key from its stored
// JWK. As with open, every inconsistency is an error: the JWKS must serve
// exactly the key the row was imported with.
func openPublic(k *provider.Key) (*material, error) {
	var stored jose.JSONWebKey
	if err := stored.UnmarshalJSON(k.PublicJWK); err != nil {
		return nil, fmt.Errorf("keys: public-only key %s: parse public JWK: %w", k.ID, err)
	}
	if !stored.IsPublic() {
		return nil, fmt.Errorf("keys: public-only key %s: stored public JWK holds a private key", k.ID)
	}
	if stored.KeyID != k.ID || stored.Algorithm != k.Alg {
		return nil, fmt.Errorf("keys: public-only key %s: public JWK has kid %q alg %q", k.ID, stored.KeyID, stored.Algorithm)
	}
	m := &material{kid: k.ID, alg: k.Alg, publicOnly: true}
	switch pub := stored.Key.(type) {
	case ed25519.PublicKey:
		if k.Alg != provider.AlgEdDSA {
			return nil, fmt.Errorf("keys: public-only key %s: Ed25519 JWK for alg %s", k.ID, k.Alg)
		}
		m.edPub = pub
	case *rsa.PublicKey:
		if k.Alg != provider.AlgRS256 {
			return nil, fmt.Errorf("keys: public-only key %s: RSA JWK for alg %s", k.ID, k.Alg)
		}
		if pub.N.BitLen() < minRSABits {
			return nil, fmt.Errorf("keys: public-only key %s: RSA key has %d bits, want at least %d", k.ID, pub.N.BitLen(), minRSABits)
		}
		m.rsaPub = pub
	default:
		return nil, fmt.Errorf("keys: public-only key %s: unsupported public key %T", k.ID, stored.Key)
	}
	jwk, err := publicJWKBytes(m.publicKey(), k.ID, k.Alg)
	if err != nil {
		return nil, fmt.Errorf("keys: public-only key %s: %w", k.ID, err)
	}
	m.jwk = jwk
	return m, nil
}

// KeyInfo is a stored key as operators see it: without its private half.
type KeyInfo struct {
	*provider.Key // PrivateEnc is nil
	// Imported: the key has no private half (ImportPublicKey); it is
	// published until ExpiresAt to verify the old service's tokens and
	// never signs here.
	Imported bool
}

// KeyInfos is Keys with each key marked imported or not, for listings.
func (r *Ring) KeyInfos(ctx context.Context) ([]KeyInfo, error) {
	ks, err := r.store.ListKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("keys: list keys: %w", err)
	}
	out := make([]KeyInfo, len(ks))
	for i, k := range ks {
		out[i] = KeyInfo{Key: withoutPrivate(k), Imported: PublicOnly(k)}
	}
	return out, nil
}

// rotationSince is the since for the InsertKeyIfDue of a scheduled
// rotation due at cutoff (now minus the interval), or ok=false when one of
// the keys listed beforehand already makes it not due. The store counts
// every key of alg created after since, public-only ones included, and an
// imported key may be younger than the interval (the old service's last
// key, created shortly before the switch), which would postpone our first
// rotation by up to an interval. So since is raised past the imported keys'
// creation times, after checking here, on the fresh list, that no key of
// our own in between is young enough to count. A key another replica
// inserts after the list is created at its now, after the old service's
// keys, so the store still sees it.
func rotationSince(existing []*provider.Key, alg string, cutoff time.Time) (time.Time, bool) {
	var imported []*provider.Key
	for _, k := range existing {
		if k.Alg != alg {
			continue
		}
		if PublicOnly(k) {
			imported = append(imported, k)
			continue
		}
		if k.CreatedAt.After(cutoff) {
			return time.Time{}, false
		}
	}
	if n := newestCreated(imported, alg); n.After(cutoff) {
		return n, true
	}
	return cutoff, true
}
