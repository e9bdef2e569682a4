package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"

	"github.com/manacore/mana-core-auth/credits"
	creditsstore "github.com/manacore/mana-core-auth/credits/store"
	"github.com/manacore/mana-core-auth/internal/app"
	"github.com/manacore/mana-core-auth/internal/database"
	"github.com/manacore/mana-core-auth/provider"
	"github.com/manacore/mana-core-auth/provider/account"
	"github.com/manacore/mana-core-auth/provider/keys"
	"github.com/manacore/mana-core-auth/provider/store"
)

var errUsage = errors.New("invalid usage")

// tool is what a CLI command opens: the configuration in app.Tool mode
// (nothing generated, nothing required that the command does not use) and
// the migrated database with the provider store. Signing keys and credits
// are opened by the commands that use them.
type tool struct {
	cfg    *app.Config
	log    *slog.Logger
	stderr io.Writer
	db     *database.DB
	store  provider.Store
}

func openTool(ctx context.Context, getenv func(string) string, stderr io.Writer) (*tool, error) {
	cfg, err := app.LoadConfig(getenv, app.Tool)
	if err != nil {
		return nil, err
	}
	// A check of the whole ledger may take longer than any request should;
	// the operator can interrupt it.
	cfg.DatabaseTimeout = 0
	db, err := app.OpenDatabase(ctx, cfg)
	if err != nil {
		return nil, err
	}
	st, err := store.New(db)
	if err != nil {
		_ = db.Close()
		return nil, err
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: cfg.LogLevel}))
	return &tool{cfg: cfg, log: logger, stderr: stderr, db: db, store: st}, nil
}

func (t *tool) Close() error { return t.db.Close() }

// ring loads the signing keys for what (a command); they need SECRET_KEY.
func (t *tool) ring(ctx context.Context, what string) (*keys.Ring, error) {
	if err := t.cfg.RequireSecret(what, t.stderr); err != nil {
		return nil, err
	}
	r, err := keys.New(t.store, t.cfg.SecretKey, keys.Options{Logger: t.log.With("component", "keys")})
	if err != nil {
		return nil, err
	}
	if err := r.Init(ctx); err != nil {
		return nil, fmt.Errorf("load signing keys: %w", err)
	}
	return r, nil
}

// hasher hashes one password at a time: a command sets one.
func (t *tool) hasher() *account.Hasher { return account.NewHasher(account.DefaultParams, 1) }

// credits is the credits service and store on the command's database.
func (t *tool) credits() (*credits.Service, credits.BillingStore, error) {
	ledger, bs, err := creditsstore.New(t.db)
	if err != nil {
		return nil, nil, err
	}
	svc, err := credits.NewService(ledger, t.cfg.Credits)
	if err != nil {
		return nil, nil, err
	}
	return svc, bs, nil
}
