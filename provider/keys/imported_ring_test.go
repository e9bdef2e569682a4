package keys

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/manacore/mana-core-auth/provider"
)

// issue 14 (keys import): a public-only row whose JWK does not match the
// row (tampered, or written by something other than ImportPublicKey) is
// an error on load, like an own key that does not open: the JWKS must
// serve exactly the key that was imported.
func TestPublicOnlyRowChecked(t *testing.T) {
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	jwk := []byte(`{"crv":"Ed25519","x":"` + base64.RawURLEncoding.EncodeToString(pub) + `","kty":"OKP"}`)
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	good, err := ImportPublicKey("old-1", jwk, now, now, now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		change func(k *provider.Key)
		want   string
	}{
		{"kid of another row", func(k *provider.Key) { k.ID = "old-2" }, `kid "old-1"`},
		{"raw old JWK", func(k *provider.Key) { k.PublicJWK = jwk }, `kid ""`},
		{"not JSON", func(k *provider.Key) { k.PublicJWK = []byte("x") }, "parse public JWK"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k := *good
			tc.change(&k)
			r, err := New(&memStore{keys: []*provider.Key{&k}}, secret1, Options{Now: func() time.Time { return now }})
			if err != nil {
				t.Fatal(err)
			}
			err = r.Init(context.Background())
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "public-only key") {
				t.Fatalf("Init: %v, want an error about %s", err, tc.want)
			}
		})
	}
}
