// Package gateway is haderctl's reverse proxy: it puts the engine in the
// request path of services written in any language. A route maps a path
// prefix to providers in order (aramex, then smsa); each attempt goes
// through the provider's breaker and the chaos faults active for it, and
// the next provider is tried when a breaker refuses or a provider fails.
//
//	client ─► Gateway.ServeHTTP: route (longest prefix) ─► header faults?
//	          ─► body buffered (≤ max_request_bytes) ─► WriteQueue.Begin (writes)
//	          for each provider:  breaker.Admit ──refused──► next
//	                              ReverseProxy ─► chaos faults ─► upstreamTransport (pooled)
//	                              failed (fail_on, timeout, conn) ──► next
//	          none admitted: 503 + Retry-After; all failed: last answer,
//	          502/504, or the write queued (202)
//	          answered: metrics, access log, routestats.Recorder (the route's
//	          traffic in Redis, flushed every second)
//
// The order of a provider's stack is the engine's own Transport(true):
// breaker outside, faults inside, so an injected failure counts like a
// real one.
package gateway

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/haderos/haderctl/internal/engine"
	"github.com/haderos/haderctl/internal/engine/chaos"
	"github.com/haderos/haderctl/internal/engine/chaos/agent"
	"github.com/haderos/haderctl/internal/engine/chaos/faults"
	"github.com/haderos/haderctl/internal/engine/gateway/routestats"
	"github.com/haderos/haderctl/internal/redact"
)

// Metrics receives the gateway's per-request observations (package
// metrics implements it).
type Metrics interface {
	Request(route, provider string, code int, d time.Duration) // provider "" when none answered
	Fallback(route, from, to string)                           // from: the route's first provider; to: the one that answered
	Call(breaker, kind string, d time.Duration)                // kind: "successful", "failed", "not_permitted"
}

// WriteQueue takes writes that failed on every provider (package
// gateway/writes implements it).
type WriteQueue interface {
	// Begin runs before a write is proxied; when it answers w itself (an
	// Idempotency-Key replay, 409, 422, 400) it returns done=true and the
	// gateway does nothing more. queue is the route's queue name.
	Begin(w http.ResponseWriter, r *http.Request, body []byte, queue string) (WriteTicket, bool)
}

// WriteTicket is one write between Begin and Finish.
type WriteTicket interface {
	// Wrap is the ResponseWriter the gateway answers through, so the
	// answer can be kept for the key.
	Wrap(w http.ResponseWriter) http.ResponseWriter
	// Queue stores the request for replay to service at target (path+query
	// relative to the service's base URL) and answers w with 202; lastErr
	// says why every provider failed.
	Queue(w http.ResponseWriter, service, target, lastErr string) error
	// Finish is called once after the request is answered (or the client
	// went away).
	Finish()
}

// Options are a gateway's dependencies besides its Config.
type Options struct {
	// Environment and AllowedEnvironments are chaos' (header faults act
	// only where chaos may).
	Environment         string
	AllowedEnvironments []string
	// AdminToken is HADERCTL_ADMIN_TOKEN: header faults need it.
	AdminToken string
	// Metrics and Writes are optional hooks.
	Metrics Metrics
	Writes  WriteQueue
	// AccessLog receives one entry per request; nil logs none.
	AccessLog *slog.Logger
	// Logger receives the gateway's own messages; nil discards them.
	Logger *slog.Logger
	// Roll draws in [0, 1) for header fault percentages (nil: math/rand).
	Roll func() float64
	// TLS, when set, is the upstreams' TLS configuration (tests; the
	// settings' ca_file otherwise).
	TLS *tls.Config
	// TrafficInterval is how often the route traffic counted in memory
	// is added to Redis (routestats, for the dashboard); zero is
	// routestats.DefaultInterval (1 s).
	TrafficInterval time.Duration
}

// Gateway is an http.Handler that proxies to the configured services.
type Gateway struct {
	sys     *engine.System
	opts    Options
	log     *slog.Logger
	faults  *faults.Faults
	base    *upstreamTransport
	rt      http.RoundTripper // faults over base
	table   atomic.Pointer[table]
	chaosOK error // why chaos may not act here, or nil
	hdr     headerFaults
	ready   readiness
	// traffic counts every answer per route and adds the counts to Redis
	traffic *routestats.Recorder
	// admitErrs: breaker name → *atomic.Int64, when its admit error was
	// last logged
	admitErrs sync.Map

	agentsMu sync.Mutex
	closed   bool
	agent    *runningAgent // nil when no service is served
}

// runningAgent is the gateway's chaos agent and the services it is for.
type runningAgent struct {
	a        *agent.Agent
	services string // sorted, joined by ","
	stop     context.CancelFunc
	done     chan struct{}
}

// New builds a gateway over an opened engine. c must be valid
// (Config.Validate); its CA file is read here.
func New(sys *engine.System, c Config, o Options) (*Gateway, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	g := &Gateway{sys: sys, opts: o, log: o.Logger, faults: sys.Faults(),
		chaosOK: chaos.EnvironmentAllowed(o.Environment, o.AllowedEnvironments)}
	g.hdr.init(o.Roll)
	tc, err := upstreamTLS(c.Settings.CAFile, o.TLS)
	if err != nil {
		return nil, err
	}
	std := http.DefaultTransport.(*http.Transport).Clone()
	// One pool for every upstream, sized for many keep-alive clients.
	std.MaxIdleConns = 1024
	std.MaxIdleConnsPerHost = 256
	std.TLSClientConfig = tc
	g.base = newUpstreamTransport(std, std.MaxIdleConnsPerHost)
	g.rt = &faults.Transport{Base: g.base, Faults: g.faults}
	g.table.Store(g.compile(c))
	g.traffic = routestats.NewRecorder(sys.Context(), sys.Redis, routestats.RecorderOptions{Keys: sys.Keys,
		Interval: o.TrafficInterval, Logger: o.Logger})
	g.startAgents(c)
	return g, nil
}

func upstreamTLS(caFile string, given *tls.Config) (*tls.Config, error) {
	if given != nil {
		return given.Clone(), nil
	}
	if caFile == "" {
		return nil, nil
	}
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fieldErr("gateway.ca_file", "%s", errors.Unwrap(err))
	}
	pool, err := x509.SystemCertPool()
	if err != nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fieldErr("gateway.ca_file", "%s holds no PEM certificate", caFile)
	}
	return &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}, nil
}

// Reload swaps in a new configuration atomically: requests in flight
// finish on the old one, new ones take the new. An invalid configuration
// is refused and the old one kept. The CA file is not re-read.
func (g *Gateway) Reload(c Config) error {
	if err := c.Validate(); err != nil {
		g.ReloadRefused(err)
		return err
	}
	g.table.Store(g.compile(c))
	g.ready.reloadErr.Store(nil)
	g.startAgents(c)
	return nil
}

// startAgents runs one chaos agent (CPU/memory experiments) for the
// services this gateway serves: one process, so an experiment on "*" or
// on several of them counts once within chaos' limits. When the set
// changes the agent is replaced, so a removed service's experiments stop.
func (g *Gateway) startAgents(c Config) {
	var names []string
	for _, svc := range c.Services {
		if svc.BaseURL != "" {
			names = append(names, svc.Name)
		}
	}
	slices.Sort(names)
	names = slices.Compact(names)
	g.agentsMu.Lock()
	defer g.agentsMu.Unlock()
	if g.closed || (g.agent != nil && g.agent.services == strings.Join(names, ",")) {
		return
	}
	g.stopAgent()
	if len(names) == 0 {
		return
	}
	ctx, cancel := context.WithCancel(g.sys.Context())
	ra := &runningAgent{a: g.sys.AgentForServices(names), services: strings.Join(names, ","), stop: cancel, done: make(chan struct{})}
	g.agent = ra
	go func() {
		defer close(ra.done)
		if err := ra.a.Run(ctx); err != nil && ctx.Err() == nil {
			g.log.Warn("chaos agent stopped", "services", ra.services, "err", err)
		}
	}()
}

// stopAgent stops the agent and waits until it has released what it
// held; agentsMu is held.
func (g *Gateway) stopAgent() {
	if g.agent != nil {
		g.agent.stop()
		<-g.agent.done
		g.agent = nil
	}
}

// Close stops the chaos agent, closes upstream connections (idle ones
// now, those of requests still finishing when they end) and adds the
// route traffic not yet flushed to Redis; the engine is the caller's to
// close, after this.
func (g *Gateway) Close() {
	g.agentsMu.Lock()
	g.closed = true
	g.stopAgent()
	g.agentsMu.Unlock()
	g.hdr.stop()
	g.base.Close()
	if err := g.traffic.Close(); err != nil {
		g.log.Warn("gateway: the last route traffic could not be added to Redis", "err", redact.URLsIn(err.Error()))
	}
}

// Services are the names the current configuration proxies to.
func (g *Gateway) Services() []string { return g.table.Load().services }
