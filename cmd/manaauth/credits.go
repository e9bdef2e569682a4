package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/manacore/mana-core-auth/credits"
	"github.com/manacore/mana-core-auth/credits/billing"
	creditspg "github.com/manacore/mana-core-auth/credits/store/postgres"
	creditssqlite "github.com/manacore/mana-core-auth/credits/store/sqlite"
	"github.com/manacore/mana-core-auth/provider"
)

// creditsConfig reads CREDITS_SIGNUP_BONUS (150), CREDITS_DAILY_FREE (5),
// CREDITS_TIMEZONE (Europe/Berlin) and CREDITS_FREE_CAP (unset: no cap).
func creditsConfig(getenv func(string) string) (credits.Config, error) {
	var problems []string
	num := func(name string, def int64) int64 {
		s := strings.TrimSpace(getenv(name))
		if s == "" {
			return def
		}
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 0 {
			problems = append(problems, fmt.Sprintf("%s=%q: want a non-negative integer", name, s))
			return def
		}
		return n
	}
	cfg := credits.Config{
		SignupBonus: num("CREDITS_SIGNUP_BONUS", credits.DefaultSignupBonus),
		DailyFree:   num("CREDITS_DAILY_FREE", credits.DefaultDailyFree),
		FreeCap:     num("CREDITS_FREE_CAP", 0),
	}
	// The Service reads 0 as "the default": an explicit 0 means none.
	if cfg.SignupBonus == 0 {
		cfg.SignupBonus = -1
	}
	if cfg.DailyFree == 0 {
		cfg.DailyFree = -1
	}
	tz := strings.TrimSpace(getenv("CREDITS_TIMEZONE"))
	if tz == "" {
		tz = "Europe/Berlin"
	}
	loc, err := time.LoadLocation(tz)
	if err != nil {
		problems = append(problems, fmt.Sprintf("CREDITS_TIMEZONE=%q: %v", tz, err))
	}
	cfg.Timezone = loc
	if len(problems) > 0 {
		return credits.Config{}, problemsError(problems)
	}
	return cfg, nil
}

// creditsStore is a credits.Store that must be closed.
type creditsStore interface {
	credits.Store
	credits.BillingStore
	Close() error
}

// openBilling sets up Stripe purchases when STRIPE_SECRET_KEY is set; nil
// otherwise (the purchase routes are then not served).
func openBilling(getenv func(string) string, baseURL string, st credits.BillingStore, ledger *credits.Service) (*billing.Billing, error) {
	key := getenv("STRIPE_SECRET_KEY")
	if key == "" {
		return nil, nil
	}
	secret := getenv("STRIPE_WEBHOOK_SECRET")
	if secret == "" {
		return nil, errors.New("STRIPE_WEBHOOK_SECRET is required with STRIPE_SECRET_KEY (webhooks are verified)")
	}
	return billing.New(billing.Config{
		SecretKey: key, WebhookSecret: secret, APIBase: getenv("STRIPE_API_BASE"),
		SuccessURL: baseURL + "/account?purchase=success", CancelURL: baseURL + "/account?purchase=cancelled",
	}, st, ledger)
}

// openCredits opens the credits store on the provider's database (which
// the provider store has migrated, credits schema included) and builds
// the Service.
func openCredits(ctx context.Context, a *app, getenv func(string) string) (*credits.Service, func(), error) {
	svc, _, closeFn, err := openCreditsStore(ctx, a, getenv)
	return svc, closeFn, err
}

// openCreditsStore is openCredits that also returns the store, which
// billing needs.
func openCreditsStore(ctx context.Context, a *app, getenv func(string) string) (*credits.Service, creditsStore, func(), error) {
	cfg, err := creditsConfig(getenv)
	if err != nil {
		return nil, nil, nil, err
	}
	var st creditsStore
	if path, ok := sqlitePath(a.cfg.DatabaseURL); ok {
		if path == ":memory:" {
			return nil, nil, nil, errors.New("credits need a database file or PostgreSQL, not an in-memory SQLite database")
		}
		st, err = creditssqlite.Open(ctx, path)
	} else {
		st, err = creditspg.Open(ctx, a.cfg.DatabaseURL)
	}
	if err != nil {
		return nil, nil, nil, fmt.Errorf("open credits store: %w", err)
	}
	svc, err := credits.NewService(st, cfg)
	if err != nil {
		_ = st.Close()
		return nil, nil, nil, err
	}
	return svc, st, func() { _ = st.Close() }, nil
}

func cmdCredits(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	const usage = "usage: manaauth credits verify | grant --user ID --amount N --reason R"
	if len(args) == 0 {
		fmt.Fprintln(stderr, usage)
		return errUsage
	}
	switch args[0] {
	case "verify":
		if len(args) != 1 {
			fmt.Fprintln(stderr, usage)
			return errUsage
		}
		return creditsVerify(ctx, getenv, stdout, stderr)
	case "grant":
		return creditsGrant(ctx, args[1:], getenv, stdout, stderr)
	default:
		fmt.Fprintln(stderr, usage)
		return errUsage
	}
}

func creditsVerify(ctx context.Context, getenv func(string) string, stdout, stderr io.Writer) error {
	a, err := open(ctx, getenv, stderr, true)
	if err != nil {
		return err
	}
	defer a.store.Close()
	svc, closeCredits, err := openCredits(ctx, a, getenv)
	if err != nil {
		return err
	}
	defer closeCredits()
	ms, err := svc.Verify(ctx)
	if err != nil {
		return err
	}
	if len(ms) == 0 {
		fmt.Fprintln(stdout, "credits ledger verified: every balance matches its postings")
		return nil
	}
	for _, m := range ms {
		if m.TransactionID != "" {
			fmt.Fprintf(stdout, "MISMATCH transaction %s (user %s): %s sum %d, want 0\n", m.TransactionID, m.UserID, m.Field, m.Ledger)
			continue
		}
		fmt.Fprintf(stdout, "MISMATCH user %s: %s cached %d, ledger %d\n", m.UserID, m.Field, m.Cached, m.Ledger)
	}
	return fmt.Errorf("credits ledger: %d mismatch(es)", len(ms))
}

func creditsGrant(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("credits grant", flag.ContinueOnError)
	fs.SetOutput(stderr)
	user := fs.String("user", "", "user id (required)")
	amount := fs.Int64("amount", 0, "credits to add (negative to take away; not 0)")
	reason := fs.String("reason", "", "reason, recorded as the description (required)")
	if err := fs.Parse(args); err != nil || fs.NArg() > 0 {
		return errUsage
	}
	var problems []string
	if strings.TrimSpace(*user) == "" {
		problems = append(problems, "--user is required")
	}
	if *amount == 0 {
		problems = append(problems, "--amount must not be 0")
	}
	if strings.TrimSpace(*reason) == "" {
		problems = append(problems, "--reason is required")
	}
	if len(problems) > 0 {
		return problemsError(problems)
	}
	a, err := open(ctx, getenv, stderr, true)
	if err != nil {
		return err
	}
	defer a.store.Close()
	if _, err := a.store.GetUser(ctx, *user); err != nil {
		if errors.Is(err, provider.ErrNotFound) {
			return fmt.Errorf("no user with id %q", *user)
		}
		return err
	}
	svc, closeCredits, err := openCredits(ctx, a, getenv)
	if err != nil {
		return err
	}
	defer closeCredits()
	tx, b, err := svc.Grant(ctx, *user, *amount, strings.TrimSpace(*reason))
	if err != nil {
		if errors.Is(err, credits.ErrInsufficientCredits) {
			return errors.New("the adjustment would take the user's paid credits below zero")
		}
		return err
	}
	fmt.Fprintf(stdout, "credits granted\n  transaction: %s\n  user:        %s\n  amount:      %d\n  paid:        %d\n  free:        %d\n",
		tx.ID, *user, tx.Amount, b.Paid, b.Free)
	return nil
}
