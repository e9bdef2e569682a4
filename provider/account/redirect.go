package account

import (
	"net/url"
	"strings"
)

// RedirectPolicy decides which origins a flow (email verification,
// password reset) may send the browser back to: mana.how and its
// subdomains over https, localhost for development, and the configured
// CORS origins. Only the origin of an accepted URL is kept, so a path or
// query chosen by an attacker never survives.
type RedirectPolicy struct {
	// Domain is the parent domain whose subdomains are trusted ("mana.how").
	Domain string
	// Extra reports whether an origin is allowed by configuration (CORS_ORIGINS).
	Extra func(origin string) bool
	// AllowLoopback admits localhost origins (development only: in
	// production any local listener could receive the redirect).
	AllowLoopback bool
	// Self is our own origin (the issuer's), always allowed: flows started
	// on our pages return to them.
	Self string
}

// Origin returns the origin of raw when it may be redirected to, else "".
func (p *RedirectPolicy) Origin(raw string) string {
	raw = strings.TrimSpace(raw)
	if raw == "" || len(raw) > 2048 {
		return ""
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.User != nil || (u.Scheme != "https" && u.Scheme != "http") {
		return ""
	}
	origin := u.Scheme + "://" + strings.ToLower(u.Host)
	host := strings.ToLower(u.Hostname())
	switch {
	case p.Self != "" && origin == p.Self:
		return origin
	case p.AllowLoopback && (host == "localhost" || host == "127.0.0.1" || host == "::1"):
		return origin
	case p.Domain != "" && u.Scheme == "https" && (host == p.Domain || strings.HasSuffix(host, "."+p.Domain)):
		return origin
	case p.Extra != nil && p.Extra(origin):
		return origin
	}
	return ""
}

// RedirectOrigin applies the service's redirect policy.
func (s *Service) RedirectOrigin(raw string) string { return s.cfg.Redirects.Origin(raw) }
