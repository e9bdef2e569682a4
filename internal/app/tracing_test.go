package app_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	coltrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/manacore/mana-core-auth/internal/app"
	"github.com/manacore/mana-core-auth/internal/database"
	"github.com/manacore/mana-core-auth/internal/database/databasetest"
)

// otlpSink is an OTLP/HTTP collector that keeps the span names and
// services it was sent.
type otlpSink struct {
	mu       sync.Mutex
	posts    int
	spans    []string
	services []string
}

func (s *otlpSink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	if r.Method != http.MethodPost || r.URL.Path != "/v1/traces" || len(body) == 0 {
		http.Error(w, "unexpected", http.StatusBadRequest)
		return
	}
	var req coltrace.ExportTraceServiceRequest
	if err := proto.Unmarshal(body, &req); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	s.posts++
	for _, rs := range req.GetResourceSpans() {
		for _, a := range rs.GetResource().GetAttributes() {
			if a.GetKey() == "service.name" {
				s.services = append(s.services, a.GetValue().GetStringValue())
			}
		}
		for _, ss := range rs.GetScopeSpans() {
			for _, sp := range ss.GetSpans() {
				s.spans = append(s.spans, sp.GetName())
			}
		}
	}
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/x-protobuf")
	_, _ = w.Write(nil)
}

// TestTracesExported: with OTEL_EXPORTER_OTLP_ENDPOINT set, a request
// produces an OTLP/HTTP export whose spans are the request, named by its
// route pattern, and (on PostgreSQL) its statements.
func TestTracesExported(t *testing.T) {
	for _, d := range databasetest.Dialects() {
		t.Run(string(d), func(t *testing.T) {
			sink := &otlpSink{}
			collector := httptest.NewServer(sink)
			t.Cleanup(collector.Close)
			env := map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": collector.URL, "OTEL_SERVICE_NAME": "manaauth-test"}
			cfg, err := app.LoadConfig(func(k string) string { return env[k] }, app.Tool)
			if err != nil {
				t.Fatal(err)
			}
			cfg.DatabaseURL = databasetest.URL(t, d)
			cfg.SecretKey = []byte("0123456789abcdef0123456789abcdef-app")
			redisURL := os.Getenv("TEST_REDIS_URL")
			if redisURL == "" && os.Getenv("CI") == "true" {
				t.Fatal("TEST_REDIS_URL is required when CI=true")
			}
			if d == database.Postgres {
				cfg.RedisURL = redisURL // the rate limits count in Redis: its commands are spans
			}
			a, err := app.New(t.Context(), cfg, app.Options{})
			if err != nil {
				t.Fatal(err)
			}
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- a.Run(ctx, ln) }()
			resp, err := http.Get("http://" + ln.Addr().String() + "/.well-known/openid-configuration")
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if code, _ := get(t, "http://"+ln.Addr().String()+"/health/ready"); code != http.StatusOK {
				t.Fatalf("/health/ready: %d", code)
			}
			if code, _ := postJSON(t, "http://"+ln.Addr().String()+"/api/v1/auth/login", "",
				map[string]string{"email": "nobody@example.com", "password": "wrong password"}); code != http.StatusUnauthorized {
				t.Fatalf("login: %d", code)
			}
			// The tracer copies the request the mux sets the pattern on; the
			// HTTP metrics still get the route.
			if got := scrapeMetrics(t, "http://"+ln.Addr().String()).value("http_requests_total",
				"route=GET /health/ready", "method=GET", "status=200"); got != 1 {
				t.Errorf("http_requests_total for GET /health/ready with tracing = %v, want 1", got)
			}
			cancel()
			select {
			case <-done:
			case <-time.After(15 * time.Second):
				t.Fatal("Run did not return")
			}
			if err := a.Close(); err != nil { // flushes the batch
				t.Fatalf("Close: %v", err)
			}
			sink.mu.Lock()
			defer sink.mu.Unlock()
			if sink.posts == 0 {
				t.Fatal("no OTLP export arrived")
			}
			for _, want := range []string{"GET /.well-known/openid-configuration", "GET /health/ready"} {
				if !slices.Contains(sink.spans, want) {
					t.Errorf("no span %q in %v", want, sink.spans)
				}
			}
			if d == database.Postgres && !slices.Contains(sink.spans, "db SELECT") {
				t.Errorf("no statement span in %v", sink.spans)
			}
			if d == database.Postgres && redisURL != "" && !slices.ContainsFunc(sink.spans, func(s string) bool { return strings.HasPrefix(s, "redis ") }) {
				t.Errorf("no Redis span in %v", sink.spans)
			}
			if !slices.Contains(sink.services, "manaauth-test") {
				t.Errorf("service names %v", sink.services)
			}
		})
	}
}
