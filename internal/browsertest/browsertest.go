// Package browsertest finds the headless Chromium the browser tests of
// provider/server and cmd/manaauth drive, and decides what its absence
// means: a skip with the reason on a developer's machine, a failure in CI
// (CI=true), where .ci/run installs it.
package browsertest

import (
	"fmt"
	"os"
	"os/exec"
	"testing"
)

// Chromium returns the browser's path: $CHROMIUM, else the first of the
// usual names on PATH. Without one it skips or fails the test.
func Chromium(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"/usr/bin/chromium", "chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	SkipOrFail(t, "Chromium is not installed (looked for /usr/bin/chromium, chromium, chromium-browser; apt-get install chromium)")
	return ""
}

// SkipOrFail ends a test that lacks a tool or service it needs (the
// browser, PgBouncer): it fails under CI=true and otherwise skips,
// printing the reason where `make test`'s summary finds it.
func SkipOrFail(t testing.TB, reason string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("CI=true but %s", reason)
	}
	fmt.Fprintf(os.Stderr, "SKIP %s: %s\n", t.Name(), reason)
	t.Skip(reason)
}
