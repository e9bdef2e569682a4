package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"

	"github.com/manacore/mana-core-auth/internal/app"
)

func cmdMigrate(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	if err := fs.Parse(args); err != nil || fs.NArg() > 0 {
		return errUsage
	}
	// Only DATABASE_URL matters: no keys are made, nothing else is opened.
	cfg, err := app.LoadConfig(getenv, app.Tool)
	if err != nil {
		return err
	}
	db, err := app.OpenDatabase(ctx, cfg)
	if err != nil {
		return err
	}
	defer db.Close()
	fmt.Fprintln(stdout, "migrations applied")
	return nil
}

func cmdServe(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dev := fs.Bool("dev", false, "development mode: http issuer, generated SECRET_KEY, demo client and user")
	if err := fs.Parse(args); err != nil || fs.NArg() > 0 {
		return errUsage
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
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: cfg.LogLevel}))
	a, err := app.New(ctx, cfg, app.Options{Logger: logger})
	if err != nil {
		return err
	}
	defer a.Close()
	if *dev {
		if err := ensureDemo(ctx, a, stdout); err != nil {
			return fmt.Errorf("create demo data: %w", err)
		}
	}
	ln, err := net.Listen("tcp", net.JoinHostPort("", strconv.Itoa(cfg.Port)))
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	fmt.Fprintf(stdout, "manaauth listening on http://127.0.0.1:%d (issuer %s)\n", port, cfg.BaseURL)
	logger.Info("serving", "port", port, "issuer", cfg.BaseURL, "dev", *dev)
	if err := a.Run(ctx, ln); err != nil {
		return err
	}
	logger.Info("stopped")
	return nil
}
