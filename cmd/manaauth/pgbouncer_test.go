package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/manacore/mana-core-auth/internal/browsertest"
	"github.com/manacore/mana-core-auth/internal/database/databasetest"
	"github.com/manacore/mana-core-auth/internal/pgbouncer"
)

// throughPgBouncer returns a fresh database's URL through a PgBouncer in
// transaction pooling mode, as the README tells operators to write it.
func throughPgBouncer(t *testing.T, poolSize int) (dsn string, b *pgbouncer.Bouncer) {
	t.Helper()
	direct := databasetest.NewPostgresDatabase(t)
	if _, err := pgbouncer.Binary(); errors.Is(err, pgbouncer.ErrNotInstalled) {
		browsertest.SkipOrFail(t, err.Error())
	}
	b, err := pgbouncer.Start(t.Context(), os.Getenv("TEST_DATABASE_URL"), pgbouncer.Options{PoolSize: poolSize})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Stop)
	du, _ := url.Parse(direct)
	bu, _ := url.Parse(b.URL)
	bu.Path = du.Path
	return bu.String(), b
}

// TestServeThroughPgBouncer: migrations, the CLI, the OpenID Connect code
// flow with PKCE, a refresh and concurrent credit spends all work through
// PgBouncer in transaction pooling mode, where consecutive transactions
// of one client land on different server connections; the spends never
// overdraw and the ledger verifies.
func TestServeThroughPgBouncer(t *testing.T) {
	dsn, bouncer := throughPgBouncer(t, 4)
	port := freePort(t)
	issuer := "http://localhost:" + strconv.Itoa(port)
	env := map[string]string{"DATABASE_URL": dsn, "PORT": strconv.Itoa(port), "BASE_URL": issuer,
		"SECRET_KEY": strings.Repeat("p", 48), "SMTP_HOST": "127.0.0.1", "SMTP_PORT": "9", "LOG_LEVEL": "warn",
		"CREDITS_SIGNUP_BONUS": "0", "CREDITS_DAILY_FREE": "0"}
	const email, password = "pooled@example.com", "pooled-password-1"
	if out, _, err := runCmd(t, env, "users", "create", "--email", email, "--password", password, "--verified"); err != nil {
		t.Fatalf("users create: %v %s", err, out)
	}
	rp := createRP(t, env, "pooled", issuer)
	base, _ := startServe(t, env)

	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	jar, _ := cookiejar.New(nil)
	c := replicaClient(strings.TrimPrefix(base, "http://"), jar)
	res := codeFlow(t, ctx, c, rp, email, password)
	if res.idToken.Subject == "" {
		t.Fatal("ID token without subject")
	}
	if _, err := rp.refresh(ctx, c, res.token.RefreshToken); err != nil {
		t.Fatalf("refresh through PgBouncer: %v", err)
	}

	const balance = 20
	spendConcurrently(t, ctx, env, c, issuer, email, password, balance, 2*balance)
	if t.Failed() {
		t.Logf("pgbouncer log:\n%s", bouncer.Log())
	}
}

// createRP registers a trusted confidential client with redirect URI
// rpRedirect (and backchannel, when given) through the CLI.
func createRP(t *testing.T, env map[string]string, id, issuer string, extra ...string) flowRP {
	t.Helper()
	args := append([]string{"clients", "create", "--id", id, "--name", id, "--trusted", "--redirect-uri", rpRedirect,
		"--scopes", "openid profile email offline_access", "--grant-types", "authorization_code,refresh_token"}, extra...)
	out, _, err := runCmd(t, env, args...)
	if err != nil {
		t.Fatalf("clients create %s: %v", id, err)
	}
	m := regexp.MustCompile(`client_secret: (\S+)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("clients create printed no secret: %q", out)
	}
	return flowRP{id: id, secret: m[1], issuer: issuer}
}

// firstPartyLogin signs in through the first-party API at the replica c
// reaches and returns the user id and access token.
func firstPartyLogin(t *testing.T, ctx context.Context, c *http.Client, issuer, email, password string) (id, token string) {
	t.Helper()
	in, _ := json.Marshal(map[string]string{"email": email, "password": password})
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, issuer+"/api/v1/auth/login", bytes.NewReader(in))
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		AccessToken string `json:"accessToken"`
		User        struct {
			ID string `json:"id"`
		} `json:"user"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != http.StatusOK || out.AccessToken == "" {
		t.Fatalf("first-party login: %d %v", resp.StatusCode, err)
	}
	return out.User.ID, out.AccessToken
}

// spendConcurrently grants the user balance credits, then spends one
// credit n times at once, spreading the requests over clients (replicas),
// and checks that exactly balance spends succeeded, the rest were refused
// for want of credits, and `credits verify` finds the ledger consistent.
func spendConcurrently(t *testing.T, ctx context.Context, env map[string]string, c *http.Client, issuer, email, password string,
	balance, n int, more ...*http.Client) {
	t.Helper()
	clients := append([]*http.Client{c}, more...)
	uid, token := firstPartyLogin(t, ctx, c, issuer, email, password)
	if out, _, err := runCmd(t, env, "credits", "grant", "--user", uid, "--amount", strconv.Itoa(balance), "--reason", "test"); err != nil {
		t.Fatalf("credits grant: %v %s", err, out)
	}
	var ok, refused atomic.Int64
	var other sync.Map
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			req, _ := http.NewRequestWithContext(ctx, http.MethodPost, issuer+"/api/v1/credits/use",
				strings.NewReader(fmt.Sprintf(`{"amount":1,"appId":"test","description":"spend %d"}`, i)))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+token)
			resp, err := clients[i%len(clients)].Do(req)
			if err != nil {
				other.Store(i, err.Error())
				return
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			switch {
			case resp.StatusCode == http.StatusOK:
				ok.Add(1)
			case resp.StatusCode == http.StatusBadRequest && strings.Contains(string(body), `"insufficient_credits"`):
				refused.Add(1)
			default:
				other.Store(i, fmt.Sprintf("%s %.200s", resp.Status, body))
			}
		})
	}
	wg.Wait()
	other.Range(func(k, v any) bool { t.Errorf("spend %v: %v", k, v); return true })
	if ok.Load() != int64(balance) || refused.Load() != int64(n-balance) {
		t.Errorf("%d concurrent spends of 1 on a balance of %d: %d succeeded, %d refused; want %d and %d",
			n, balance, ok.Load(), refused.Load(), balance, n-balance)
	}
	if out, errOut, err := runCmd(t, env, "credits", "verify"); err != nil {
		t.Errorf("credits verify: %v\n%s%s", err, out, errOut)
	}
}
