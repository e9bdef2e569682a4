package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// cmdHealthcheck asks a running server whether it is ready and exits 0
// when it is. It is the container's HEALTHCHECK: the runtime image has
// no shell and no curl, so the binary checks itself.
func cmdHealthcheck(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("healthcheck", flag.ContinueOnError)
	fs.SetOutput(stderr)
	target := fs.String("url", "", "readiness URL to GET (default http://127.0.0.1:PORT/health/ready, the port from LISTEN_ADDR or PORT)")
	timeout := fs.Duration("timeout", 5*time.Second, "give up after this long")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: manaauth healthcheck [-url URL] [-timeout 5s]")
		fmt.Fprintln(stderr, "exit 0 when the server answers 200 on its readiness check, 1 with the reason otherwise")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *timeout <= 0 {
		return errors.New("healthcheck: -timeout must be positive")
	}
	u := *target
	if u == "" {
		var err error
		if u, err = readyURL(getenv); err != nil {
			return err
		}
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	status, err := checkReady(ctx, u)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "ready: %s\n", status)
	return nil
}

// readyURL is where the server in this container listens, read the way
// serve reads it: LISTEN_ADDR wins over PORT (default 3001). A wildcard
// host is asked on loopback, where the check never leaves the machine.
func readyURL(getenv func(string) string) (string, error) {
	host, port := "", strings.TrimSpace(getenv("PORT"))
	if port == "" {
		port = "3001"
	}
	if addr := strings.TrimSpace(getenv("LISTEN_ADDR")); addr != "" {
		var err error
		if host, port, err = net.SplitHostPort(addr); err != nil {
			return "", fmt.Errorf("healthcheck: LISTEN_ADDR %q must be host:port; or pass -url", addr)
		}
	}
	if n, err := strconv.Atoi(port); err != nil || n <= 0 || n > 65535 {
		// PORT=0 picks a free port nobody else can guess.
		return "", fmt.Errorf("healthcheck: no fixed port to check (port %q); pass -url", port)
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port) + "/health/ready", nil
}

// checkReady GETs u and returns the status the server reports ("ok", or
// "degraded" while Redis is away, which still serves). Anything but 200
// is an error that says in one line why.
func checkReady(ctx context.Context, u string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return "", fmt.Errorf("healthcheck: bad URL %q: %w", u, err)
	}
	// No proxy from the environment: the check is about this server, and
	// an HTTP_PROXY meant for outgoing calls must not answer for it.
	client := &http.Client{Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}}
	resp, err := client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		if errors.Is(err, context.DeadlineExceeded) {
			return "", fmt.Errorf("healthcheck: %s: no answer in time", u)
		}
		return "", fmt.Errorf("healthcheck: %s: %v", u, err)
	}
	defer resp.Body.Close()
	var body struct {
		Status string `json:"status"`
	}
	// The readiness document is small; more than this is not ours.
	_ = json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&body)
	if resp.StatusCode != http.StatusOK {
		reason := resp.Status
		if body.Status != "" {
			reason += ", status " + strconv.Quote(body.Status)
		}
		return "", fmt.Errorf("healthcheck: %s: not ready: %s", u, reason)
	}
	if body.Status == "" {
		body.Status = "ok"
	}
	return body.Status, nil
}
