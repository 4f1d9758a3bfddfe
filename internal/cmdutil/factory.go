package cmdutil

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/haderos/haderctl/internal/config"
	"github.com/haderos/haderctl/internal/engine"
	"github.com/haderos/haderctl/internal/engine/breaker"
	"github.com/haderos/haderctl/internal/engine/chaos"
	"github.com/haderos/haderctl/internal/engine/chaos/faults"
	"github.com/haderos/haderctl/internal/engine/health"
	"github.com/haderos/haderctl/internal/engine/queue"
	"github.com/haderos/haderctl/internal/engine/store"
	"github.com/haderos/haderctl/internal/engine/transport"
	"github.com/haderos/haderctl/internal/iostreams"
	"github.com/haderos/haderctl/internal/redact"
	"github.com/redis/go-redis/v9"
)

// Factory gives commands their dependencies, made lazily on first use (so
// `haderctl version` never reads the config or dials Redis). The engine
// is opened once, by engine.Open, on the first call that needs it; every
// accessor below hands out one of its parts. Close closes it.
type Factory struct {
	IO     *iostreams.IOStreams
	Logger *slog.Logger
	// Context is what the engine's background work runs under (the
	// process' signal context); nil means context.Background(). Set it
	// before the first accessor call.
	Context context.Context
	// Output is the -o value, table or json.
	Output func() string
	// Config is the effective configuration.
	Config func() (*config.Config, error)
	// LoadConfig reads the configuration again, uncached (a reload on
	// SIGHUP); Config keeps the first.
	LoadConfig func() (*config.Config, error)
	// Getenv reads the environment (the run's, in tests).
	Getenv func(string) string
	// System is the opened engine.
	System func() (*engine.System, error)
	// Redis is the engine's client of the configured Redis, whose
	// namespace schema has been checked (a newer one is refused).
	Redis func() (redis.UniversalClient, error)
	// Breakers is the breaker engine.
	Breakers func() (*breaker.Engine, error)
	// Queues is the fallback queue client.
	Queues func() (*queue.Client, error)
	// Health is the health checker (with the configured alert providers
	// and, unless health.feed_breaker is false, the breakers to feed).
	Health func() (*health.Checker, error)
	// Chaos is the chaos control plane.
	Chaos func() (*chaos.Client, error)
	// Faults is this process' chaos data plane, started on first use and
	// stopped by Close; nil (no faults) when the engine cannot be opened.
	Faults func() *faults.Faults
	// Keys names the configured namespace's keys (no Redis needed).
	Keys func() (store.Keys, error)
	// Now is the local clock.
	Now func() time.Time

	mu     sync.Mutex
	system *engine.System
}

// NewFactory wires the lazy dependencies over a config loader.
func NewFactory(io *iostreams.IOStreams, logger *slog.Logger, output func() string, load func() (*config.Config, error)) *Factory {
	f := &Factory{IO: io, Logger: logger, Output: output, Now: time.Now}
	f.Config = sync.OnceValues(load)
	f.LoadConfig = load
	f.Getenv = func(string) string { return "" }
	f.Keys = func() (store.Keys, error) {
		c, err := f.Config()
		if err != nil {
			return store.Keys{}, err
		}
		return store.Keys{Namespace: c.Redis.Namespace}, nil
	}
	f.System = sync.OnceValues(f.open)
	f.Redis = part(f, func(s *engine.System) redis.UniversalClient { return s.Redis })
	f.Breakers = part(f, func(s *engine.System) *breaker.Engine { return s.Breakers })
	f.Queues = part(f, func(s *engine.System) *queue.Client { return s.Queues })
	f.Health = part(f, func(s *engine.System) *health.Checker { return s.Health })
	f.Chaos = part(f, func(s *engine.System) *chaos.Client { return s.Chaos })
	f.Faults = func() *faults.Faults {
		s, err := f.System()
		if err != nil {
			return nil
		}
		return s.Faults()
	}
	return f
}

// part is an accessor of one of the System's parts.
func part[T any](f *Factory, get func(*engine.System) T) func() (T, error) {
	return func() (T, error) {
		s, err := f.System()
		if err != nil {
			var zero T
			return zero, err
		}
		return get(s), nil
	}
}

// open opens the engine with the effective configuration.
func (f *Factory) open() (*engine.System, error) {
	c, err := f.Config()
	if err != nil {
		return nil, err
	}
	ctx := f.Context
	if ctx == nil {
		ctx = context.Background()
	}
	// alerts always reach stderr, whatever -v says
	alertLog := slog.New(slog.NewTextHandler(f.IO.ErrOut, &slog.HandlerOptions{Level: slog.LevelInfo}))
	s, err := engine.Open(ctx, c.EngineOptions(f.Logger, alertLog))
	if err != nil {
		return nil, err
	}
	f.mu.Lock()
	f.system = s
	f.mu.Unlock()
	return s, nil
}

// Close closes the engine if it was opened, ending its background work.
// It is safe to call more than once, and when nothing was opened.
func (f *Factory) Close() error {
	f.mu.Lock()
	s := f.system
	f.mu.Unlock()
	if s == nil {
		return nil
	}
	return s.Close()
}

// RedisContext bounds a command's Redis calls by the configured timeout.
func (f *Factory) RedisContext(parent context.Context) (context.Context, context.CancelFunc) {
	timeout := config.DefaultTimeout
	if c, err := f.Config(); err == nil {
		timeout = time.Duration(c.Redis.Timeout)
	}
	return context.WithTimeout(parent, timeout)
}

// RedisError turns an error from a Redis call into the command's error:
// Redis refusing us becomes a RefusedError and unreachable Redis an
// UnavailableError, each naming the redacted URL; other errors pass.
func (f *Factory) RedisError(err error) error {
	if !store.IsFailure(err) {
		return err
	}
	addr := "the configured URL"
	if c, cerr := f.Config(); cerr == nil {
		addr = redact.URL(c.Redis.URL)
	}
	return store.Classify(err, addr)
}

// JSON reports whether -o json was asked for.
func (f *Factory) JSON() bool { return f.Output() == OutputJSON }

// HTTPTransport is the engine's transport for calls to services (see
// engine.System.Transport): chaos faults, then, with guarded, the
// service's breaker around them. Without an engine it is a plain one.
func (f *Factory) HTTPTransport(guarded bool) http.RoundTripper {
	s, err := f.System()
	if err != nil {
		return transport.New(nil, nil)
	}
	return s.Transport(guarded)
}
