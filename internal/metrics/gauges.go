package metrics

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Stats are the counts read from the database on scrape.
type Stats struct {
	Users, VerifiedUsers                             int64
	CreatedToday, CreatedThisWeek, CreatedThisMonth  int64
	BackchannelPending, MailPending, ErasuresPending int64
}

// StatsFunc reads Stats; the collector calls it at most once per TTL.
type StatsFunc func(ctx context.Context) (Stats, error)

var (
	usersDesc   = prometheus.NewDesc("manaauth_users", "Users by state (cached on scrape).", []string{"state"}, nil)
	createdDesc = prometheus.NewDesc("manaauth_users_created",
		"Users created since the start of the current UTC day, ISO week and month (cached on scrape).", []string{"period"}, nil)
	backchannelPendingDesc = prometheus.NewDesc("manaauth_backchannel_queue_pending", "Undelivered back-channel logout jobs.", nil, nil)
	mailPendingDesc        = prometheus.NewDesc("manaauth_mail_outbox_pending", "Mails waiting in the outbox.", nil, nil)
	erasurePendingDesc     = prometheus.NewDesc("manaauth_erasure_parts_pending",
		"Parts of admin deletions waiting for an app backend.", nil, nil)
)

// statsCollector serves Stats from a cache, so a scrape costs at most one
// query batch per TTL however often Prometheus (or several) scrape, and
// the counts stay cheap as the tables grow.
type statsCollector struct {
	read    StatsFunc
	ttl     time.Duration
	timeout time.Duration
	now     func() time.Time
	log     *slog.Logger

	mu      sync.Mutex
	at      time.Time
	cached  Stats
	haveOne bool
}

// WatchStats registers the stored counts, read through read and cached
// for ttl.
func (m *Metrics) WatchStats(read StatsFunc, ttl time.Duration, now func() time.Time, log *slog.Logger) {
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	m.reg.MustRegister(&statsCollector{read: read, ttl: ttl, timeout: 5 * time.Second, now: now, log: log})
}

func (c *statsCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{usersDesc, createdDesc, backchannelPendingDesc, mailPendingDesc, erasurePendingDesc} {
		ch <- d
	}
}

func (c *statsCollector) Collect(ch chan<- prometheus.Metric) {
	s, ok := c.stats()
	if !ok {
		return // no count read yet: no series rather than false zeros
	}
	g := func(d *prometheus.Desc, v int64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, float64(v), labels...)
	}
	g(usersDesc, s.Users, "total")
	g(usersDesc, s.VerifiedUsers, "verified")
	g(createdDesc, s.CreatedToday, "day")
	g(createdDesc, s.CreatedThisWeek, "week")
	g(createdDesc, s.CreatedThisMonth, "month")
	g(backchannelPendingDesc, s.BackchannelPending)
	g(mailPendingDesc, s.MailPending)
	g(erasurePendingDesc, s.ErasuresPending)
}

// stats returns the cached counts, refreshing them when older than the
// TTL. A failed read keeps the last good counts (and is logged), so a
// database hiccup does not zero the dashboards; ok is false until one
// read has succeeded.
func (c *statsCollector) stats() (_ Stats, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	if c.haveOne && now.Sub(c.at) < c.ttl {
		return c.cached, true
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	s, err := c.read(ctx)
	if err != nil {
		c.log.Warn("metrics: read stored counts", "error", err)
		return c.cached, c.haveOne
	}
	c.cached, c.at, c.haveOne = s, now, true
	return s, true
}
