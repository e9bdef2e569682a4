package oidc

import (
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/openid"
	"github.com/ory/fosite/token/jwt"

	"github.com/manacore/mana-core-auth/provider"
	"github.com/manacore/mana-core-auth/provider/keys"
	"github.com/manacore/mana-core-auth/provider/store/storetest"
)

func TestSessionJSONRoundTrip(t *testing.T) {
	exp := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	s := NewSession()
	s.Subject, s.ClientID, s.SessionID, s.Email, s.Role, s.IDTokenAlg = "u1", "c1", "sid1", "a@b.c", "admin", "RS256"
	s.SetExpiresAt(fosite.AccessToken, exp)
	s.SetExpiresAt(fosite.RefreshToken, exp.Add(time.Hour))
	s.Claims.AuthTime = exp.Add(-time.Hour)
	s.Claims.Extra = map[string]interface{}{"sid": "sid1", "email_verified": true}
	s.Claims.AuthenticationMethodsReferences = []string{"pwd"}

	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	got := NewSession()
	if err := json.Unmarshal(b, got); err != nil {
		t.Fatal(err)
	}
	if got.GetSubject() != "u1" || got.ClientID != "c1" || got.SessionID != "sid1" || got.GetUsername() != "a@b.c" ||
		got.Role != "admin" || got.IDTokenAlg != "RS256" {
		t.Errorf("fields lost: %+v", got)
	}
	if !got.GetExpiresAt(fosite.AccessToken).Equal(exp) || !got.GetExpiresAt(fosite.RefreshToken).Equal(exp.Add(time.Hour)) {
		t.Errorf("ExpiresAt lost: %v", got.ExpiresAt)
	}
	if !got.GetExpiresAt(fosite.AuthorizeCode).IsZero() {
		t.Error("unset expiry not zero")
	}
	if got.Claims.Extra["sid"] != "sid1" || got.Claims.Extra["email_verified"] != true || !got.Claims.AuthTime.Equal(s.Claims.AuthTime) ||
		len(got.Claims.AuthenticationMethodsReferences) != 1 {
		t.Errorf("claims lost: %+v", got.Claims)
	}
	// The at_hash hint survives and maps to the client's algorithm.
	if got.IDTokenHeaders().Get("alg") != "RS256" {
		t.Errorf("alg hint = %v", got.IDTokenHeaders().Get("alg"))
	}

	// Clone is deep.
	c := got.Clone().(*Session)
	c.Claims.Extra["sid"] = "changed"
	c.SetExpiresAt(fosite.AccessToken, time.Time{})
	if got.Claims.Extra["sid"] != "sid1" || got.GetExpiresAt(fosite.AccessToken).IsZero() {
		t.Error("Clone shares state with the original")
	}
	var nilSess *Session
	if nilSess.Clone() != nil || nilSess.GetSubject() != "" {
		t.Error("nil session")
	}
}

func testRing(t *testing.T) *keys.Ring {
	t.Helper()
	r, err := keys.New(storetest.OpenSQLite(t), []byte("0123456789abcdef0123456789abcdef"), keys.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Init(context.Background()); err != nil {
		t.Fatal(err)
	}
	return r
}

// TestSignerAndHashes checks the signer picks the client's algorithm,
// decodes what it signed (fosite's default signer cannot for EdDSA), and
// that fosite's at_hash helper uses the digest each algorithm requires.
func TestSignerAndHashes(t *testing.T) {
	ctx := context.Background()
	ring := testRing(t)
	sg := &signer{ring: ring, now: time.Now}
	helper := &openid.IDTokenHandleHelper{}
	const accessToken = "some.access.token"

	for _, alg := range []string{"EdDSA", "RS256"} {
		s := NewSession()
		if alg == "RS256" {
			s.IDTokenAlg = "RS256"
		}
		tok, sig, err := sg.Generate(ctx, jwt.MapClaims{"sub": "u1", "exp": time.Now().Add(time.Hour).Unix()}, s.IDTokenHeaders())
		if err != nil {
			t.Fatal(err)
		}
		h, _, err := ring.Verify(tok)
		if err != nil {
			t.Fatal(err)
		}
		if h.Alg != alg {
			t.Errorf("signed with %s, want %s", h.Alg, alg)
		}
		if sig == "" || tok[len(tok)-len(sig):] != sig {
			t.Error("signature part wrong")
		}
		if _, err := sg.Validate(ctx, tok); err != nil {
			t.Errorf("%s: validate: %v", alg, err)
		}
		decoded, err := sg.Decode(ctx, tok)
		if err != nil || decoded.Claims["sub"] != "u1" {
			t.Errorf("%s: decode: %v %v", alg, err, decoded)
		}

		var want string
		if alg == "EdDSA" {
			sum := sha512.Sum512([]byte(accessToken))
			want = base64.RawURLEncoding.EncodeToString(sum[:32])
		} else {
			sum := sha256.Sum256([]byte(accessToken))
			want = base64.RawURLEncoding.EncodeToString(sum[:16])
		}
		got, err := helper.ComputeHash(ctx, s, accessToken)
		if err != nil || got != want {
			t.Errorf("%s: at_hash %q, want %q (%v)", alg, got, want, err)
		}
	}

	// Expired tokens decode with an expiry error, as id_token_hint needs.
	tok, _, err := sg.Generate(ctx, jwt.MapClaims{"sub": "u1", "exp": time.Now().Add(-time.Hour).Unix()}, NewSession().IDTokenHeaders())
	if err != nil {
		t.Fatal(err)
	}
	d, err := sg.Decode(ctx, tok)
	var ve *jwt.ValidationError
	if d == nil || err == nil || !asValidation(err, &ve) || !ve.Has(jwt.ValidationErrorExpired) {
		t.Errorf("expired: %v %v", d, err)
	}
	if _, err := sg.Validate(ctx, tok); err == nil {
		t.Error("Validate accepted an expired token")
	}
	if _, err := sg.Decode(ctx, tok[:len(tok)-4]+"AAAA"); err == nil {
		t.Error("Decode accepted a bad signature")
	}
}

func asValidation(err error, ve **jwt.ValidationError) bool {
	v, ok := err.(*jwt.ValidationError)
	*ve = v
	return ok
}

func TestSecretHasher(t *testing.T) {
	ctx := context.Background()
	h := secretHasher{}
	hash, err := h.Hash(ctx, []byte("s3cret"))
	if err != nil {
		t.Fatal(err)
	}
	if string(hash) != HashSecret("s3cret") {
		t.Error("Hash differs from HashSecret")
	}
	if err := h.Compare(ctx, hash, []byte("s3cret")); err != nil {
		t.Error(err)
	}
	for _, c := range [][2]string{{string(hash), "wrong"}, {"", ""}, {"", "s3cret"}} {
		if err := h.Compare(ctx, []byte(c[0]), []byte(c[1])); err == nil {
			t.Errorf("Compare(%q, %q) matched", c[0], c[1])
		}
	}
}

// TestGrantsComposedAndAdvertised: every supported grant has handlers, an
// unknown one is refused at start, and discovery lists exactly the
// supported grants.
func TestGrantsComposedAndAdvertised(t *testing.T) {
	for _, g := range provider.GrantTypes() {
		fs, err := composeFactories([]string{g})
		if err != nil || len(fs) < 3 {
			t.Errorf("grant %s: %d factories, %v", g, len(fs), err)
		}
	}
	if _, err := composeFactories([]string{"password"}); err == nil {
		t.Error("a grant without handlers was composed")
	}
	st := storetest.OpenSQLite(t)
	ring := testRing(t)
	op, err := New(Config{Issuer: "https://auth.mana.test", SecretKey: []byte("0123456789abcdef0123456789abcdef")}, st, ring)
	if err != nil {
		t.Fatal(err)
	}
	doc := op.Discovery(true)
	if got := doc["grant_types_supported"].([]string); !slices.Equal(got, provider.GrantTypes()) {
		t.Errorf("discovery grants %v, want %v", got, provider.GrantTypes())
	}
	if doc["backchannel_logout_supported"] != true || op.Discovery(false)["backchannel_logout_supported"] != false {
		t.Error("back-channel logout flag not taken from the caller")
	}
}

// TestUserClaimsByScope: the one scope-to-claims rule, which the ID token
// and userinfo share.
func TestUserClaimsByScope(t *testing.T) {
	u := &provider.User{ID: "u1", Email: "a@mana.how", EmailVerified: true, Name: "Ada", UpdatedAt: time.Unix(1700000000, 0)}
	for _, tc := range []struct {
		scopes []string
		want   map[string]any
	}{
		{[]string{"openid"}, map[string]any{"sub": "u1"}},
		{[]string{"openid", "email"}, map[string]any{"sub": "u1", "email": "a@mana.how", "email_verified": true}},
		{[]string{"openid", "profile"}, map[string]any{"sub": "u1", "name": "Ada", "updated_at": int64(1700000000)}},
	} {
		got := UserClaims(u, tc.scopes)
		if len(got) != len(tc.want) {
			t.Errorf("%v: %v, want %v", tc.scopes, got, tc.want)
		}
		for k, v := range tc.want {
			if got[k] != v {
				t.Errorf("%v: %s = %v, want %v", tc.scopes, k, got[k], v)
			}
		}
	}
	if _, ok := UserClaims(&provider.User{ID: "u2"}, []string{"profile"})["name"]; ok {
		t.Error("empty name released")
	}
}
