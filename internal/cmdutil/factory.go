package cmdutil

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/haderos/haderctl/internal/config"
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

// Factory gives commands their dependencies, each made lazily on first use
// (so `haderctl version` never reads the config or dials Redis).
type Factory struct {
	IO     *iostreams.IOStreams
	Logger *slog.Logger
	// Output is the -o value, table or json.
	Output func() string
	// Config is the effective configuration.
	Config func() (*config.Config, error)
	// Redis is a client of the configured Redis whose namespace schema has
	// been checked (a newer one is refused).
	Redis func() (redis.UniversalClient, error)
	// Breakers is the breaker engine over that client.
	Breakers func() (*breaker.Engine, error)
	// Queues is the fallback queue client over that client.
	Queues func() (*queue.Client, error)
	// Health is the health checker (with the configured alert providers
	// and, unless health.feed_breaker is false, the breakers to feed).
	Health func() (*health.Checker, error)
	// Chaos is the chaos control plane.
	Chaos func() (*chaos.Client, error)
	// Faults is this process' chaos data plane, started on first use; nil
	// (no faults) when Redis cannot be had.
	Faults func() *faults.Faults
	// Keys names the configured namespace's keys.
	Keys func() (store.Keys, error)
	// Now is the local clock.
	Now func() time.Time
}

// NewFactory wires the lazy dependencies over a config loader.
func NewFactory(io *iostreams.IOStreams, logger *slog.Logger, output func() string, load func() (*config.Config, error)) *Factory {
	f := &Factory{IO: io, Logger: logger, Output: output, Now: time.Now}
	f.Config = sync.OnceValues(load)
	f.Keys = func() (store.Keys, error) {
		c, err := f.Config()
		if err != nil {
			return store.Keys{}, err
		}
		return store.Keys{Namespace: c.Redis.Namespace}, nil
	}
	f.Redis = sync.OnceValues(func() (redis.UniversalClient, error) {
		c, err := f.Config()
		if err != nil {
			return nil, err
		}
		rdb, err := store.Open(store.Options{URL: c.Redis.URL, Timeout: time.Duration(c.Redis.Timeout), TLS: c.Redis.TLS()})
		if err != nil {
			return nil, &config.Error{Msg: err.Error()}
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Duration(c.Redis.Timeout))
		defer cancel()
		// Read-only here: the engine claims a new namespace on its first write.
		keys := store.Keys{Namespace: c.Redis.Namespace}
		stored, err := store.CheckSchema(ctx, rdb, keys, false)
		switch {
		case err != nil:
		case stored == 1:
			err = upgradeSchema1(rdb, keys, logger)
		case stored == 2:
			err = upgradeSchema2(ctx, rdb, keys, logger)
		}
		if err != nil {
			rdb.Close()
			return nil, store.Classify(err, redact.URL(c.Redis.URL))
		}
		logger.Debug("connected to Redis", "url", redact.URL(c.Redis.URL), "namespace", c.Redis.Namespace)
		return rdb, nil
	})
	f.Breakers = sync.OnceValues(func() (*breaker.Engine, error) {
		c, rdb, err := f.configAndRedis()
		if err != nil {
			return nil, err
		}
		return breaker.New(rdb, breaker.Options{
			Keys:     store.Keys{Namespace: c.Redis.Namespace},
			Settings: c.BreakerSettings,
			Timeout:  time.Duration(c.Redis.Timeout),
			Logger:   logger,
		}), nil
	})
	f.Health = sync.OnceValues(func() (*health.Checker, error) {
		c, rdb, err := f.configAndRedis()
		if err != nil {
			return nil, err
		}
		var b *breaker.Engine
		if c.FeedsBreaker() {
			if b, err = f.Breakers(); err != nil {
				return nil, err
			}
		}
		// alerts always reach stderr, whatever -v says
		alertLog := slog.New(slog.NewTextHandler(io.ErrOut, &slog.HandlerOptions{Level: slog.LevelInfo}))
		return health.New(rdb, health.Options{
			Keys:      store.Keys{Namespace: c.Redis.Namespace},
			Transport: f.HTTPTransport(false),
			Breakers:  b,
			Notifier:  &health.Notifier{Providers: alertProviders(c, alertLog), Logger: logger},
			Logger:    logger,
		}), nil
	})
	f.Chaos = sync.OnceValues(func() (*chaos.Client, error) {
		c, rdb, err := f.configAndRedis()
		if err != nil {
			return nil, err
		}
		return chaos.New(rdb, chaos.Options{Keys: store.Keys{Namespace: c.Redis.Namespace}, Limits: c.Chaos.Limits(),
			Environment: c.Environment, Allowed: c.Chaos.AllowedEnvironments}), nil
	})
	f.Faults = sync.OnceValue(func() *faults.Faults {
		c, rdb, err := f.configAndRedis()
		if err != nil {
			return nil
		}
		dp := faults.New(rdb, store.Keys{Namespace: c.Redis.Namespace}, c.Environment, c.Chaos.AllowedEnvironments, logger)
		dp.Start(context.Background())
		return dp
	})
	f.Queues = sync.OnceValues(func() (*queue.Client, error) {
		c, rdb, err := f.configAndRedis()
		if err != nil {
			return nil, err
		}
		return queue.New(rdb, store.Keys{Namespace: c.Redis.Namespace}, c.Queue.Settings()), nil
	})
	return f
}

// configAndRedis is what every engine is built from.
func (f *Factory) configAndRedis() (*config.Config, redis.UniversalClient, error) {
	c, err := f.Config()
	if err != nil {
		return nil, nil, err
	}
	rdb, err := f.Redis()
	return c, rdb, err
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

// alertProviders builds the configured alert providers.
func alertProviders(c *config.Config, log *slog.Logger) []health.Provider {
	a := c.Alerts
	var out []health.Provider
	if a.Log == nil || *a.Log {
		out = append(out, health.LogProvider{Logger: log})
	}
	client := &http.Client{Timeout: 10 * time.Second}
	if a.Slack != nil {
		out = append(out, health.SlackProvider{WebhookURL: a.Slack.WebhookURL, Client: client})
	}
	if a.Webhook != nil {
		out = append(out, health.WebhookProvider{URL: a.Webhook.URL, Headers: a.Webhook.Headers, Client: client})
	}
	if e := a.Email; e != nil {
		out = append(out, health.EmailProvider{Host: e.Host, Port: e.SMTPPort(), Username: e.Username, Password: e.Password,
			From: e.From, To: e.To, StartTLS: e.StartTLS == nil || *e.StartTLS, CAFile: e.CAFile})
	}
	return out
}

// HTTPTransport is the engine's transport for calls to services: chaos
// faults (when this process' environment allows them), then, with
// guarded, the service's breaker around them, so an injected failure
// counts like a real one. Health checks are not guarded (an open breaker
// must not stop the probe that sees recovery).
func (f *Factory) HTTPTransport(guarded bool) http.RoundTripper {
	base := http.DefaultTransport.(*http.Transport).Clone()
	base.MaxIdleConnsPerHost = 64
	var rt http.RoundTripper = base
	if dp := f.Faults(); dp != nil {
		rt = &faults.Transport{Base: rt, Faults: dp}
	}
	if !guarded {
		return transport.New(rt, nil)
	}
	b, err := f.Breakers()
	if err != nil {
		return transport.New(rt, nil)
	}
	return transport.New(rt, b)
}

// upgradeSchema1 moves a version-1 namespace's queues to the current
// layout (version 2's change; version 3 moves nothing), then records the
// current version.
func upgradeSchema1(rdb redis.UniversalClient, keys store.Keys, logger *slog.Logger) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	n, err := queue.New(rdb, keys, queue.Settings{}).Upgrade(ctx, store.SchemaVersion)
	if err != nil {
		return err
	}
	logger.Info("upgraded the namespace's Redis schema from version 1", "namespace", keys.Namespace,
		"version", store.SchemaVersion, "queued_operations_moved", n)
	return nil
}

// upgradeSchema2 records version 3 in a version-2 namespace. Nothing
// moves: the settings fields version 2 wrote into each breaker's hash
// become the settings in force, and version-2 binaries, which would
// overwrite them with their own, refuse the namespace from now on.
func upgradeSchema2(ctx context.Context, rdb redis.UniversalClient, keys store.Keys, logger *slog.Logger) error {
	wrote, err := store.MarkSchema(ctx, rdb, keys, 2, store.SchemaVersion)
	if err == nil && wrote {
		logger.Info("upgraded the namespace's Redis schema from version 2: breaker settings are now shared through Redis",
			"namespace", keys.Namespace, "version", store.SchemaVersion)
	}
	return err
}
