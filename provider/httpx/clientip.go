package httpx

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// ParseTrustedProxies parses TRUSTED_PROXIES, a comma-separated list of
// addresses and CIDR prefixes ("10.0.0.0/8, 127.0.0.1, ::1"), into
// prefixes. A bare address becomes a single-address prefix; empty entries
// are skipped, so "" means no proxy is trusted. The error names the bad
// entry.
func ParseTrustedProxies(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for entry := range strings.SplitSeq(s, ",") {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			continue
		}
		p, err := parsePrefix(entry)
		if err != nil {
			return nil, fmt.Errorf("trusted proxy %q: %w", entry, err)
		}
		out = append(out, p)
	}
	return out, nil
}

func parsePrefix(entry string) (netip.Prefix, error) {
	if strings.Contains(entry, "/") {
		p, err := netip.ParsePrefix(entry)
		if err != nil {
			return netip.Prefix{}, err
		}
		// "::ffff:10.0.0.0/104" is how some write an IPv4 range; ClientIP
		// compares unmapped addresses, so unmap the prefix too.
		if p.Addr().Is4In6() && p.Bits() >= 96 {
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(entry)
	if err != nil {
		return netip.Prefix{}, err
	}
	if a.Zone() != "" {
		return netip.Prefix{}, fmt.Errorf("zoned address not supported")
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// ClientIP returns the address the request comes from: the peer address,
// or, only when the peer is a trusted proxy, the right-most address in
// X-Forwarded-For that is not itself trusted (walking right to left, as
// each trusted proxy appended the address it saw). Entries left of that
// one were written by the client and are ignored, so a client cannot spoof
// its address by sending the header itself. When every hop is trusted the
// left-most one is the origin. A malformed entry met before an untrusted
// address means the chain cannot be trusted, and the peer is returned.
// IPv4-mapped IPv6 addresses are returned as IPv4 and zones are dropped,
// so one client has one spelling (one rate-limit key).
//
// Only X-Forwarded-For is read, not the RFC 7239 Forwarded header: the
// proxies in front of the service set the former, and reading both would
// let a client pick whichever one its proxy does not overwrite.
func ClientIP(r *http.Request, trusted []netip.Prefix) string {
	peer, ok := parseHost(r.RemoteAddr)
	if !ok {
		// Not a TCP peer (a Unix socket, a test request): nothing to
		// compare against the trusted list, so report it as is.
		return r.RemoteAddr
	}
	if !isTrusted(peer, trusted) {
		return peer.String()
	}
	values := r.Header.Values("X-Forwarded-For")
	var origin netip.Addr // the left-most hop seen so far, all trusted
	for i := len(values) - 1; i >= 0; i-- {
		rest := values[i]
		for {
			var entry string
			if j := strings.LastIndexByte(rest, ','); j >= 0 {
				entry, rest = rest[j+1:], rest[:j]
			} else {
				entry, rest = rest, ""
			}
			a, ok := parseHost(strings.TrimSpace(entry))
			if !ok {
				return peer.String()
			}
			if !isTrusted(a, trusted) {
				return a.String()
			}
			origin = a
			if rest == "" {
				break
			}
		}
	}
	if origin.IsValid() {
		return origin.String()
	}
	return peer.String()
}

// parseHost parses an address with or without a port ("203.0.113.7",
// "203.0.113.7:4711", "[2001:db8::1]:443", "2001:db8::1"), the forms
// proxies write into X-Forwarded-For, and normalises it.
func parseHost(s string) (netip.Addr, bool) {
	a, err := netip.ParseAddr(s)
	if err != nil {
		host, _, err := net.SplitHostPort(s)
		if err != nil {
			return netip.Addr{}, false
		}
		if a, err = netip.ParseAddr(host); err != nil {
			return netip.Addr{}, false
		}
	}
	return a.Unmap().WithZone(""), true
}

func isTrusted(a netip.Addr, trusted []netip.Prefix) bool {
	for _, p := range trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
