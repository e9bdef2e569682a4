package httpx

import (
	"bytes"
	"context"
	"log/slog"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
)

func TestIncomingRequestID(t *testing.T) {
	t.Parallel()
	proxy := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	for _, c := range []struct {
		name, remote, header string
		trusted              []netip.Prefix
		want                 string
	}{
		{"trusted proxy", "10.1.2.3:4711", "4bf92f3577b34da6-a3ce929d0e0e4736", proxy, "4bf92f3577b34da6-a3ce929d0e0e4736"},
		{"untrusted peer", "203.0.113.7:4711", "abc", proxy, ""},
		{"no trusted proxies", "10.1.2.3:4711", "abc", nil, ""},
		{"spaces", "10.1.2.3:4711", "a b", proxy, ""},
		{"quote", "10.1.2.3:4711", `a"b`, proxy, ""},
		{"newline", "10.1.2.3:4711", "a\nb", proxy, ""},
		{"128 chars", "10.1.2.3:4711", strings.Repeat("x", 128), proxy, strings.Repeat("x", 128)},
		{"129 chars", "10.1.2.3:4711", strings.Repeat("x", 129), proxy, ""},
		{"empty", "10.1.2.3:4711", "", proxy, ""},
		{"not a TCP peer", "@", "abc", proxy, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			r.RemoteAddr = c.remote
			if c.header != "" {
				r.Header.Set("X-Request-Id", c.header)
			}
			if got := IncomingRequestID(r, c.trusted); got != c.want {
				t.Errorf("IncomingRequestID = %q, want %q", got, c.want)
			}
		})
	}
}

func TestLogRequestIDs(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	h := LogRequestIDs(LogRequestIDs(slog.NewTextHandler(&buf, nil))) // twice: one attribute
	log := slog.New(h).With("component", "x").WithGroup("g")
	log.InfoContext(WithRequestID(context.Background(), "req-1"), "m", "k", "v")
	log.Info("outside")
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 || strings.Count(lines[0], "request_id=req-1") != 1 || strings.Contains(lines[1], "request_id") {
		t.Fatalf("lines %q", lines)
	}
}
