package app

import (
	"context"
	"errors"
	"net"
	"net/http"
	"runtime/debug"
	"time"

	"github.com/manacore/mana-core-auth/credits/billing"
	"github.com/manacore/mana-core-auth/internal/metrics"
)

// issue 13 (observability): the metrics registry of this App, its pool
// and stored-count collectors, and the metrics listener.

// newMetrics builds the App's registry with every series of the metrics
// contract present from the start.
func (a *App) newMetrics() *metrics.Metrics {
	version := a.version
	apps := make([]string, 0, len(a.Config.Admin.Backends))
	for _, b := range a.Config.Admin.Backends {
		apps = append(apps, b.ID)
	}
	m := metrics.New(metrics.Options{Version: version, Apps: apps, WebhookTypes: billing.EventTypes})
	m.WatchDBPool(func() metrics.DBPool {
		s := a.DB.PoolStats()
		return metrics.DBPool{Idle: s.Idle, InUse: s.InUse, Max: s.Max, Acquires: s.Acquires, AcquireWait: s.AcquireWait}
	})
	// The stored counts are read at most every 30 s, however often
	// Prometheus scrapes.
	m.WatchStats(func(ctx context.Context) (metrics.Stats, error) {
		s, err := a.Store.Stats(ctx, a.now())
		return metrics.Stats{Users: s.Users, VerifiedUsers: s.VerifiedUsers, CreatedToday: s.CreatedToday,
			CreatedThisWeek: s.CreatedThisWeek, CreatedThisMonth: s.CreatedThisMonth,
			BackchannelPending: s.LogoutJobs, MailPending: s.MailJobs, ErasuresPending: s.ErasureParts}, err
	}, 30*time.Second, a.now, a.Logger.With("component", "metrics"))
	return m
}

// watchRedis adds the Redis pool (zeros without REDIS_URL).
func (a *App) watchRedis() {
	if a.redis == nil {
		a.Metrics.WatchRedisPool(nil)
		return
	}
	a.Metrics.WatchRedisPool(func() metrics.RedisPool {
		s := a.redis.PoolStats()
		return metrics.RedisPool{Idle: s.IdleConns, Total: s.TotalConns, Timeouts: s.Timeouts}
	})
}

// metricsOnMain is the /metrics handler of the public listener: nil when
// METRICS_ADDR gives the metrics their own listener, and in serve unless
// METRICS_PUBLIC asks for it.
func (a *App) metricsOnMain() http.Handler {
	if a.Config.MetricsAddr != "" || !a.Config.MetricsPublic {
		return nil
	}
	return a.Metrics.Handler()
}

// MetricsListenAddr is the bound address of the METRICS_ADDR listener
// ("" without one), which tells a test the port of METRICS_ADDR=…:0.
func (a *App) MetricsListenAddr() string {
	if a.metricsLn == nil {
		return ""
	}
	return a.metricsLn.Addr().String()
}

// serveMetrics serves /metrics on METRICS_ADDR until ctx ends, so
// Prometheus scrapes a port the reverse proxy does not publish.
func (a *App) serveMetrics(ctx context.Context, ln net.Listener) {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", a.Metrics.Handler())
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	a.Logger.Info("metrics listening", "addr", ln.Addr().String())
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		a.Logger.Error("metrics server", "error", err)
	}
}

// buildVersion is the module version the binary was built as.
func buildVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		return bi.Main.Version
	}
	return ""
}

// traceHTTP is the server's tracing middleware; nil (none at all) without
// OTEL_EXPORTER_OTLP_ENDPOINT.
func (a *App) traceHTTP() func(http.Handler) http.Handler {
	if a.tracing == nil {
		return nil
	}
	return a.tracing.HTTP
}
