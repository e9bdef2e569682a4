package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// Fixed identities the scenarios use. The redirect URI is never contacted:
// the flow stops at the redirect that carries the code.
const (
	userEmail    = "loadgen@example.com"
	userPassword = "loadgen-password-1"
	clientID     = "loadgen"
	clientSecret = "loadgen-secret-0123456789abcdef"
	redirectURI  = "http://127.0.0.1:9/callback"
	allScopes    = "openid profile email offline_access"
)

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on supported platforms
	return hex.EncodeToString(b)
}

// buildServer compiles cmd/manaauth into dir, from the module the loader
// runs in, so the numbers are for an optimised binary and not `go run`.
func buildServer(ctx context.Context, dir string, stderr io.Writer) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("run loadgen inside the mana-core-auth module")
	}
	bin := filepath.Join(dir, "manaauth")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/manaauth")
	cmd.Dir = filepath.Dir(gomod)
	cmd.Stdout, cmd.Stderr = stderr, stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("build manaauth: %w", err)
	}
	return bin, nil
}

// database is the throw-away PostgreSQL database of one run.
type database struct {
	adminDSN string
	name     string
	dsn      string // the database itself, for the server
}

// createDatabase makes a fresh database next to the one adminDSN names.
func createDatabase(ctx context.Context, adminDSN string) (*database, error) {
	u, err := url.Parse(adminDSN)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return nil, fmt.Errorf("-database must be a postgres:// URL, got %q", adminDSN)
	}
	conn, err := pgx.Connect(ctx, adminDSN)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", u.Redacted(), err)
	}
	defer conn.Close(ctx)
	db := &database{adminDSN: adminDSN, name: "loadgen_" + randomHex(6)}
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+db.name); err != nil {
		return nil, fmt.Errorf("create database: %w", err)
	}
	u.Path = "/" + db.name
	db.dsn = u.String()
	return db, nil
}

// drop removes the database. It uses a fresh context so that it still
// works after Ctrl-C cancelled the run's.
func (db *database) drop() error {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, db.adminDSN)
	if err != nil {
		return fmt.Errorf("drop database %s: %w", db.name, err)
	}
	defer conn.Close(ctx)
	// FORCE ends any connection a crashed server left behind.
	if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+db.name+" WITH (FORCE)"); err != nil {
		return fmt.Errorf("drop database %s: %w", db.name, err)
	}
	return nil
}

// backendCPU maps each PostgreSQL process serving the database to the CPU
// time it has used, so a scenario can be charged for the database's work
// too: on a shared 2-core box CPU per request is a steadier measure than
// requests/s.
func (db *database) backendCPU(ctx context.Context) (map[int]time.Duration, error) {
	conn, err := pgx.Connect(ctx, db.adminDSN)
	if err != nil {
		return nil, err
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, "SELECT pid FROM pg_stat_activity WHERE datname = $1", db.name)
	if err != nil {
		return nil, err
	}
	pids, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	if err != nil {
		return nil, err
	}
	m := make(map[int]time.Duration, len(pids))
	for _, pid := range pids {
		m[int(pid)] = cpuTime(int(pid))
	}
	return m, nil
}

// cpuTime is the user plus system CPU time a process has used (Linux
// /proc; clock ticks are 1/100 s on every Linux platform Go supports). A
// process that is gone counts as zero.
func cpuTime(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	return parseStatCPU(string(b))
}

// parseStatCPU reads utime and stime (fields 14 and 15) from a
// /proc/PID/stat line. The command name may contain spaces and
// parentheses, so counting starts after its last ')'.
func parseStatCPU(stat string) time.Duration {
	f := strings.Fields(stat[strings.LastIndexByte(stat, ')')+1:])
	if len(f) < 13 {
		return 0
	}
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(utime+stime) * time.Second / 100
}

// freePort asks the kernel for an unused port. The issuer must be known
// before the server starts, so PORT=0 cannot be used; the tiny race with
// another process taking the port is acceptable for a benchmark.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// server is the manaauth process under test.
type server struct {
	bin       string
	env       []string
	baseURL   string
	pprofAddr string // empty unless -pprof
	secretKey string // its SECRET_KEY
	cmd       *exec.Cmd
	exited    chan struct{}
}

func newServer(bin, dsn string, withPprof bool) (*server, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	s := &server{bin: bin, baseURL: fmt.Sprintf("http://127.0.0.1:%d", port), secretKey: "loadgen-secret-key-" + randomHex(16)}
	s.env = append(os.Environ(),
		"DATABASE_URL="+dsn,
		"BASE_URL="+s.baseURL,
		"PORT="+strconv.Itoa(port),
		// Loopback only: the ready line then names the URL, and nothing
		// outside this machine can reach the benchmark server.
		"LISTEN_ADDR=127.0.0.1:"+strconv.Itoa(port),
		"SECRET_KEY="+s.secretKey,
		"LOG_LEVEL=warn",
		// The load comes from one address: lift the per-IP limits that
		// protect the login from exactly this traffic pattern.
		"RATE_LIMITS=login=100000000/1m,auth=100000000/1m,token=100000000/1m,introspect=100000000/1m,credits=100000000/1m",
		// serve refuses to start without mail outside --dev; the load never
		// sends any.
		"SMTP_HOST=127.0.0.1",
	)
	if withPprof {
		pp, err := freePort()
		if err != nil {
			return nil, err
		}
		s.pprofAddr = fmt.Sprintf("127.0.0.1:%d", pp)
		s.env = append(s.env, "PPROF_ADDR="+s.pprofAddr)
	}
	return s, nil
}

// cli runs one manaauth subcommand to completion.
func (s *server) cli(ctx context.Context, args ...string) error {
	_, err := s.output(ctx, args...)
	return err
}

// output runs one manaauth subcommand to completion and returns its
// combined output, also when it fails.
func (s *server) output(ctx context.Context, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, s.bin, args...)
	cmd.Env = s.env
	out, err := cmd.CombinedOutput()
	if err != nil {
		return out, fmt.Errorf("manaauth %s: %w\n%s", strings.Join(args[:min(2, len(args))], " "), err, out)
	}
	return out, nil
}

// seed migrates the database and creates the user and client.
func (s *server) seed(ctx context.Context) error {
	steps := [][]string{
		{"migrate"},
		{"users", "create", "--email", userEmail, "--password", userPassword, "--verified"},
		{"clients", "create", "--id", clientID, "--secret", clientSecret, "--redirect-uri", redirectURI,
			"--grant-types", "authorization_code,refresh_token,client_credentials", "--scopes", allScopes, "--trusted"},
	}
	for _, args := range steps {
		if err := s.cli(ctx, args...); err != nil {
			return err
		}
	}
	return nil
}

var listeningRE = regexp.MustCompile(`manaauth listening on (http://\S+)`)

// start runs `manaauth serve` and waits for its ready line.
func (s *server) start(ctx context.Context, stderr io.Writer) error {
	cmd := exec.Command(s.bin, "serve")
	cmd.Env = s.env
	cmd.Stderr = stderr // LOG_LEVEL=warn: only what deserves attention
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start manaauth serve: %w", err)
	}
	s.cmd, s.exited = cmd, make(chan struct{})
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stdout)
		seen := false
		for sc.Scan() { // keep draining so the server never blocks on stdout
			if !seen && listeningRE.MatchString(sc.Text()) {
				seen = true
				close(ready)
			}
		}
	}()
	go func() { _ = cmd.Wait(); close(s.exited) }()
	select {
	case <-ready:
		return nil
	case <-s.exited:
		return fmt.Errorf("manaauth serve exited during start-up: %v", cmd.ProcessState)
	case <-time.After(90 * time.Second): // start-up migrates and may wait for a busy machine
		return errors.New("manaauth serve did not report ready within 90s")
	case <-ctx.Done():
		return ctx.Err()
	}
}

// stop asks for a graceful shutdown and kills the server if that hangs.
func (s *server) stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(15 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.exited
	}
}

func (s *server) pid() int { return s.cmd.Process.Pid }

// rss reads the server's resident set size from /proc (Linux only).
func (s *server) rss() (uint64, error) { return s.status("VmRSS") }

// peakRSS is the most the server's resident set has been since it
// started or since resetPeakRSS (VmHWM).
func (s *server) peakRSS() (uint64, error) { return s.status("VmHWM") }

// resetPeakRSS starts a new VmHWM window (Linux: writing 5 to clear_refs),
// so each scenario's peak is its own. Where that is not allowed the peak
// stays the one since start, which the caller cannot tell apart: it only
// makes the column an upper bound.
func (s *server) resetPeakRSS() {
	_ = os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", s.pid()), []byte("5"), 0)
}

func (s *server) status(field string) (uint64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", s.pid()))
	if err != nil {
		return 0, err
	}
	for line := range strings.Lines(string(b)) {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			kb, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb << 10, err
		}
	}
	return 0, fmt.Errorf("no %s in /proc status", field)
}

// profile saves a CPU profile of the server taken over d into path.
func (s *server) profile(ctx context.Context, d time.Duration, path string) error {
	secs := max(1, int(d/time.Second))
	u := fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", s.pprofAddr, secs)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	// Not http.DefaultClient: it honours HTTP_PROXY, and this is loopback.
	resp, err := (&http.Client{Transport: &http.Transport{}}).Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("pprof: %s", resp.Status)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
