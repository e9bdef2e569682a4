package templates

import (
	"net/url"
	"strings"
	"unicode"

	"github.com/a-h/templ"
)

// LoginView is the view model of LoginPage.
type LoginView struct {
	Lang          string // "de" or "en"
	ClientName    string // the app the user is signing in to; "" for a plain login
	ClientLogoURI string // optional; shown only for absolute http(s) URLs
	Email         string // keeps the user's input / login_hint
	Error         string // already translated message shown in place; "" for none
	ReturnTo      string // hidden field "return_to"
}

// ConsentView is the view model of ConsentPage.
type ConsentView struct {
	Lang          string
	ClientName    string
	ClientLogoURI string
	UserEmail     string
	Scopes        []string // scope names; known ones get a translated description
	Challenge     string   // hidden field "challenge"
}

// LogoutView is the view model of LogoutConfirmPage.
type LogoutView struct {
	Lang       string
	ClientName string // may be ""
	Challenge  string // hidden field "challenge"
}

// LoggedOutView is the view model of LoggedOutPage.
type LoggedOutView struct{ Lang string }

// ErrorView is the view model of ErrorPage.
type ErrorView struct {
	Lang      string
	Status    int    // HTTP status, shown small; 0 hides it
	Title     string // already translated; "" uses T(lang, "error.title")
	Message   string // already translated / safe text
	RequestID string // optional, shown small for support
}

// safeImageURL returns the sanitised URL of a client logo and whether it may
// be rendered at all. Only absolute http and https URLs with a host are
// accepted; everything else (javascript:, data:, relative paths, …) is
// dropped so that no image is shown.
func safeImageURL(raw string) (templ.SafeURL, bool) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return "", false
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "", false
	}
	if scheme := strings.ToLower(u.Scheme); scheme != "http" && scheme != "https" {
		return "", false
	}
	safe := templ.URL(raw)
	if safe == templ.FailedSanitizationURL {
		return "", false
	}
	return safe, true
}

// scopeKeys maps the scopes with a human description to their T key.
var scopeKeys = map[string]string{
	"openid":         "scope.openid",
	"profile":        "scope.profile",
	"email":          "scope.email",
	"offline_access": "scope.offline_access",
	"credits:read":   "scope.credits:read",
	"credits:write":  "scope.credits:write",
}

// scopeDescription returns the translated description of a scope and true,
// or the raw scope name and false for scopes without a description.
func scopeDescription(lang, scope string) (string, bool) {
	if key, ok := scopeKeys[scope]; ok {
		return T(lang, key), true
	}
	return scope, false
}

// clientName returns the display name of a client, or a generic
// "An application" when the name is empty.
func clientName(lang, name string) string {
	if strings.TrimSpace(name) == "" {
		return T(lang, "consent.unknown_app")
	}
	return name
}

// initial returns the upper-cased first letter or digit of name, used as a
// monogram when a client has no logo. It returns "?" when there is none.
func initial(name string) string {
	for _, r := range name {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			return string(unicode.ToUpper(r))
		}
	}
	return "?"
}
