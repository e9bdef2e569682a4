package keys

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/manacore/mana-core-auth/provider"
)

// memStore is a minimal in-memory provider.KeyStore; the real stores are
// covered by the store conformance suite.
type memStore struct {
	mu   sync.Mutex
	keys []*provider.Key
	// failUpdate, when set, makes UpdateKeyTimes fail.
	failUpdate bool
}

func cloneKey(k *provider.Key) *provider.Key {
	c := *k
	c.PublicJWK = slices.Clone(k.PublicJWK)
	c.PrivateEnc = slices.Clone(k.PrivateEnc)
	if k.RetiredAt != nil {
		t := *k.RetiredAt
		c.RetiredAt = &t
	}
	if k.ExpiresAt != nil {
		t := *k.ExpiresAt
		c.ExpiresAt = &t
	}
	return &c
}

func (s *memStore) InsertKey(_ context.Context, k *provider.Key) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, o := range s.keys {
		if o.ID == k.ID {
			return provider.ErrAlreadyExists
		}
	}
	s.keys = append(s.keys, cloneKey(k))
	return nil
}

func (s *memStore) InsertKeyIfDue(ctx context.Context, k *provider.Key, since time.Time) (bool, error) {
	s.mu.Lock()
	for _, o := range s.keys {
		if o.Alg == k.Alg && o.CreatedAt.After(since) {
			s.mu.Unlock()
			return false, nil
		}
	}
	s.mu.Unlock()
	return true, s.InsertKey(ctx, k)
}

func (s *memStore) ListKeys(context.Context) ([]*provider.Key, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*provider.Key, len(s.keys))
	for i, k := range s.keys {
		out[i] = cloneKey(k)
	}
	slices.SortStableFunc(out, func(a, b *provider.Key) int { return a.CreatedAt.Compare(b.CreatedAt) })
	return out, nil
}

func (s *memStore) UpdateKeyTimes(_ context.Context, id string, retiredAt, expiresAt *time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failUpdate {
		return errors.New("update failed")
	}
	for _, k := range s.keys {
		if k.ID == id {
			k.RetiredAt, k.ExpiresAt = retiredAt, expiresAt
			return nil
		}
	}
	return provider.ErrNotFound
}

func (s *memStore) DeleteKey(_ context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, k := range s.keys {
		if k.ID == id {
			s.keys = slices.Delete(s.keys, i, i+1)
			return nil
		}
	}
	return provider.ErrNotFound
}

func (s *memStore) get(t *testing.T, id string) *provider.Key {
	t.Helper()
	ks, _ := s.ListKeys(context.Background())
	for _, k := range ks {
		if k.ID == id {
			return k
		}
	}
	t.Fatalf("key %s not in store", id)
	return nil
}

type fakeClock struct{ ns atomic.Int64 }

func newClock() *fakeClock {
	c := &fakeClock{}
	c.ns.Store(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC).UnixNano())
	return c
}
func (c *fakeClock) Now() time.Time          { return time.Unix(0, c.ns.Load()).UTC() }
func (c *fakeClock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

var (
	secret1 = []byte("0123456789abcdef0123456789abcdef-one")
	secret2 = []byte("0123456789abcdef0123456789abcdef-two")
)

func newRing(t testing.TB, st provider.KeyStore, secret []byte, now func() time.Time) *Ring {
	t.Helper()
	r, err := New(st, secret, Options{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Init(context.Background()); err != nil {
		t.Fatal(err)
	}
	return r
}

func signingKid(t *testing.T, r *Ring, alg string) string {
	t.Helper()
	tok, err := r.Sign(alg, "JWT", map[string]any{"sub": "x"})
	if err != nil {
		t.Fatal(err)
	}
	h, _, err := r.Verify(tok)
	if err != nil {
		t.Fatal(err)
	}
	return h.Kid
}

func jwksKids(t *testing.T, r *Ring) []string {
	t.Helper()
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(r.JWKS(), &set); err != nil {
		t.Fatalf("JWKS: %v\n%s", err, r.JWKS())
	}
	var kids []string
	for _, k := range set.Keys {
		kids = append(kids, k.KeyID)
	}
	return kids
}

func TestNewValidates(t *testing.T) {
	st := &memStore{}
	if _, err := New(st, []byte("short"), Options{}); err == nil || !strings.Contains(err.Error(), "SECRET_KEY") {
		t.Fatalf("short secret: %v", err)
	}
	if _, err := New(st, secret1, Options{RSABits: 1024}); err == nil {
		t.Fatal("RSABits 1024 accepted")
	}
	if _, err := New(nil, secret1, Options{}); err == nil {
		t.Fatal("nil store accepted")
	}
}

func TestSignBeforeInit(t *testing.T) {
	r, err := New(&memStore{}, secret1, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Sign(provider.AlgEdDSA, "", map[string]any{}); !errors.Is(err, ErrNoSigningKey) {
		t.Fatalf("Sign before Init: %v", err)
	}
	if _, _, err := r.Verify("a.b.c"); err == nil {
		t.Fatal("Verify before Init succeeded")
	}
	if got := string(r.JWKS()); got != `{"keys":[]}` {
		t.Fatalf("JWKS before Init: %s", got)
	}
}

func TestInitGeneratesOnce(t *testing.T) {
	st := &memStore{}
	clk := newClock()
	r1 := newRing(t, st, secret1, clk.Now)
	ks, _ := st.ListKeys(context.Background())
	if len(ks) != 2 {
		t.Fatalf("want 2 keys, got %d", len(ks))
	}
	byAlg := map[string]*provider.Key{}
	for _, k := range ks {
		byAlg[k.Alg] = k
		if !k.ActiveAt.Equal(clk.Now()) || k.RetiredAt != nil || k.ExpiresAt != nil {
			t.Errorf("%s key times: active %v retired %v expires %v", k.Alg, k.ActiveAt, k.RetiredAt, k.ExpiresAt)
		}
		if bytes.Contains(k.PublicJWK, []byte(`"d"`)) {
			t.Errorf("public JWK holds a private part: %s", k.PublicJWK)
		}
	}
	if byAlg[provider.AlgEdDSA] == nil || byAlg[provider.AlgRS256] == nil {
		t.Fatalf("want one key per alg, got %v", byAlg)
	}

	tok, err := r1.Sign(provider.AlgEdDSA, "JWT", map[string]any{"sub": "u1"})
	if err != nil {
		t.Fatal(err)
	}

	clk.Advance(time.Hour)
	r2 := newRing(t, st, secret1, clk.Now)
	if ks, _ := st.ListKeys(context.Background()); len(ks) != 2 {
		t.Fatalf("second Init generated keys: %d stored", len(ks))
	}
	for alg, k := range byAlg {
		if got := signingKid(t, r2, alg); got != k.ID {
			t.Errorf("%s: second ring signs with %s, want %s", alg, got, k.ID)
		}
	}
	if _, _, err := r2.Verify(tok); err != nil {
		t.Fatalf("token of first ring rejected by second: %v", err)
	}

	listed, err := r2.Keys(context.Background())
	if err != nil || len(listed) != 2 {
		t.Fatalf("Keys: %v %v", listed, err)
	}
	for _, k := range listed {
		if k.PrivateEnc != nil {
			t.Error("Keys returned PrivateEnc")
		}
	}
}

func TestSignVerifyRoundTrip(t *testing.T) {
	r := newRing(t, &memStore{}, secret1, nil)
	type claims struct {
		Sub string   `json:"sub"`
		Aud []string `json:"aud"`
		Exp int64    `json:"exp"`
	}
	for _, alg := range []string{provider.AlgEdDSA, provider.AlgRS256} {
		for _, typ := range []string{"", "JWT", "at+jwt", "custom+jwt"} {
			for _, c := range []any{
				map[string]any{"sub": "u1", "n": 1.5},
				&claims{Sub: "u2", Aud: []string{"manacore"}, Exp: 42},
			} {
				name := fmt.Sprintf("%s/%q/%T", alg, typ, c)
				tok, err := r.Sign(alg, typ, c)
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				h, payload, err := r.Verify(tok)
				if err != nil {
					t.Fatalf("%s: verify: %v", name, err)
				}
				want, _ := json.Marshal(c)
				if !bytes.Equal(payload, want) {
					t.Errorf("%s: payload %s, want %s", name, payload, want)
				}
				if h.Alg != alg || h.Typ != typ || h.Kid == "" {
					t.Errorf("%s: header %+v", name, h)
				}
				rawHdr, _ := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[0])
				var fields map[string]any
				if err := json.Unmarshal(rawHdr, &fields); err != nil {
					t.Fatal(err)
				}
				if _, has := fields["typ"]; has != (typ != "") || len(fields) != 2+btoi(typ != "") {
					t.Errorf("%s: header %s", name, rawHdr)
				}
			}
		}
	}
	if _, err := r.Sign("HS256", "", map[string]any{}); !errors.Is(err, ErrNoSigningKey) {
		t.Errorf("Sign HS256: %v", err)
	}
	if _, err := r.Sign(provider.AlgEdDSA, "", func() {}); err == nil {
		t.Error("unmarshallable claims accepted")
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// TestGoJoseInterop verifies our tokens the way a relying party does: with
// go-jose and the served JWKS.
func TestGoJoseInterop(t *testing.T) {
	r := newRing(t, &memStore{}, secret1, nil)
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(r.JWKS(), &set); err != nil {
		t.Fatal(err)
	}
	if len(set.Keys) != 2 {
		t.Fatalf("JWKS has %d keys: %s", len(set.Keys), r.JWKS())
	}
	for _, k := range set.Keys {
		if !k.IsPublic() || k.Use != "sig" || k.KeyID == "" || (k.Algorithm != "EdDSA" && k.Algorithm != "RS256") {
			t.Errorf("JWKS key: %+v", k)
		}
		tp, _ := k.Thumbprint(crypto.SHA256)
		if got := base64.RawURLEncoding.EncodeToString(tp); got != k.KeyID {
			t.Errorf("kid %s is not the RFC 7638 thumbprint %s", k.KeyID, got)
		}
	}
	for _, alg := range []jose.SignatureAlgorithm{jose.EdDSA, jose.RS256} {
		claims := map[string]any{"iss": "https://auth.example", "sub": "u1"}
		tok, err := r.Sign(string(alg), "at+jwt", claims)
		if err != nil {
			t.Fatal(err)
		}
		jws, err := jose.ParseSignedCompact(tok, []jose.SignatureAlgorithm{alg})
		if err != nil {
			t.Fatalf("%s: go-jose parse: %v", alg, err)
		}
		hdr := jws.Signatures[0].Header
		keys := set.Key(hdr.KeyID)
		if len(keys) != 1 {
			t.Fatalf("%s: kid %q not in JWKS", alg, hdr.KeyID)
		}
		payload, err := jws.Verify(keys[0])
		if err != nil {
			t.Fatalf("%s: go-jose verify: %v", alg, err)
		}
		want, _ := json.Marshal(claims)
		if !bytes.Equal(payload, want) {
			t.Errorf("%s: payload %s", alg, payload)
		}
		if hdr.ExtraHeaders["typ"] != "at+jwt" {
			t.Errorf("%s: typ %v", alg, hdr.ExtraHeaders["typ"])
		}
	}
}

func TestWrongSecret(t *testing.T) {
	st := &memStore{}
	newRing(t, st, secret1, nil)
	r, err := New(st, secret2, Options{})
	if err != nil {
		t.Fatal(err)
	}
	err = r.Init(context.Background())
	if !errors.Is(err, ErrSecretMismatch) || !strings.Contains(err.Error(), "SECRET_KEY does not match") {
		t.Fatalf("Init with another secret: %v", err)
	}
	if ks, _ := st.ListKeys(context.Background()); len(ks) != 2 {
		t.Fatalf("Init with another secret changed the store: %d keys", len(ks))
	}
}

// TestCiphertextBoundToKid: a PrivateEnc copied onto another row (same
// secret) must not open, because the kid is the additional data.
func TestCiphertextBoundToKid(t *testing.T) {
	st := &memStore{}
	clk := newClock()
	r := newRing(t, st, secret1, clk.Now)
	k, err := r.Rotate(context.Background(), provider.AlgEdDSA, 0)
	if err != nil {
		t.Fatal(err)
	}
	st.mu.Lock()
	var other []byte
	for _, o := range st.keys {
		if o.Alg == provider.AlgEdDSA && o.ID != k.ID {
			other = o.PrivateEnc
		}
	}
	for _, o := range st.keys {
		if o.ID == k.ID {
			o.PrivateEnc = other
		}
	}
	st.mu.Unlock()
	r2, _ := New(st, secret1, Options{Now: clk.Now})
	if err := r2.Init(context.Background()); !errors.Is(err, ErrSecretMismatch) {
		t.Fatalf("swapped ciphertext: %v", err)
	}
}

func TestRotation(t *testing.T) {
	ctx := context.Background()
	st := &memStore{}
	clk := newClock()
	r := newRing(t, st, secret1, clk.Now)
	replica := newRing(t, st, secret1, clk.Now)
	oldKid := signingKid(t, r, provider.AlgEdDSA)
	rsaKid := signingKid(t, r, provider.AlgRS256)
	oldTok, _ := r.Sign(provider.AlgEdDSA, "JWT", map[string]any{"sub": "old"})
	jwksBefore := r.JWKS()

	clk.Advance(time.Minute)
	const delay = time.Hour
	nk, err := r.Rotate(ctx, provider.AlgEdDSA, delay)
	if err != nil {
		t.Fatal(err)
	}
	if nk.PrivateEnc != nil {
		t.Error("Rotate returned PrivateEnc")
	}
	activeAt := clk.Now().Add(delay)
	if !nk.ActiveAt.Equal(activeAt) {
		t.Fatalf("ActiveAt %v, want %v", nk.ActiveAt, activeAt)
	}
	old := st.get(t, oldKid)
	if old.RetiredAt == nil || !old.RetiredAt.Equal(activeAt) ||
		old.ExpiresAt == nil || !old.ExpiresAt.Equal(activeAt.Add(24*time.Hour)) {
		t.Fatalf("old key times: retired %v expires %v", old.RetiredAt, old.ExpiresAt)
	}
	if st.get(t, rsaKid).RetiredAt != nil {
		t.Fatal("rotating EdDSA retired the RSA key")
	}

	// Published at once, on this ring and (after a reload) on a replica.
	if kids := jwksKids(t, r); !slices.Contains(kids, nk.ID) || !slices.Contains(kids, oldKid) || len(kids) != 3 {
		t.Fatalf("JWKS after rotate: %v", kids)
	}
	if bytes.Equal(jwksBefore, r.JWKS()) {
		t.Fatal("JWKS bytes not rebuilt after rotation")
	}
	if err := replica.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	if kids := jwksKids(t, replica); !slices.Contains(kids, nk.ID) {
		t.Fatalf("replica JWKS after reload: %v", kids)
	}

	// The old key signs until ActiveAt, then the new one, without reload.
	clk.Advance(delay - time.Nanosecond)
	for _, ring := range []*Ring{r, replica} {
		if got := signingKid(t, ring, provider.AlgEdDSA); got != oldKid {
			t.Fatalf("before ActiveAt signs with %s, want old %s", got, oldKid)
		}
	}
	clk.Advance(time.Nanosecond)
	for _, ring := range []*Ring{r, replica} {
		if got := signingKid(t, ring, provider.AlgEdDSA); got != nk.ID {
			t.Fatalf("at ActiveAt signs with %s, want new %s", got, nk.ID)
		}
		if got := signingKid(t, ring, provider.AlgRS256); got != rsaKid {
			t.Fatalf("RS256 signer changed to %s", got)
		}
	}

	// The old key stays published until ExpiresAt, then disappears.
	clk.Advance(24*time.Hour - time.Nanosecond)
	if _, _, err := r.Verify(oldTok); err != nil {
		t.Fatalf("old token just before ExpiresAt: %v", err)
	}
	if kids := jwksKids(t, r); !slices.Contains(kids, oldKid) {
		t.Fatalf("old key left JWKS early: %v", kids)
	}
	clk.Advance(time.Nanosecond)
	if kids := jwksKids(t, r); slices.Contains(kids, oldKid) || len(kids) != 2 {
		t.Fatalf("old key still in JWKS after ExpiresAt: %v", kids)
	}
	if _, _, err := r.Verify(oldTok); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("old token after ExpiresAt: %v", err)
	}
	if pks := r.PublicKeys(provider.AlgEdDSA); len(pks) != 1 {
		t.Fatalf("PublicKeys after expiry: %d", len(pks))
	}
	// A reload drops the expired key; a new ring does not even decrypt it.
	if err := r.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	if _, ok := r.snap.Load().byKid[oldKid]; ok {
		t.Fatal("expired key still in snapshot after reload")
	}
}

// TestRotateTwice: a rotation while another is pending retires both older
// keys at the newest ActiveAt, and signing follows ActiveAt order.
func TestRotateTwice(t *testing.T) {
	ctx := context.Background()
	st := &memStore{}
	clk := newClock()
	r := newRing(t, st, secret1, clk.Now)
	k0 := signingKid(t, r, provider.AlgEdDSA)
	k1, err := r.Rotate(ctx, provider.AlgEdDSA, 2*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	k2, err := r.Rotate(ctx, provider.AlgEdDSA, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{k0, k1.ID} {
		if k := st.get(t, id); k.RetiredAt == nil || !k.RetiredAt.Equal(k2.ActiveAt) {
			t.Fatalf("%s retired at %v, want %v", id, k.RetiredAt, k2.ActiveAt)
		}
	}
	clk.Advance(time.Hour)
	if got := signingKid(t, r, provider.AlgEdDSA); got != k2.ID {
		t.Fatalf("signs with %s, want %s", got, k2.ID)
	}
	clk.Advance(2 * time.Hour)
	if got := signingKid(t, r, provider.AlgEdDSA); got != k2.ID {
		t.Fatalf("after k1's ActiveAt signs with %s, want %s", got, k2.ID)
	}
}

func TestUnknownAlgIgnored(t *testing.T) {
	st := &memStore{}
	_ = st.InsertKey(context.Background(), &provider.Key{ID: "future", Alg: "ES256", PublicJWK: []byte(`{}`), PrivateEnc: []byte("x")})
	r := newRing(t, st, secret1, nil)
	if kids := jwksKids(t, r); len(kids) != 2 || slices.Contains(kids, "future") {
		t.Fatalf("JWKS: %v", kids)
	}
}

func TestRotateValidates(t *testing.T) {
	r := newRing(t, &memStore{}, secret1, nil)
	if _, err := r.Rotate(context.Background(), "HS256", 0); err == nil {
		t.Error("Rotate HS256 accepted")
	}
	if _, err := r.Rotate(context.Background(), provider.AlgEdDSA, -time.Second); err == nil {
		t.Error("negative delay accepted")
	}
}

// TestRotateUpdateFails: when retiring the old key fails, the new key still
// takes over at ActiveAt.
func TestRotateUpdateFails(t *testing.T) {
	st := &memStore{}
	clk := newClock()
	r := newRing(t, st, secret1, clk.Now)
	st.mu.Lock()
	st.failUpdate = true
	st.mu.Unlock()
	nk, err := r.Rotate(context.Background(), provider.AlgEdDSA, time.Minute)
	if err == nil {
		t.Fatal("Rotate hid the update failure")
	}
	clk.Advance(time.Minute)
	if got := signingKid(t, r, provider.AlgEdDSA); got != nk.ID {
		t.Fatalf("signs with %s, want %s", got, nk.ID)
	}
}

func TestVerifyRejects(t *testing.T) {
	clk := newClock()
	r := newRing(t, &memStore{}, secret1, clk.Now)
	edTok, _ := r.Sign(provider.AlgEdDSA, "JWT", map[string]any{"sub": "u1", "admin": false})
	rsTok, _ := r.Sign(provider.AlgRS256, "JWT", map[string]any{"sub": "u1"})
	edKid := signingKid(t, r, provider.AlgEdDSA)
	rsKid := signingKid(t, r, provider.AlgRS256)
	// An EdDSA token signed by a key of another ring: right alg, wrong key.
	otherTok, _ := newRing(t, &memStore{}, secret1, clk.Now).Sign(provider.AlgEdDSA, "JWT", map[string]any{"sub": "u1"})
	oh, op, os := split(otherTok)

	eh, ep, es := split(edTok)
	_, rp, rs := split(rsTok)
	enc := base64.RawURLEncoding.EncodeToString
	hdr := func(s string) string { return enc([]byte(s)) }

	// Signed by the Ed25519 key itself, but labelled RS256: only the alg
	// check rejects it, the signature alone is fine.
	mislabelled := hdr(`{"alg":"RS256","kid":"`+edKid+`"}`) + "." + ep
	mislabelled += "." + enc(ed25519.Sign(r.snap.Load().byKid[edKid].edPriv, []byte(mislabelled)))

	cases := []struct {
		name  string
		token string
		want  error
	}{
		{"tampered payload", eh + "." + enc([]byte(`{"admin":true,"sub":"u1"}`)) + "." + es, ErrInvalidSignature},
		{"tampered signature", eh + "." + ep + "." + flip(es), ErrInvalidSignature},
		{"EdDSA signature labelled RS256", mislabelled, ErrInvalidSignature},
		{"EdDSA token relabelled RS256", hdr(`{"alg":"RS256","kid":"`+edKid+`","typ":"JWT"}`) + "." + ep + "." + es, ErrInvalidSignature},
		{"RS256 token with EdDSA alg on RSA kid", hdr(`{"alg":"EdDSA","kid":"`+rsKid+`"}`) + "." + rp + "." + rs, ErrInvalidSignature},
		{"HS256 on RSA kid", hdr(`{"alg":"HS256","kid":"`+rsKid+`"}`) + "." + rp + "." + rs, ErrInvalidSignature},
		{"none with kid", hdr(`{"alg":"none","kid":"`+edKid+`"}`) + "." + ep + ".", ErrInvalidSignature},
		{"none without kid", hdr(`{"alg":"none"}`) + "." + ep + ".", ErrInvalidSignature},
		{"empty signature", eh + "." + ep + ".", ErrInvalidSignature},
		{"other key's signature under our kid", eh + "." + op + "." + os, ErrInvalidSignature},
		{"unknown kid", oh + "." + op + "." + os, ErrUnknownKey},
		{"no kid", hdr(`{"alg":"EdDSA"}`) + "." + ep + "." + es, ErrUnknownKey},
		{"empty", "", ErrMalformed},
		{"two parts", eh + "." + ep, ErrMalformed},
		{"four parts", edTok + ".x", ErrMalformed},
		{"header not base64", "!!." + ep + "." + es, ErrMalformed},
		{"header padded", eh + "=." + ep + "." + es, ErrMalformed},
		{"header not JSON", hdr("nope") + "." + ep + "." + es, ErrMalformed},
		{"header alg not a string", hdr(`{"alg":1,"kid":"x"}`) + "." + ep + "." + es, ErrMalformed},
		{"crit", hdr(`{"alg":"EdDSA","kid":"`+edKid+`","crit":["exp"]}`) + "." + ep + "." + es, ErrMalformed},
		{"signature not base64", eh + "." + ep + ".***", ErrMalformed},
		{"too long", eh + "." + strings.Repeat("A", maxTokenLen) + "." + es, ErrMalformed},
	}
	for _, c := range cases {
		_, _, err := r.Verify(c.token)
		if !errors.Is(err, c.want) {
			t.Errorf("%s: got %v, want %v", c.name, err, c.want)
		}
	}
	// Non-canonical base64 of the signature (trailing bits set) must not
	// produce a second valid encoding of the same token.
	last := es[len(es)-1]
	alt := strings.IndexByte("AQgw", last) // 64-byte signatures end in one of these
	if alt >= 0 {
		variant := eh + "." + ep + "." + es[:len(es)-1] + string("BRhx"[alt])
		if _, _, err := r.Verify(variant); err == nil {
			t.Error("non-canonical signature encoding accepted")
		}
	}
}

func split(tok string) (h, p, s string) {
	parts := strings.Split(tok, ".")
	return parts[0], parts[1], parts[2]
}

func flip(s string) string {
	b, _ := base64.RawURLEncoding.DecodeString(s)
	b[0] ^= 1
	return base64.RawURLEncoding.EncodeToString(b)
}

func TestJWKSCached(t *testing.T) {
	r := newRing(t, &memStore{}, secret1, nil)
	a, b := r.JWKS(), r.JWKS()
	if &a[0] != &b[0] {
		t.Fatal("JWKS rebuilt without a key change")
	}
	if err := r.Reload(context.Background()); err != nil {
		t.Fatal(err)
	}
	if c := r.JWKS(); !bytes.Equal(a, c) {
		t.Fatalf("JWKS changed across a no-op reload:\n%s\n%s", a, c)
	}
}

func TestRun(t *testing.T) {
	st := &memStore{}
	r := newRing(t, st, secret1, nil)
	replica := newRing(t, st, secret1, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { replica.Run(ctx, 5*time.Millisecond); close(done) }()
	nk, err := r.Rotate(context.Background(), provider.AlgEdDSA, 0)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for !slices.Contains(jwksKids(t, replica), nk.ID) {
		if time.Now().After(deadline) {
			t.Fatal("replica did not pick up the rotation")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if got := signingKid(t, replica, provider.AlgEdDSA); got != nk.ID {
		t.Fatalf("replica signs with %s, want %s", got, nk.ID)
	}
	cancel()
	<-done
}

// TestConcurrentSignDuringRotate is meant for -race: readers never block
// and never see a token they cannot verify while keys rotate.
func TestConcurrentSignDuringRotate(t *testing.T) {
	ctx := context.Background()
	r := newRing(t, &memStore{}, secret1, nil)
	stop := make(chan struct{})
	errc := make(chan error, 8)
	var wg sync.WaitGroup
	var signed atomic.Int64
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			alg := provider.AlgEdDSA
			if i == 3 {
				alg = provider.AlgRS256
			}
			for {
				select {
				case <-stop:
					return
				default:
				}
				tok, err := r.Sign(alg, "at+jwt", map[string]any{"sub": "u", "i": i})
				if err != nil {
					errc <- err
					return
				}
				if _, _, err := r.Verify(tok); err != nil {
					errc <- err
					return
				}
				if !json.Valid(r.JWKS()) {
					errc <- errors.New("invalid JWKS")
					return
				}
				signed.Add(1)
			}
		}(i)
	}
	const rotations = 10
	for i := 0; i < rotations; i++ {
		time.Sleep(2 * time.Millisecond)
		if _, err := r.Rotate(ctx, provider.AlgEdDSA, 0); err != nil {
			t.Error(err)
		}
		if err := r.Reload(ctx); err != nil {
			t.Error(err)
		}
	}
	close(stop)
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Error(err)
	}
	if signed.Load() == 0 {
		t.Error("no token signed")
	}
	if n := len(jwksKids(t, r)); n != rotations+2 {
		t.Errorf("JWKS has %d keys, want %d EdDSA + 1 RSA", n, rotations+1)
	}
}

type benchClaims struct {
	Iss      string   `json:"iss"`
	Sub      string   `json:"sub"`
	Aud      []string `json:"aud"`
	Exp      int64    `json:"exp"`
	Iat      int64    `json:"iat"`
	Jti      string   `json:"jti"`
	ClientID string   `json:"client_id"`
	Scope    string   `json:"scope"`
	Sid      string   `json:"sid"`
	Email    string   `json:"email"`
	Role     string   `json:"role"`
}

var accessClaims = &benchClaims{
	Iss: "https://auth.mana.how", Sub: "0c4f6b2e-6a1c-4f57-9a53-0a1f2b3c4d5e", Aud: []string{"manacore"},
	Exp: 1772370000, Iat: 1772369100, Jti: "3q2-7wAAAAAAAAAAAAAAAA", ClientID: "mana-web",
	Scope: "openid profile email", Sid: "s_8b1f", Email: "user@example.com", Role: "user",
}

func benchRing(b *testing.B) *Ring {
	b.Helper()
	return newRing(b, &memStore{}, secret1, nil)
}

func BenchmarkSignEdDSA(b *testing.B) {
	r := benchRing(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := r.Sign(provider.AlgEdDSA, "at+jwt", accessClaims); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSignRS256(b *testing.B) {
	r := benchRing(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := r.Sign(provider.AlgRS256, "JWT", accessClaims); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifyEdDSA(b *testing.B) {
	r := benchRing(b)
	tok, err := r.Sign(provider.AlgEdDSA, "at+jwt", accessClaims)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := r.Verify(tok); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkJWKS(b *testing.B) {
	r := benchRing(b)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if len(r.JWKS()) == 0 {
				b.Fatal("empty JWKS")
			}
		}
	})
}
