package server_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/manacore/mana-core-auth/internal/app"
	"github.com/manacore/mana-core-auth/internal/database/databasetest"
	"github.com/manacore/mana-core-auth/provider"
	"github.com/manacore/mana-core-auth/provider/account"
	"github.com/manacore/mana-core-auth/provider/server"
	"github.com/manacore/mana-core-auth/provider/store/storetest"
)

// The durable mail outbox seen from outside: what the API accepted
// arrives, through a slow relay, a failing one and a restart.

// A burst of concurrent reset requests against a slow relay loses no mail
// (the old in-memory queue held 16 and dropped the rest), and of the 40
// links sent exactly one works: each resolved request voided the links
// before it.
func TestMailOutboxBurst(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b storetest.Backend) {
		mb, sender := startMailboxOf(t, &mailbox{delay: 100 * time.Millisecond})
		e := setup(t, b, withMailer(sender))
		const burst = 40
		var wg sync.WaitGroup
		errs := make([]error, burst)
		for i := range burst {
			// Not e.post: t.Fatal belongs to the test's goroutine.
			wg.Go(func() {
				resp, err := http.Post(e.issuer+"/api/v1/auth/forgot-password", "application/json",
					strings.NewReader(`{"email":"`+userEmail+`"}`))
				if err == nil {
					resp.Body.Close()
					if resp.StatusCode != http.StatusOK {
						err = fmt.Errorf("status %d", resp.StatusCode)
					}
				}
				errs[i] = err
			})
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("forgot #%d: %v", i, err)
			}
		}
		tokens := map[string]bool{}
		for n := 1; n <= burst; n++ {
			tokens[mb.wait(t, userEmail, n).link(t, "/reset-password").Query().Get("token")] = true
		}
		if len(tokens) != burst {
			t.Fatalf("%d distinct links in %d mails", len(tokens), burst)
		}
		valid := 0
		for tok := range tokens {
			r := e.post(t, "/api/v1/auth/reset-password", map[string]string{"token": tok, "newPassword": "a-new-password"})
			switch r.status {
			case http.StatusOK:
				valid++
			case http.StatusUnauthorized:
			default:
				t.Fatalf("reset: %d %s", r.status, r.body)
			}
		}
		if valid != 1 {
			t.Errorf("%d of %d reset links worked, want exactly the last one", valid, burst)
		}
		if e.outbox.Failed() != 0 || e.outbox.Sent() != burst {
			t.Errorf("outbox sent %d, failed %d; want %d, 0", e.outbox.Sent(), e.outbox.Failed(), burst)
		}
	})
}

// A relay that refuses mail for a while (451) is retried with backoff and
// the mail arrives once it accepts again, with a link that works.
func TestMailOutboxRetriesFailingRelay(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b storetest.Backend) {
		mb := &mailbox{}
		mb.failing.Store(true)
		mb, sender := startMailboxOf(t, mb)
		e := setup(t, b, withMailer(sender), withOutbox(account.OutboxConfig{RetryBase: 5 * time.Millisecond, MaxAttempts: 100}))
		e.post(t, "/api/v1/auth/forgot-password", map[string]string{"email": userEmail}).want(t, "forgot", http.StatusOK)
		waitFor(t, "three refused attempts", func() bool { return mb.refusals.Load() >= 3 })
		if mb.count(userEmail) != 0 {
			t.Fatal("mail accepted while the relay refused it")
		}
		mb.failing.Store(false)
		tok := mb.wait(t, userEmail, 1).link(t, "/reset-password").Query().Get("token")
		e.post(t, "/api/v1/auth/reset-password", map[string]string{"token": tok, "newPassword": "a-new-password"}).
			want(t, "reset with the retried link", http.StatusOK)
		if e.outbox.Failed() != 0 || e.outbox.Sent() != 1 {
			t.Errorf("outbox sent %d, failed %d; want 1, 0", e.outbox.Sent(), e.outbox.Failed())
		}
	})
}

// A relay that never comes back: the mail is given up after MaxAttempts,
// counted, and its job removed.
func TestMailOutboxGivesUp(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b storetest.Backend) {
		mb := &mailbox{}
		mb.failing.Store(true)
		mb, sender := startMailboxOf(t, mb)
		e := setup(t, b, withMailer(sender), withOutbox(account.OutboxConfig{RetryBase: time.Millisecond, MaxAttempts: 3}))
		e.post(t, "/api/v1/auth/forgot-password", map[string]string{"email": userEmail}).want(t, "forgot", http.StatusOK)
		waitFor(t, "the mail given up", func() bool { return e.outbox.Failed() == 1 })
		if n := mb.refusals.Load(); n != 3 {
			t.Errorf("%d attempts, want MaxAttempts = 3", n)
		}
		jobs, err := e.store.ClaimMailJobs(t.Context(), time.Now().Add(time.Hour), 10, time.Minute)
		if err != nil || len(jobs) != 0 {
			t.Errorf("jobs left after giving up: %d (%v)", len(jobs), err)
		}
	})
}

// Mail queued by one process is sent by the next: the first app accepts
// the request and is closed before its outbox ran; a second app on the
// same database sends the mail, and its link works there.
func TestMailOutboxSurvivesRestart(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b storetest.Backend) {
		mb, sender := startMailbox(t)
		cfg, err := app.LoadConfig(func(string) string { return "" }, app.Tool)
		if err != nil {
			t.Fatal(err)
		}
		cfg.DatabaseURL = databasetest.URL(t, b.Dialect)
		ts := httptest.NewUnstartedServer(nil)
		cfg.BaseURL = "http://" + ts.Listener.Addr().String()
		cfg.SecretKey = []byte("0123456789abcdef0123456789abcdef-test-secret")
		cfg.Limits, cfg.LoginBackoff = map[string]server.Limit{}, app.Backoff{}
		opts := app.Options{Logger: slog.New(slog.DiscardHandler), Mailer: sender,
			PasswordParams: &account.Params{Memory: 1024, Time: 1, Threads: 1, KeyLen: 32, SaltLen: 16}}

		first, err := app.New(t.Context(), cfg, opts)
		if err != nil {
			t.Fatalf("first app: %v", err)
		}
		hash, err := first.Hasher.Hash(t.Context(), userPassword)
		if err != nil {
			t.Fatal(err)
		}
		now := time.Now().UTC()
		if err := first.Store.CreateUser(t.Context(), &provider.User{ID: "user-restart", Email: userEmail, EmailVerified: true,
			Role: provider.RoleUser, PasswordHash: hash, CreatedAt: now, UpdatedAt: now}); err != nil {
			t.Fatal(err)
		}
		ts.Config.Handler = first.Handler
		ts.Start()
		e := &env{issuer: cfg.BaseURL}
		e.post(t, "/api/v1/auth/forgot-password", map[string]string{"email": userEmail}).want(t, "forgot", http.StatusOK)
		ts.Close()
		if err := first.Close(); err != nil {
			t.Fatalf("close first app: %v", err)
		}
		if mb.count(userEmail) != 0 {
			t.Fatal("the first app sent the mail; the test needs it queued")
		}

		second, err := app.New(t.Context(), cfg, opts)
		if err != nil {
			t.Fatalf("second app: %v", err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		wg.Go(func() { _ = second.Run(ctx, nil) })
		t.Cleanup(func() { cancel(); wg.Wait(); _ = second.Close() })

		tok := mb.wait(t, userEmail, 1).link(t, "/reset-password").Query().Get("token")
		if _, err := second.Accounts.ResetPassword(t.Context(), tok, "a-new-password", "", ""); err != nil {
			t.Errorf("reset with the link sent after the restart: %v", err)
		}
	})
}

// waitFor polls cond for up to ten seconds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
