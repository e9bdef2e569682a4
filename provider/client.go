package provider

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
)

// Grant types a client may be registered for. provider/oidc composes a
// handler for each of exactly these and discovery advertises them, so a
// new grant is added here and there and nowhere else.
const (
	GrantAuthorizationCode = "authorization_code"
	GrantRefreshToken      = "refresh_token"
	GrantClientCredentials = "client_credentials"
)

// GrantTypes returns the supported grant types.
func GrantTypes() []string {
	return []string{GrantAuthorizationCode, GrantRefreshToken, GrantClientCredentials}
}

// MinClientSecretLen is the shortest client secret an operator may choose;
// generated secrets are 256-bit.
const MinClientSecretLen = 16

// ClientProblems lists everything wrong with a client registration.
type ClientProblems []string

func (p ClientProblems) Error() string { return "invalid client: " + strings.Join(p, "; ") }

// Validate checks a client registration before it is stored (CLI, admin
// API, declarative file alike) and reports every problem at once as
// ClientProblems. Redirect URIs must be absolute, without fragment, and
// https except on loopback hosts (OAuth 2.0 Security BCP).
func (c *Client) Validate() error {
	var p ClientProblems
	if c.ID == "" || len(c.ID) > 128 || strings.ContainsAny(c.ID, " \t\r\n:") || !CleanText(c.ID) {
		p = append(p, "id: 1 to 128 characters without spaces or colons")
	}
	if !CleanText(c.Name) || len(c.Name) > 255 {
		p = append(p, "name: at most 255 characters")
	}
	if !c.Public && c.SecretHash == "" {
		p = append(p, "secret: a confidential client needs a secret")
	}
	if c.Public && c.SecretHash != "" {
		p = append(p, "secret: a public client has no secret")
	}
	if len(c.GrantTypes) == 0 {
		p = append(p, "grant_types: at least one grant type")
	}
	for _, g := range c.GrantTypes {
		if !slices.Contains(GrantTypes(), g) {
			p = append(p, fmt.Sprintf("grant_types: unknown grant type %q (supported: %s)", g, strings.Join(GrantTypes(), ", ")))
		}
	}
	if c.Public && slices.Contains(c.GrantTypes, GrantClientCredentials) {
		p = append(p, "grant_types: a public client cannot use client_credentials")
	}
	if slices.Contains(c.GrantTypes, GrantAuthorizationCode) && len(c.RedirectURIs) == 0 {
		p = append(p, "redirect_uris: required for the authorization_code grant")
	}
	for _, u := range c.RedirectURIs {
		if msg := checkURI(u); msg != "" {
			p = append(p, "redirect_uris: "+msg)
		}
	}
	for _, u := range c.PostLogoutRedirectURIs {
		if msg := checkURI(u); msg != "" {
			p = append(p, "post_logout_redirect_uris: "+msg)
		}
	}
	if c.BackchannelLogoutURI != "" {
		if msg := checkURI(c.BackchannelLogoutURI); msg != "" {
			p = append(p, "backchannel_logout_uri: "+msg)
		}
	}
	if c.IDTokenAlg != "" && c.IDTokenAlg != AlgEdDSA && c.IDTokenAlg != AlgRS256 {
		p = append(p, "id_token_alg: EdDSA or RS256")
	}
	if c.LogoURI != "" {
		if u, err := url.Parse(c.LogoURI); err != nil || u.Scheme != "https" || u.Host == "" {
			p = append(p, "logo_uri: an https URL")
		}
	}
	for _, s := range c.Scopes {
		if s == "" || strings.ContainsAny(s, " \t\r\n\"\\") || !CleanText(s) {
			p = append(p, fmt.Sprintf("scopes: %q is not a scope token", s))
		}
	}
	if len(p) > 0 {
		return p
	}
	return nil
}

// ValidateClientSecret checks a secret an operator chose.
func ValidateClientSecret(secret string) error {
	if len(secret) < MinClientSecretLen || !CleanText(secret) {
		return fmt.Errorf("secret: at least %d characters", MinClientSecretLen)
	}
	return nil
}

// checkURI enforces absolute URIs without fragments, https except for
// loopback hosts; "" when raw is acceptable.
func checkURI(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Host == "" && u.Scheme == "https" || !CleanText(raw) {
		return fmt.Sprintf("%q must be absolute", raw)
	}
	if u.Fragment != "" {
		return fmt.Sprintf("%q must not contain a fragment", raw)
	}
	// Native apps register their own schemes (RFC 8252 7.1), so the
	// schemes are not limited to http(s); these run or read something in
	// the browser instead of handing it to an app.
	switch strings.ToLower(u.Scheme) {
	case "javascript", "data", "vbscript", "file", "blob", "about":
		return fmt.Sprintf("%q: the %s scheme cannot be a redirect target", raw, u.Scheme)
	}
	if u.Scheme == "http" && !IsLoopback(u.Hostname()) {
		return fmt.Sprintf("%q must use https (http is allowed for localhost only)", raw)
	}
	return ""
}

// IsLoopback reports whether host names this machine.
func IsLoopback(host string) bool {
	return host == "localhost" || host == "127.0.0.1" || host == "::1"
}

// ErrInvalidClient is what ClientProblems unwraps to, for callers that only
// branch on the kind.
var ErrInvalidClient = errors.New("invalid client")

// Unwrap lets errors.Is(err, ErrInvalidClient) match.
func (p ClientProblems) Unwrap() error { return ErrInvalidClient }
