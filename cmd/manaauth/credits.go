package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/manacore/mana-core-auth/credits"
	"github.com/manacore/mana-core-auth/internal/app"
	"github.com/manacore/mana-core-auth/provider"
)

func cmdCredits(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	const usage = "usage: manaauth credits verify | grant --user ID --amount N --reason R | " +
		"packages list | packages create --id ID --name N --credits C --price-cents P [--sort S] | packages disable ID"
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
	case "packages":
		if len(args) < 2 {
			fmt.Fprintln(stderr, usage)
			return errUsage
		}
		switch args[1] {
		case "list":
			if len(args) != 2 {
				fmt.Fprintln(stderr, usage)
				return errUsage
			}
			return creditsPackagesList(ctx, getenv, stdout, stderr)
		case "create":
			return creditsPackagesCreate(ctx, args[2:], getenv, stdout, stderr)
		case "disable":
			if len(args) != 3 || strings.TrimSpace(args[2]) == "" {
				fmt.Fprintln(stderr, usage)
				return errUsage
			}
			return creditsPackagesDisable(ctx, args[2], getenv, stdout, stderr)
		}
		fmt.Fprintln(stderr, usage)
		return errUsage
	default:
		fmt.Fprintln(stderr, usage)
		return errUsage
	}
}

func creditsVerify(ctx context.Context, getenv func(string) string, stdout, stderr io.Writer) error {
	t, err := openTool(ctx, getenv, stderr)
	if err != nil {
		return err
	}
	defer t.Close()
	svc, _, err := t.credits()
	if err != nil {
		return err
	}
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
		return app.ProblemsError(problems)
	}
	t, err := openTool(ctx, getenv, stderr)
	if err != nil {
		return err
	}
	defer t.Close()
	if _, err := t.store.GetUser(ctx, *user); err != nil {
		if errors.Is(err, provider.ErrNotFound) {
			return fmt.Errorf("no user with id %q", *user)
		}
		return err
	}
	svc, _, err := t.credits()
	if err != nil {
		return err
	}
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

// withCreditsStore opens the database and the credits store on it and
// calls f.
func withCreditsStore(ctx context.Context, getenv func(string) string, stderr io.Writer, f func(credits.BillingStore) error) error {
	t, err := openTool(ctx, getenv, stderr)
	if err != nil {
		return err
	}
	defer t.Close()
	_, st, err := t.credits()
	if err != nil {
		return err
	}
	return f(st)
}

func creditsPackagesList(ctx context.Context, getenv func(string) string, stdout, stderr io.Writer) error {
	return withCreditsStore(ctx, getenv, stderr, func(st credits.BillingStore) error {
		ps, err := st.Packages(ctx, false)
		if err != nil {
			return err
		}
		if len(ps) == 0 {
			fmt.Fprintln(stdout, "no packages")
			return nil
		}
		w := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(w, "ID\tNAME\tCREDITS\tPRICE\tSORT\tSTATUS")
		for _, p := range ps {
			status := "active"
			if !p.Active {
				status = "disabled"
			}
			fmt.Fprintf(w, "%s\t%s\t%d\t%d.%02d %s\t%d\t%s\n", p.ID, p.Name, p.Credits,
				p.PriceCents/100, p.PriceCents%100, strings.ToUpper(p.Currency), p.SortOrder, status)
		}
		return w.Flush()
	})
}

func creditsPackagesCreate(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("credits packages create", flag.ContinueOnError)
	fs.SetOutput(stderr)
	id := fs.String("id", "", "package id, e.g. credits-10000 (required)")
	name := fs.String("name", "", "display name (required)")
	creditsFlag := fs.String("credits", "", "credits the package grants (integer > 0, required)")
	price := fs.String("price-cents", "", "price in euro cents (integer > 0, required)")
	sortFlag := fs.String("sort", "", "sort order (integer; default: after the existing packages)")
	if err := fs.Parse(args); err != nil || fs.NArg() > 0 {
		return errUsage
	}
	var problems []string
	positive := func(flagName, s string) int64 {
		s = strings.TrimSpace(s)
		if s == "" {
			problems = append(problems, "--"+flagName+" is required")
			return 0
		}
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n <= 0 {
			problems = append(problems, fmt.Sprintf("--%s=%q: want an integer > 0", flagName, s))
		}
		return n
	}
	pkgID := strings.TrimSpace(*id)
	switch {
	case pkgID == "":
		problems = append(problems, "--id is required")
	case len(pkgID) > 128 || strings.ContainsFunc(pkgID, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.')
	}):
		problems = append(problems, fmt.Sprintf("--id=%q: want at most 128 letters, digits, '-', '_' or '.'", pkgID))
	}
	if strings.TrimSpace(*name) == "" {
		problems = append(problems, "--name is required")
	}
	nCredits := positive("credits", *creditsFlag)
	nPrice := positive("price-cents", *price)
	sortOrder, sortSet := 0, strings.TrimSpace(*sortFlag) != ""
	if sortSet {
		n, err := strconv.Atoi(strings.TrimSpace(*sortFlag))
		if err != nil {
			problems = append(problems, fmt.Sprintf("--sort=%q: want an integer", *sortFlag))
		}
		sortOrder = n
	}
	if len(problems) > 0 {
		return app.ProblemsError(problems)
	}
	return withCreditsStore(ctx, getenv, stderr, func(st credits.BillingStore) error {
		if !sortSet {
			ps, err := st.Packages(ctx, false)
			if err != nil {
				return err
			}
			for _, p := range ps {
				sortOrder = max(sortOrder, p.SortOrder+1)
			}
		}
		p := credits.Package{ID: pkgID, Name: strings.TrimSpace(*name), Credits: nCredits, PriceCents: nPrice,
			Currency: "eur", Active: true, SortOrder: sortOrder, CreatedAt: time.Now().UTC().Truncate(time.Millisecond)}
		if err := st.CreatePackage(ctx, p); err != nil {
			if errors.Is(err, credits.ErrAlreadyExists) {
				return fmt.Errorf("--id: a package with id %q already exists", pkgID)
			}
			return err
		}
		fmt.Fprintf(stdout, "package created\n  id:      %s\n  name:    %s\n  credits: %d\n  price:   %d.%02d EUR\n  sort:    %d\n",
			p.ID, p.Name, p.Credits, p.PriceCents/100, p.PriceCents%100, p.SortOrder)
		return nil
	})
}

func creditsPackagesDisable(ctx context.Context, id string, getenv func(string) string, stdout, stderr io.Writer) error {
	return withCreditsStore(ctx, getenv, stderr, func(st credits.BillingStore) error {
		if err := st.DisablePackage(ctx, id); err != nil {
			if errors.Is(err, credits.ErrNotFound) {
				return fmt.Errorf("no package with id %q", id)
			}
			return err
		}
		fmt.Fprintf(stdout, "package %s disabled (existing purchases keep it; it is no longer sold)\n", id)
		return nil
	})
}
