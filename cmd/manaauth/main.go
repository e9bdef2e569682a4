// Command manaauth is the Mana Core Auth identity provider: an OpenID
// Connect provider with its own login pages, plus the CLI to manage its
// users, clients and keys.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	_ "time/tzdata" // CREDITS_TIMEZONE must load on images without zoneinfo
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args, os.Getenv, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "manaauth:", err)
		os.Exit(1)
	}
}

const usage = `usage: manaauth <command> [flags]

commands:
  serve [--dev]        run the provider (migrates first)
  migrate              apply database migrations and exit
  users create         create a user
  users set-role ID admin|user
  clients create|list|delete
  keys list|rotate
  credits verify       recompute every balance from the ledger (exit 1 on a mismatch)
  credits grant --user ID --amount N --reason R
  credits packages list
  credits packages create --id ID --name N --credits C --price-cents P [--sort S]
  credits packages disable ID

Configuration comes from the environment: DATABASE_URL, BASE_URL, PORT,
SECRET_KEY, COOKIE_DOMAIN, JWT_AUDIENCE, LOG_LEVEL (see README).`

// run is the whole program, callable from tests with their own args,
// environment and output.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) < 2 {
		fmt.Fprintln(stderr, usage)
		return errUsage
	}
	cmd, rest := args[1], args[2:]
	switch cmd {
	case "serve":
		return cmdServe(ctx, rest, getenv, stdout, stderr)
	case "migrate":
		return cmdMigrate(ctx, rest, getenv, stdout, stderr)
	case "users":
		return cmdUsers(ctx, rest, getenv, stdout, stderr)
	case "clients":
		return cmdClients(ctx, rest, getenv, stdout, stderr)
	case "keys":
		return cmdKeys(ctx, rest, getenv, stdout, stderr)
	case "credits":
		return cmdCredits(ctx, rest, getenv, stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprintln(stdout, usage)
		return nil
	default:
		fmt.Fprintln(stderr, usage)
		return fmt.Errorf("unknown command %q", cmd)
	}
}
