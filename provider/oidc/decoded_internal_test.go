package oidc

import (
	"crypto/sha256"
	"reflect"
	"testing"
	"time"

	"github.com/ory/fosite"
)

// TestSessionCloneDeep: clone (the decoded-grant cache's copy) equals the
// original and shares nothing a caller could change.
func TestSessionCloneDeep(t *testing.T) {
	s := NewSession()
	s.Subject, s.SessionID = "u1", "sid1"
	s.SetExpiresAt(fosite.AccessToken, time.Unix(1900000000, 0))
	s.Claims.Audience = []string{"a"}
	s.Claims.Extra = map[string]any{"nested": map[string]any{"k": []any{"v"}}}
	s.IDTokenHeaders()
	c := s.clone()
	if !reflect.DeepEqual(c, s) {
		t.Fatalf("clone differs:\n%+v\n%+v", c, s)
	}
	c.SetExpiresAt(fosite.AccessToken, time.Time{})
	c.Claims.Audience[0] = "b"
	c.Claims.Extra["nested"].(map[string]any)["k"].([]any)[0] = "w"
	c.Headers.Extra["alg"] = "none"
	if s.GetExpiresAt(fosite.AccessToken).IsZero() || s.Claims.Audience[0] != "a" ||
		s.Claims.Extra["nested"].(map[string]any)["k"].([]any)[0] != "v" || s.Headers.Extra["alg"] == "none" {
		t.Fatal("clone shares state with the original")
	}
	var d decodedGrants
	d.put("sig", &decodedGrant{sum: sha256.Sum256([]byte("one"))})
	if d.get("sig", []byte("one")) == nil || d.get("sig", []byte("two")) != nil {
		t.Fatal("decoded grant served for other data")
	}
	for i := range decodedCap + 10 {
		d.put(string(rune(i)), &decodedGrant{})
	}
	if len(d.m) != decodedCap {
		t.Fatalf("decoded cache holds %d, want the cap %d", len(d.m), decodedCap)
	}
}
