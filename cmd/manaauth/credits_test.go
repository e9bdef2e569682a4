package main

import (
	"context"
	"database/sql"
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	_ "modernc.org/sqlite"

	"github.com/manacore/mana-core-auth/internal/app"
	"github.com/manacore/mana-core-auth/internal/database/databasetest"
)

var userIDRE = regexp.MustCompile(`id:\s+(\S+)`)

// TestCreditsCLI: grant books an adjustment, verify is clean, and a
// tampered cached balance makes verify fail and name the mismatch.
func TestCreditsCLI(t *testing.T) {
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			var (
				dsn    string
				tamper func(t *testing.T, user string)
			)
			if backend == "sqlite" {
				path := filepath.Join(t.TempDir(), "m.db")
				dsn = "sqlite:" + path
				tamper = func(t *testing.T, user string) {
					db, err := sql.Open("sqlite", path+"?_pragma=busy_timeout(5000)")
					if err != nil {
						t.Fatal(err)
					}
					defer db.Close()
					if _, err := db.Exec(`UPDATE credit_balances SET paid = paid + 7 WHERE user_id = ?`, user); err != nil {
						t.Fatal(err)
					}
				}
			} else {
				dsn = databasetest.NewPostgresDatabase(t)
				tamper = func(t *testing.T, user string) {
					conn, err := pgx.Connect(context.Background(), dsn)
					if err != nil {
						t.Fatal(err)
					}
					defer conn.Close(context.Background())
					if _, err := conn.Exec(context.Background(), `UPDATE credits.balances SET paid = paid + 7 WHERE user_id = $1`, user); err != nil {
						t.Fatal(err)
					}
				}
			}
			env := map[string]string{"DATABASE_URL": dsn, "SECRET_KEY": strings.Repeat("k", 40), "BASE_URL": "http://localhost:3001"}
			out, errOut, err := runCmd(t, env, "users", "create", "--email", "bob@example.com", "--password", "a long password", "--verified")
			if err != nil {
				t.Fatalf("users create: %v\n%s", err, errOut)
			}
			m := userIDRE.FindStringSubmatch(out)
			if m == nil {
				t.Fatalf("no user id in %q", out)
			}
			user := m[1]

			if out, errOut, err := runCmd(t, env, "credits", "verify"); err != nil || !strings.Contains(out, "verified") {
				t.Fatalf("verify on an empty ledger: %v\n%s%s", err, out, errOut)
			}
			out, errOut, err = runCmd(t, env, "credits", "grant", "--user", user, "--amount", "100", "--reason", "support ticket 42")
			if err != nil {
				t.Fatalf("grant: %v\n%s", err, errOut)
			}
			for _, want := range []string{"credits granted", "amount:      100", "paid:        100", "free:        155"} {
				if !strings.Contains(out, want) {
					t.Errorf("grant output lacks %q:\n%s", want, out)
				}
			}
			if _, _, err := runCmd(t, env, "credits", "grant", "--user", user, "--amount", "-101", "--reason", "too much"); err == nil {
				t.Error("a grant below zero paid credits succeeded")
			}
			if _, _, err := runCmd(t, env, "credits", "grant", "--user", "nobody", "--amount", "5", "--reason", "x"); err == nil || !strings.Contains(err.Error(), "no user") {
				t.Errorf("grant to an unknown user: %v", err)
			}
			if _, _, err := runCmd(t, env, "credits", "grant", "--user", user, "--amount", "0"); err == nil {
				t.Error("grant of 0 without a reason succeeded")
			}
			if out, errOut, err := runCmd(t, env, "credits", "verify"); err != nil {
				t.Fatalf("verify after grant: %v\n%s%s", err, out, errOut)
			}

			tamper(t, user)
			out, _, err = runCmd(t, env, "credits", "verify")
			if err == nil {
				t.Fatalf("verify of a tampered balance succeeded:\n%s", out)
			}
			if !strings.Contains(out, "MISMATCH user "+user+": paid cached 107, ledger 100") {
				t.Errorf("verify output:\n%s", out)
			}
		})
	}
}

// TestServeCredits: serve wires the credits API on the same database and
// checks CREDITS_TIMEZONE.
func TestServeCredits(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"DATABASE_URL": "sqlite:" + filepath.Join(dir, "m.db"), "PORT": "0", "BASE_URL": "http://localhost:3001",
		"SECRET_KEY": strings.Repeat("k", 40), "CREDITS_TIMEZONE": "America/New_York", "CREDITS_DAILY_FREE": "0", "CREDITS_FREE_CAP": "200"}
	base, _ := startServe(t, env, "--dev")
	resp, err := http.Get(base + "/api/v1/credits/balance")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(string(body), `"code":"missing_token"`) {
		t.Errorf("balance without token: %d %s", resp.StatusCode, body)
	}

	for _, bad := range []map[string]string{{"CREDITS_TIMEZONE": "Mars/Olympus"}, {"CREDITS_SIGNUP_BONUS": "-3"}, {"CREDITS_FREE_CAP": "x"}} {
		e := map[string]string{"DATABASE_URL": env["DATABASE_URL"], "SECRET_KEY": env["SECRET_KEY"], "BASE_URL": env["BASE_URL"]}
		for k, v := range bad {
			e[k] = v
		}
		if _, _, err := runCmd(t, e, "credits", "verify"); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
	c, err := app.LoadConfig(envFunc(map[string]string{"CREDITS_DAILY_FREE": "0", "CREDITS_FREE_CAP": "200"}), app.Tool)
	if err != nil {
		t.Fatal(err)
	}
	if cfg := c.Credits; cfg.DailyFree >= 0 || cfg.SignupBonus != 150 || cfg.FreeCap != 200 || cfg.Timezone.String() != "Europe/Berlin" {
		t.Errorf("credits config = %+v", cfg)
	}
}

// TestServeStripeConfig: purchases are served only with Stripe configured,
// and a secret key without a webhook secret is refused at start-up rather
// than accepting unverified webhooks.
func TestServeStripeConfig(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"DATABASE_URL": "sqlite:" + filepath.Join(dir, "m.db"), "PORT": "0", "LOG_LEVEL": "warn",
		"SECRET_KEY": strings.Repeat("k", 40), "STRIPE_SECRET_KEY": "sk_test_123"}
	_, _, err := runCmd(t, env, "serve", "--dev")
	if err == nil || !strings.Contains(err.Error(), "STRIPE_WEBHOOK_SECRET") {
		t.Fatalf("serve with a Stripe key but no webhook secret: %v", err)
	}
	delete(env, "STRIPE_SECRET_KEY")
	base, _ := startServe(t, env, "--dev")
	resp, err := http.Post(base+"/api/v1/credits/stripe/webhook", "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("webhook without Stripe configured: %d, want 404", resp.StatusCode)
	}
}

// TestCreditsPackagesCLI: packages list shows the defaults, create adds
// one, disable takes it out of the active list, and bad input names the
// flag.
func TestCreditsPackagesCLI(t *testing.T) {
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			dsn := "sqlite:" + filepath.Join(t.TempDir(), "m.db")
			if backend == "postgres" {
				dsn = databasetest.NewPostgresDatabase(t)
			}
			env := map[string]string{"DATABASE_URL": dsn, "SECRET_KEY": strings.Repeat("k", 40), "BASE_URL": "http://localhost:3001"}
			if _, errOut, err := runCmd(t, env, "migrate"); err != nil {
				t.Fatalf("migrate: %v\n%s", err, errOut)
			}
			list := func() string {
				t.Helper()
				out, errOut, err := runCmd(t, env, "credits", "packages", "list")
				if err != nil {
					t.Fatalf("packages list: %v\n%s", err, errOut)
				}
				return out
			}
			activeIDs := func(out string) []string {
				var ids []string
				for _, line := range strings.Split(strings.TrimSpace(out), "\n")[1:] {
					if f := strings.Fields(line); len(f) > 0 && f[len(f)-1] == "active" {
						ids = append(ids, f[0])
					}
				}
				return ids
			}
			out := list()
			if got := strings.Join(activeIDs(out), " "); got != "credits-500 credits-1000 credits-2500 credits-5000" {
				t.Fatalf("default packages %q:\n%s", got, out)
			}
			if !strings.Contains(out, "5.00 EUR") || !strings.Contains(out, "50.00 EUR") {
				t.Errorf("prices not shown:\n%s", out)
			}

			out, errOut, err := runCmd(t, env, "credits", "packages", "create", "--id", "credits-10000", "--name", "10,000 Credits",
				"--credits", "10000", "--price-cents", "9000")
			if err != nil || !strings.Contains(out, "package created") {
				t.Fatalf("create: %v\n%s%s", err, out, errOut)
			}
			out = list()
			if got := strings.Join(activeIDs(out), " "); got != "credits-500 credits-1000 credits-2500 credits-5000 credits-10000" {
				t.Fatalf("after create %q:\n%s", got, out)
			}
			if !strings.Contains(out, "90.00 EUR") {
				t.Errorf("created package's price not shown:\n%s", out)
			}
			if _, _, err := runCmd(t, env, "credits", "packages", "create", "--id", "credits-first", "--name", "First",
				"--credits", "1", "--price-cents", "1", "--sort", "-1"); err != nil {
				t.Fatalf("create with --sort: %v", err)
			}
			if got := activeIDs(list()); len(got) != 6 || got[0] != "credits-first" {
				t.Errorf("--sort -1 not first: %v", got)
			}

			if out, errOut, err := runCmd(t, env, "credits", "packages", "disable", "credits-500"); err != nil || !strings.Contains(out, "disabled") {
				t.Fatalf("disable: %v\n%s%s", err, out, errOut)
			}
			out = list()
			if got := strings.Join(activeIDs(out), " "); got != "credits-first credits-1000 credits-2500 credits-5000 credits-10000" {
				t.Fatalf("after disable %q:\n%s", got, out)
			}
			if !regexp.MustCompile(`(?m)^credits-500\s.*disabled$`).MatchString(out) {
				t.Errorf("disabled package not listed as disabled:\n%s", out)
			}

			if _, _, err := runCmd(t, env, "credits", "packages", "disable", "nope"); err == nil || !strings.Contains(err.Error(), "no package") {
				t.Errorf("disable unknown: %v", err)
			}
			for _, tc := range []struct {
				args []string
				flag string
			}{
				{[]string{"--name", "X", "--credits", "1", "--price-cents", "1"}, "--id"},
				{[]string{"--id", "a b", "--name", "X", "--credits", "1", "--price-cents", "1"}, "--id"},
				{[]string{"--id", "credits-1000", "--name", "X", "--credits", "1", "--price-cents", "1"}, "--id"},
				{[]string{"--id", "x", "--credits", "1", "--price-cents", "1"}, "--name"},
				{[]string{"--id", "x", "--name", "X", "--credits", "abc", "--price-cents", "1"}, "--credits"},
				{[]string{"--id", "x", "--name", "X", "--credits", "0", "--price-cents", "1"}, "--credits"},
				{[]string{"--id", "x", "--name", "X", "--credits", "1", "--price-cents", "-5"}, "--price-cents"},
				{[]string{"--id", "x", "--name", "X", "--credits", "1"}, "--price-cents"},
				{[]string{"--id", "x", "--name", "X", "--credits", "1", "--price-cents", "1", "--sort", "z"}, "--sort"},
			} {
				_, _, err := runCmd(t, env, append([]string{"credits", "packages", "create"}, tc.args...)...)
				if err == nil || !strings.Contains(err.Error(), tc.flag) {
					t.Errorf("create %v: %v, want an error naming %s", tc.args, err, tc.flag)
				}
			}
			if got := len(activeIDs(list())); got != 5 {
				t.Errorf("bad input created packages: %d active", got)
			}
			if _, _, err := runCmd(t, env, "credits", "packages", "frobnicate"); err == nil {
				t.Error("unknown packages subcommand accepted")
			}
		})
	}
}
