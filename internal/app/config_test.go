package app

import (
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

// TestLoadConfigReportsEverything: every problem is reported at once,
// whatever part of the system it belongs to.
func TestLoadConfigReportsEverything(t *testing.T) {
	t.Parallel()
	_, err := LoadConfig(env(map[string]string{"BASE_URL": "https://auth.mana.how"}), Serve)
	if err == nil || !strings.Contains(err.Error(), "SECRET_KEY is required") || !strings.Contains(err.Error(), "SMTP_HOST is required") {
		t.Errorf("serve without SECRET_KEY and SMTP_HOST: %v; want both named", err)
	}
	bad := map[string]string{
		"DATABASE_URL":          "mysql://x",
		"BASE_URL":              "http://auth.mana.how",
		"PORT":                  "99999",
		"SECRET_KEY":            "short",
		"LOG_LEVEL":             "loud",
		"REFRESH_GRACE":         "-1s",
		"SESSION_MAX_LIFETIME":  "0",
		"CORS_ORIGINS":          "*",
		"TRUSTED_PROXIES":       "not-an-ip",
		"REDIRECT_LOCALHOST":    "maybe",
		"RATE_LIMITS":           "login=ten/1m",
		"REDIS_URL":             "tcp://nowhere",
		"SMTP_HOST":             "mail example",
		"CREDITS_TIMEZONE":      "Mars/Olympus",
		"CREDITS_SIGNUP_BONUS":  "-3",
		"STRIPE_SECRET_KEY":     "sk_test_1",
		"PPROF_ADDR":            "6060",
		"SESSION_IDLE_TIMEOUT":  "soon",
		"KEY_ROTATION_DELAY":    "later",
		"SMTP_PORT":             "0",
		"JWT_AUDIENCE":          "manacore",
		"STRIPE_WEBHOOK_SECRET": "",
		// issue 13 (observability)
		"METRICS_ADDR":                "9100",
		"OTEL_EXPORTER_OTLP_ENDPOINT": "otel-collector:4318",
	}
	_, err = LoadConfig(env(bad), Serve)
	var p ProblemsError
	if err == nil {
		t.Fatal("a bad configuration was accepted")
	}
	p, _ = err.(ProblemsError)
	for _, want := range []string{"DATABASE_URL", "BASE_URL", "PORT", "SECRET_KEY", "LOG_LEVEL", "REFRESH_GRACE", "SESSION_MAX_LIFETIME",
		"CORS_ORIGINS", "TRUSTED_PROXIES", "REDIRECT_LOCALHOST", "RATE_LIMITS", "REDIS_URL", "SMTP", "CREDITS_TIMEZONE",
		"CREDITS_SIGNUP_BONUS", "STRIPE_WEBHOOK_SECRET", "PPROF_ADDR", "SESSION_IDLE_TIMEOUT", "KEY_ROTATION_DELAY", "SMTP_PORT",
		"METRICS_ADDR", "OTEL_EXPORTER_OTLP_ENDPOINT"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("problem with %s not reported:\n%v", want, err)
		}
	}
	if len(p) < 22 {
		t.Errorf("%d problems, want one line per bad variable:\n%v", len(p), err)
	}
}

// TestModes: what each mode requires.
func TestModes(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	base := map[string]string{"DATABASE_URL": "sqlite:" + filepath.Join(dir, "db", "m.db")}
	for _, mode := range []Mode{Dev, Tool} {
		c, err := LoadConfig(env(base), mode)
		if err != nil {
			t.Fatalf("mode %d without SECRET_KEY or SMTP_HOST: %v", mode, err)
		}
		if c.DataDir != filepath.Join(dir, "db") || len(c.SecretKey) != 0 {
			t.Errorf("mode %d: data dir %q, secret %q", mode, c.DataDir, c.SecretKey)
		}
	}
	// Loading opens and writes nothing, in any mode.
	if _, err := os.Stat(filepath.Join(dir, "db")); !os.IsNotExist(err) {
		t.Errorf("LoadConfig created the data directory: %v", err)
	}

	// A tool never makes a secret up; it may use the one --dev keeps.
	tool, _ := LoadConfig(env(base), Tool)
	if err := tool.RequireSecret("keys list", os.Stderr); err == nil || !strings.Contains(err.Error(), "SECRET_KEY") || !strings.Contains(err.Error(), "keys list") {
		t.Errorf("RequireSecret without any key: %v", err)
	}
	if err := tool.UseDevSecret(os.Stderr); err == nil {
		t.Error("a tool generated a development secret")
	}
	if _, err := os.Stat(filepath.Join(dir, "db", "secret.key")); !os.IsNotExist(err) {
		t.Fatalf("secret file written outside --dev: %v", err)
	}
	dev, _ := LoadConfig(env(base), Dev)
	if err := dev.UseDevSecret(&strings.Builder{}); err != nil || len(dev.SecretKey) < 32 {
		t.Fatalf("dev secret: %v", err)
	}
	again, _ := LoadConfig(env(base), Dev)
	if err := again.UseDevSecret(os.Stderr); err != nil || string(again.SecretKey) != string(dev.SecretKey) {
		t.Errorf("second --dev start got another secret: %v", err)
	}
	tool, _ = LoadConfig(env(base), Tool)
	if err := tool.RequireSecret("keys list", &strings.Builder{}); err != nil || string(tool.SecretKey) != string(dev.SecretKey) {
		t.Errorf("tool did not use the development secret: %v", err)
	}
	// Never for PostgreSQL: a development key does not belong to it.
	pg, _ := LoadConfig(env(map[string]string{"DATABASE_URL": "postgres://u@127.0.0.1/db"}), Tool)
	pg.DataDir = filepath.Join(dir, "db")
	if err := pg.RequireSecret("keys rotate", os.Stderr); err == nil {
		t.Error("a PostgreSQL tool used a development secret file")
	}
}

// TestAdminBackends: the registry file wins over the old variables, one
// ADMIN_SERVICE_KEY fills in missing keys, and a broken file is a problem
// at start, not a surprise on the admin page.
func TestAdminBackends(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "backends.yaml")
	if err := os.WriteFile(file, []byte("- {id: chat, url: 'http://chat:3002'}\n- {id: todo, url: 'http://todo:3018', serviceKey: own}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := LoadConfig(env(map[string]string{"ADMIN_BACKENDS_FILE": file, "ADMIN_SERVICE_KEY": "shared", "CHAT_BACKEND_URL": "http://ignored"}), Tool)
	if err != nil {
		t.Fatal(err)
	}
	bs := c.Admin.Backends
	if len(bs) != 2 || bs[0].URL != "http://chat:3002" || bs[0].ServiceKey != "shared" || bs[1].ServiceKey != "own" {
		t.Errorf("from the file: %+v", bs)
	}
	c, err = LoadConfig(env(map[string]string{"CHAT_BACKEND_URL": "http://chat:3002", "ADMIN_SERVICE_KEY": "shared"}), Tool)
	if err != nil || len(c.Admin.Backends) != 1 || c.Admin.Backends[0].ID != "chat" || c.Admin.Backends[0].ServiceKey != "shared" {
		t.Errorf("from the old variables: %+v %v", c.Admin.Backends, err)
	}
	c, err = LoadConfig(env(map[string]string{"CHAT_BACKEND_URL": "http://chat:3002"}), Tool)
	if err != nil || len(c.Admin.Backends) != 1 || c.Admin.Backends[0].ServiceKey != "" {
		t.Errorf("no key: %+v %v (want the backend listed, without a default key)", c.Admin.Backends, err)
	}
	for _, bad := range []map[string]string{
		{"ADMIN_BACKENDS_FILE": filepath.Join(t.TempDir(), "missing.yaml")},
		{"CHAT_BACKEND_URL": "chat:3002"},
	} {
		if _, err := LoadConfig(env(bad), Tool); err == nil {
			t.Errorf("%v: accepted", bad)
		}
	}
}

// TestAdminUserIDs (issue 11 part A): ADMIN_USER_IDS names admins by id,
// separated by commas or spaces.
func TestAdminUserIDs(t *testing.T) {
	t.Parallel()
	c, err := LoadConfig(env(map[string]string{"ADMIN_USER_IDS": " u-1, u-2 u-3,,"}), Tool)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(c.Admin.AdminIDs, []string{"u-1", "u-2", "u-3"}) {
		t.Errorf("AdminIDs = %q", c.Admin.AdminIDs)
	}
	if c, _ := LoadConfig(env(map[string]string{}), Tool); len(c.Admin.AdminIDs) != 0 {
		t.Errorf("AdminIDs without the variable = %q", c.Admin.AdminIDs)
	}
}

// TestListenAddrAndDefaultIssuer (issue 12): the default issuer follows
// PORT, and --dev names it after the port really bound; LISTEN_ADDR is
// every interface in production and loopback in --dev unless set.
func TestListenAddrAndDefaultIssuer(t *testing.T) {
	t.Parallel()
	prod := map[string]string{"SECRET_KEY": strings.Repeat("k", 40), "SMTP_HOST": "127.0.0.1", "PORT": "3902"}
	c, err := LoadConfig(env(prod), Serve)
	if err != nil {
		t.Fatal(err)
	}
	if c.ListenAddr != ":3902" || c.BaseURL != "http://localhost:3902" || !c.BaseURLDefault {
		t.Errorf("production: listen %q, issuer %q (default %v)", c.ListenAddr, c.BaseURL, c.BaseURLDefault)
	}
	c, err = LoadConfig(env(map[string]string{"PORT": "0"}), Dev)
	if err != nil {
		t.Fatal(err)
	}
	if c.ListenAddr != "127.0.0.1:0" {
		t.Errorf("--dev listens on %q", c.ListenAddr)
	}
	c.FollowListener(&net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 41234})
	if c.BaseURL != "http://localhost:41234" {
		t.Errorf("--dev issuer after listening: %q", c.BaseURL)
	}
	c, err = LoadConfig(env(map[string]string{"BASE_URL": "http://localhost:9000/", "LISTEN_ADDR": "0.0.0.0:3001"}), Dev)
	if err != nil {
		t.Fatal(err)
	}
	c.FollowListener(&net.TCPAddr{IP: net.IPv4zero, Port: 3001})
	if c.BaseURL != "http://localhost:9000" || c.ListenAddr != "0.0.0.0:3001" {
		t.Errorf("a set BASE_URL and LISTEN_ADDR are kept: %q %q", c.BaseURL, c.ListenAddr)
	}
	for _, bad := range []string{"3001", "localhost", "host:port", "[::1]:70000"} {
		if _, err := LoadConfig(env(map[string]string{"LISTEN_ADDR": bad}), Dev); err == nil || !strings.Contains(err.Error(), "LISTEN_ADDR") {
			t.Errorf("LISTEN_ADDR=%q: %v", bad, err)
		}
	}
}

// TestOverloadConfig (issue 13): the hashing limits and the shutdown
// timing, their defaults and their checks.
func TestOverloadConfig(t *testing.T) {
	t.Parallel()
	c, err := LoadConfig(env(map[string]string{}), Tool)
	if err != nil {
		t.Fatal(err)
	}
	ph := c.PasswordHashing
	if ph.Slots < 1 || ph.Queue != 4*ph.Slots || ph.MaxWait != 500*time.Millisecond {
		t.Errorf("hashing defaults %+v, want GOMAXPROCS slots, 4× queue, 500ms wait", ph)
	}
	if c.ShutdownTimeout != 20*time.Second || c.ShutdownDelay != 0 {
		t.Errorf("tool shutdown %v/%v, want 20s and no delay", c.ShutdownTimeout, c.ShutdownDelay)
	}
	prod := map[string]string{"SECRET_KEY": strings.Repeat("k", 40), "SMTP_HOST": "127.0.0.1"}
	if c, err = LoadConfig(env(prod), Serve); err != nil || c.ShutdownDelay != 2*time.Second {
		t.Errorf("serve shutdown delay: %v, %v; want 2s", c, err)
	}
	c, err = LoadConfig(env(map[string]string{"PASSWORD_HASH_CONCURRENCY": "3", "PASSWORD_HASH_QUEUE": "0",
		"PASSWORD_HASH_MAX_WAIT": "250ms", "SHUTDOWN_TIMEOUT": "30s", "SHUTDOWN_DELAY": "5s"}), Tool)
	if err != nil {
		t.Fatal(err)
	}
	if want := (PasswordHashing{Slots: 3, Queue: 0, MaxWait: 250 * time.Millisecond}); c.PasswordHashing != want {
		t.Errorf("hashing %+v, want %+v", c.PasswordHashing, want)
	}
	if c.ShutdownTimeout != 30*time.Second || c.ShutdownDelay != 5*time.Second {
		t.Errorf("shutdown %v/%v, want 30s/5s", c.ShutdownTimeout, c.ShutdownDelay)
	}
	_, err = LoadConfig(env(map[string]string{"PASSWORD_HASH_CONCURRENCY": "0", "PASSWORD_HASH_QUEUE": "-1",
		"PASSWORD_HASH_MAX_WAIT": "0", "SHUTDOWN_TIMEOUT": "5s", "SHUTDOWN_DELAY": "5s"}), Tool)
	for _, want := range []string{"PASSWORD_HASH_CONCURRENCY", "PASSWORD_HASH_QUEUE", "PASSWORD_HASH_MAX_WAIT", "SHUTDOWN_DELAY"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("problem with %s not reported: %v", want, err)
		}
	}
}
