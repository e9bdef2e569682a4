package httpapi_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/manacore/mana-core-auth/internal/httpapi"
)

func TestBearerToken(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, header, want string
	}{
		{"canonical", "Bearer abc.def.ghi", "abc.def.ghi"},
		{"lower-case scheme", "bearer abc", "abc"},
		{"upper-case scheme", "BEARER abc", "abc"},
		{"mixed-case scheme", "bEaReR abc", "abc"},
		{"extra spaces", "Bearer    abc  ", "abc"},
		{"token68 padding", "Bearer abc==", "abc=="},
		{"no header", "", ""},
		{"scheme only", "Bearer", ""},
		{"scheme and space", "Bearer ", ""},
		{"scheme and blanks", "Bearer  \t ", ""},
		{"no separator", "Bearerabc", ""},
		{"basic", "Basic dXNlcjpwYXNz", ""},
		{"other scheme", "Token abc", ""},
		{"scheme as token", "Basic Bearer abc", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			if tc.header != "" {
				r.Header.Set("Authorization", tc.header)
			}
			if got := httpapi.BearerToken(r); got != tc.want {
				t.Errorf("BearerToken(%q) = %q, want %q", tc.header, got, tc.want)
			}
		})
	}
}
