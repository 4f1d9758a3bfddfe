// Package metrics is haderctl's Prometheus exposition: the state that
// lives in Redis, read from one snapshot per scrape, and what this
// process observed itself (the gateway's requests, fallbacks and breaker
// calls, the faults it injected, and every breaker transition any process
// published while it listened). docs/metrics.md describes each family.
//
//	scrape ──▶ promhttp ──▶ private Registry
//	                          ├─ Go and process collectors
//	                          ├─ requests, durations, fallbacks, faults  (counters/histograms fed by the hooks)
//	                          └─ stateCollector.Collect
//	                               one Reader.Snapshot (bounded by ScrapeTimeout)
//	                               ├─ breaker state, queue gauges, replay totals, health, chaos
//	                               └─ transitions and calls, listed for every breaker in the snapshot
//
// Names follow Prometheus' practice: the haderos_ prefix, base units
// (seconds), _total on counters, ratios 0–1, and label values from a
// bounded set (breaker, queue and service names, configured routes),
// never a raw path or an id.
package metrics

import (
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/haderos/haderctl/internal/engine/chaos"
	"github.com/haderos/haderctl/internal/engine/snapshot"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Snapshotter reads the engine's state; *snapshot.Reader is one.
type Snapshotter = snapshot.Source

// DefaultScrapeTimeout bounds a scrape's snapshot when Options leave it
// zero: under Prometheus' default scrape timeout (10 s), so a slow Redis
// shows as haderos_redis_up 0 rather than as a failed scrape.
const DefaultScrapeTimeout = 5 * time.Second

// Route is a configured route and its providers in order; it lets a
// scrape list the route's duration and fallback series before the first
// request.
type Route struct {
	Name      string
	Providers []string
}

// injectedKinds are the faults that act on a request (cpu and memory act
// on a host, through the agent).
var injectedKinds = []string{chaos.Latency, chaos.Error, chaos.Abort, chaos.Timeout}

// Options build a Metrics.
type Options struct {
	// Reader is read once per scrape for the state in Redis; nil exports
	// only the in-process families.
	Reader Snapshotter
	// ScrapeTimeout bounds each scrape's snapshot; zero means
	// DefaultScrapeTimeout.
	ScrapeTimeout time.Duration
	// Calls says this process makes guarded calls (the gateway): every
	// breaker in the snapshot gets its haderos_circuitbreaker_calls_seconds
	// series from the first scrape. `metrics serve` makes none and leaves
	// the family to the processes that do.
	Calls bool
	// Routes are the configured routes (the gateway's): each route's
	// duration and fallback series, and each provider's faults injected,
	// are listed before the first request.
	Routes []Route
	// Logger receives scrape errors (never a secret: errors name the
	// redacted Redis URL at most); nil discards them.
	Logger *slog.Logger
}

// Metrics holds one process' metric families in a private registry (not
// the global one, so tests and several engines in one process do not
// collide). Its hook methods are safe for concurrent use and cheap: a
// label lookup and an atomic add.
type Metrics struct {
	opts     Options
	registry *prometheus.Registry

	requests  *prometheus.CounterVec
	durations *prometheus.HistogramVec
	fallbacks *prometheus.CounterVec
	faults    *prometheus.CounterVec
	state     *stateCollector
}

// New builds the families and registers them with the Go and process
// collectors.
func New(o Options) *Metrics {
	if o.ScrapeTimeout <= 0 {
		o.ScrapeTimeout = DefaultScrapeTimeout
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	m := &Metrics{opts: o, registry: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "haderos_gateway_requests_total",
			Help: "Requests the gateway answered, by route, the provider that answered (empty when none did) and status code."},
			[]string{"route", "provider", "code"}),
		durations: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "haderos_gateway_request_duration_seconds",
			Help:    "Time from a request's arrival at the gateway to its response, by route and answering provider.",
			Buckets: prometheus.DefBuckets}, []string{"route", "provider"}),
		fallbacks: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "haderos_gateway_fallbacks_total",
			Help: "Requests a route passed from one provider to the next (its breaker refused, or it failed)."},
			[]string{"route", "from", "to"}),
		faults: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "haderos_chaos_faults_injected_total",
			Help: "Chaos faults this process applied to requests, by target service and kind (latency, error, abort, timeout)."},
			[]string{"service", "kind"}),
		state: newStateCollector(o),
	}
	for _, r := range o.Routes {
		for i, p := range r.Providers {
			m.durations.WithLabelValues(r.Name, p)
			for _, k := range injectedKinds {
				m.faults.WithLabelValues(p, k)
			}
			if i > 0 {
				m.fallbacks.WithLabelValues(r.Name, r.Providers[i-1], p)
			}
		}
	}
	m.registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.requests, m.durations, m.fallbacks, m.faults, m.state)
	return m
}

// Registry is the private registry, for callers adding their own
// families.
func (m *Metrics) Registry() *prometheus.Registry { return m.registry }

// Handler serves the registry in Prometheus' formats. A family that
// cannot be gathered is logged and left out; the rest is still served.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{
		ErrorLog:      slogPrinter{m.opts.Logger},
		ErrorHandling: promhttp.ContinueOnError,
		Timeout:       m.opts.ScrapeTimeout + time.Second,
	})
}

// Request observes one request the gateway answered (provider "" when
// none answered). It implements the gateway's Metrics hook.
func (m *Metrics) Request(route, provider string, code int, d time.Duration) {
	m.requests.WithLabelValues(route, provider, codeLabel(code)).Inc()
	m.durations.WithLabelValues(route, provider).Observe(d.Seconds())
}

// codeLabels are the status codes as label values, made once: a
// request's hook then allocates nothing.
var codeLabels = func() (t [600]string) {
	for c := range t {
		t[c] = strconv.Itoa(c)
	}
	return t
}()

func codeLabel(code int) string {
	if code >= 0 && code < len(codeLabels) {
		return codeLabels[code]
	}
	return strconv.Itoa(code)
}

// Fallback observes a request passed from provider from to provider to.
func (m *Metrics) Fallback(route, from, to string) {
	m.fallbacks.WithLabelValues(route, from, to).Inc()
}

// Call observes one guarded call's outcome on a breaker; kind is
// "successful", "failed" or "not_permitted" (refused without a call).
func (m *Metrics) Call(breaker, kind string, d time.Duration) {
	m.state.calls.WithLabelValues(breaker, kind).Observe(d.Seconds())
}

// FaultInjected counts a chaos fault applied to a request; give it to
// faults.Faults.OnInject.
func (m *Metrics) FaultInjected(service, kind string) {
	m.faults.WithLabelValues(service, kind).Inc()
}

// slogPrinter lets promhttp log through slog.
type slogPrinter struct{ log *slog.Logger }

func (p slogPrinter) Println(v ...any) {
	p.log.Warn("metrics: gathering failed", "error", fmt.Sprint(v...))
}
