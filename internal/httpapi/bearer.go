package httpapi

import (
	"net/http"
	"strings"
)

// BearerToken returns the access token of the request's Authorization
// header (RFC 6750 §2.1), or "" when there is none. The scheme is
// case-insensitive (RFC 7235 §2.1), so "bearer" and "BEARER" count; a
// header of another scheme, or "Bearer" with nothing after it, has no
// token.
func BearerToken(r *http.Request) string {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(token)
}
