// Command loadgen benchmarks manaauth the way production runs it: it builds
// the binary, gives it a fresh PostgreSQL database, starts `manaauth serve`
// on loopback and drives each scenario with a fixed number of workers, then
// prints requests/s and latency percentiles against the targets as a
// Markdown table, with the CPU time the server and the PostgreSQL backends
// spent per operation (steadier than requests/s on a shared machine, and
// it tells which side to optimise). Run it from the module root:
//
//	go run ./cmd/loadgen -duration 10s
package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/manacore/mana-core-auth/internal/pgbouncer"
)

// idleRSSTarget is the most memory an idle server may hold.
const idleRSSTarget = 64 << 20

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	if errors.Is(err, context.Canceled) {
		fmt.Fprintln(os.Stderr, "loadgen: interrupted")
		os.Exit(130)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	names := make([]string, len(scenarios))
	for i, sc := range scenarios {
		names[i] = sc.Name
	}
	defaultDSN := getenv("TEST_DATABASE_URL")
	if defaultDSN == "" {
		defaultDSN = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
	}
	fs := flag.NewFlagSet("loadgen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	adminDSN := fs.String("database", defaultDSN, "PostgreSQL URL of a user that may CREATE DATABASE")
	duration := fs.Duration("duration", 10*time.Second, "how long each scenario runs")
	workers := fs.Int("concurrency", 16, "concurrent workers per scenario")
	list := fs.String("scenarios", strings.Join(names, ","), "comma-separated scenarios to run")
	keep := fs.Bool("keep", false, "keep the database afterwards (its name is printed)")
	pprofDir := fs.String("pprof", "", "directory for a server CPU profile per scenario")
	data := fs.String("data", "empty", "database contents: empty (only what the scenarios create) or big (1,000,000 grants, 100,000 users with a live session each)")
	viaBouncer := fs.Bool("pgbouncer", false, "connect manaauth to PostgreSQL through PgBouncer in transaction pooling mode")
	prebuilt := fs.String("bin", "", "a manaauth binary to run instead of building this module's (for before/after comparisons)")
	hydraBin := fs.String("hydra", "", "benchmark Ory Hydra (this binary, built outside the module) instead of manaauth: "+strings.Join(hydraScenarios, " and ")+" only")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *data != "empty" && *data != "big" {
		return fmt.Errorf("-data must be empty or big, got %q", *data)
	}
	if *hydraBin != "" {
		if !isFlagSet(fs, "scenarios") {
			*list = strings.Join(hydraScenarios, ",")
		}
		for _, n := range strings.Split(*list, ",") {
			if !slices.Contains(hydraScenarios, strings.TrimSpace(n)) {
				return fmt.Errorf("-hydra runs only %s, not %q", strings.Join(hydraScenarios, ", "), n)
			}
		}
		if *viaBouncer || *data != "empty" || *pprofDir != "" {
			return errors.New("-hydra takes none of -pgbouncer, -data big, -pprof")
		}
	}
	var selected []scenario
	for _, n := range strings.Split(*list, ",") {
		i := slices.Index(names, strings.TrimSpace(n))
		if i < 0 {
			return fmt.Errorf("unknown scenario %q (known: %s)", n, strings.Join(names, ", "))
		}
		sc := scenarios[i]
		if *hydraBin != "" {
			sc.Target, sc.P99 = 0, 0 // the targets are manaauth's
		}
		selected = append(selected, sc)
	}
	if *workers < 1 || *duration <= 0 {
		return errors.New("-concurrency and -duration must be positive")
	}
	if *pprofDir != "" {
		if err := os.MkdirAll(*pprofDir, 0o755); err != nil {
			return err
		}
	}

	tmp, err := os.MkdirTemp("", "loadgen-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	bin := cmp.Or(*hydraBin, *prebuilt)
	if bin == "" {
		fmt.Fprintln(stderr, "building manaauth …")
		if bin, err = buildServer(ctx, tmp, stderr); err != nil {
			return err
		}
	}
	db, err := createDatabase(ctx, *adminDSN)
	if err != nil {
		return err
	}
	if *keep {
		defer fmt.Fprintln(stderr, "database kept:", db.dsn)
	} else {
		defer func() {
			if err := db.drop(); err != nil {
				fmt.Fprintln(stderr, "loadgen:", err)
			}
		}()
	}
	serverDSN, product := db.dsn, "manaauth"
	if *viaBouncer {
		b, err := pgbouncer.Start(ctx, *adminDSN, pgbouncer.Options{PoolSize: 20})
		if err != nil {
			return fmt.Errorf("start pgbouncer: %w", err)
		}
		defer b.Stop()
		u, err := url.Parse(b.URL)
		if err != nil {
			return err
		}
		u.Path = "/" + db.name
		serverDSN, product = u.String(), "manaauth through PgBouncer (transaction pooling)"
	}
	var srv *server
	var l *loader
	if *hydraBin != "" {
		var admin, id, secret string
		if srv, admin, id, secret, err = startHydra(ctx, bin, db.dsn, stderr); err != nil {
			return err
		}
		defer srv.stop()
		l = newLoader(srv.baseURL, *workers, id, secret)
		l.introspectURL = admin + "/admin/oauth2/introspect"
		product = "Ory Hydra (" + filepath.Base(bin) + ", default configuration, opaque tokens)"
	} else {
		if srv, err = newServer(bin, serverDSN, *pprofDir != ""); err != nil {
			return err
		}
		if err := srv.seed(ctx); err != nil {
			return err
		}
		if *data == "big" {
			fmt.Fprintln(stderr, "seeding 1,000,000 grants, 100,000 users and sessions …")
			if err := seedData(ctx, db.dsn, bigUsers, bigSessions, bigGrants, stderr); err != nil {
				return err
			}
		}
		if err := srv.start(ctx, stderr); err != nil {
			srv.stop()
			return err
		}
		defer srv.stop()
		l = newLoader(srv.baseURL, *workers, clientID, clientSecret)
		l.cli = srv.output
		l.people.dsn, l.people.secretKey = db.dsn, srv.secretKey
		if *data == "big" {
			l.people.count = bigSessions
		}
	}
	fmt.Fprintln(stderr, "server up at", srv.baseURL)

	// Idle RSS after start-up has settled, before any load touched it.
	if err := sleep(ctx, 3*time.Second); err != nil {
		return err
	}
	idleRSS, err := srv.rss()
	if err != nil {
		return fmt.Errorf("read server RSS: %w", err)
	}

	defer l.transport.CloseIdleConnections()
	var results []result
	for _, sc := range selected {
		ops, err := sc.prepare(ctx, l, *workers)
		if err != nil {
			return fmt.Errorf("%s: %w", sc.Name, err)
		}
		fmt.Fprintf(stderr, "running %s: %d workers for %s\n", sc.Name, len(ops), *duration)
		srv.resetPeakRSS()
		r, err := measure(ctx, sc, ops, *duration, srv, db, *pprofDir, stderr)
		if err != nil {
			return err
		}
		r.RSS, _ = srv.rss()
		r.PeakRSS, _ = srv.peakRSS()
		results = append(results, r)
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	loadedRSS, _ := srv.rss()
	// The spends must leave every balance equal to its postings.
	var ledgerOK bool
	var ledgerOut string
	if l.spenders.used {
		ledgerOK, ledgerOut, err = verifyLedger(ctx, l)
		if err != nil {
			return fmt.Errorf("credits verify: %w", err)
		}
	}

	spendNote := ""
	if l.spenders.used {
		spendNote = fmt.Sprintf(" (spend scenarios: %d, one per user)", spendUsers)
	}
	dataNote := "empty database"
	if *data == "big" {
		dataNote = "database seeded with 1,000,000 grants and 100,000 users with a live session each"
	}
	fmt.Fprintf(stdout, "\n%s on PostgreSQL, %s; %d workers%s, %s per scenario; server, database and load generator share %d CPUs\n\n",
		product, dataNote, *workers, spendNote, *duration, runtime.NumCPU())
	writeTable(stdout, results, idleRSS, idleRSSTarget)
	fmt.Fprintf(stdout, "\nRSS after load: %.1f MiB\n", float64(loadedRSS)/(1<<20))
	if l.spenders.used {
		fmt.Fprintf(stdout, "\n`manaauth credits verify` after the spends: %s\n", ledgerVerdict(ledgerOK, ledgerOut))
		if !ledgerOK {
			return errors.New("credits ledger mismatch after the spend scenarios")
		}
	}
	return nil
}

// measure runs one scenario and charges it the CPU time the server and the
// database used meanwhile; with pprofDir it also saves a server profile.
func measure(ctx context.Context, sc scenario, ops []op, duration time.Duration, srv *server, db *database, pprofDir string, stderr io.Writer) (result, error) {
	srvCPU := cpuTime(srv.pid())
	dbCPU, err := db.backendCPU(ctx)
	if err != nil {
		return result{}, fmt.Errorf("read database CPU: %w", err)
	}
	profiled := make(chan error, 1)
	if pprofDir != "" {
		go func() { profiled <- profileDuring(ctx, srv, duration, filepath.Join(pprofDir, sc.Name+".pprof")) }()
	} else {
		profiled <- nil
	}
	r := runScenario(ctx, sc, ops, duration, stderr)
	r.ServerCPU = cpuTime(srv.pid()) - srvCPU
	if after, err := db.backendCPU(ctx); err == nil {
		for pid, t := range after {
			r.DBCPU += t - dbCPU[pid] // a backend that started meanwhile had 0
		}
	}
	if err := <-profiled; err != nil {
		fmt.Fprintf(stderr, "  %s: cpu profile: %v\n", sc.Name, err)
	}
	return r, nil
}

// profileDuring takes a CPU profile from the middle of a scenario, away
// from the ramp-up and the tail: up to 5 s of it.
func profileDuring(ctx context.Context, srv *server, duration time.Duration, path string) error {
	length := min(5*time.Second, duration-time.Second)
	if length < time.Second {
		return errors.New("-duration too short to profile (need ≥ 2s)")
	}
	if err := sleep(ctx, (duration-length)/2); err != nil {
		return err
	}
	return srv.profile(ctx, length, path)
}

func isFlagSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
