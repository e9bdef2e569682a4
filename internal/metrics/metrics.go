package metrics

import (
	"log/slog"
	"net/http"
	"runtime"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Label values each counter starts with at zero, so dashboards and alerts
// see every series from the first scrape, not only after the first event.
var (
	LoginResults       = []string{"success", "invalid_credentials", "second_factor_required", "throttled", "disabled", "overloaded", "error"}
	Grants             = []string{"authorization_code", "refresh_token", "client_credentials", "password", "sso"}
	DeliveryResults    = []string{"sent", "failed"}
	WebhookResults     = []string{"processed", "duplicate", "ignored", "error", "invalid_signature"}
	BackendCallResults = []string{"ok", "unavailable", "error"}
)

// Metrics owns the collectors of one App in its own registry (never the
// global one, so two Apps in one test process do not collide). Its methods
// are the hooks the domain packages call through their own small
// interfaces; nil-safe is not needed because the App always builds one.
type Metrics struct {
	reg *prometheus.Registry

	httpRequests *prometheus.CounterVec
	httpDuration *prometheus.HistogramVec
	httpInFlight prometheus.Gauge

	logins         *prometheus.CounterVec
	tokens         *prometheus.CounterVec
	refreshReuse   prometheus.Counter
	introspections *prometheus.CounterVec
	hashesRejected prometheus.Counter

	backchannel *prometheus.CounterVec
	mails       *prometheus.CounterVec

	creditsSpent     prometheus.Counter
	creditsPurchased prometheus.Counter
	webhooks         *prometheus.CounterVec
	adminCalls       *prometheus.CounterVec
}

// Options are what New needs besides defaults.
type Options struct {
	// Version is the build's module version, for manaauth_build_info.
	Version string
	// Apps are the admin backends' names, pre-set for
	// manaauth_admin_backend_calls_total.
	Apps []string
	// WebhookTypes are the Stripe event types pre-set for
	// manaauth_stripe_webhook_events_total.
	WebhookTypes []string
	Logger       *slog.Logger
}

// New registers every collector of the contract in a fresh registry.
func New(o Options) *Metrics {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	f := func(c prometheus.Collector) { reg.MustRegister(c) }
	m := &Metrics{reg: reg}

	httpLabels := []string{"route", "method", "status"}
	m.httpRequests = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "http_requests_total",
		Help: "HTTP requests by route pattern, method and status."}, httpLabels)
	m.httpDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "http_request_duration_seconds",
		Help: "HTTP request duration by route pattern, method and status.", Buckets: prometheus.DefBuckets}, httpLabels)
	m.httpInFlight = prometheus.NewGauge(prometheus.GaugeOpts{Name: "http_requests_in_flight",
		Help: "HTTP requests being served."})
	f(m.httpRequests)
	f(m.httpDuration)
	f(m.httpInFlight)

	m.logins = counterVec(f, "manaauth_logins_total", "Password logins by result.", "result", LoginResults)
	m.tokens = counterVec(f, "manaauth_tokens_issued_total", "Tokens issued by grant.", "grant", Grants)
	m.refreshReuse = counter(f, "manaauth_refresh_token_reuse_total", "Refresh tokens presented again after rotation (the grant was revoked).")
	m.introspections = counterVec(f, "manaauth_introspections_total", "Token introspections by outcome.", "active", []string{"true", "false"})
	m.hashesRejected = counter(f, "manaauth_password_hashes_rejected_total", "Password hashes refused because the hash queue was full (503).")
	m.backchannel = counterVec(f, "manaauth_backchannel_logouts_total", "Back-channel logout deliveries by result.", "result", DeliveryResults)
	m.mails = counterVec(f, "manaauth_mails_total", "Mails sent from the outbox by result.", "result", DeliveryResults)
	m.creditsSpent = counter(f, "manaauth_credits_spent_total", "Credits spent (credits, not requests).")
	m.creditsPurchased = counter(f, "manaauth_credits_purchased_total", "Credits bought (credits, not purchases).")

	m.webhooks = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "manaauth_stripe_webhook_events_total",
		Help: "Stripe webhook events by type and result."}, []string{"type", "result"})
	f(m.webhooks)
	// A request with a bad signature has no type we could trust.
	m.webhooks.WithLabelValues("unknown", "invalid_signature")
	for _, t := range o.WebhookTypes {
		for _, r := range WebhookResults {
			if r != "invalid_signature" {
				m.webhooks.WithLabelValues(t, r)
			}
		}
	}
	m.adminCalls = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "manaauth_admin_backend_calls_total",
		Help: "Calls to the app backends (data, deletion) by app and result."}, []string{"app", "result"})
	f(m.adminCalls)
	for _, app := range o.Apps {
		for _, r := range BackendCallResults {
			m.adminCalls.WithLabelValues(app, r)
		}
	}

	build := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "manaauth_build_info",
		Help: "Always 1; the labels name the build."}, []string{"version", "goversion"})
	f(build)
	version := o.Version
	if version == "" {
		version = "(devel)"
	}
	build.WithLabelValues(version, runtime.Version()).Set(1)
	return m
}

func counter(register func(prometheus.Collector), name, help string) prometheus.Counter {
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: name, Help: help})
	register(c)
	return c
}

func counterVec(register func(prometheus.Collector), name, help, label string, values []string) *prometheus.CounterVec {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, []string{label})
	register(c)
	for _, v := range values {
		c.WithLabelValues(v)
	}
	return c
}

// Registry is where further collectors (pools, stored counts) go.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the registry in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg, MaxRequestsInFlight: 4})
}

// RequestStarted and RequestDone count one HTTP request (server.HTTPObserver).
func (m *Metrics) RequestStarted() { m.httpInFlight.Inc() }

// RequestDone records a finished request; route is the mux pattern, never
// the raw path, so the series stay few.
func (m *Metrics) RequestDone(route, method string, status int, elapsed time.Duration) {
	m.httpInFlight.Dec()
	s := strconv.Itoa(status)
	m.httpRequests.WithLabelValues(route, method, s).Inc()
	m.httpDuration.WithLabelValues(route, method, s).Observe(elapsed.Seconds())
}

// Login counts a password login by result (account.Observer).
func (m *Metrics) Login(result string) { m.logins.WithLabelValues(result).Inc() }

// TokenIssued counts tokens issued by grant.
func (m *Metrics) TokenIssued(grant string) { m.tokens.WithLabelValues(grant).Inc() }

// RefreshTokenReused counts a detected refresh token reuse.
func (m *Metrics) RefreshTokenReused() { m.refreshReuse.Inc() }

// Introspected counts an introspection by its answer.
func (m *Metrics) Introspected(active bool) {
	m.introspections.WithLabelValues(strconv.FormatBool(active)).Inc()
}

// PasswordHashRejected counts a hash refused because the queue was full.
func (m *Metrics) PasswordHashRejected() { m.hashesRejected.Inc() }

// BackchannelLogout counts a back-channel delivery attempt.
func (m *Metrics) BackchannelLogout(sent bool) { m.backchannel.WithLabelValues(delivery(sent)).Inc() }

// Mail counts an outbox delivery attempt.
func (m *Metrics) Mail(sent bool) { m.mails.WithLabelValues(delivery(sent)).Inc() }

func delivery(sent bool) string {
	if sent {
		return "sent"
	}
	return "failed"
}

// CreditsSpent adds credits spent.
func (m *Metrics) CreditsSpent(amount int64) {
	if amount > 0 {
		m.creditsSpent.Add(float64(amount))
	}
}

// CreditsPurchased adds credits bought.
func (m *Metrics) CreditsPurchased(amount int64) {
	if amount > 0 {
		m.creditsPurchased.Add(float64(amount))
	}
}

// WebhookEvent counts a Stripe webhook event.
func (m *Metrics) WebhookEvent(eventType, result string) {
	if eventType == "" {
		eventType = "unknown"
	}
	m.webhooks.WithLabelValues(eventType, result).Inc()
}

// BackendCall counts a call to an app backend.
func (m *Metrics) BackendCall(app, result string) { m.adminCalls.WithLabelValues(app, result).Inc() }
