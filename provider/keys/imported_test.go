package keys_test

import (
	"bytes"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"maps"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/manacore/mana-core-auth/provider"
	"github.com/manacore/mana-core-auth/provider/keys"
	"github.com/manacore/mana-core-auth/provider/store/storetest"
)

// issue 14 (keys import)

// oldKey is a signing key of the old service (Better Auth 1.4.4's jwt
// plugin): an Ed25519 pair, its public half as the auth.jwks row stores it.
type oldKey struct {
	id   string
	priv ed25519.PrivateKey
	pub  ed25519.PublicKey
	jwk  []byte // auth.jwks.public_key
}

func newOldKey(t *testing.T, withAlg bool) oldKey {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	x := base64.RawURLEncoding.EncodeToString(pub)
	// The member order of jose 6's exportJWK for an OKP key, which Better
	// Auth JSON.stringify's into public_key; "alg" when the plugin set it.
	jwk := `{"crv":"Ed25519","x":"` + x + `","kty":"OKP"}`
	if withAlg {
		jwk = `{"crv":"Ed25519","x":"` + x + `","kty":"OKP","alg":"EdDSA"}`
	}
	// Better Auth ids: 32 random alphanumerics.
	return oldKey{id: "Xq3vB8mN2pL7kR4tY9wZ1cD6fH0jG5sA", priv: priv, pub: pub, jwk: []byte(jwk)}
}

// sign signs claims as the old service did (jose, header alg/kid/typ),
// here with go-jose v4.
func (k oldKey) sign(t *testing.T, claims map[string]any) string {
	t.Helper()
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.EdDSA, Key: jose.JSONWebKey{Key: k.priv, KeyID: k.id}},
		(&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		t.Fatal(err)
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	obj, err := signer.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := obj.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// verifyWithJWKS verifies tok the way a relying party does: go-jose, the
// key the served JWKS holds under the token's kid.
func verifyWithJWKS(t *testing.T, jwks []byte, tok string) ([]byte, error) {
	t.Helper()
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(jwks, &set); err != nil {
		t.Fatalf("JWKS: %v\n%s", err, jwks)
	}
	jws, err := jose.ParseSignedCompact(tok, []jose.SignatureAlgorithm{jose.EdDSA})
	if err != nil {
		t.Fatal(err)
	}
	ks := set.Key(jws.Signatures[0].Header.KeyID)
	if len(ks) != 1 {
		return nil, errors.New("kid not in the JWKS")
	}
	return jws.Verify(ks[0])
}

func jwksHas(t *testing.T, jwks []byte, kid string) bool {
	t.Helper()
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(jwks, &set); err != nil {
		t.Fatalf("JWKS: %v\n%s", err, jwks)
	}
	return len(set.Key(kid)) > 0
}

// TestImportedPublicKey: an old service's key imported with its public
// half only is served in the JWKS under the old kid until it expires,
// verifies the old service's tokens there and through Ring.Verify, is
// loaded again by a restarted ring, never signs, does not hold up a due
// rotation although it is younger than the interval, is left alone by
// rotations, and is gone once expired. On both store backends.
func TestImportedPublicKey(t *testing.T) {
	for _, b := range storetest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			ctx := t.Context()
			st := b.Open(t)
			var clock atomic.Int64
			t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
			clock.Store(t0.UnixNano())
			now := func() time.Time { return time.Unix(0, clock.Load()).UTC() }
			secret := []byte("0123456789abcdef0123456789abcdef-import")
			newRing := func() *keys.Ring {
				t.Helper()
				r, err := keys.New(st, secret, keys.Options{Now: now})
				if err != nil {
					t.Fatal(err)
				}
				if err := r.Init(ctx); err != nil {
					t.Fatal(err)
				}
				return r
			}
			ring := newRing() // our own keys, created at t0
			own := signingKidOf(t, ring)

			// A day later, the switch: the old service's key was created
			// a minute ago (younger than the rotation interval).
			const interval, delay, grace = 24 * time.Hour, time.Minute, time.Hour
			clock.Add(int64(interval + time.Minute))
			switchAt := now()
			old := newOldKey(t, false)
			k, err := keys.ImportPublicKey(old.id, old.jwk, switchAt.Add(-time.Minute), switchAt, switchAt.Add(grace))
			if err != nil {
				t.Fatal(err)
			}
			if k.ID != old.id || k.Alg != provider.AlgEdDSA || len(k.PrivateEnc) != 0 || !keys.PublicOnly(k) ||
				!k.ActiveAt.Equal(k.CreatedAt) || k.RetiredAt == nil || !k.RetiredAt.Equal(switchAt) ||
				k.ExpiresAt == nil || !k.ExpiresAt.Equal(switchAt.Add(grace)) {
				t.Fatalf("imported key: %+v", k)
			}
			if err := st.InsertKey(ctx, k); err != nil {
				t.Fatal(err)
			}
			if err := ring.Reload(ctx); err != nil {
				t.Fatalf("reload with an imported key: %v", err)
			}

			// Published in our JWK form under the old kid.
			var set struct{ Keys []map[string]any }
			if err := json.Unmarshal(ring.JWKS(), &set); err != nil {
				t.Fatal(err)
			}
			var served map[string]any
			for _, jk := range set.Keys {
				if jk["kid"] == old.id {
					served = jk
				}
			}
			if served == nil {
				t.Fatalf("imported key not in the JWKS: %s", ring.JWKS())
			}
			if got := slices.Sorted(maps.Keys(served)); !slices.Equal(got, []string{"alg", "crv", "kid", "kty", "use", "x"}) ||
				served["alg"] != "EdDSA" || served["use"] != "sig" || served["kty"] != "OKP" || served["crv"] != "Ed25519" ||
				served["x"] != base64.RawURLEncoding.EncodeToString(old.pub) {
				t.Errorf("served JWK: %v", served)
			}
			if pks := ring.PublicKeys(provider.AlgEdDSA); !slices.ContainsFunc(pks, func(p crypto.PublicKey) bool {
				pk, ok := p.(ed25519.PublicKey)
				return ok && bytes.Equal(pk, old.pub)
			}) {
				t.Error("PublicKeys lacks the imported key")
			}

			// The old service's token verifies, through the ring and the JWKS.
			claims := map[string]any{"iss": "https://auth.mana.how", "sub": "user-1", "exp": switchAt.Add(10 * time.Minute).Unix()}
			oldTok := old.sign(t, claims)
			want, _ := json.Marshal(claims)
			h, payload, err := ring.Verify(oldTok)
			if err != nil {
				t.Fatalf("Verify old token: %v", err)
			}
			if h.Kid != old.id || h.Alg != "EdDSA" || h.Typ != "JWT" || !bytes.Equal(payload, want) {
				t.Errorf("Verify old token: %+v %s", h, payload)
			}
			if p, err := verifyWithJWKS(t, ring.JWKS(), oldTok); err != nil || !bytes.Equal(p, want) {
				t.Errorf("go-jose with the JWKS: %v %s", err, p)
			}
			// A forged token under the old kid does not.
			_, forger, _ := ed25519.GenerateKey(rand.Reader)
			forged := oldKey{id: old.id, priv: forger}.sign(t, claims)
			if _, _, err := ring.Verify(forged); !errors.Is(err, keys.ErrInvalidSignature) {
				t.Errorf("forged token under the old kid: %v", err)
			}

			// The ring signs with its own key, never the imported one.
			if kid := signingKidOf(t, ring); kid != own {
				t.Errorf("signs with %s, want own key %s", kid, own)
			}

			// A restarted ring loads it (without a private half to open).
			restarted := newRing()
			if !jwksHas(t, restarted.JWKS(), old.id) {
				t.Error("restarted ring does not publish the imported key")
			}
			if _, _, err := restarted.Verify(oldTok); err != nil {
				t.Errorf("restarted ring: Verify old token: %v", err)
			}
			if kid := signingKidOf(t, restarted); kid != own {
				t.Errorf("restarted ring signs with %s, want own key %s", kid, own)
			}
			infos, err := restarted.KeyInfos(ctx)
			if err != nil {
				t.Fatal(err)
			}
			imported := 0
			for _, ki := range infos {
				if ki.PrivateEnc != nil {
					t.Errorf("KeyInfos hands out the private half of %s", ki.ID)
				}
				if ki.Imported != (ki.ID == old.id) {
					t.Errorf("key %s: Imported=%v", ki.ID, ki.Imported)
				}
				if ki.Imported {
					imported++
				}
			}
			if imported != 1 {
				t.Errorf("%d imported keys listed, want 1", imported)
			}

			// Our key is a day old: the rotation is due, and happens,
			// although the imported key was created a minute ago.
			_, ok, err := ring.RotateIfDue(ctx, provider.AlgEdDSA, interval, delay)
			if err != nil || !ok {
				t.Fatalf("due rotation with a young imported key: ok=%v err=%v", ok, err)
			}
			if _, ok, err := restarted.RotateIfDue(ctx, provider.AlgEdDSA, interval, delay); err != nil || ok {
				t.Fatalf("second replica rotated again: ok=%v err=%v", ok, err)
			}
			if _, err := ring.Rotate(ctx, provider.AlgEdDSA, delay); err != nil {
				t.Fatal(err)
			}
			// Rotations retire our keys, not the imported one.
			stored, err := st.ListKeys(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, sk := range stored {
				if sk.ID == old.id && (!sk.RetiredAt.Equal(switchAt) || !sk.ExpiresAt.Equal(switchAt.Add(grace)) || len(sk.PrivateEnc) != 0) {
					t.Errorf("rotation changed the imported key: retired %v expires %v", sk.RetiredAt, sk.ExpiresAt)
				}
			}
			clock.Add(int64(delay))
			if err := ring.Reload(ctx); err != nil {
				t.Fatal(err)
			}
			if kid := signingKidOf(t, ring); kid == old.id || kid == own {
				t.Errorf("after the rotations signs with %s", kid)
			}

			// Expired: gone from the JWKS, not accepted, not loaded again.
			clock.Store(switchAt.Add(grace).UnixNano())
			if jwksHas(t, ring.JWKS(), old.id) {
				t.Error("expired imported key still in the JWKS")
			}
			if _, _, err := ring.Verify(oldTok); !errors.Is(err, keys.ErrUnknownKey) {
				t.Errorf("Verify with the expired imported key: %v", err)
			}
			if _, err := verifyWithJWKS(t, ring.JWKS(), oldTok); err == nil {
				t.Error("go-jose verified with the expired imported key")
			}
			for _, pk := range ring.PublicKeys(provider.AlgEdDSA) {
				if epk, ok := pk.(ed25519.PublicKey); ok && bytes.Equal(epk, old.pub) {
					t.Error("PublicKeys still holds the expired imported key")
				}
			}
			if jwksHas(t, newRing().JWKS(), old.id) {
				t.Error("ring started after expiry publishes the imported key")
			}
		})
	}
}

// TestImportBeforeFirstStart: the import runs on the new database before
// the server first starts, so the only stored key is the imported one;
// Init still creates (and signs with) keys of its own, and publishes both.
// The importer's clock is ahead of this replica's, so by this ring's clock
// the imported key is not retired yet: it must still never sign, and a
// rotation must not retire it earlier or later than the import said.
func TestImportBeforeFirstStart(t *testing.T) {
	for _, b := range storetest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			ctx := t.Context()
			st := b.Open(t)
			now := time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)
			old := newOldKey(t, true)
			retired, expires := now.Add(10*time.Minute), now.Add(time.Hour)
			k, err := keys.ImportPublicKey(old.id, old.jwk, now.Add(-90*24*time.Hour), retired, expires)
			if err != nil {
				t.Fatal(err)
			}
			if err := st.InsertKey(ctx, k); err != nil {
				t.Fatal(err)
			}
			r, err := keys.New(st, []byte("0123456789abcdef0123456789abcdef-import"), keys.Options{Now: func() time.Time { return now }})
			if err != nil {
				t.Fatal(err)
			}
			if err := r.Init(ctx); err != nil {
				t.Fatalf("Init with only an imported key stored: %v", err)
			}
			for _, alg := range []string{provider.AlgEdDSA, provider.AlgRS256} {
				tok, err := r.Sign(alg, "JWT", map[string]any{"sub": "u"})
				if err != nil {
					t.Fatalf("%s: %v", alg, err)
				}
				if kid := kidOf(t, tok); kid == old.id {
					t.Errorf("%s: signs with the imported key", alg)
				}
			}
			if !jwksHas(t, r.JWKS(), old.id) {
				t.Error("imported key not published")
			}
			if _, _, err := r.Verify(old.sign(t, map[string]any{"sub": "u"})); err != nil {
				t.Errorf("Verify old token: %v", err)
			}
			all, err := st.ListKeys(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if len(all) != 3 {
				t.Errorf("%d keys stored, want the imported one and one of ours per alg", len(all))
			}
			if _, err := r.Rotate(ctx, provider.AlgEdDSA, time.Minute); err != nil {
				t.Fatal(err)
			}
			if all, err = st.ListKeys(ctx); err != nil {
				t.Fatal(err)
			}
			for _, sk := range all {
				if sk.ID == old.id && (!sk.RetiredAt.Equal(retired) || !sk.ExpiresAt.Equal(expires)) {
					t.Errorf("rotation changed the imported key: retired %v expires %v", sk.RetiredAt, sk.ExpiresAt)
				}
			}
		})
	}
}

func signingKidOf(t *testing.T, r *keys.Ring) string {
	t.Helper()
	tok, err := r.Sign(provider.AlgEdDSA, "JWT", map[string]any{"sub": "x"})
	if err != nil {
		t.Fatal(err)
	}
	return kidOf(t, tok)
}

// TestImportPublicKeyRefuses: everything that is not a bare public
// Ed25519 JWK, a sane id or consistent times is refused, with an error
// that says why (the importer reports it per row).
func TestImportPublicKeyRefuses(t *testing.T) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	x := base64.RawURLEncoding.EncodeToString(pub)
	d := base64.RawURLEncoding.EncodeToString(priv.Seed())
	short := base64.RawURLEncoding.EncodeToString(pub[:31])
	rsaJWK := `{"kty":"RSA","n":"sXchDaQebHnPiGvyDOAT4saGEUetSyo9MKLOoWFsueri23bOdgWp4Dy1WlUzewbgBHod5pcM9H95GQRV3JDXboIRROSBigeC5yjU1hGzHHyXss8UDprecbAYxknTcQkhslANGRUZmdTOQ5qTRsLAt6BTYuyvVRdhS8exSZEy_c4gs_7svlJJQ4H9_NxsiIoLwAEk7-Q3UXERGYw_75IDrGA84-lA_-Ct4eTlXHBIY2EaV7t7LjJaynVJCpkv4LKjTTAumiGUIuQhrNhZLuF_RJLqHpM2kgWFLU7-VTdL1VbC2tejvcI2BlMkEpk1BzBZI0KQB0GaDWFLN-aEAw3vRw","e":"AQAB"}`
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	ok := `{"crv":"Ed25519","x":"` + x + `","kty":"OKP"}`
	for _, tc := range []struct {
		name, id, jwk             string
		created, retired, expires time.Time
		want                      string
	}{
		{"rsa", "k1", rsaJWK, t0, t0, t0.Add(time.Hour), `kty is "RSA"`},
		{"ec", "k1", `{"kty":"EC","crv":"P-256","x":"` + x + `","y":"` + x + `"}`, t0, t0, t0.Add(time.Hour), `kty is "EC"`},
		{"private d", "k1", `{"crv":"Ed25519","d":"` + d + `","x":"` + x + `","kty":"OKP"}`, t0, t0, t0.Add(time.Hour), `private member "d"`},
		{"x25519", "k1", `{"crv":"X25519","x":"` + x + `","kty":"OKP"}`, t0, t0, t0.Add(time.Hour), `crv is "X25519"`},
		{"ed448", "k1", `{"crv":"Ed448","x":"` + x + `","kty":"OKP"}`, t0, t0, t0.Add(time.Hour), `crv is "Ed448"`},
		{"short x", "k1", `{"crv":"Ed25519","x":"` + short + `","kty":"OKP"}`, t0, t0, t0.Add(time.Hour), "31 bytes"},
		{"padded x", "k1", `{"crv":"Ed25519","x":"` + base64.URLEncoding.EncodeToString(pub) + `","kty":"OKP"}`, t0, t0, t0.Add(time.Hour), "base64url"},
		{"no x", "k1", `{"crv":"Ed25519","kty":"OKP"}`, t0, t0, t0.Add(time.Hour), `no "x"`},
		{"no kty", "k1", `{"crv":"Ed25519","x":"` + x + `"}`, t0, t0, t0.Add(time.Hour), `no "kty"`},
		{"alg RS256", "k1", `{"crv":"Ed25519","x":"` + x + `","kty":"OKP","alg":"RS256"}`, t0, t0, t0.Add(time.Hour), `alg is "RS256"`},
		{"other kid", "k1", `{"crv":"Ed25519","x":"` + x + `","kty":"OKP","kid":"k2"}`, t0, t0, t0.Add(time.Hour), `kid is "k2"`},
		{"use enc", "k1", `{"crv":"Ed25519","x":"` + x + `","kty":"OKP","use":"enc"}`, t0, t0, t0.Add(time.Hour), `use is "enc"`},
		{"not json", "k1", `crv=Ed25519`, t0, t0, t0.Add(time.Hour), "not a JSON object"},
		{"kty number", "k1", `{"crv":"Ed25519","x":"` + x + `","kty":1}`, t0, t0, t0.Add(time.Hour), `"kty" is not a string`},
		{"empty id", "", ok, t0, t0, t0.Add(time.Hour), "key id is empty"},
		{"id with space", "k 1", ok, t0, t0, t0.Add(time.Hour), "not printable ASCII"},
		{"id too long", strings.Repeat("k", 256), ok, t0, t0, t0.Add(time.Hour), "at most 255"},
		{"expires before retired", "k1", ok, t0, t0.Add(time.Hour), t0, "not after it is retired"},
		{"retired before created", "k1", ok, t0, t0.Add(-time.Hour), t0.Add(time.Hour), "before it was created"},
		{"no created", "k1", ok, time.Time{}, t0, t0.Add(time.Hour), "all required"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k, err := keys.ImportPublicKey(tc.id, []byte(tc.jwk), tc.created, tc.retired, tc.expires)
			if err == nil {
				t.Fatalf("accepted: %+v", k)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not say %q", err, tc.want)
			}
			if tc.id != "" && len(tc.id) < 10 && !strings.Contains(err.Error(), tc.id) {
				t.Errorf("error %q does not name the key", err)
			}
		})
	}
	// The forms the old service wrote are accepted: bare, with alg, kid, use.
	for _, jwk := range []string{
		ok,
		`{"crv":"Ed25519","x":"` + x + `","kty":"OKP","alg":"EdDSA"}`,
		`{"kty":"OKP","crv":"Ed25519","x":"` + x + `","alg":"EdDSA","kid":"k1","use":"sig"}`,
	} {
		if _, err := keys.ImportPublicKey("k1", []byte(jwk), t0, t0, t0.Add(time.Hour)); err != nil {
			t.Errorf("%s: %v", jwk, err)
		}
	}
}
