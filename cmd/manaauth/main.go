// Command manaauth is the Mana Core Auth identity provider: an OpenID
// Connect provider with its own login pages, plus the CLI to manage its
// users, clients and keys.
package main

import (
	"context"
	"errors"
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
  serve [--dev]        run the provider (migrates first); --dev adds the demo app at /demo
  migrate              apply database migrations and exit
  version              print the module version and VCS revision
  healthcheck [-url U] exit 0 when the local server is ready (the container's HEALTHCHECK)
  users create         create a user
  users set-role ID admin|user
  clients create|list|delete
  keys list|rotate
  credits verify       recompute every balance from the ledger (exit 1 on a mismatch)
  credits grant --user ID --amount N --reason R
  credits packages list
  credits packages create --id ID --name N --credits C --price-cents P [--sort S]
  credits packages disable ID
  import better-auth --from postgres://… [--dry-run]
                       import the old service's users, clients, keys, sessions and credits

Every command accepts --help. Configuration comes from the environment:
DATABASE_URL, BASE_URL, PORT, LISTEN_ADDR, SECRET_KEY, SMTP_HOST,
COOKIE_DOMAIN, JWT_AUDIENCE, LOG_LEVEL (see README).`

// run is the whole program, callable from tests with their own args,
// environment and output.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) < 2 {
		fmt.Fprintln(stderr, usage)
		return errUsage
	}
	cmd, rest := args[1], args[2:]
	err := dispatch(ctx, cmd, rest, getenv, stdout, stderr)
	// Asking for help is not a mistake: the usage went out, exit 0.
	if errors.Is(err, errUsage) && wantsHelp(rest) {
		return nil
	}
	return err
}

func wantsHelp(args []string) bool {
	for _, a := range args {
		if a == "-h" || a == "-help" || a == "--help" {
			return true
		}
	}
	return false
}

func dispatch(ctx context.Context, cmd string, rest []string, getenv func(string) string, stdout, stderr io.Writer) error {
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
	case "healthcheck":
		return cmdHealthcheck(ctx, rest, getenv, stdout, stderr)
	case "import":
		return cmdImport(ctx, rest, getenv, stdout, stderr)
	case "version", "--version":
		return cmdVersion(stdout)
	case "help", "-h", "--help":
		fmt.Fprintln(stdout, usage)
		return nil
	default:
		fmt.Fprintln(stderr, usage)
		return fmt.Errorf("unknown command %q", cmd)
	}
}
