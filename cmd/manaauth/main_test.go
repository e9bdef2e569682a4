package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/manacore/mana-core-auth/internal/database/databasetest"
)

// syncBuffer is a goroutine-safe writer the running program prints to.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func envFunc(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

// runCmd runs one CLI command to completion.
func runCmd(t *testing.T, env map[string]string, args ...string) (string, string, error) {
	t.Helper()
	var out, errb bytes.Buffer
	err := run(t.Context(), append([]string{"manaauth"}, args...), envFunc(env), &out, &errb)
	return out.String(), errb.String(), err
}

// listenRE finds the bound address serve prints: a URL for one host,
// "[::]:PORT (every interface…)" for all of them.
var listenRE = regexp.MustCompile(`listening on (?:http://)?(\S+)`)

// dialBase turns the printed address into a base URL to call.
func dialBase(t *testing.T, printed string) string {
	t.Helper()
	host, port, err := net.SplitHostPort(printed)
	if err != nil {
		t.Fatalf("serve printed no host:port: %q", printed)
	}
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port)
}

// startServe boots `manaauth serve` in-process and waits until it answers.
func startServe(t *testing.T, env map[string]string, args ...string) (base string, stdout *syncBuffer) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	stdout = &syncBuffer{}
	stderr := &syncBuffer{}
	done := make(chan error, 1)
	go func() { done <- run(ctx, append([]string{"manaauth", "serve"}, args...), envFunc(env), stdout, stderr) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("serve returned %v", err)
			}
		case <-time.After(15 * time.Second):
			t.Error("serve did not shut down within 15s")
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if m := listenRE.FindStringSubmatch(stdout.String()); m != nil {
			return dialBase(t, m[1]), stdout
		}
		select {
		case err := <-done:
			t.Fatalf("serve exited early: %v\nstderr:\n%s", err, stderr.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
	t.Fatalf("serve did not start; stderr:\n%s", stderr.String())
	return "", nil
}

func TestServeDevPrintsDemoAndAnswers(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"DATABASE_URL": "sqlite:" + filepath.Join(dir, "m.db"), "PORT": "0", "BASE_URL": "http://localhost:3001"}
	base, out := startServe(t, env, "--dev")
	for _, want := range []string{"client_id:     demo-app", "client_secret: ", "redirect_uri:  http://localhost:8080/callback", "email:         demo@mana.how", "password:      "} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("demo output lacks %q:\n%s", want, out.String())
		}
	}
	resp, err := http.Get(base + "/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var doc map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
		t.Fatal(err)
	}
	if doc["issuer"] != "http://localhost:3001" {
		t.Errorf("issuer = %v", doc["issuer"])
	}
	for _, p := range []string{"/health", "/health/live", "/health/ready", "/.well-known/jwks.json", "/api/v1/auth/jwks"} {
		r, err := http.Get(base + p)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, r.Body)
		r.Body.Close()
		if r.StatusCode != http.StatusOK {
			t.Errorf("GET %s = %d", p, r.StatusCode)
		}
	}
	// The secret key generated for development is kept for the next start.
	if _, _, err := runCmd(t, env, "keys", "list"); err != nil {
		t.Errorf("keys list after dev start: %v", err)
	}
}

func TestServeRefusesUnsafeProductionConfig(t *testing.T) {
	dir := t.TempDir()
	_, stderr, err := runCmd(t, map[string]string{"DATABASE_URL": "sqlite:" + filepath.Join(dir, "m.db"), "BASE_URL": "http://auth.example.com", "SECRET_KEY": "short"}, "serve")
	if err == nil {
		t.Fatal("serve started with an http issuer and a short secret")
	}
	msg := err.Error() + stderr
	for _, want := range []string{"BASE_URL", "https", "SECRET_KEY"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error does not mention %q: %s", want, msg)
		}
	}
	_, _, err = runCmd(t, map[string]string{"DATABASE_URL": "sqlite:" + filepath.Join(dir, "m.db"), "BASE_URL": "https://auth.example.com", "SMTP_HOST": "127.0.0.1"}, "serve")
	if err == nil || !strings.Contains(err.Error(), "SECRET_KEY is required") {
		t.Fatalf("missing SECRET_KEY: got %v", err)
	}
}

func TestCLIUsersClientsKeys(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"DATABASE_URL": "sqlite:" + filepath.Join(dir, "m.db"), "SECRET_KEY": strings.Repeat("k", 40)}
	if out, _, err := runCmd(t, env, "migrate"); err != nil || !strings.Contains(out, "migrations applied") {
		t.Fatalf("migrate: %v %q", err, out)
	}
	out, _, err := runCmd(t, env, "users", "create", "--email", "Ada@Example.com", "--password", "correct horse battery", "--name", "Ada", "--admin", "--verified")
	if err != nil || !strings.Contains(out, "ada@example.com") || !strings.Contains(out, "admin") {
		t.Fatalf("users create: %v %q", err, out)
	}
	if _, _, err := runCmd(t, env, "users", "create", "--email", "ada@example.com", "--password", "another password"); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Fatalf("duplicate user: %v", err)
	}
	if _, _, err := runCmd(t, env, "users", "create", "--email", "not-an-email", "--password", "short"); err == nil ||
		!strings.Contains(err.Error(), "--email") || !strings.Contains(err.Error(), "--password") {
		t.Fatalf("invalid user: want both problems reported, got %v", err)
	}

	out, _, err = runCmd(t, env, "clients", "create", "--id", "chat", "--redirect-uri", "https://chat.mana.how/cb", "--trusted", "--name", "Chat")
	if err != nil {
		t.Fatalf("clients create: %v", err)
	}
	sec := regexp.MustCompile(`client_secret: (\S+)`).FindStringSubmatch(out)
	if sec == nil || len(sec[1]) < 40 {
		t.Fatalf("no generated secret printed: %q", out)
	}
	if _, _, err := runCmd(t, env, "clients", "create", "--id", "spa", "--public", "--redirect-uri", "http://localhost:5173/cb", "--id-token-alg", "RS256"); err != nil {
		t.Fatalf("public client: %v", err)
	}
	for _, bad := range [][]string{
		{"--id", "x", "--redirect-uri", "http://evil.example/cb"},
		{"--id", "y", "--public", "--secret", "abcdefghijklmnopq", "--redirect-uri", "https://a.example/cb"},
		{"--id", "z", "--redirect-uri", "https://a.example/cb#frag"},
		{"--id", "w", "--grant-types", "password", "--redirect-uri", "https://a.example/cb"},
		{"--id", "chat", "--redirect-uri", "https://chat.mana.how/cb"},
	} {
		if _, _, err := runCmd(t, env, append([]string{"clients", "create"}, bad...)...); err == nil {
			t.Errorf("clients create %v succeeded", bad)
		}
	}
	out, _, err = runCmd(t, env, "clients", "list")
	if err != nil || !strings.Contains(out, "chat") || !strings.Contains(out, "spa") || !strings.Contains(out, "public") {
		t.Fatalf("clients list: %v %q", err, out)
	}
	if _, _, err := runCmd(t, env, "clients", "delete", "spa"); err != nil {
		t.Fatalf("clients delete: %v", err)
	}
	if _, _, err := runCmd(t, env, "clients", "delete", "spa"); err == nil {
		t.Fatal("deleting a missing client succeeded")
	}

	out, _, err = runCmd(t, env, "keys", "list")
	if err != nil || strings.Count(out, "signing") != 2 {
		t.Fatalf("keys list: want one EdDSA and one RS256 signing key: %v\n%s", err, out)
	}
	out, _, err = runCmd(t, env, "keys", "rotate", "--alg", "EdDSA", "--delay", "1h")
	if err != nil || !strings.Contains(out, "next (published)") || !strings.Contains(out, "new EdDSA key") {
		t.Fatalf("keys rotate: %v\n%s", err, out)
	}
	sc := bufio.NewScanner(strings.NewReader(out))
	rows := 0
	for sc.Scan() {
		if strings.Contains(sc.Text(), "EdDSA") && !strings.HasPrefix(sc.Text(), "new") {
			rows++
		}
	}
	if rows != 2 {
		t.Errorf("after rotation want 2 EdDSA keys listed, got %d:\n%s", rows, out)
	}
	if _, _, err := runCmd(t, map[string]string{"DATABASE_URL": env["DATABASE_URL"], "SECRET_KEY": strings.Repeat("x", 40)}, "keys", "list"); err == nil ||
		!strings.Contains(err.Error(), "SECRET_KEY") {
		t.Fatalf("wrong SECRET_KEY must be refused clearly, got %v", err)
	}
}

// TestSameBinaryBothBackends runs the CLI and the server on SQLite and on
// PostgreSQL and checks that a client created by the CLI gets tokens from
// the server, the same way on both.
func TestSameBinaryBothBackends(t *testing.T) {
	backends := map[string]func(t *testing.T) string{
		"sqlite":   func(t *testing.T) string { return "sqlite:" + filepath.Join(t.TempDir(), "m.db") },
		"postgres": func(t *testing.T) string { return databasetest.NewPostgresDatabase(t) },
	}
	for name, dsn := range backends {
		t.Run(name, func(t *testing.T) {
			env := map[string]string{"DATABASE_URL": dsn(t), "SECRET_KEY": strings.Repeat("s", 48), "PORT": "0", "LOG_LEVEL": "warn",
				"SMTP_HOST": "127.0.0.1", "SMTP_PORT": "2525"}
			out, _, err := runCmd(t, env, "clients", "create", "--id", "svc", "--grant-types", "client_credentials", "--scopes", "read write")
			if err != nil {
				t.Fatalf("clients create: %v", err)
			}
			secret := regexp.MustCompile(`client_secret: (\S+)`).FindStringSubmatch(out)[1]
			base, _ := startServe(t, env)

			form := url.Values{"grant_type": {"client_credentials"}, "scope": {"read"}}
			req, _ := http.NewRequest(http.MethodPost, base+"/oauth2/token", strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.SetBasicAuth("svc", secret)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var tok map[string]any
			if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != http.StatusOK || tok["access_token"] == nil || tok["token_type"] != "bearer" || tok["scope"] != "read" {
				t.Fatalf("token response %d: %v", resp.StatusCode, tok)
			}
			if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
				t.Errorf("Cache-Control = %q, want no-store", cc)
			}

			req, _ = http.NewRequest(http.MethodPost, base+"/oauth2/token", strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.SetBasicAuth("svc", "wrong-secret")
			resp2, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp2.Body.Close()
			if resp2.StatusCode != http.StatusUnauthorized || resp2.Header.Get("WWW-Authenticate") == "" {
				t.Errorf("wrong secret: status %d, WWW-Authenticate %q", resp2.StatusCode, resp2.Header.Get("WWW-Authenticate"))
			}
		})
	}
}

// TestConfigCheckedBeforeAnythingOpens: a bad value anywhere (here a
// credits setting) stops serve before the database is opened or migrated,
// and every problem is named at once.
func TestConfigCheckedBeforeAnythingOpens(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "data", "m.db")
	_, _, err := runCmd(t, map[string]string{"DATABASE_URL": "sqlite:" + db, "BASE_URL": "https://auth.example.com",
		"CREDITS_TIMEZONE": "Mars/Olympus", "STRIPE_SECRET_KEY": "sk_test_1"}, "serve")
	if err == nil {
		t.Fatal("serve started with a bad configuration")
	}
	for _, want := range []string{"CREDITS_TIMEZONE", "SECRET_KEY", "SMTP_HOST", "STRIPE_WEBHOOK_SECRET"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("problem with %s not reported: %v", want, err)
		}
	}
	if _, err := os.Stat(filepath.Dir(db)); !os.IsNotExist(err) {
		t.Errorf("the database directory exists after a refused start: %v", err)
	}
}

// TestCommandsAreNotDevMode: CLI commands never generate a SECRET_KEY or
// seal keys with one; migrate only migrates.
func TestCommandsAreNotDevMode(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"DATABASE_URL": "sqlite:" + filepath.Join(dir, "m.db")}
	if out, _, err := runCmd(t, env, "migrate"); err != nil || !strings.Contains(out, "migrations applied") {
		t.Fatalf("migrate without SECRET_KEY: %v %q", err, out)
	}
	if _, err := os.Stat(filepath.Join(dir, "secret.key")); !os.IsNotExist(err) {
		t.Errorf("migrate wrote a secret: %v", err)
	}
	if _, _, err := runCmd(t, env, "users", "create", "--email", "a@example.com", "--password", "long enough password"); err != nil {
		t.Errorf("users create needs no SECRET_KEY: %v", err)
	}
	_, _, err := runCmd(t, env, "keys", "rotate")
	if err == nil || !strings.Contains(err.Error(), "SECRET_KEY") {
		t.Fatalf("keys rotate without SECRET_KEY: %v", err)
	}
	// Nothing was sealed with a throwaway key: the real key starts cleanly.
	env["SECRET_KEY"] = strings.Repeat("r", 40)
	out, _, err := runCmd(t, env, "keys", "list")
	if err != nil || strings.Count(out, "signing") != 2 {
		t.Fatalf("keys list with the real key: %v\n%s", err, out)
	}
}

// TestCLIUsersSetRole (issue 11 part A): set-role gives and takes the admin
// role; unknown ids and roles are refused.
func TestCLIUsersSetRole(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"DATABASE_URL": "sqlite:" + filepath.Join(dir, "m.db"), "SECRET_KEY": strings.Repeat("k", 40)}
	if _, _, err := runCmd(t, env, "migrate"); err != nil {
		t.Fatal(err)
	}
	out, _, err := runCmd(t, env, "users", "create", "--email", "grace@example.com", "--password", "correct horse battery")
	if err != nil {
		t.Fatalf("users create: %v", err)
	}
	m := regexp.MustCompile(`id:\s+(\S+)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no id printed: %q", out)
	}
	id := m[1]
	role := func() string {
		t.Helper()
		tool, err := openTool(t.Context(), envFunc(env), io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		defer tool.Close()
		u, err := tool.store.GetUser(t.Context(), id)
		if err != nil {
			t.Fatal(err)
		}
		return u.Role
	}
	if out, _, err := runCmd(t, env, "users", "set-role", id, "admin"); err != nil || !strings.Contains(out, "admin") || role() != "admin" {
		t.Fatalf("set-role admin: %v %q, stored role %q", err, out, role())
	}
	if _, _, err := runCmd(t, env, "users", "set-role", id, "user"); err != nil || role() != "user" {
		t.Fatalf("set-role user: %v, stored role %q", err, role())
	}
	if _, _, err := runCmd(t, env, "users", "set-role", id, "root"); err == nil || role() != "user" {
		t.Errorf("set-role root: %v, stored role %q", err, role())
	}
	if _, _, err := runCmd(t, env, "users", "set-role", "nobody", "admin"); err == nil || !strings.Contains(err.Error(), "no user") {
		t.Errorf("set-role of an unknown id: %v", err)
	}
	if _, stderr, err := runCmd(t, env, "users", "set-role", id); err == nil || !strings.Contains(stderr, "set-role ID admin|user") {
		t.Errorf("set-role without a role: %v %q", err, stderr)
	}
}
