package main

import (
	"net"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/manacore/mana-core-auth/internal/database/databasetest"
	"github.com/manacore/mana-core-auth/internal/faultproxy"
)

// productionEnv is what the container gives serve (without --dev): a
// real secret, a mail host and an https-or-localhost issuer, on loopback.
func productionEnv(databaseURL string) map[string]string {
	return map[string]string{
		"DATABASE_URL": databaseURL,
		"LISTEN_ADDR":  "127.0.0.1:0",
		"BASE_URL":     "http://localhost:3001",
		"SECRET_KEY":   strings.Repeat("s", 48),
		"SMTP_HOST":    "127.0.0.1",
	}
}

func portOf(t *testing.T, base string) string {
	t.Helper()
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	return u.Port()
}

// oneLine fails when a healthcheck reason would break Docker's one-line
// health log.
func oneLine(t *testing.T, err error) string {
	t.Helper()
	if err == nil {
		t.Fatal("healthcheck succeeded, want a failure")
	}
	if msg := err.Error(); strings.Contains(msg, "\n") {
		t.Errorf("reason spans several lines: %q", msg)
	}
	return err.Error()
}

func TestHealthcheckAgainstRunningServer(t *testing.T) {
	base, _ := startServe(t, productionEnv("sqlite:"+filepath.Join(t.TempDir(), "m.db")))
	port := portOf(t, base)

	out, _, err := runCmd(t, nil, "healthcheck", "-url", base+"/health/ready")
	if err != nil || out != "ready: ok\n" {
		t.Fatalf("healthcheck -url: %v %q", err, out)
	}
	// Without -url the port comes from the environment, as in the
	// container: PORT, or LISTEN_ADDR whose wildcard host is asked on
	// loopback.
	for name, env := range map[string]map[string]string{
		"PORT":                 {"PORT": port},
		"LISTEN_ADDR wildcard": {"LISTEN_ADDR": ":" + port, "PORT": "1"},
		"LISTEN_ADDR loopback": {"LISTEN_ADDR": "127.0.0.1:" + port},
	} {
		if out, _, err := runCmd(t, env, "healthcheck"); err != nil || out != "ready: ok\n" {
			t.Errorf("%s: %v %q", name, err, out)
		}
	}
	// Liveness is not readiness, but any 200 page passes: -url is the
	// operator's choice.
	if _, _, err := runCmd(t, nil, "healthcheck", "--url", base+"/health/live", "--timeout", "2s"); err != nil {
		t.Errorf("--url /health/live: %v", err)
	}
	// A page that is not there is a failure with its status.
	_, _, err = runCmd(t, nil, "healthcheck", "-url", base+"/health/nope")
	if msg := oneLine(t, err); !strings.Contains(msg, "404") {
		t.Errorf("404 reason = %q", msg)
	}
}

func TestHealthcheckClosedPortAndUsage(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	_, _, err = runCmd(t, nil, "healthcheck", "-url", "http://"+addr+"/health/ready", "-timeout", "2s")
	if msg := oneLine(t, err); !strings.Contains(msg, "connection refused") || !strings.Contains(msg, addr) {
		t.Errorf("closed port reason = %q", msg)
	}
	_, _, err = runCmd(t, map[string]string{"PORT": strings.Split(addr, ":")[1]}, "healthcheck")
	if msg := oneLine(t, err); !strings.Contains(msg, "connection refused") {
		t.Errorf("closed PORT reason = %q", msg)
	}

	for _, tc := range []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"PORT=0", map[string]string{"PORT": "0"}, nil, "pass -url"},
		{"bad LISTEN_ADDR", map[string]string{"LISTEN_ADDR": "nope"}, nil, "LISTEN_ADDR"},
		{"zero timeout", nil, []string{"-timeout", "0s"}, "-timeout"},
	} {
		_, _, err := runCmd(t, tc.env, append([]string{"healthcheck"}, tc.args...)...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want %q", tc.name, err, tc.want)
		}
	}
	if _, stderr, err := runCmd(t, nil, "healthcheck", "--help"); err != nil || !strings.Contains(stderr, "-timeout") {
		t.Errorf("--help: %v %q", err, stderr)
	}
	if out, _, _ := runCmd(t, nil, "help"); !strings.Contains(out, "healthcheck") {
		t.Errorf("usage does not list healthcheck:\n%s", out)
	}
}

// TestHealthcheckDatabaseDown puts a fault proxy between a running server
// and its PostgreSQL: while the database is away the readiness check
// answers 503 and the healthcheck fails saying so, a hung database makes
// it give up at -timeout; once the database is back it passes again.
func TestHealthcheckDatabaseDown(t *testing.T) {
	dsn := databasetest.NewPostgresDatabase(t)
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	proxy := faultproxy.Start(t, u.Host)
	u.Host = proxy.Addr()
	base, _ := startServe(t, productionEnv(u.String()))
	ready := base + "/health/ready"

	if _, _, err := runCmd(t, nil, "healthcheck", "-url", ready); err != nil {
		t.Fatalf("healthy server: %v", err)
	}

	proxy.Set(faultproxy.Stall)
	start := time.Now()
	_, _, err = runCmd(t, nil, "healthcheck", "-url", ready, "-timeout", "300ms")
	if msg := oneLine(t, err); !strings.Contains(msg, "no answer in time") {
		t.Errorf("database hung: reason = %q", msg)
	}
	if took := time.Since(start); took > 1500*time.Millisecond {
		t.Errorf("healthcheck -timeout 300ms took %s", took)
	}

	proxy.Set(faultproxy.Cut)
	_, _, err = runCmd(t, nil, "healthcheck", "-url", ready)
	if msg := oneLine(t, err); !strings.Contains(msg, "503") || !strings.Contains(msg, `status "error"`) {
		t.Errorf("database cut: reason = %q", msg)
	}

	proxy.Set(faultproxy.Forward)
	deadline := time.Now().Add(15 * time.Second)
	for {
		_, _, err := runCmd(t, nil, "healthcheck", "-url", ready)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("still not ready 15s after the database came back: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
