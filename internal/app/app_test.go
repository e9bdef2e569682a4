package app_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/manacore/mana-core-auth/internal/app"
	"github.com/manacore/mana-core-auth/internal/database"
	"github.com/manacore/mana-core-auth/internal/database/databasetest"
	"github.com/manacore/mana-core-auth/provider"
)

func testConfig(t *testing.T, d database.Dialect) *app.Config {
	t.Helper()
	cfg, err := app.LoadConfig(func(string) string { return "" }, app.Tool)
	if err != nil {
		t.Fatal(err)
	}
	cfg.DatabaseURL = databasetest.URL(t, d)
	cfg.SecretKey = []byte("0123456789abcdef0123456789abcdef-app")
	return cfg
}

// slowClaims is a store whose back-channel claim is still busy when the
// app is told to stop, as a delivery in flight would be.
type slowClaims struct {
	provider.Store
	entered  chan struct{}
	finished atomic.Bool
}

func (s *slowClaims) ClaimLogoutJobs(ctx context.Context, now time.Time, limit int, lease time.Duration) ([]*provider.LogoutJob, error) {
	select {
	case s.entered <- struct{}{}:
	default:
	}
	<-ctx.Done()
	time.Sleep(100 * time.Millisecond) // the store call still finishing
	s.finished.Store(true)
	return nil, ctx.Err()
}

// TestRunJoinsJobsBeforeClose: Run returns only after every background
// job has stopped, so Close never closes the database under one.
func TestRunJoinsJobsBeforeClose(t *testing.T) {
	for _, d := range databasetest.Dialects() {
		t.Run(string(d), func(t *testing.T) {
			slow := &slowClaims{entered: make(chan struct{}, 1)}
			a, err := app.New(t.Context(), testConfig(t, d), app.Options{
				WrapStore: func(s provider.Store) provider.Store { slow.Store = s; return slow },
			})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(t.Context())
			done := make(chan error, 1)
			go func() { done <- a.Run(ctx, nil) }()
			select {
			case <-slow.entered:
			case <-time.After(10 * time.Second):
				t.Fatal("the back-channel job never ran")
			}
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("Run: %v", err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("Run did not return")
			}
			if !slow.finished.Load() {
				t.Fatal("Run returned while a job was still using the store")
			}
			if err := a.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		})
	}
}

// stuckClaims is a store whose first back-channel claim ignores
// cancellation until released, as a job wedged in a call would.
type stuckClaims struct {
	provider.Store
	entered, release chan struct{}
	once             atomic.Bool
	returned         atomic.Bool
}

func (s *stuckClaims) ClaimLogoutJobs(ctx context.Context, now time.Time, limit int, lease time.Duration) ([]*provider.LogoutJob, error) {
	if !s.once.CompareAndSwap(false, true) {
		return s.Store.ClaimLogoutJobs(ctx, now, limit, lease)
	}
	close(s.entered)
	<-s.release
	s.returned.Store(true)
	return nil, errors.New("released")
}

// issue 13 (review): when a background job outlives SHUTDOWN_TIMEOUT, Run
// returns by the deadline with ErrJobsStillRunning, which tells the caller
// not to Close (the pool would wait for the job's connection).
func TestRunReportsJobsStillRunning(t *testing.T) {
	for _, d := range databasetest.Dialects() {
		t.Run(string(d), func(t *testing.T) {
			stuck := &stuckClaims{entered: make(chan struct{}), release: make(chan struct{})}
			cfg := testConfig(t, d)
			cfg.ShutdownTimeout = 200 * time.Millisecond
			a, err := app.New(t.Context(), cfg, app.Options{
				WrapStore: func(s provider.Store) provider.Store { stuck.Store = s; return stuck },
			})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(t.Context())
			done := make(chan error, 1)
			go func() { done <- a.Run(ctx, nil) }()
			select {
			case <-stuck.entered:
			case <-time.After(10 * time.Second):
				t.Fatal("the back-channel job never ran")
			}
			cancel()
			select {
			case err := <-done:
				if !errors.Is(err, app.ErrJobsStillRunning) {
					t.Errorf("Run = %v, want ErrJobsStillRunning", err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("Run did not return after SHUTDOWN_TIMEOUT")
			}
			if stuck.returned.Load() {
				t.Fatal("the stuck job returned before Run did; the test proves nothing")
			}
			// Let the job finish before closing, as a new process would not
			// share this one's pool.
			close(stuck.release)
			deadline := time.Now().Add(10 * time.Second)
			for !stuck.returned.Load() && time.Now().Before(deadline) {
				time.Sleep(10 * time.Millisecond)
			}
			if err := a.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		})
	}
}

// TestSweepUsesTheClock: the janitor removes what is expired by the app's
// clock, not the wall clock.
func TestSweepUsesTheClock(t *testing.T) {
	for _, d := range databasetest.Dialects() {
		t.Run(string(d), func(t *testing.T) {
			future := time.Now().Add(48 * time.Hour)
			a, err := app.New(t.Context(), testConfig(t, d), app.Options{Now: func() time.Time { return future }})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = a.Close() })
			ctx := t.Context()
			real := time.Now().UTC()
			if err := a.Store.CreateGrant(ctx, &provider.Grant{Kind: provider.KindRefreshToken, Signature: "sweep-me", RequestID: "r",
				ClientID: "c", Active: true, RequestedAt: real, ExpiresAt: real.Add(24 * time.Hour), Data: []byte("{}")}); err != nil {
				t.Fatal(err)
			}
			a.Sweep(ctx)
			if _, err := a.Store.GetGrant(ctx, provider.KindRefreshToken, "sweep-me"); !errors.Is(err, provider.ErrNotFound) {
				t.Errorf("grant expired by the app's clock survived the sweep: %v", err)
			}
		})
	}
}

// TestNewNeedsASecret: the composition root never runs without SECRET_KEY.
func TestNewNeedsASecret(t *testing.T) {
	cfg := testConfig(t, database.SQLite)
	cfg.SecretKey = nil
	if _, err := app.New(t.Context(), cfg, app.Options{}); err == nil {
		t.Fatal("built without a secret")
	}
}
