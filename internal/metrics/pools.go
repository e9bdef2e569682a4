package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// DBPool is a snapshot of the database connection pool.
type DBPool struct {
	Idle, InUse, Max int64
	// Acquires counts connections handed out; AcquireWait is the total
	// time callers waited for one because none was idle.
	Acquires    uint64
	AcquireWait time.Duration
}

// RedisPool is a snapshot of the Redis connection pool.
type RedisPool struct {
	Idle, Total uint32
	Timeouts    uint32
}

var (
	dbConnsDesc    = prometheus.NewDesc("manaauth_db_pool_connections", "Database pool connections by state.", []string{"state"}, nil)
	dbWaitDesc     = prometheus.NewDesc("manaauth_db_pool_acquire_wait_seconds_total", "Time spent waiting for a database connection.", nil, nil)
	dbAcquiresDesc = prometheus.NewDesc("manaauth_db_pool_acquires_total", "Database connections acquired from the pool.", nil, nil)
	redisConnsDesc = prometheus.NewDesc("manaauth_redis_pool_connections", "Redis pool connections by state.", []string{"state"}, nil)
	redisTODesc    = prometheus.NewDesc("manaauth_redis_pool_timeouts_total", "Waits for a Redis connection that timed out.", nil, nil)
)

// WatchDBPool registers the database pool, read on every scrape (the
// pool keeps these numbers in memory).
func (m *Metrics) WatchDBPool(read func() DBPool) {
	m.reg.MustRegister(collectorFunc{
		descs: []*prometheus.Desc{dbConnsDesc, dbWaitDesc, dbAcquiresDesc},
		collect: func(ch chan<- prometheus.Metric) {
			s := read()
			ch <- prometheus.MustNewConstMetric(dbConnsDesc, prometheus.GaugeValue, float64(s.Idle), "idle")
			ch <- prometheus.MustNewConstMetric(dbConnsDesc, prometheus.GaugeValue, float64(s.InUse), "in_use")
			ch <- prometheus.MustNewConstMetric(dbConnsDesc, prometheus.GaugeValue, float64(s.Max), "max")
			ch <- prometheus.MustNewConstMetric(dbWaitDesc, prometheus.CounterValue, s.AcquireWait.Seconds())
			ch <- prometheus.MustNewConstMetric(dbAcquiresDesc, prometheus.CounterValue, float64(s.Acquires))
		},
	})
}

// WatchRedisPool registers the Redis pool; read is nil without REDIS_URL,
// and the series then stay at zero so dashboards need no special case.
func (m *Metrics) WatchRedisPool(read func() RedisPool) {
	if read == nil {
		read = func() RedisPool { return RedisPool{} }
	}
	m.reg.MustRegister(collectorFunc{
		descs: []*prometheus.Desc{redisConnsDesc, redisTODesc},
		collect: func(ch chan<- prometheus.Metric) {
			s := read()
			ch <- prometheus.MustNewConstMetric(redisConnsDesc, prometheus.GaugeValue, float64(s.Idle), "idle")
			ch <- prometheus.MustNewConstMetric(redisConnsDesc, prometheus.GaugeValue, float64(s.Total), "total")
			ch <- prometheus.MustNewConstMetric(redisTODesc, prometheus.CounterValue, float64(s.Timeouts))
		},
	})
}

type collectorFunc struct {
	descs   []*prometheus.Desc
	collect func(chan<- prometheus.Metric)
}

func (c collectorFunc) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.descs {
		ch <- d
	}
}

func (c collectorFunc) Collect(ch chan<- prometheus.Metric) { c.collect(ch) }
