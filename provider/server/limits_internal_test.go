package server

import "testing"

func TestIPKeyGroupsIPv6Slash64(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{"203.0.113.7", "203.0.113.7"},
		{"2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"},
		{"2001:db8:1:2:ffff:ffff:ffff:ffff", "2001:db8:1:2::/64"},
		{"::ffff:203.0.113.7", "::ffff:203.0.113.7"},
		{"not-an-ip", "not-an-ip"},
	} {
		if got := ipKey(tc.in); got != tc.want {
			t.Errorf("ipKey(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	if ipKey("2001:db8:1:2::1") != ipKey("2001:db8:1:2::2") || ipKey("2001:db8:1:2::1") == ipKey("2001:db8:1:3::1") {
		t.Error("addresses of one /64 must share a key and other /64s must not")
	}
}

func TestParseLimits(t *testing.T) {
	t.Parallel()
	l, err := ParseLimits("login=3/30s, register=1/1h")
	if err != nil {
		t.Fatal(err)
	}
	if l["login"].Count != 3 || l["login"].Window.Seconds() != 30 || l["register"].Count != 1 || l["forgot-password"].Count != 3 {
		t.Errorf("unexpected limits: %+v", l)
	}
	for _, bad := range []string{"login=0/1m", "nope=1/1m", "login=1", "login=x/1m", "login=1/xyz"} {
		if _, err := ParseLimits(bad); err == nil {
			t.Errorf("ParseLimits(%q) accepted", bad)
		}
	}
}
