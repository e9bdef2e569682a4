// Package apptest runs a built App on a loopback listener for a test, the
// way `manaauth serve` runs it, and stops and closes it when the test ends.
package apptest

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/manacore/mana-core-auth/internal/app"
)

// Serve runs a until the test ends and returns its base URL. The cleanup
// stops Run (a graceful shutdown) and then closes the App.
func Serve(t testing.TB, a *app.App) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			t.Error("the server did not stop within 15s")
		}
		_ = a.Close()
	})
	return "http://" + ln.Addr().String()
}
