package httpx

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

func mustCORS(tb testing.TB, origins ...string) *CORS {
	tb.Helper()
	c, err := NewCORS(origins)
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

func TestNewCORSValidates(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		pattern string
		ok      bool
	}{
		{"https://mana.how", true},
		{"http://localhost:5173", true},
		{"https://*.mana.how", true},
		{"http://*.mana.how:8080", true},
		{"https://mana.how/", true}, // trailing slash tolerated
		{" https://mana.how ", true},
		{"HTTPS://Mana.How", true},
		{"http://[::1]:5173", true},
		{"http://127.0.0.1:3000", true},
		{"", true}, // skipped
		{"*", false},
		{"null", false},
		{"NULL", false},
		{"mana.how", false},
		{"*.mana.how", false},
		{"ftp://mana.how", false},
		{"https://mana.how/path", false},
		{"https://mana.how?x=1", false},
		{"https://user@mana.how", false},
		{"https://mana.how:", false},
		{"https://mana.how:0", false},
		{"https://mana.how:65536", false},
		{"https://mana.how:+443", false},
		{"https://*", false},
		{"https://*.how", false},
		{"https://*.*.mana.how", false},
		{"https://a.*.mana.how", false},
		{"https://foo*.mana.how", false},
		{"https://*mana.how", false},
		{"https://*.0.0.1", false},
		{"https://*.[::1]", false},
		{"https://mana..how", false},
		{"https://mana.how.", false},
		{"https://-mana.how", false},
		{"https://mänä.how", false},
		{"http://[::1", false},
		{"http://[fe80::1%25eth0]", false},
	} {
		_, err := NewCORS([]string{tc.pattern})
		if (err == nil) != tc.ok {
			t.Errorf("NewCORS(%q) error = %v, want ok=%v", tc.pattern, err, tc.ok)
		}
		if err != nil && !strings.Contains(err.Error(), tc.pattern) {
			t.Errorf("NewCORS(%q) error %q does not name the pattern", tc.pattern, err)
		}
	}
}

func TestCORSAllowed(t *testing.T) {
	t.Parallel()
	c := mustCORS(t, "https://mana.how", "http://localhost:5173", "https://*.mana.how",
		"http://*.dev.example.com:8080", "http://[::1]:3000", "https://app.example.org/")
	for _, tc := range []struct {
		origin string
		want   bool
	}{
		{"https://mana.how", true},
		{"http://localhost:5173", true},
		{"https://app.mana.how", true},
		{"https://a.b.mana.how", true},
		{"https://xn--mnn-ola.mana.how", true},
		{"https://APP.Mana.How", true},    // case-insensitive
		{"https://mana.how:443", true},    // default port is the same origin
		{"https://app.example.org", true}, // configured with a trailing slash
		{"http://[::1]:3000", true},       // IPv6
		{"http://[0:0::1]:3000", true},    // another spelling of it
		{"http://x.dev.example.com:8080", true},
		// The evil ones.
		{"https://evilmana.how", false},
		{"https://mana.how.evil.com", false},
		{"https://app.mana.how.evil.com", false},
		{"https://evil.com/.mana.how", false},
		{"https://evil.com?.mana.how", false},
		{"https://evil.com#.mana.how", false},
		{"https://app.mana.how@evil.com", false},
		{"https://evil.com\\.mana.how", false},
		{"https://evil.com%2e.mana.how", false},
		{"https://.mana.how", false},
		{"https://..mana.how", false},
		{"https://a..mana.how", false},
		{"https://app.mana.how.", false},
		{"https://*.mana.how", false},
		{"https://app.mana.how\x00", false},
		{"https://app.mana.how ", false},
		// Schemes, ports, paths.
		{"http://mana.how", false},
		{"http://app.mana.how", false},
		{"wss://app.mana.how", false},
		{"https://app.mana.how:8443", false},
		{"https://mana.how:8443", false},
		{"http://localhost:5174", false},
		{"http://localhost", false},
		{"https://localhost:5173", false},
		{"http://x.dev.example.com", false},
		{"http://x.dev.example.com:8081", false},
		{"http://dev.example.com:8080", false},
		{"https://mana.how/", false}, // an Origin header never has a path
		{"https://app.mana.how/", false},
		{"https://mana.how/x", false},
		{"https://mana.how:", false},
		// Not origins at all.
		{"null", false},
		{"", false},
		{"mana.how", false},
		{"https://", false},
		{"https://:443", false},
		{"//mana.how", false},
	} {
		if got := c.Allowed(tc.origin); got != tc.want {
			t.Errorf("Allowed(%q) = %v, want %v", tc.origin, got, tc.want)
		}
	}
	if mustCORS(t).Allowed("https://mana.how") {
		t.Error("an empty CORS allows an origin")
	}
}

func TestCORSHandler(t *testing.T) {
	t.Parallel()
	c := mustCORS(t, "https://*.mana.how", "http://localhost:5173")
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Next", "1")
		w.WriteHeader(http.StatusTeapot)
	})
	h := c.Handler(next)
	for _, tc := range []struct {
		name       string
		method     string
		origin     string
		reqHeaders map[string]string
		wantStatus int
		wantNext   bool
		wantHdr    map[string]string // "" = absent
	}{
		{
			name: "no origin", method: http.MethodGet, wantStatus: http.StatusTeapot, wantNext: true,
			wantHdr: map[string]string{"Access-Control-Allow-Origin": "", "Vary": ""},
		},
		{
			name: "allowed", method: http.MethodPost, origin: "https://app.mana.how",
			wantStatus: http.StatusTeapot, wantNext: true,
			wantHdr: map[string]string{
				"Access-Control-Allow-Origin":      "https://app.mana.how",
				"Access-Control-Allow-Credentials": "true",
				"Access-Control-Expose-Headers":    "Retry-After",
				"Vary":                             "Origin",
				"Access-Control-Allow-Methods":     "",
			},
		},
		{
			name: "allowed preflight", method: http.MethodOptions, origin: "http://localhost:5173",
			reqHeaders: map[string]string{"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type, authorization"},
			wantStatus: http.StatusNoContent,
			wantHdr: map[string]string{
				"Access-Control-Allow-Origin":      "http://localhost:5173",
				"Access-Control-Allow-Credentials": "true",
				"Access-Control-Allow-Methods":     "GET, POST, PUT, PATCH, DELETE, OPTIONS",
				"Access-Control-Allow-Headers":     "Content-Type, Authorization, X-Requested-With, X-App-Id",
				"Access-Control-Max-Age":           "600",
				"Vary":                             "Origin",
			},
		},
		{
			name: "options without request method is no preflight", method: http.MethodOptions, origin: "https://app.mana.how",
			wantStatus: http.StatusTeapot, wantNext: true,
			wantHdr: map[string]string{"Access-Control-Allow-Origin": "https://app.mana.how", "Access-Control-Max-Age": ""},
		},
		{
			name: "disallowed", method: http.MethodPost, origin: "https://evilmana.how",
			wantStatus: http.StatusTeapot, wantNext: true,
			wantHdr: map[string]string{
				"Access-Control-Allow-Origin": "", "Access-Control-Allow-Credentials": "",
				"Access-Control-Expose-Headers": "", "Vary": "Origin",
			},
		},
		{
			name: "disallowed preflight", method: http.MethodOptions, origin: "https://mana.how.evil.com",
			reqHeaders: map[string]string{"Access-Control-Request-Method": "POST"},
			wantStatus: http.StatusForbidden,
			wantHdr: map[string]string{
				"Access-Control-Allow-Origin": "", "Access-Control-Allow-Methods": "", "Access-Control-Allow-Credentials": "",
			},
		},
		{
			name: "null preflight", method: http.MethodOptions, origin: "null",
			reqHeaders: map[string]string{"Access-Control-Request-Method": "GET"},
			wantStatus: http.StatusForbidden,
			wantHdr:    map[string]string{"Access-Control-Allow-Origin": ""},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := httptest.NewRequest(tc.method, "/api/v1/auth/login", nil)
			if tc.origin != "" {
				r.Header.Set("Origin", tc.origin)
			}
			for k, v := range tc.reqHeaders {
				r.Header.Set(k, v)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != tc.wantStatus {
				t.Errorf("status = %d, want %d", w.Code, tc.wantStatus)
			}
			if got := w.Header().Get("X-Next") == "1"; got != tc.wantNext {
				t.Errorf("next called = %v, want %v", got, tc.wantNext)
			}
			for k, want := range tc.wantHdr {
				if got := strings.Join(w.Header().Values(k), ", "); got != want {
					t.Errorf("%s = %q, want %q", k, got, want)
				}
			}
		})
	}

	t.Run("two origin headers", func(t *testing.T) {
		t.Parallel()
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.Header.Add("Origin", "https://app.mana.how")
		r.Header.Add("Origin", "https://evil.com")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if got := w.Header().Get("Access-Control-Allow-Origin"); got != "" {
			t.Fatalf("Access-Control-Allow-Origin = %q with two Origin headers", got)
		}
	})
	t.Run("keeps other Vary values", func(t *testing.T) {
		t.Parallel()
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.Header.Set("Origin", "https://app.mana.how")
		w := httptest.NewRecorder()
		w.Header().Set("Vary", "Accept-Encoding")
		h.ServeHTTP(w, r)
		if got := strings.Join(w.Header().Values("Vary"), ", "); got != "Accept-Encoding, Origin" {
			t.Fatalf("Vary = %q", got)
		}
	})
}

// FuzzCORSAllowed: never panics, and the wildcard never lets through an
// origin whose host, as a URL parser sees it, is outside the suffix, nor
// another scheme or port, nor anything with a path or user info.
func FuzzCORSAllowed(f *testing.F) {
	for _, s := range []string{
		"https://app.mana.how", "https://evilmana.how", "https://mana.how.evil.com",
		"https://a.mana.how:443", "https://a.mana.how@evil.com", "https://evil.com/.mana.how",
		"null", "", "https://[::1]:443", "HTTPS://X.MANA.HOW", "https://a..mana.how",
	} {
		f.Add(s)
	}
	c := mustCORS(f, "https://*.mana.how", "http://localhost:5173")
	f.Fuzz(func(t *testing.T, origin string) {
		if !c.Allowed(origin) {
			return
		}
		if origin == "http://localhost:5173" {
			return
		}
		u, err := url.Parse(origin)
		if err != nil {
			t.Fatalf("Allowed(%q) but net/url rejects it: %v", origin, err)
		}
		host := strings.ToLower(u.Hostname())
		if strings.ToLower(u.Scheme) == "http" && host == "localhost" && u.Port() == "5173" && u.Path == "" {
			return // another spelling of the exact origin
		}
		if strings.ToLower(u.Scheme) != "https" || u.User != nil || u.Path != "" || u.RawQuery != "" ||
			u.Fragment != "" || (u.Port() != "" && u.Port() != "443") {
			t.Fatalf("Allowed(%q): scheme %q, user %v, path %q, port %q", origin, u.Scheme, u.User, u.Path, u.Port())
		}
		label, ok := strings.CutSuffix(host, ".mana.how")
		if !ok || label == "" || strings.HasPrefix(label, ".") || strings.HasSuffix(label, ".") || strings.Contains(label, "..") {
			t.Fatalf("Allowed(%q): host %q is not a subdomain of mana.how", origin, host)
		}
	})
}
