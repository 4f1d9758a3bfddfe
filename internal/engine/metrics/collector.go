package metrics

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/haderos/haderctl/internal/engine/breaker"
	"github.com/haderos/haderctl/internal/engine/snapshot"
	"github.com/prometheus/client_golang/prometheus"
)

// BreakerStates are the values of haderos_circuitbreaker_state's state
// label: the five states a breaker is stored in, and corrupt for a hash
// that holds none of them, so exactly one series per breaker is 1.
var BreakerStates = []breaker.State{breaker.Closed, breaker.Open, breaker.HalfOpen, breaker.ForcedOpen, breaker.Disabled, breaker.Corrupt}

// automaticTransitions are the transitions a breaker makes on its own;
// they are listed (at 0) for every known breaker, so a rate() over them
// starts from the first scrape. Operator overrides appear when made.
var automaticTransitions = [][2]breaker.State{
	{breaker.Closed, breaker.Open}, {breaker.Open, breaker.HalfOpen},
	{breaker.HalfOpen, breaker.Closed}, {breaker.HalfOpen, breaker.Open},
}

// CallKinds are the values of haderos_circuitbreaker_calls_seconds' kind
// label.
var CallKinds = []string{"successful", "failed", "not_permitted"}

// The queue states of haderos_queue_operations, as `queue status` names
// them: ready to replay (every priority), waiting for a retry, leased by
// a drainer, and dead (failed max attempts).
var queueStates = []string{"pending", "delayed", "in_flight", "dead"}

var (
	breakerStateDesc = prometheus.NewDesc("haderos_circuitbreaker_state",
		"1 for the state the breaker is in (read from Redis at scrape), 0 for the others.", []string{"name", "state"}, nil)
	queueOpsDesc = prometheus.NewDesc("haderos_queue_operations",
		"Operations in a fallback queue now, by state (pending, delayed, in_flight, dead).", []string{"queue", "state"}, nil)
	queueReplaysDesc = prometheus.NewDesc("haderos_queue_replays_total",
		"Replay outcomes since the queue was first used, from its counters in Redis: completed (replayed successfully), retried (a failed attempt scheduled again), failed (moved to dead after max attempts).",
		[]string{"queue", "result"}, nil)
	healthUpDesc = prometheus.NewDesc("haderos_health_up",
		"1 when the service's last health check succeeded, 0 otherwise (or never checked).", []string{"service"}, nil)
	healthLatencyDesc = prometheus.NewDesc("haderos_health_latency_seconds",
		"The latency of the service's last health check.", []string{"service"}, nil)
	chaosActiveDesc = prometheus.NewDesc("haderos_chaos_active_experiments",
		"Chaos experiments running now (started and not ended), in every process.", nil, nil)
	redisUpDesc = prometheus.NewDesc("haderos_redis_up",
		"1 when this scrape read the engine's state from Redis, 0 when it could not (the state families are then absent).", nil, nil)
)

// stateCollector reads one snapshot per scrape and exports the state in
// Redis from it. It also owns the families keyed by breaker that are fed
// in process (calls, transitions), so it can list every known breaker's
// series at 0 before they are collected: one collector, no ordering
// between two.
type stateCollector struct {
	reader    Snapshotter
	timeout   time.Duration
	log       *slog.Logger
	listCalls bool

	calls       *prometheus.HistogramVec
	transitions *prometheus.CounterVec
	// following is set once transitions are being counted (a scrape
	// lists them only then: zeros from a process that does not listen
	// would read as "no transitions").
	following     chan struct{}
	followingOnce sync.Once
}

// markFollowing says transitions are being counted from now on.
func (c *stateCollector) markFollowing() { c.followingOnce.Do(func() { close(c.following) }) }

func newStateCollector(o Options) *stateCollector {
	return &stateCollector{reader: o.Reader, timeout: o.ScrapeTimeout, log: o.Logger, listCalls: o.Calls,
		calls: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "haderos_circuitbreaker_calls_seconds",
			Help:    "Calls this process made through a breaker, by outcome: successful, failed, not_permitted (refused without a call).",
			Buckets: prometheus.DefBuckets}, []string{"name", "kind"}),
		transitions: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "haderos_circuitbreaker_transitions_total",
			Help: "Breaker state transitions published by any process while this one listened (since it started)."},
			[]string{"name", "from", "to"}),
		following: make(chan struct{}),
	}
}

func (c *stateCollector) isFollowing() bool {
	select {
	case <-c.following:
		return true
	default:
		return false
	}
}

// Describe implements prometheus.Collector.
func (c *stateCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{breakerStateDesc, queueOpsDesc, queueReplaysDesc, healthUpDesc, healthLatencyDesc, chaosActiveDesc, redisUpDesc} {
		ch <- d
	}
	c.calls.Describe(ch)
	c.transitions.Describe(ch)
}

// Collect implements prometheus.Collector: one snapshot, bounded by the
// scrape timeout. When it fails, haderos_redis_up is 0 and the in-process
// families are still served.
func (c *stateCollector) Collect(ch chan<- prometheus.Metric) {
	defer c.calls.Collect(ch)
	defer c.transitions.Collect(ch)
	if c.reader == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	// the gateway's traffic per route is counted in process
	// (haderos_gateway_requests_total), not read back from Redis
	s, err := c.reader.Snapshot(ctx, snapshot.Filter{Parts: snapshot.All &^ snapshot.Routes})
	if err != nil {
		c.log.Warn("metrics: reading the engine's state failed", "error", err)
		ch <- prometheus.MustNewConstMetric(redisUpDesc, prometheus.GaugeValue, 0)
		return
	}
	ch <- prometheus.MustNewConstMetric(redisUpDesc, prometheus.GaugeValue, 1)
	following := c.isFollowing()
	for _, b := range s.Breakers {
		for _, st := range BreakerStates {
			ch <- prometheus.MustNewConstMetric(breakerStateDesc, prometheus.GaugeValue, bool01(b.State == st), b.Name, string(st))
		}
		if following {
			for _, t := range automaticTransitions {
				c.transitions.WithLabelValues(b.Name, string(t[0]), string(t[1]))
			}
		}
		if c.listCalls {
			for _, k := range CallKinds {
				c.calls.WithLabelValues(b.Name, k)
			}
		}
	}
	for _, q := range s.Queues {
		for i, n := range []int64{q.PendingTotal, q.Delayed, q.InFlight, q.Dead} {
			ch <- prometheus.MustNewConstMetric(queueOpsDesc, prometheus.GaugeValue, float64(n), q.Queue, queueStates[i])
		}
		ch <- prometheus.MustNewConstMetric(queueReplaysDesc, prometheus.CounterValue, float64(q.Completed), q.Queue, "completed")
		ch <- prometheus.MustNewConstMetric(queueReplaysDesc, prometheus.CounterValue, float64(q.Retried), q.Queue, "retried")
		ch <- prometheus.MustNewConstMetric(queueReplaysDesc, prometheus.CounterValue, float64(q.Failed), q.Queue, "failed")
	}
	for _, h := range s.Services {
		ch <- prometheus.MustNewConstMetric(healthUpDesc, prometheus.GaugeValue, bool01(h.Healthy), h.Service)
		if h.CheckedAt != nil {
			ch <- prometheus.MustNewConstMetric(healthLatencyDesc, prometheus.GaugeValue, h.Latency/1000, h.Service)
		}
	}
	if s.Chaos != nil {
		ch <- prometheus.MustNewConstMetric(chaosActiveDesc, prometheus.GaugeValue, float64(len(s.Chaos.Active)))
	}
}

func bool01(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
