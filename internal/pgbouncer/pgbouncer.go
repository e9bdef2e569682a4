// Package pgbouncer starts a throw-away PgBouncer in transaction pooling
// mode in front of a PostgreSQL server, for the tests and the load
// generator that check manaauth behind a pooler: each transaction may run
// on a different server connection, so anything the app keeps in a
// session (named prepared statements, SET, session advisory locks,
// LISTEN) breaks there first.
package pgbouncer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// DefaultBinary is where Debian's pgbouncer package installs the daemon.
const DefaultBinary = "/usr/sbin/pgbouncer"

// Options tunes Start; the zero value is usable.
type Options struct {
	// Binary is the pgbouncer executable: default $PGBOUNCER, else
	// DefaultBinary, else "pgbouncer" on PATH.
	Binary string
	// PoolSize is the number of server connections per database and user
	// (default_pool_size); default 10.
	PoolSize int
	// MaxClientConn bounds client connections (max_client_conn); default 1000.
	MaxClientConn int
	// User is the account pgbouncer switches to when started as root,
	// which it refuses to run as; default "postgres", else "nobody".
	User string
}

// Bouncer is a running PgBouncer.
type Bouncer struct {
	// URL is the PostgreSQL URL to connect through the pooler: the
	// server's URL with the pooler's address and
	// default_query_exec_mode=exec, the pgx mode that works in
	// transaction pooling (no named prepared statements). Other databases
	// of the same server are reachable by changing the path.
	URL string
	// Addr is the pooler's host:port.
	Addr string

	cmd      *exec.Cmd
	dir      string
	stderr   *syncBuffer
	exited   chan struct{}
	waitErr  error
	stopOnce sync.Once
}

// Binary finds the pgbouncer executable (see Options.Binary).
func Binary() (string, error) {
	if p := os.Getenv("PGBOUNCER"); p != "" {
		return p, nil
	}
	if _, err := os.Stat(DefaultBinary); err == nil {
		return DefaultBinary, nil
	}
	p, err := exec.LookPath("pgbouncer")
	if err != nil {
		return "", fmt.Errorf("%w (looked for $PGBOUNCER, %s and pgbouncer on PATH; apt-get install pgbouncer)", ErrNotInstalled, DefaultBinary)
	}
	return p, nil
}

// Start runs pgbouncer on a free loopback port in transaction pooling
// mode in front of the server serverURL (a postgres:// URL) names, and
// waits until it passes a query through. Stop ends it.
func Start(ctx context.Context, serverURL string, o Options) (*Bouncer, error) {
	bin := o.Binary
	if bin == "" {
		var err error
		if bin, err = Binary(); err != nil {
			return nil, err
		}
	}
	if o.PoolSize <= 0 {
		o.PoolSize = 10
	}
	if o.MaxClientConn <= 0 {
		o.MaxClientConn = 1000
	}
	cc, err := pgconn.ParseConfig(serverURL)
	if err != nil {
		return nil, fmt.Errorf("pgbouncer: server URL: %w", err)
	}
	u, err := url.Parse(serverURL)
	if err != nil {
		return nil, fmt.Errorf("pgbouncer: server URL: %w", err)
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "pgbouncer-")
	if err != nil {
		return nil, fmt.Errorf("pgbouncer: %w", err)
	}
	b := &Bouncer{dir: dir, stderr: &syncBuffer{}, exited: make(chan struct{})}
	ok := false
	defer func() {
		if !ok {
			b.Stop()
		}
	}()

	// auth_type=any: clients are not checked (the pooler listens on
	// loopback only) and every pool logs in to the server as cc.User.
	// The wildcard database forwards whatever database a client names, so
	// tests can create scratch databases behind one pooler.
	server := fmt.Sprintf("host=%s port=%d user=%s", quote(cc.Host), cc.Port, quote(cc.User))
	if cc.Password != "" {
		server += " password=" + quote(cc.Password)
	}
	ini := fmt.Sprintf(`[databases]
* = %s

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = %d
unix_socket_dir =
auth_type = any
pool_mode = transaction
default_pool_size = %d
max_client_conn = %d
server_reset_query =
ignore_startup_parameters = extra_float_digits
server_tls_sslmode = %s
`, server, port, o.PoolSize, o.MaxClientConn, sslmode(cc))
	iniPath := filepath.Join(dir, "pgbouncer.ini")
	if err := os.WriteFile(iniPath, []byte(ini), 0o600); err != nil {
		return nil, fmt.Errorf("pgbouncer: write config: %w", err)
	}

	args := []string{iniPath}
	if os.Geteuid() == 0 {
		// pgbouncer refuses to run as root; -u makes it drop to another
		// account, which must be able to read its configuration.
		name, err := dropTo(o.User, dir, iniPath)
		if err != nil {
			return nil, err
		}
		args = []string{"-u", name, iniPath}
	}
	b.cmd = exec.Command(bin, args...)
	b.cmd.Stdout, b.cmd.Stderr = b.stderr, b.stderr
	b.cmd.SysProcAttr = sysProcAttr()
	if err := b.cmd.Start(); err != nil {
		return nil, fmt.Errorf("pgbouncer: start %s: %w", bin, err)
	}
	go func() { b.waitErr = b.cmd.Wait(); close(b.exited) }()

	b.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	u.Host = b.Addr
	q := u.Query()
	q.Set("sslmode", "disable")
	q.Set("default_query_exec_mode", "exec")
	q.Del("host")
	q.Del("port")
	u.RawQuery = q.Encode()
	b.URL = u.String()
	if err := b.waitReady(ctx); err != nil {
		return nil, err
	}
	ok = true
	return b, nil
}

// waitReady polls until a query passes through the pooler, the process
// exits, or ctx or 10 s run out.
func (b *Bouncer) waitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	var last error
	for {
		select {
		case <-b.exited:
			return fmt.Errorf("pgbouncer exited at start (%v): %s", b.waitErr, strings.TrimSpace(b.stderr.String()))
		default:
		}
		last = ping(ctx, b.URL)
		if last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("pgbouncer: not ready: %w (last error: %v); log: %s", ctx.Err(), last, strings.TrimSpace(b.stderr.String()))
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func ping(ctx context.Context, dsn string) error {
	pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	conn, err := pgx.Connect(pctx, dsn)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var one int
	return conn.QueryRow(pctx, "SELECT 1").Scan(&one)
}

// Log is what pgbouncer has written so far, for a failing test's message.
func (b *Bouncer) Log() string { return b.stderr.String() }

// Stop ends pgbouncer (SIGTERM: immediate shutdown, closing client
// connections) and removes its files. It is safe to call more than once.
func (b *Bouncer) Stop() {
	b.stopOnce.Do(func() {
		if b.cmd != nil && b.cmd.Process != nil {
			_ = b.cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-b.exited:
			case <-time.After(5 * time.Second):
				_ = b.cmd.Process.Kill()
				<-b.exited
			}
		}
		_ = os.RemoveAll(b.dir)
	})
}

// dropTo picks the account pgbouncer runs as under root and hands it the
// configuration directory.
func dropTo(name, dir, ini string) (string, error) {
	names := []string{name}
	if name == "" {
		names = []string{"postgres", "nobody"}
	}
	for _, n := range names {
		acct, err := user.Lookup(n)
		if err != nil {
			continue
		}
		uid, err1 := strconv.Atoi(acct.Uid)
		gid, err2 := strconv.Atoi(acct.Gid)
		if err1 != nil || err2 != nil {
			continue
		}
		for _, p := range []string{dir, ini} {
			if err := os.Chown(p, uid, gid); err != nil {
				return "", fmt.Errorf("pgbouncer: hand %s to %s: %w", p, n, err)
			}
		}
		return n, nil
	}
	return "", fmt.Errorf("pgbouncer refuses to run as root and none of the accounts %v exists", names)
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("pgbouncer: find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// quote makes v one value of a pgbouncer connection string.
func quote(v string) string {
	return "'" + strings.ReplaceAll(v, "'", "''") + "'"
}

// sslmode carries the server URL's TLS wish to pgbouncer's server side:
// without TLS in the URL's config, plain connections.
func sslmode(cc *pgconn.Config) string {
	if cc.TLSConfig == nil {
		return "disable"
	}
	return "prefer"
}

// syncBuffer is a bytes.Buffer the process and readers share.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}

// ErrNotInstalled is what Binary's error wraps when no pgbouncer is found.
var ErrNotInstalled = errors.New("pgbouncer is not installed (apt-get install pgbouncer)")
