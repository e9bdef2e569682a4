package admin_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/manacore/mana-core-auth/internal/faultproxy"
	"github.com/manacore/mana-core-auth/provider"
	"github.com/manacore/mana-core-auth/provider/admin"
	"github.com/manacore/mana-core-auth/provider/store/storetest"
)

// issue 13 (review): a backend deletion confirmed just as the replica
// began shutting down is recorded done, with the backend's count, and the
// receipt completes; it is not handed back for another DELETE.
func TestRetryRecordsDeletionConfirmedDuringShutdown(t *testing.T) {
	for _, b := range storetest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			s := b.Open(t)
			var deletes atomic.Int64
			backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Method != http.MethodDelete || r.Header.Get("X-Service-Key") != "key-0123456789" {
					http.Error(w, "no", http.StatusBadRequest)
					return
				}
				deletes.Add(1)
				w.Header().Set("Content-Type", "application/json")
				_ = json.NewEncoder(w).Encode(map[string]any{"success": true, "deletedCounts": []any{}, "totalDeleted": 4})
			}))
			t.Cleanup(backend.Close)

			now := time.Now().UTC().Truncate(time.Millisecond)
			job := &provider.ErasureJob{ID: "era_shutdown", Subject: "subject", RequestedBy: "admin-1", RequestedAt: now,
				AuthDeleted: 3, AuthAt: &now, Parts: []*provider.ErasurePart{{
					ErasureID: "era_shutdown", BackendID: "todo", BackendName: "Todo", UserID: "user-1",
					Status: provider.ErasurePending, Attempts: 1, LastError: "HTTP 503", NextAttemptAt: now,
				}}}
			if err := s.CreateErasure(t.Context(), job); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			backends := []admin.Backend{{ID: "todo", Name: "Todo", URL: backend.URL, ServiceKey: "key-0123456789"}}
			svc, err := admin.New(admin.Config{SecretKey: []byte("k"), Backends: backends,
				HTTPClient: &http.Client{Transport: faultproxy.CancelAfterResponse{Cancel: cancel}}}, admin.Deps{Store: s})
			if err != nil {
				t.Fatal(err)
			}
			done, err := svc.RetryDue(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if ctx.Err() == nil {
				t.Fatal("the answer did not start the shutdown")
			}
			if done != 1 {
				t.Errorf("RetryDue completed %d parts, want the confirmed deletion", done)
			}
			// Another replica finds nothing to retry.
			other, err := admin.New(admin.Config{SecretKey: []byte("k"), Backends: backends}, admin.Deps{Store: s})
			if err != nil {
				t.Fatal(err)
			}
			if n, err := other.RetryDue(t.Context()); err != nil || n != 0 {
				t.Errorf("another replica's RetryDue = %d, %v; want nothing left", n, err)
			}
			if n := deletes.Load(); n != 1 {
				t.Errorf("the backend got %d DELETEs, want 1", n)
			}
			got, err := s.GetErasure(t.Context(), job.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got.CompletedAt == nil || len(got.Parts) != 1 || got.Parts[0].Status != provider.ErasureDone || got.Parts[0].DeletedCount != 4 {
				t.Errorf("erasure after the shutdown: completed %v, parts %+v; want done with the backend's 4 deletions", got.CompletedAt, got.Parts[0])
			}
		})
	}
}
