// Package stripemock starts stripe-mock (github.com/stripe/stripe-mock), a
// real implementation of the Stripe API, for tests.
package stripemock

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Install is how to install the stripe-mock the tests expect.
const Install = "go install github.com/stripe/stripe-mock@v0.203.0"

// Binary returns the path of stripe-mock: $STRIPE_MOCK_BIN, else
// $(go env GOPATH)/bin/stripe-mock, else stripe-mock on PATH; "" if none.
func Binary() string {
	if p := os.Getenv("STRIPE_MOCK_BIN"); p != "" {
		return p
	}
	if out, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
		for _, dir := range filepath.SplitList(strings.TrimSpace(string(out))) {
			p := filepath.Join(dir, "bin", "stripe-mock")
			if _, err := os.Stat(p); err == nil {
				return p
			}
		}
	}
	if p, err := exec.LookPath("stripe-mock"); err == nil {
		return p
	}
	return ""
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Start starts stripe-mock on free loopback ports (HTTP, and the HTTPS
// listener it always opens), waits until it listens and returns its HTTP
// base URL (for billing.Config.APIBase / STRIPE_API_BASE). It is stopped
// in tb.Cleanup. When it cannot be started the test fails if CI=true and
// is skipped with the reason otherwise.
func Start(tb testing.TB) (baseURL string) {
	tb.Helper()
	unavailable := func(reason string) {
		tb.Helper()
		if os.Getenv("CI") == "true" {
			tb.Fatalf("stripe-mock is required when CI=true: %s", reason)
		}
		tb.Skipf("stripe-mock tests skipped: %s", reason)
	}
	bin := Binary()
	if bin == "" {
		unavailable("stripe-mock binary not found via STRIPE_MOCK_BIN, in $(go env GOPATH)/bin or PATH (" + Install + ")")
		return ""
	}
	httpPort, err := freePort()
	if err != nil {
		unavailable("no free port: " + err.Error())
		return ""
	}
	httpsPort, err := freePort()
	if err != nil {
		unavailable("no free port: " + err.Error())
		return ""
	}
	addr := "127.0.0.1:" + strconv.Itoa(httpPort)
	cmd := exec.Command(bin, "-http-addr", addr, "-https-addr", "127.0.0.1:"+strconv.Itoa(httpsPort))
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		unavailable("start stripe-mock: " + err.Error())
		return ""
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	stop := func() { _ = cmd.Process.Kill(); <-exited }
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		if c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond); err == nil {
			c.Close()
			tb.Cleanup(stop)
			return "http://" + addr
		}
		select {
		case <-exited:
			unavailable("stripe-mock exited: " + out.String())
			return ""
		case <-time.After(50 * time.Millisecond):
		}
	}
	stop()
	unavailable("stripe-mock did not start listening: " + out.String())
	return ""
}
