package account

import (
	"net/url"
	"strings"
)

// ContinueParam is the query parameter of a mail link that carries where
// the flow continues after the link (an app's pending authorization).
const ContinueParam = "continue"

// maxContinuation bounds a continuation: an authorization request with
// its parameters fits, a page stuffed with junk does not.
const maxContinuation = 4096

// SafeContinuation returns raw, normalised, when the browser may be sent
// there after signing in, following a mail link or resetting a password:
// a path on our own origin (the pending /oauth2/authorize request
// included), never another host. Anything else gives "". It is the one
// rule for every continuation, so the login form, the mail links and the
// pages after them cannot become an open redirector.
func SafeContinuation(raw string) string {
	if raw == "" || len(raw) > maxContinuation || !strings.HasPrefix(raw, "/") ||
		strings.HasPrefix(raw, "//") || strings.HasPrefix(raw, "/\\") {
		return ""
	}
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" {
		return ""
	}
	out := u.RequestURI()
	// Escaping can lengthen it; the bound holds for what is carried on.
	if len(out) > maxContinuation || !strings.HasPrefix(out, "/") || strings.HasPrefix(out, "//") {
		return ""
	}
	return out
}
