package server

import (
	"context"
	"net/http"
	"time"

	"github.com/manacore/mana-core-auth/internal/httpapi"
)

func (s *server) handleHealth() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		now := s.Config.Now()
		httpapi.WriteJSON(w, http.StatusOK, map[string]any{
			"status":    "ok",
			"timestamp": now.UTC().Format(time.RFC3339),
			"uptime":    now.Sub(s.started).Seconds(),
		})
	})
}

func (s *server) handleLive() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		httpapi.WriteJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
}

func (s *server) handleReady() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.Draining != nil && s.Draining() {
			// Shutting down: the load balancer must send no more, while
			// the requests it already sent still finish.
			httpapi.WriteJSON(w, http.StatusServiceUnavailable, map[string]any{
				"status":    "shutting_down",
				"message":   "shutting down",
				"timestamp": s.Config.Now().UTC().Format(time.RFC3339),
			})
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		start := time.Now()
		db := map[string]any{"status": "ok"}
		status, code := "ok", http.StatusOK
		if err := s.Store.Ping(ctx); err != nil {
			// The error text can name hosts; it stays in the log.
			s.Logger.ErrorContext(ctx, "readiness: database", "error", err)
			db["status"], status, code = "error", "error", http.StatusServiceUnavailable
		}
		db["latency"] = time.Since(start).Milliseconds()
		checks := map[string]any{"database": db}
		if s.Redis != nil {
			// Without Redis the limits count per replica: weaker, but the
			// replica serves, so it stays ready.
			rs := "ok"
			if s.Redis.Degraded(ctx) {
				rs = "degraded"
				if status == "ok" {
					status = "degraded"
				}
			}
			checks["redis"] = map[string]any{"status": rs}
		}
		httpapi.WriteJSON(w, code, map[string]any{
			"status":    status,
			"timestamp": s.Config.Now().UTC().Format(time.RFC3339),
			"uptime":    s.Config.Now().Sub(s.started).Seconds(),
			"checks":    checks,
		})
	})
}
