package httpx

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
)

func TestParseTrustedProxies(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		in      string
		want    []string
		wantErr string // substring; the bad entry must be named
	}{
		{name: "empty", in: "", want: nil},
		{name: "blanks", in: " , ,", want: nil},
		{name: "example", in: "10.0.0.0/8, 127.0.0.1, ::1", want: []string{"10.0.0.0/8", "127.0.0.1/32", "::1/128"}},
		{name: "masked", in: "10.1.2.3/8", want: []string{"10.0.0.0/8"}},
		{name: "ipv6 prefix", in: "2001:db8::/32,fd00::/8", want: []string{"2001:db8::/32", "fd00::/8"}},
		{name: "mapped prefix", in: "::ffff:10.0.0.0/104", want: []string{"10.0.0.0/8"}},
		{name: "mapped address", in: "::ffff:192.0.2.1", want: []string{"192.0.2.1/32"}},
		{name: "trailing comma", in: "127.0.0.1,", want: []string{"127.0.0.1/32"}},
		{name: "hostname", in: "10.0.0.0/8, proxy.internal", wantErr: `"proxy.internal"`},
		{name: "bad bits", in: "10.0.0.0/33", wantErr: `"10.0.0.0/33"`},
		{name: "bad address", in: "300.1.1.1", wantErr: `"300.1.1.1"`},
		{name: "port", in: "127.0.0.1:8080", wantErr: `"127.0.0.1:8080"`},
		{name: "zone", in: "fe80::1%eth0", wantErr: `"fe80::1%eth0"`},
		{name: "star", in: "*", wantErr: `"*"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseTrustedProxies(tc.in)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("ParseTrustedProxies(%q) error = %v, want one naming %s", tc.in, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseTrustedProxies(%q): %v", tc.in, err)
			}
			var gotS []string
			for _, p := range got {
				gotS = append(gotS, p.String())
			}
			if strings.Join(gotS, " ") != strings.Join(tc.want, " ") {
				t.Fatalf("ParseTrustedProxies(%q) = %v, want %v", tc.in, gotS, tc.want)
			}
		})
	}
}

func mustTrusted(t testing.TB, s string) []netip.Prefix {
	t.Helper()
	p, err := ParseTrustedProxies(s)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestClientIP(t *testing.T) {
	t.Parallel()
	trusted := mustTrusted(t, "10.0.0.0/8, 127.0.0.1, ::1, 2001:db8:ffff::/48")
	for _, tc := range []struct {
		name    string
		peer    string
		xff     []string // one element per header line; nil = no header
		trusted []netip.Prefix
		want    string
	}{
		{name: "no proxy", peer: "203.0.113.7:5555", want: "203.0.113.7"},
		{name: "spoofed from untrusted peer", peer: "203.0.113.7:5555", xff: []string{"1.2.3.4"}, want: "203.0.113.7"},
		{name: "spoofed, nothing trusted", peer: "10.0.0.1:5555", xff: []string{"1.2.3.4"}, trusted: []netip.Prefix{}, want: "10.0.0.1"},
		{name: "one proxy", peer: "10.0.0.1:5555", xff: []string{"198.51.100.9"}, want: "198.51.100.9"},
		{name: "client spoof left of real", peer: "10.0.0.1:5555", xff: []string{"1.2.3.4, 198.51.100.9"}, want: "198.51.100.9"},
		{name: "chain of proxies", peer: "10.0.0.1:5555", xff: []string{"1.2.3.4, 198.51.100.9, 10.2.3.4, 10.0.0.2"}, want: "198.51.100.9"},
		{name: "spoofed trusted entry", peer: "10.0.0.1:5555", xff: []string{"10.9.9.9, 198.51.100.9"}, want: "198.51.100.9"},
		{name: "several header lines", peer: "10.0.0.1:5555", xff: []string{"1.2.3.4", "198.51.100.9, 10.0.0.3"}, want: "198.51.100.9"},
		{name: "all trusted", peer: "127.0.0.1:5555", xff: []string{"10.0.0.5, 10.0.0.6"}, want: "10.0.0.5"},
		{name: "empty header", peer: "127.0.0.1:5555", xff: []string{""}, want: "127.0.0.1"},
		{name: "no header", peer: "127.0.0.1:5555", want: "127.0.0.1"},
		{name: "ipv6 peer and client", peer: "[::1]:5555", xff: []string{"2001:db8::1"}, want: "2001:db8::1"},
		{name: "ipv6 trusted range", peer: "[2001:db8:ffff::2]:443", xff: []string{"2001:DB8:0:0:0:0:0:2, 2001:db8:ffff::3"}, want: "2001:db8::2"},
		{name: "ipv6 untrusted peer", peer: "[2001:db8::5]:443", xff: []string{"1.2.3.4"}, want: "2001:db8::5"},
		{name: "mapped peer", peer: "[::ffff:10.0.0.1]:5555", xff: []string{"::ffff:198.51.100.9"}, want: "198.51.100.9"},
		{name: "zone dropped", peer: "[fe80::1%eth0]:5555", want: "fe80::1"},
		{name: "entries with ports", peer: "10.0.0.1:5555", xff: []string{"198.51.100.9:4711, [2001:db8::7]:443"}, want: "2001:db8::7"},
		{name: "garbage right", peer: "10.0.0.1:5555", xff: []string{"198.51.100.9, garbage"}, want: "10.0.0.1"},
		{name: "garbage behind trusted", peer: "10.0.0.1:5555", xff: []string{"nonsense, 10.0.0.2"}, want: "10.0.0.1"},
		{name: "garbage left of client", peer: "10.0.0.1:5555", xff: []string{"<script>, 198.51.100.9"}, want: "198.51.100.9"},
		{name: "empty element", peer: "10.0.0.1:5555", xff: []string{"198.51.100.9,,"}, want: "10.0.0.1"},
		{name: "hostname entry", peer: "10.0.0.1:5555", xff: []string{"unknown"}, want: "10.0.0.1"},
		{name: "unix socket peer", peer: "@", xff: []string{"1.2.3.4"}, want: "@"},
		{name: "peer without port", peer: "10.0.0.1", xff: []string{"198.51.100.9"}, want: "198.51.100.9"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.RemoteAddr = tc.peer
			for _, v := range tc.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			tr := trusted
			if tc.trusted != nil {
				tr = tc.trusted
			}
			if got := ClientIP(r, tr); got != tc.want {
				t.Fatalf("ClientIP(peer %s, XFF %q) = %q, want %q", tc.peer, tc.xff, got, tc.want)
			}
		})
	}
}

// FuzzClientIP: never panics; an untrusted peer always wins; the answer
// is the peer or an address from the header, never a trusted one unless
// every hop was trusted.
func FuzzClientIP(f *testing.F) {
	for _, s := range [][2]string{
		{"10.0.0.1:1", "1.2.3.4, 5.6.7.8"},
		{"203.0.113.7:1", "1.2.3.4"},
		{"[::1]:1", "2001:db8::1, ::1"},
		{"10.0.0.1:1", ",,,"},
		{"10.0.0.1:1", "[::ffff:1.2.3.4]:80"},
		{"garbage", "1.2.3.4"},
	} {
		f.Add(s[0], s[1])
	}
	trusted := mustTrusted(f, "10.0.0.0/8, 127.0.0.1, ::1")
	f.Fuzz(func(t *testing.T, peer, xff string) {
		r := &http.Request{RemoteAddr: peer, Header: http.Header{"X-Forwarded-For": {xff}}}
		got := ClientIP(r, trusted)
		pa, ok := parseHost(peer)
		if !ok {
			if got != peer {
				t.Fatalf("unparsable peer %q: got %q", peer, got)
			}
			return
		}
		if !isTrusted(pa, trusted) {
			if got != pa.String() {
				t.Fatalf("untrusted peer %q: got %q, want the peer", peer, got)
			}
			return
		}
		if got == pa.String() {
			return
		}
		a, err := netip.ParseAddr(got)
		if err != nil {
			t.Fatalf("ClientIP = %q, not an address", got)
		}
		if isTrusted(a, trusted) {
			// Only when every entry was trusted.
			for entry := range strings.SplitSeq(xff, ",") {
				if e, ok := parseHost(strings.TrimSpace(entry)); !ok || !isTrusted(e, trusted) {
					t.Fatalf("ClientIP = trusted %q although %q is not trusted", got, entry)
				}
			}
		}
	})
}

func BenchmarkClientIP(b *testing.B) {
	trusted := mustTrusted(b, "10.0.0.0/8, 127.0.0.1, ::1")
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.RemoteAddr = "10.0.0.1:5555"
	r.Header.Set("X-Forwarded-For", "1.2.3.4, 198.51.100.9, 10.2.3.4")
	b.ReportAllocs()
	for b.Loop() {
		ClientIP(r, trusted)
	}
}
