// Package engine is the one place the resilience engine is assembled:
// Open connects to Redis, checks (and upgrades) the namespace's schema and
// builds every part over that one client; Close stops their background
// work and closes the client. Commands, the gateway and the dashboard open
// a System and use its parts; nothing else wires parts together.
//
//	                   ┌────────────── System ──────────────┐
//	caller ─► Transport(guarded): breaker ─► chaos faults ─► net/http
//	          Breakers  Queues  Health  Chaos (control plane)
//	          Faults (data plane: started on first use, stopped by Close)
//	                   └──────── one Redis client ──────────┘
//
// The engine never imports config, commands or cmdutil: config decodes
// the file into Options, not the other way round.
package engine

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/haderos/haderctl/internal/engine/breaker"
	"github.com/haderos/haderctl/internal/engine/chaos"
	"github.com/haderos/haderctl/internal/engine/chaos/agent"
	"github.com/haderos/haderctl/internal/engine/chaos/faults"
	"github.com/haderos/haderctl/internal/engine/health"
	"github.com/haderos/haderctl/internal/engine/queue"
	"github.com/haderos/haderctl/internal/engine/snapshot"
	"github.com/haderos/haderctl/internal/engine/store"
	"github.com/haderos/haderctl/internal/engine/transport"
	"github.com/haderos/haderctl/internal/redact"
	"github.com/redis/go-redis/v9"
)

// Options are everything Open needs. The zero value of each field is
// documented; config.Config.EngineOptions fills them from the file.
type Options struct {
	// Redis says how to reach Redis (URL, timeout, TLS). Its Timeout
	// (zero: 5 s) also bounds the schema check and each breaker report.
	Redis store.Options
	// Namespace prefixes every key; empty means "hader".
	Namespace string
	// Environment names where this process runs; chaos acts only where
	// AllowedEnvironments (empty: development, test, staging) holds it.
	Environment         string
	AllowedEnvironments []string
	// BreakerSettings gives this process' own settings for a breaker (they
	// seed a breaker it creates); nil means the defaults for every one.
	BreakerSettings func(name string) breaker.Settings
	// Services are the services this process' configuration names, and
	// HealthServices those of them with a health check: the snapshot lists
	// their breakers and health even before Redis has heard of them.
	Services       []string
	HealthServices []string
	// Queue are the fallback queue's settings (zero fields: defaults).
	Queue queue.Settings
	// ChaosLimits are chaos' safety limits (zero fields: defaults).
	ChaosLimits chaos.Limits
	// NoFeedBreaker stops failed health checks from feeding the service's
	// breaker (the zero value feeds it).
	NoFeedBreaker bool
	// Alerts says where health alerts go.
	Alerts Alerts
	// Logger receives the engine's logs; nil discards them.
	Logger *slog.Logger
}

// Alerts are the health alert providers to build. Their URLs, headers and
// password are secrets: never logged.
type Alerts struct {
	// Log writes alerts to Logger (stderr for haderctl, whatever -v says).
	Log    bool
	Logger *slog.Logger
	// SlackWebhookURL, when set, posts to a Slack incoming webhook.
	SlackWebhookURL string
	// WebhookURL, when set, posts each alert as JSON with WebhookHeaders.
	WebhookURL     string
	WebhookHeaders map[string]string
	// Email, when set, sends alerts over SMTP.
	Email *health.EmailProvider
}

// System is an opened engine: one Redis client and the parts over it.
// Its fields are safe for concurrent use; it must be closed.
type System struct {
	// Keys names the namespace's keys.
	Keys store.Keys
	// Redis is the client every part shares; its schema has been checked.
	Redis    redis.UniversalClient
	Breakers *breaker.Engine
	Queues   *queue.Client
	Health   *health.Checker
	// Chaos is the chaos control plane (start, stop, list experiments).
	Chaos *chaos.Client

	opts   Options
	ctx    context.Context
	cancel context.CancelFunc

	faultsOnce sync.Once
	faults     *faults.Faults
	base       http.RoundTripper

	closeOnce sync.Once
	closeErr  error
}

// Open connects to Redis, checks the namespace's schema (a version-1 or
// -2 namespace is upgraded in place; a newer one is refused) and builds
// the parts. It starts nothing in the background: the chaos data plane
// starts on first use (Faults, or a call through Transport) and the
// breakers' listener on their first long-running use. All of it stops on
// Close or when ctx ends. A Redis failure is a store.UnavailableError or
// store.RefusedError naming the redacted URL.
func Open(ctx context.Context, o Options) (*System, error) {
	if o.Namespace == "" {
		o.Namespace = "hader"
	}
	if o.Redis.Timeout <= 0 {
		o.Redis.Timeout = 5 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	rdb, err := store.Open(o.Redis)
	if err != nil {
		return nil, &OptionsError{Err: err}
	}
	keys := store.Keys{Namespace: o.Namespace}
	if err := checkSchema(ctx, rdb, keys, o); err != nil {
		rdb.Close()
		return nil, store.Classify(err, redact.URL(o.Redis.URL))
	}
	o.Logger.Debug("connected to Redis", "url", redact.URL(o.Redis.URL), "namespace", o.Namespace)

	s := &System{Keys: keys, Redis: rdb, opts: o}
	// The system's background work ends when the opener's context does,
	// as well as on Close.
	s.ctx, s.cancel = context.WithCancel(ctx)

	base := http.DefaultTransport.(*http.Transport).Clone()
	base.MaxIdleConnsPerHost = 64
	s.base = base
	s.Breakers = breaker.New(rdb, breaker.Options{Keys: keys, Settings: o.BreakerSettings, Timeout: o.Redis.Timeout, Logger: o.Logger})
	context.AfterFunc(s.ctx, s.Breakers.Close) // the breakers' listener, once started
	s.Queues = queue.New(rdb, keys, o.Queue)
	s.Chaos = chaos.New(rdb, chaos.Options{Keys: keys, Limits: o.ChaosLimits, Environment: o.Environment, Allowed: o.AllowedEnvironments})
	var fed *breaker.Engine
	if !o.NoFeedBreaker {
		fed = s.Breakers
	}
	s.Health = health.New(rdb, health.Options{Keys: keys, Transport: s.Transport(false), Breakers: fed,
		Notifier: &health.Notifier{Providers: o.Alerts.providers(), Logger: o.Logger}, Logger: o.Logger})
	return s, nil
}

// OptionsError is Options Open cannot use (a Redis URL it cannot
// parse): bad input, not Redis failing.
type OptionsError struct{ Err error }

func (e *OptionsError) Error() string { return e.Err.Error() }

func (e *OptionsError) Unwrap() error { return e.Err }

// Context is the system's context: done once Close is called or the
// opener's context ends. Long-running work of the caller's that belongs
// to the system (a watch, a follow drain) can run under it.
func (s *System) Context() context.Context { return s.ctx }

// RedisAddress is the Redis URL this system was opened with, its
// passwords masked (redact.URL): what a header or a message may show.
func (s *System) RedisAddress() string { return redact.URL(s.opts.Redis.URL) }

// Environment is the environment this process runs in (Options).
func (s *System) Environment() string { return s.opts.Environment }

// Faults is this process' chaos data plane: the active experiments, kept
// fresh from Redis in the background. It starts on the first call, so a
// one-shot command that never makes a service call does not pay for it,
// and it stops on Close.
func (s *System) Faults() *faults.Faults {
	s.faultsOnce.Do(func() {
		s.faults = faults.New(s.Redis, s.Keys, s.opts.Environment, s.opts.AllowedEnvironments, s.opts.Logger)
		s.faults.Start(s.ctx)
	})
	return s.faults
}

// Reader is a snapshot reader of this system's state: every part in one
// pipelined round trip and no writes, with this process' own breaker
// settings, chaos environment and configured services; tune adjusts its
// options (e.g. health samples for sparklines). A long-running program
// keeps one reader: it remembers the names it saw, which is what makes a
// refresh one round trip.
func (s *System) Reader(tune ...func(*snapshot.Options)) *snapshot.Reader {
	o := snapshot.Options{Keys: s.Keys, Breaker: s.Breakers.SnapshotPart(s.opts.Services), Chaos: s.Chaos.SnapshotPart(),
		ConfiguredBreakers: s.opts.Services, ConfiguredServices: s.opts.HealthServices}
	for _, t := range tune {
		t(&o)
	}
	return snapshot.NewReader(s.Redis, o)
}

// Agent is a CPU/memory chaos agent for a service, with this system's
// environment and limits; it runs (a.Run) under the caller's context.
func (s *System) Agent(service string) *agent.Agent {
	return agent.New(s.Redis, s.Keys, service, s.opts.Environment, s.opts.AllowedEnvironments,
		s.opts.ChaosLimits.WithDefaults(), s.opts.Logger)
}

// AgentForServices is one chaos agent for a process that serves several
// services (the gateway): each experiment counts once within the limits.
func (s *System) AgentForServices(services []string) *agent.Agent {
	return agent.NewForServices(s.Redis, s.Keys, services, s.opts.Environment, s.opts.AllowedEnvironments,
		s.opts.ChaosLimits.WithDefaults(), s.opts.Logger)
}

// Transport is the engine's transport for calls to services (requests
// marked with transport.WithService): with guarded, the service's breaker
// on the outside, then the chaos faults active for the service (when this
// process' environment allows them), then the network, so an injected
// failure counts like a real one. Health checks are not guarded (an open
// breaker must not stop the probe that sees recovery).
func (s *System) Transport(guarded bool) http.RoundTripper {
	rt := &lazyFaults{s: s}
	if !guarded {
		return transport.New(rt, nil)
	}
	return transport.New(rt, s.Breakers)
}

// lazyFaults is the chaos layer of the transport: it starts the data
// plane on the first request, not when the transport is built.
type lazyFaults struct {
	s    *System
	once sync.Once
	rt   http.RoundTripper
}

func (l *lazyFaults) RoundTrip(req *http.Request) (*http.Response, error) {
	l.once.Do(func() { l.rt = &faults.Transport{Base: l.s.base, Faults: l.s.Faults()} })
	return l.rt.RoundTrip(req)
}

// Close stops the system's background work (the chaos data plane, the
// breakers' listener) and closes the Redis client. It is idempotent: later
// calls return the first call's result.
func (s *System) Close() error {
	s.closeOnce.Do(func() {
		s.cancel()
		// A data plane started before, or by a Faults call racing this one
		// (Do returns once that call's start has returned), is waited for:
		// its last impact counts go out before the client closes. After
		// Close, Faults hands out one that never started (no faults).
		s.faultsOnce.Do(func() {
			s.faults = faults.New(s.Redis, s.Keys, s.opts.Environment, s.opts.AllowedEnvironments, s.opts.Logger)
		})
		<-s.faults.Done()
		s.Breakers.Close() // waits for the listener, which AfterFunc only starts stopping
		if t, ok := s.base.(*http.Transport); ok {
			t.CloseIdleConnections()
		}
		if err := s.Redis.Close(); err != nil && !errors.Is(err, redis.ErrClosed) {
			s.closeErr = err
		}
	})
	return s.closeErr
}

// providers builds the configured alert providers.
func (a Alerts) providers() []health.Provider {
	var out []health.Provider
	if a.Log && a.Logger != nil {
		out = append(out, health.LogProvider{Logger: a.Logger})
	}
	client := &http.Client{Timeout: 10 * time.Second}
	if a.SlackWebhookURL != "" {
		out = append(out, health.SlackProvider{WebhookURL: a.SlackWebhookURL, Client: client})
	}
	if a.WebhookURL != "" {
		out = append(out, health.WebhookProvider{URL: a.WebhookURL, Headers: a.WebhookHeaders, Client: client})
	}
	if a.Email != nil {
		out = append(out, *a.Email)
	}
	return out
}
