package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"time"
)

// hydraScenarios are the scenarios that mean the same on Ory Hydra: a
// client_credentials token, and introspecting one (on Hydra's admin port,
// which needs no client authentication).
var hydraScenarios = []string{"client_credentials", "introspection"}

// startHydra runs Ory Hydra (the binary bin, built outside this module) on
// the run's database as the comparison the issue asks for: migrated, then
// `hydra serve all --dev` on two loopback ports, with its default
// configuration (opaque access tokens, its default client secret hashing).
// It returns the process, its admin URL and a client_credentials client.
func startHydra(ctx context.Context, bin, dsn string, stderr io.Writer) (srv *server, admin, id, secret string, err error) {
	pub, err := freePort()
	if err != nil {
		return nil, "", "", "", err
	}
	adm, err := freePort()
	if err != nil {
		return nil, "", "", "", err
	}
	srv = &server{bin: bin, baseURL: fmt.Sprintf("http://127.0.0.1:%d", pub)}
	admin = fmt.Sprintf("http://127.0.0.1:%d", adm)
	srv.env = append(os.Environ(),
		"DSN="+dsn,
		"SECRETS_SYSTEM=loadgen-hydra-system-secret-"+randomHex(16),
		"URLS_SELF_ISSUER="+srv.baseURL,
		"SERVE_PUBLIC_HOST=127.0.0.1", "SERVE_PUBLIC_PORT="+strconv.Itoa(pub),
		"SERVE_ADMIN_HOST=127.0.0.1", "SERVE_ADMIN_PORT="+strconv.Itoa(adm),
		"LOG_LEVEL=error",
	)
	if out, err := srv.output(ctx, "migrate", "sql", "up", "-e", "--yes"); err != nil {
		// Older releases name the command without "up".
		if out2, err2 := srv.output(ctx, "migrate", "sql", "-e", "--yes"); err2 != nil {
			return nil, "", "", "", fmt.Errorf("hydra migrate: %w\n%s\n%s", err, out, out2)
		}
	}
	cmd := exec.Command(bin, "serve", "all", "--dev")
	cmd.Env = srv.env
	cmd.Stdout, cmd.Stderr = io.Discard, stderr
	if err := cmd.Start(); err != nil {
		return nil, "", "", "", fmt.Errorf("start hydra: %w", err)
	}
	srv.cmd, srv.exited = cmd, make(chan struct{})
	go func() { _ = cmd.Wait(); close(srv.exited) }()
	hc := &http.Client{Transport: &http.Transport{}, Timeout: 5 * time.Second}
	if err := waitHealthy(ctx, hc, admin+"/health/ready", srv.exited); err != nil {
		srv.stop()
		return nil, "", "", "", err
	}
	body, _ := json.Marshal(map[string]any{
		"client_id": clientID, "client_secret": clientSecret,
		"grant_types": []string{"client_credentials"}, "token_endpoint_auth_method": "client_secret_basic",
	})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, admin+"/admin/clients", bytes.NewReader(body))
	if err != nil {
		srv.stop()
		return nil, "", "", "", err
	}
	req.Header.Set("Content-Type", "application/json")
	_, out, err := send(hc, req, http.StatusCreated)
	if err != nil {
		srv.stop()
		return nil, "", "", "", fmt.Errorf("create hydra client: %w", err)
	}
	var c struct {
		ID     string `json:"client_id"`
		Secret string `json:"client_secret"`
	}
	if err := json.Unmarshal(out, &c); err != nil || c.ID == "" {
		srv.stop()
		return nil, "", "", "", fmt.Errorf("create hydra client: %.300s", out)
	}
	if c.Secret == "" {
		c.Secret = clientSecret
	}
	return srv, admin, c.ID, c.Secret, nil
}

// waitHealthy polls url until it answers 200, the process exits, or a
// minute passes.
func waitHealthy(ctx context.Context, hc *http.Client, url string, exited <-chan struct{}) error {
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		if resp, err := hc.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-exited:
			return errors.New("hydra exited during start-up")
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	return errors.New("hydra not ready within a minute")
}
