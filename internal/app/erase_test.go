package app_test

// issue 11, part B (erasure).

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/manacore/mana-core-auth/internal/app"
	"github.com/manacore/mana-core-auth/internal/database/databasetest"
	"github.com/manacore/mana-core-auth/provider"
	"github.com/manacore/mana-core-auth/provider/admin"
)

// downApp is an app backend that fails every DELETE until it is fixed.
type downApp struct {
	mu       sync.Mutex
	fixed    bool
	attempts int
	deleted  []string
}

func (d *downApp) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	userID, ok := strings.CutPrefix(r.URL.Path, "/api/v1/admin/user-data/")
	if r.Method != http.MethodDelete || !ok || r.Header.Get("X-Service-Key") != "key-0123456789" {
		http.Error(w, "no", http.StatusBadRequest)
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.attempts++
	if !d.fixed {
		http.Error(w, "database migration in progress", http.StatusServiceUnavailable)
		return
	}
	d.deleted = append(d.deleted, userID)
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"success": true, "deletedCounts": []any{}, "totalDeleted": 4})
}

func (d *downApp) get() (attempts int, deleted []string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.attempts, slices.Clone(d.deleted)
}

// runApp builds an app on cfg and runs its background jobs until stop.
func runApp(t *testing.T, cfg *app.Config) (*app.App, func()) {
	t.Helper()
	a, err := app.New(t.Context(), cfg, app.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx, nil) }()
	return a, func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
		if err := a.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	}
}

// TestEraseRetriesAcrossRestart: a backend that is down during an erasure
// becomes a pending part; the app is stopped while it is being retried
// and a new one is started on the same database; once the backend is back
// it gets its DELETE from the new app's worker, and the receipt completes.
func TestEraseRetriesAcrossRestart(t *testing.T) {
	for _, d := range databasetest.Dialects() {
		t.Run(string(d), func(t *testing.T) {
			backend := &downApp{}
			srv := httptest.NewServer(backend)
			t.Cleanup(srv.Close)
			cfg := testConfig(t, d)
			cfg.Admin.Backends = []admin.Backend{{ID: "todo", Name: "Todo", URL: srv.URL, ServiceKey: "key-0123456789"}}
			cfg.Admin.RetryBase, cfg.Admin.RetryMax = 20*time.Millisecond, 50*time.Millisecond
			cfg.Admin.PollEvery, cfg.Admin.Lease = 10*time.Millisecond, time.Second

			first, stop := runApp(t, cfg)
			ctx := t.Context()
			now := time.Now().UTC().Truncate(time.Millisecond)
			u := &provider.User{ID: "user-erase-me", Email: "erase-me@example.com", Name: "Eve", Role: provider.RoleUser,
				PasswordHash: "x", CreatedAt: now, UpdatedAt: now}
			if err := first.Store.CreateUser(ctx, u); err != nil {
				t.Fatal(err)
			}
			res, err := first.Admin.Erase(ctx, admin.Actor{UserID: "admin-1"}, u.ID)
			if err != nil {
				t.Fatal(err)
			}
			if res.Success || len(res.DeletedFromProjects) != 1 || !res.DeletedFromProjects[0].Pending {
				t.Fatalf("erasure with the backend down: %+v", res)
			}
			// The first app's worker retries (and fails) before it stops.
			waitUntil(t, "a retry by the first app", func() bool { n, _ := backend.get(); return n >= 3 })
			stop()

			backend.mu.Lock()
			backend.fixed = true
			backend.mu.Unlock()
			second, stop2 := runApp(t, cfg)
			defer stop2()
			var er *admin.Erasure
			waitUntil(t, "the erasure to complete", func() bool {
				er, err = second.Admin.Erasure(ctx, admin.Actor{UserID: "admin-1"}, res.ErasureID)
				return err == nil && er.Done
			})
			if _, deleted := backend.get(); !slices.Equal(deleted, []string{u.ID}) {
				t.Errorf("backend deleted %v, want exactly one DELETE of %s", deleted, u.ID)
			}
			if er.Receipt == nil || er.Receipt.CompletedAt == nil || len(er.Receipt.Parts) != 2 || er.Receipt.Parts[1].Where != "todo" ||
				er.Receipt.Parts[1].Deleted != 4 || er.Receipt.RequestedBy != "admin-1" {
				t.Errorf("receipt %+v", er.Receipt)
			}
			if p, err := second.Admin.Pending(ctx, u.ID); err != nil || len(p) != 0 {
				t.Errorf("pending after completion: %+v, %v", p, err)
			}
		})
	}
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
