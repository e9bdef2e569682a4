package httpx

import (
	"fmt"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
)

// Preflight answers, fixed because the apps' needs are fixed. The
// Authorization header is what the apps send their Bearer token in;
// X-App-Id names the calling app.
const (
	corsMethods = "GET, POST, PUT, PATCH, DELETE, OPTIONS"
	corsHeaders = "Content-Type, Authorization, X-Requested-With, X-App-Id"
	corsMaxAge  = "600"
	// Retry-After is not a CORS-safelisted response header; without this
	// the apps could not read it from a 429.
	corsExpose = "Retry-After"
)

// CORS decides which browser origins may call the API with credentials
// and answers their preflights. Origins come from CORS_ORIGINS, each one
// exact ("https://mana.how", "http://localhost:5173") or with one leading
// wildcard label ("https://*.mana.how"), which matches one or more
// subdomain labels of mana.how over the same scheme and port, and never
// mana.how itself, "https://evilmana.how" or "https://mana.how.evil.com".
// A CORS is immutable and safe for concurrent use.
type CORS struct {
	exact    map[origin]struct{}
	wildcard []origin // host holds the suffix after "*."
}

// origin is a normalised scheme://host[:port]: lower case, default port
// dropped (port 0), IPv6 hosts in brackets.
type origin struct {
	scheme string
	host   string
	port   uint16
}

// NewCORS validates the configured origins. It refuses what would be
// unsafe with credentials rather than quietly ignoring it: "*", "null",
// a scheme other than http and https, a path, query, user info or a
// wildcard anywhere but as the whole first label of a domain with at least
// two labels. A single trailing slash, as copied from a browser's address
// bar, is tolerated. Blank entries are skipped.
func NewCORS(origins []string) (*CORS, error) {
	c := &CORS{exact: make(map[origin]struct{})}
	for _, raw := range origins {
		s := strings.TrimSpace(raw)
		if s == "" {
			continue
		}
		s = strings.TrimSuffix(s, "/")
		if s == "*" || strings.EqualFold(s, "null") {
			return nil, fmt.Errorf("cors origin %q: not allowed with credentials; list the origins", raw)
		}
		wild := false
		if scheme, rest, ok := strings.Cut(s, "://*."); ok {
			wild = true
			s = scheme + "://" + rest
		}
		o, err := parseOrigin(s)
		if err != nil {
			return nil, fmt.Errorf("cors origin %q: %w", raw, err)
		}
		if !wild {
			c.exact[o] = struct{}{}
			continue
		}
		if strings.HasPrefix(o.host, "[") || isIPv4(o.host) {
			return nil, fmt.Errorf("cors origin %q: a wildcard needs a domain name, not an IP address", raw)
		}
		if !strings.Contains(o.host, ".") {
			return nil, fmt.Errorf("cors origin %q: a wildcard needs a domain of at least two labels", raw)
		}
		// No top-level domain is numeric; "*.0.0.1" would match 127.0.0.1.
		if tld := o.host[strings.LastIndexByte(o.host, '.')+1:]; strings.Trim(tld, "0123456789") == "" {
			return nil, fmt.Errorf("cors origin %q: a wildcard needs a domain name, not an IP address", raw)
		}
		c.wildcard = append(c.wildcard, o)
	}
	return c, nil
}

// Allowed reports whether origin, the value of an Origin header, may call
// the API with credentials. "null" and anything that is not an origin
// serialisation (paths, trailing slashes, user info) are never allowed.
func (c *CORS) Allowed(origin string) bool {
	o, err := parseOrigin(origin)
	if err != nil {
		return false
	}
	if _, ok := c.exact[o]; ok {
		return true
	}
	for _, w := range c.wildcard {
		if o.scheme != w.scheme || o.port != w.port {
			continue
		}
		// parseOrigin guarantees non-empty labels, so a host ending in
		// ".suffix" with anything before it has at least one more label.
		if len(o.host) > len(w.host)+1 && strings.HasSuffix(o.host, w.host) &&
			o.host[len(o.host)-len(w.host)-1] == '.' {
			return true
		}
	}
	return false
}

// Handler wraps next with CORS. A request without Origin passes through
// untouched. A request from an allowed origin gets the origin reflected
// with Access-Control-Allow-Credentials: true; its preflight (OPTIONS with
// Access-Control-Request-Method) is answered 204 with the allowed methods
// and headers, cached for ten minutes. A request from any other origin
// gets no CORS headers, so the browser withholds the response; its
// preflight is answered 403 without reaching next. Every request with an
// Origin gets Vary: Origin, since the answer depends on it.
func (c *CORS) Handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origins := r.Header.Values("Origin")
		if len(origins) == 0 {
			next.ServeHTTP(w, r)
			return
		}
		h := w.Header()
		h.Add("Vary", "Origin")
		preflight := r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != ""
		// Two Origin headers are no browser's doing; allow neither.
		if len(origins) != 1 || !c.Allowed(origins[0]) {
			if preflight {
				w.WriteHeader(http.StatusForbidden)
				return
			}
			next.ServeHTTP(w, r)
			return
		}
		h.Set("Access-Control-Allow-Origin", origins[0])
		h.Set("Access-Control-Allow-Credentials", "true")
		if preflight {
			h.Set("Access-Control-Allow-Methods", corsMethods)
			h.Set("Access-Control-Allow-Headers", corsHeaders)
			h.Set("Access-Control-Max-Age", corsMaxAge)
			w.WriteHeader(http.StatusNoContent)
			return
		}
		h.Set("Access-Control-Expose-Headers", corsExpose)
		next.ServeHTTP(w, r)
	})
}

// parseOrigin parses scheme://host[:port] strictly, by hand rather than
// with net/url, which accepts far more (paths, user info, percent
// escapes, empty labels) than a browser ever puts in an Origin header.
func parseOrigin(s string) (origin, error) {
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok {
		return origin{}, fmt.Errorf("want scheme://host[:port]")
	}
	scheme = strings.ToLower(scheme)
	var defaultPort uint16
	switch scheme {
	case "https":
		defaultPort = 443
	case "http":
		defaultPort = 80
	default:
		return origin{}, fmt.Errorf("scheme %q: want http or https", scheme)
	}
	host, portStr := rest, ""
	if strings.HasPrefix(rest, "[") {
		end := strings.IndexByte(rest, ']')
		if end < 0 {
			return origin{}, fmt.Errorf("unterminated IPv6 address")
		}
		host, portStr = rest[:end+1], rest[end+1:]
		if portStr != "" && !strings.HasPrefix(portStr, ":") {
			return origin{}, fmt.Errorf("unexpected %q after the host", portStr)
		}
		portStr = strings.TrimPrefix(portStr, ":")
		a, err := netip.ParseAddr(host[1 : len(host)-1])
		if err != nil || !a.Is6() || a.Zone() != "" {
			return origin{}, fmt.Errorf("bad IPv6 address %q", host)
		}
		host = "[" + a.String() + "]"
	} else {
		if i := strings.LastIndexByte(rest, ':'); i >= 0 {
			host, portStr = rest[:i], rest[i+1:]
			if portStr == "" {
				return origin{}, fmt.Errorf("empty port")
			}
		}
		host = strings.ToLower(host)
		if !validHostname(host) {
			return origin{}, fmt.Errorf("bad host %q", host)
		}
	}
	port := defaultPort
	if portStr != "" {
		// Digits only: ParseUint alone would accept "+443".
		for _, ch := range portStr {
			if ch < '0' || ch > '9' {
				return origin{}, fmt.Errorf("bad port %q", portStr)
			}
		}
		n, err := strconv.ParseUint(portStr, 10, 16)
		if err != nil || n == 0 {
			return origin{}, fmt.Errorf("bad port %q", portStr)
		}
		port = uint16(n)
	}
	if port == defaultPort {
		port = 0
	}
	return origin{scheme: scheme, host: host, port: port}, nil
}

// validHostname accepts lower-case LDH labels (and so punycode), each
// non-empty and at most 63 bytes, no trailing dot. An IPv4 address passes
// as four numeric labels.
func validHostname(h string) bool {
	if h == "" || len(h) > 253 {
		return false
	}
	for label := range strings.SplitSeq(h, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			ch := label[i]
			if !('a' <= ch && ch <= 'z' || '0' <= ch && ch <= '9' || ch == '-') {
				return false
			}
		}
	}
	return true
}

func isIPv4(h string) bool {
	a, err := netip.ParseAddr(h)
	return err == nil && a.Is4()
}
