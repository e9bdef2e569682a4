package server

import (
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/manacore/mana-core-auth/internal/httpapi"
	"github.com/manacore/mana-core-auth/provider"
	"github.com/manacore/mana-core-auth/provider/account"
	"github.com/manacore/mana-core-auth/provider/ratelimit"
	"github.com/manacore/mana-core-auth/templates"
)

// Limit is one rate-limit rule: Count requests per Window per client IP.
type Limit struct {
	Count  int
	Window time.Duration
}

// DefaultLimits are the old service's limits (per client IP and minute).
// Every rule can be overridden with RATE_LIMITS.
func DefaultLimits() map[string]Limit {
	m := time.Minute
	return map[string]Limit{
		"register":            {5, m},
		"login":               {10, m},
		"forgot-password":     {3, m},
		"reset-password":      {5, m},
		"resend-verification": {3, m},
		"auth":                {100, m},
		// Per authenticated client, high enough for the throughput targets
		// (1,000+ tokens/s) while still capping a runaway or stolen client.
		"token":      {120000, m},
		"introspect": {600000, m},
		// The credits API is called by app backends on behalf of many
		// users, often from one address: a cap on runaways, not on use.
		"credits": {120000, m},
		// issue 11 part A: the admin API, per address; an admin's tools
		// page through users, a leaked admin token is still capped.
		"admin": {300, m},
		// Account deletion (issue 11, pages): the form checks a password,
		// so it is held to a few tries like a login.
		"delete-account": {5, 10 * m},
	}
}

// ParseLimits reads "login=10/1m,register=5/1m" on top of the defaults.
func ParseLimits(s string) (map[string]Limit, error) {
	limits := DefaultLimits()
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		name, spec, ok := strings.Cut(part, "=")
		count, window, ok2 := strings.Cut(spec, "/")
		if _, known := limits[name]; !ok || !ok2 || !known {
			return nil, fmt.Errorf("rate limit %q: want NAME=COUNT/DURATION with NAME one of register, login, forgot-password, reset-password, resend-verification, auth, token, introspect, credits, admin, delete-account", part)
		}
		n, err := strconv.Atoi(count)
		d, err2 := time.ParseDuration(window)
		if err != nil || err2 != nil || n < 1 || d <= 0 {
			return nil, fmt.Errorf("rate limit %q: COUNT must be a positive integer and DURATION like 1m", part)
		}
		limits[name] = Limit{n, d}
	}
	return limits, nil
}

func retryAfter(w http.ResponseWriter, d time.Duration) {
	secs := int(math.Ceil(d.Seconds()))
	if secs < 1 {
		secs = 1
	}
	w.Header().Set("Retry-After", strconv.Itoa(secs))
}

// limited applies the named per-IP rule. Without a limiter (tests, or
// limits switched off) it is a no-op. A limiter error lets the request
// through: an outage of Redis must not lock every user out.
func (s *server) limited(rule string, page bool, next http.Handler) http.Handler {
	lim, ok := s.Config.Limits[rule]
	if s.Limiter == nil || !ok {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d, err := s.Limiter.Allow(r.Context(), rule+":ip:"+ipKey(s.clientIP(r)), lim.Count, lim.Window)
		if err != nil {
			s.Logger.ErrorContext(r.Context(), "rate limiter", "error", err, "rule", rule)
		}
		if err == nil && !d.Allowed {
			s.tooMany(w, r, page, d.RetryAfter)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (s *server) tooMany(w http.ResponseWriter, r *http.Request, page bool, wait time.Duration) {
	retryAfter(w, wait)
	if page {
		s.errorPage(w, r, http.StatusTooManyRequests, templates.KeyRateLimit)
		return
	}
	httpapi.WriteError(w, http.StatusTooManyRequests, "rate_limited", "Too many requests, please try again later")
}

// clientLimited applies a per-client rule after the client authenticated:
// counting unauthenticated requests by client_id would let anyone use up
// another client's allowance. It reports whether the request may proceed.
func (s *server) clientLimited(r *http.Request, rule, clientID string) (bool, time.Duration) {
	lim, ok := s.Config.Limits[rule]
	if s.Limiter == nil || !ok || clientID == "" {
		return true, 0
	}
	d, err := s.Limiter.Allow(r.Context(), rule+":client:"+clientID, lim.Count, lim.Window)
	if err != nil {
		s.Logger.ErrorContext(r.Context(), "rate limiter", "error", err, "rule", rule)
		return true, 0
	}
	return d.Allowed, d.RetryAfter
}

// loginWait reports how long this login must still wait after repeated
// failures (0 = check the password now), and the turn to book its outcome
// on. It is keyed by the address whether or not an account exists, so a
// 429 reveals nothing; it counts per account and client network, and lets
// a known device through (ratelimit.LoginBackoff), so slowing guessing
// does not hand anyone a way to hold the owner out.
func (s *server) loginWait(r *http.Request, email string) (ratelimit.LoginTurn, time.Duration) {
	if s.logins == nil {
		return ratelimit.LoginTurn{}, 0
	}
	email = account.NormalizeEmail(email)
	t, d, err := s.logins.Begin(r.Context(), email, s.clientIP(r), s.knownDevice(r, email))
	if err != nil {
		s.Logger.ErrorContext(r.Context(), "login backoff", "error", err)
		return t, 0
	}
	return t, d
}

// secondFactorKey is the backoff key of a user's second-factor attempts:
// without it a password holder could try codes at the per-IP rate.
func secondFactorKey(userID string) string { return "login:2fa:" + userID }

func (s *server) backoffWait(r *http.Request, key string) time.Duration {
	if s.Backoff == nil {
		return 0
	}
	d, err := s.Backoff.Wait(r.Context(), key)
	if err != nil {
		s.Logger.ErrorContext(r.Context(), "login backoff", "error", err)
		return 0
	}
	return d
}

// loginResult books the outcome of a password check. Only a wrong
// password counts as a failure and only a right one clears the state: a
// database error or a cancelled request must not reset an attacker's
// backoff.
func (s *server) loginResult(r *http.Request, t ratelimit.LoginTurn, err error) {
	if s.logins == nil {
		return
	}
	var berr error
	switch {
	case errors.Is(err, account.ErrInvalidCredentials):
		berr = s.logins.Fail(r.Context(), t)
	case err == nil || errors.Is(err, account.ErrEmailNotVerified) || errors.Is(err, provider.ErrAccountDisabled):
		berr = s.logins.Succeed(r.Context(), t)
	}
	if berr != nil {
		s.Logger.ErrorContext(r.Context(), "login backoff", "error", berr)
	}
}

func (s *server) backoffResult(r *http.Request, key string, ok bool) {
	if s.Backoff == nil {
		return
	}
	var err error
	if ok {
		err = s.Backoff.Reset(r.Context(), key)
	} else {
		err = s.Backoff.Fail(r.Context(), key)
	}
	if err != nil {
		s.Logger.ErrorContext(r.Context(), "login backoff", "error", err)
	}
}

// ipKey is the rate-limit identity of an address: one IPv6 client usually
// holds a whole /64, so counting single addresses would let it walk around
// every limit.
func ipKey(ip string) string {
	addr, err := netip.ParseAddr(ip)
	if err != nil || !addr.Is6() || addr.Is4In6() {
		return ip
	}
	p, err := addr.Prefix(64)
	if err != nil {
		return ip
	}
	return p.String()
}
