package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"strconv"
	"strings"
	"syscall"

	"github.com/KimMachineGun/automemlimit/memlimit"

	"github.com/manacore/mana-core-auth/internal/app"
	"github.com/manacore/mana-core-auth/provider/httpx"
)

func cmdServe(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dev := fs.Bool("dev", false, "development mode: http issuer, generated SECRET_KEY, demo client, user and app at /demo")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	mode := app.Serve
	if *dev {
		mode = app.Dev
	}
	cfg, err := app.LoadConfig(getenv, mode)
	if err != nil {
		return err
	}
	if err := cfg.UseDevSecret(stderr); err != nil {
		return err
	}
	// Listen before anything is printed: a busy port is the newcomer's
	// most likely problem, and the demo block must not scroll it away.
	ln, err := net.Listen("tcp", cfg.ListenAddr)
	if err != nil {
		if errors.Is(err, syscall.EADDRINUSE) {
			return fmt.Errorf("cannot listen on %s: the port is already in use (another manaauth?); "+
				"stop that process or choose another port, e.g. PORT=3002 make run", cfg.ListenAddr)
		}
		return fmt.Errorf("listen on %s: %w", cfg.ListenAddr, err)
	}
	defer ln.Close()
	cfg.FollowListener(ln.Addr())
	logger := newLogger(stderr, cfg.LogLevel, *dev)
	setMemoryLimit(getenv, logger)
	a, err := app.New(ctx, cfg, app.Options{Logger: logger, Version: runningVersion()})
	if err != nil {
		return err
	}
	closeApp := true
	defer func() {
		// Not with jobs still running: closing the database pool would wait
		// for their connections, past SHUTDOWN_TIMEOUT.
		if closeApp {
			_ = a.Close()
		}
	}()
	if *dev {
		demo, err := ensureDemo(ctx, a, ln.Addr(), stdout)
		if err != nil {
			return fmt.Errorf("create demo data: %w", err)
		}
		if demo != nil {
			mux := http.NewServeMux()
			mux.Handle("/demo", demo)
			mux.Handle("/demo/", demo)
			mux.Handle("/", a.Handler)
			a.Handler = mux
		}
	}
	bound := ln.Addr().String()
	fmt.Fprintf(stdout, "manaauth listening on %s (issuer %s)\n", displayAddr(ln.Addr()), cfg.BaseURL)
	logger.Info("serving", "addr", bound, "issuer", cfg.BaseURL, "dev", *dev)
	if err := a.Run(ctx, ln); err != nil {
		closeApp = !errors.Is(err, app.ErrJobsStillRunning)
		return err
	}
	logger.Info("stopped")
	return nil
}

// displayAddr is the bound address as a URL when it is one host, and says
// "every interface" when it is not, so nobody mistakes *:3001 for loopback.
func displayAddr(addr net.Addr) string {
	tcp, ok := addr.(*net.TCPAddr)
	if !ok {
		return addr.String()
	}
	if tcp.IP == nil || tcp.IP.IsUnspecified() {
		return fmt.Sprintf("%s (every interface, port %d)", addr.String(), tcp.Port)
	}
	return "http://" + net.JoinHostPort(tcp.IP.String(), strconv.Itoa(tcp.Port))
}

// parseFlags parses a subcommand's flags; a wrong flag, --help (which run
// turns into success) or a stray argument is a usage error.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(fs.Output(), "unexpected arguments: %s\n", strings.Join(fs.Args(), " "))
		return errUsage
	}
	return nil
}

// setMemoryLimit gives the garbage collector a soft memory limit (issue
// 13): GOMEMLIMIT when set (the Go runtime has applied it already), else
// 90 % of the container's cgroup memory limit, so a hashing flood makes
// the collector work harder instead of the kernel killing the process.
// Without either, there is no limit, as before.
func setMemoryLimit(getenv func(string) string, log *slog.Logger) {
	if v := getenv("GOMEMLIMIT"); v != "" {
		log.Info("memory limit", "source", "GOMEMLIMIT", "limit", v)
		return
	}
	limit, err := memlimit.Set(memlimit.WithProvider(memlimit.FromCgroup), memlimit.WithRatio(0.9),
		memlimit.WithLogger(slog.New(slog.DiscardHandler)))
	switch {
	case err != nil:
		log.Warn("memory limit: cannot read the cgroup limit; none set", "error", err)
	case limit <= 0 || limit == math.MaxInt64:
		log.Info("memory limit", "source", "none", "hint", "set GOMEMLIMIT, or run in a container with a memory limit")
	default:
		log.Info("memory limit", "source", "cgroup", "limit_mib", limit>>20)
	}
}

// newLogger writes JSON lines in production, for the log collector, and
// text in --dev, for the developer reading the terminal. Lines logged
// while serving a request carry its request_id (httpx.LogRequestIDs).
func newLogger(w io.Writer, level slog.Level, dev bool) *slog.Logger {
	opts := &slog.HandlerOptions{Level: level}
	var h slog.Handler = slog.NewJSONHandler(w, opts)
	if dev {
		h = slog.NewTextHandler(w, opts)
	}
	return slog.New(httpx.LogRequestIDs(h))
}
