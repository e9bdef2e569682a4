package app_test

import (
	"io"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/manacore/mana-core-auth/internal/app"
	"github.com/manacore/mana-core-auth/internal/app/apptest"
	"github.com/manacore/mana-core-auth/internal/database"
	"github.com/manacore/mana-core-auth/internal/database/databasetest"
	"github.com/manacore/mana-core-auth/provider/admin"
)

// contractNames are the metric names /work/metrics-contract.md promises
// dashboards and alerts; README lists them too.
var contractNames = []string{
	"http_requests_total", "http_request_duration_seconds_bucket", "http_requests_in_flight",
	"manaauth_logins_total", "manaauth_tokens_issued_total", "manaauth_refresh_token_reuse_total",
	"manaauth_introspections_total", "manaauth_password_hashes_rejected_total",
	"manaauth_backchannel_logouts_total", "manaauth_backchannel_queue_pending",
	"manaauth_mails_total", "manaauth_mail_outbox_pending", "manaauth_erasure_parts_pending",
	"manaauth_credits_spent_total", "manaauth_credits_purchased_total",
	"manaauth_stripe_webhook_events_total", "manaauth_admin_backend_calls_total",
	"manaauth_db_pool_connections", "manaauth_db_pool_acquire_wait_seconds_total", "manaauth_db_pool_acquires_total",
	"manaauth_redis_pool_connections", "manaauth_redis_pool_timeouts_total",
	"manaauth_users", "manaauth_users_created", "manaauth_build_info",
	"go_goroutines", "process_resident_memory_bytes",
}

// serveApp builds and runs an App on a loopback listener until the test
// ends and returns its base URL.
func serveApp(t *testing.T, cfg *app.Config, opts app.Options) (*app.App, string) {
	t.Helper()
	a, err := app.New(t.Context(), cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	return a, apptest.Serve(t, a)
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// TestMetricsContract: every name of the metrics contract is on /metrics
// of a freshly started server, before any event happened.
func TestMetricsContract(t *testing.T) {
	for _, d := range databasetest.Dialects() {
		t.Run(string(d), func(t *testing.T) {
			cfg := testConfig(t, d)
			cfg.Admin.Backends = []admin.Backend{{ID: "chat", Name: "Chat", URL: "http://127.0.0.1:9/chat"}}
			if d == database.Postgres {
				cfg.RedisURL = os.Getenv("TEST_REDIS_URL") // the Redis pool series with a real pool
			}
			_, base := serveApp(t, cfg, app.Options{})
			// One request first, so the http_* series exist.
			if code, _ := get(t, base+"/health/live"); code != http.StatusOK {
				t.Fatalf("/health/live: %d", code)
			}
			code, body := get(t, base+"/metrics")
			if code != http.StatusOK {
				t.Fatalf("/metrics: %d", code)
			}
			for _, name := range contractNames {
				if !regexp.MustCompile(`(?m)^` + name + `[{ ]`).MatchString(body) {
					t.Errorf("/metrics has no %s", name)
				}
			}
			for _, series := range []string{
				`manaauth_logins_total{result="throttled"} 0`, `manaauth_tokens_issued_total{grant="sso"} 0`,
				`http_requests_total{method="GET",route="GET /health/live",status="200"} 1`,
				`manaauth_db_pool_connections{state="max"}`, `manaauth_users{state="total"} 0`,
				`manaauth_admin_backend_calls_total{app="chat",result="unavailable"} 0`,
			} {
				if !strings.Contains(body, series) {
					t.Errorf("/metrics has no %s", series)
				}
			}
		})
	}
}

// TestMetricsAddr: with METRICS_ADDR the metrics are served there and
// not on the public listener.
func TestMetricsAddr(t *testing.T) {
	cfg := testConfig(t, database.SQLite)
	cfg.MetricsAddr = "127.0.0.1:0"
	a, base := serveApp(t, cfg, app.Options{})
	addr := a.MetricsListenAddr()
	if code, _ := get(t, base+"/metrics"); code != http.StatusNotFound {
		t.Errorf("public /metrics with METRICS_ADDR: %d, want 404", code)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/metrics")
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK || !strings.Contains(string(b), "manaauth_build_info") {
				t.Fatalf("METRICS_ADDR /metrics: %d\n%s", resp.StatusCode, b)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("METRICS_ADDR never answered: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
