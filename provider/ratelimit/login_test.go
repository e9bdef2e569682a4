package ratelimit

import "testing"

// The login backoff's network of an address: a client or household
// usually holds a whole IPv4 /24 or IPv6 /64, and an IPv4-mapped IPv6
// address is the IPv4 client it maps.
func TestNetwork(t *testing.T) {
	for in, want := range map[string]string{
		"203.0.113.5":          "203.0.113.0/24",
		"203.0.113.77":         "203.0.113.0/24",
		"::ffff:203.0.113.9":   "203.0.113.0/24",
		"2001:db8:1:2:3:4:5:6": "2001:db8:1:2::/64",
		"2001:db8:1:2:ffff::1": "2001:db8:1:2::/64",
		"fe80::1%eth0":         "fe80::/64",
		"not an address":       "not an address",
		"":                     "",
	} {
		if got := Network(in); got != want {
			t.Errorf("Network(%q) = %q, want %q", in, got, want)
		}
	}
}

// The network whose failures share one part of the account count: an IPv6
// host often holds a whole /48, so all its /64s are one share, while an
// IPv4 /24 stays one.
func TestShareNetwork(t *testing.T) {
	for in, want := range map[string]string{
		"203.0.113.5":          "203.0.113.0/24",
		"::ffff:203.0.113.9":   "203.0.113.0/24",
		"2001:db8:1:2:3:4:5:6": "2001:db8:1::/48",
		"2001:db8:1:ffff::1":   "2001:db8:1::/48",
		"2001:db8:2::1":        "2001:db8:2::/48",
		"not an address":       "not an address",
	} {
		if got := ShareNetwork(in); got != want {
			t.Errorf("ShareNetwork(%q) = %q, want %q", in, got, want)
		}
	}
}
