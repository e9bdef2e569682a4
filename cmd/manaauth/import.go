package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/manacore/mana-core-auth/credits"
	"github.com/manacore/mana-core-auth/internal/betterauth"
	"github.com/manacore/mana-core-auth/internal/database"
)

// cmdImport is `manaauth import better-auth`: the move from the old
// service (issue 14).
func cmdImport(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	const usage = "usage: manaauth import better-auth --from postgres://… [--dry-run] [--synapse-secret S] [--synapse-redirect URL]"
	if len(args) == 0 || args[0] != "better-auth" {
		fmt.Fprintln(stderr, usage)
		return errUsage
	}
	fs := flag.NewFlagSet("import better-auth", flag.ContinueOnError)
	fs.SetOutput(stderr)
	from := fs.String("from", "", "the old service's PostgreSQL URL (required; only read)")
	dryRun := fs.Bool("dry-run", false, "report what would be imported and write nothing")
	synapse := fs.String("synapse-secret", "", "matrix-synapse's client secret (default $SYNAPSE_OIDC_CLIENT_SECRET, as the old service read it)")
	redirect := fs.String("synapse-redirect", betterauth.DefaultSynapseRedirect, "matrix-synapse's redirect URI")
	if err := fs.Parse(args[1:]); err != nil || fs.NArg() > 0 {
		return errUsage
	}
	if t, err := database.ParseURL(strings.TrimSpace(*from)); err != nil || t.Dialect != database.Postgres {
		fmt.Fprintln(stderr, usage)
		return fmt.Errorf("--from: want the old service's postgres:// URL")
	}
	if *synapse == "" {
		*synapse = getenv("SYNAPSE_OIDC_CLIENT_SECRET")
	}
	t, err := openTool(ctx, getenv, stderr)
	if err != nil {
		return err
	}
	defer t.Close()
	target, err := t.importTarget()
	if err != nil {
		return err
	}
	rep, err := betterauth.Run(ctx, strings.TrimSpace(*from), target, betterauth.Options{
		DryRun: *dryRun, SynapseSecret: *synapse, SynapseRedirect: *redirect,
	})
	if err != nil {
		return fmt.Errorf("import: %w", err)
	}
	rep.Write(stdout)
	return nil
}

// importTarget is where the import writes: this command's database, the
// credits counted in the configured CREDITS_TIMEZONE.
func (t *tool) importTarget() (betterauth.Target, error) {
	svc, bs, err := t.credits()
	if err != nil {
		return betterauth.Target{}, err
	}
	im, ok := bs.(credits.Importer)
	if !ok {
		return betterauth.Target{}, fmt.Errorf("the credits store %T cannot import", bs)
	}
	return betterauth.Target{Store: t.store, Credits: betterauth.CreditsTarget{Store: im, Timezone: svc.Config().Timezone}}, nil
}
