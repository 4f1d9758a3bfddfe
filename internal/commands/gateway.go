package commands

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/haderos/haderctl/internal/cmdutil"
	"github.com/haderos/haderctl/internal/config"
	"github.com/haderos/haderctl/internal/engine/gateway"
	"github.com/haderos/haderctl/internal/engine/gateway/admin"
	"github.com/haderos/haderctl/internal/engine/gateway/writes"
	"github.com/haderos/haderctl/internal/engine/metrics"
	"github.com/spf13/cobra"
)

// GatewayOptions are `haderctl gateway`'s inputs.
type GatewayOptions struct {
	F           *cmdutil.Factory
	Listen      string
	AdminListen string
	// Routes, when set, is a file whose routes: list replaces the config
	// file's gateway.routes (re-read on SIGHUP too).
	Routes string
	Grace  time.Duration
	// AccessLog is "stderr", "off" or a file to append to.
	AccessLog string
	// Signals delivers SIGHUP (reload) and SIGTERM/SIGINT (stop); nil: the
	// process' own.
	Signals <-chan os.Signal
	// Admin is served on the admin listener beside /livez and /readyz
	// (the monitoring API and /metrics).
	Admin http.Handler
	// Metrics and Writes are the gateway's optional hooks.
	Metrics gateway.Metrics
	Writes  gateway.WriteQueue
	// Started, when set, is told the listeners' addresses (tests pass
	// port 0).
	Started func(listen, admin string)
}

// NewCmdGateway builds `haderctl gateway`.
func NewCmdGateway(f *cmdutil.Factory, runF func(*GatewayOptions) error) *cobra.Command {
	opts := &GatewayOptions{F: f}
	cmd := &cobra.Command{
		Use:   "gateway [--listen ADDR] [--admin-listen ADDR] [--routes FILE] [--grace D]",
		Short: "Run the reverse proxy that puts breakers, fallbacks and chaos in front of services",
		Long: `Run a reverse proxy in front of the configured services, so services in any
language get the shared breakers, ordered fallback providers and chaos faults.
Every service with a base_url is reachable at http://LISTEN/<service>/<path>
(the /<service> prefix stripped); the config file's gateway.routes map a path
prefix to providers in order (docs/configuration.md, "Gateway"). When a
provider's breaker refuses or the provider fails, the next one is tried and
the answer carries X-Hader-Provider and X-Hader-Fallback: true; when no
breaker admits the request it is answered 503 at once with Retry-After.

The admin listener (loopback by default) serves /livez and /readyz; ready
means Redis answers and the config is loaded. While Redis is down the gateway
keeps proxying on local breakers and /readyz says so. SIGHUP re-reads the
config (routes, providers, timeouts); a bad one is refused and the old one
kept. SIGTERM or Ctrl-C stops accepting and lets requests in flight finish
within --grace. One JSON access log line per request goes to stderr (method,
path without its query, route, provider, status, duration, fallback, queued).`,
		Example: `  haderctl gateway --listen 127.0.0.1:8000 --admin-listen 127.0.0.1:8001
  curl -X POST http://127.0.0.1:8000/api/v1/integrations/shipping/rates -d '{"kg":2}'
  curl http://127.0.0.1:8001/readyz
  kill -HUP $(pidof haderctl)   # reload the routes`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			for _, l := range []struct{ flag, addr string }{{"--listen", opts.Listen}, {"--admin-listen", opts.AdminListen}} {
				if _, _, err := net.SplitHostPort(l.addr); err != nil {
					return cmdutil.UsageErrorf("%s %q is not HOST:PORT", l.flag, l.addr)
				}
			}
			if opts.Grace < 0 {
				return cmdutil.UsageErrorf("--grace must not be negative")
			}
			if !admin.IsLoopback(opts.AdminListen) && f.Getenv(admin.TokenEnv) == "" {
				return cmdutil.UsageErrorf("--admin-listen %s is not a loopback address: set HADERCTL_ADMIN_TOKEN to expose the admin endpoints", opts.AdminListen)
			}
			if runF != nil {
				return runF(opts)
			}
			return gatewayRun(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.Listen, "listen", "127.0.0.1:8000", "address the proxy listens on")
	fl.StringVar(&opts.AdminListen, "admin-listen", "127.0.0.1:8001", "address of /livez, /readyz and the monitoring API")
	fl.StringVar(&opts.Routes, "routes", "", "a YAML file whose routes: list replaces gateway.routes")
	fl.DurationVar(&opts.Grace, "grace", 10*time.Second, "how long requests in flight may take to finish on SIGTERM")
	fl.StringVar(&opts.AccessLog, "access-log", "stderr", `where the access log goes: stderr, off, or a file`)
	return cmd
}

func gatewayRun(ctx context.Context, opts *GatewayOptions) error {
	f := opts.F
	setGatewayGC(f.Getenv)
	c, err := f.Config()
	if err != nil {
		return err
	}
	gc, err := gatewayConfig(c, opts.Routes)
	if err != nil {
		return err
	}
	// signals are ours before the engine opens (which may take a while):
	// a SIGHUP then is a reload, not the end of the process
	sigs := opts.Signals
	if sigs == nil {
		ch := make(chan os.Signal, 1)
		signal.Notify(ch, syscall.SIGHUP, syscall.SIGTERM, os.Interrupt)
		defer signal.Stop(ch)
		sigs = ch
	}
	sys, err := f.System()
	if err != nil {
		return err
	}
	accessLog, closeLog, err := openAccessLog(opts.AccessLog, f.IO.ErrOut)
	if err != nil {
		return err
	}
	defer closeLog()
	logger := slog.New(slog.NewJSONHandler(f.IO.ErrOut, nil))
	ctx, stop := context.WithCancel(ctx)
	defer stop()
	token := f.Getenv(admin.TokenEnv)
	var gw *gateway.Gateway
	var ops http.Handler // the queued operations' status endpoint
	if opts.Writes == nil {
		w := writes.New(sys.Redis, sys.Queues, writes.Options{Keys: sys.Keys, Logger: logger,
			InFlightTTL:     max(writes.DefaultInFlightTTL, 2*gc.WorstCase()),
			KeepCredentials: func(queue string) bool { return gw.KeepsCredentials(queue) }})
		opts.Writes, ops = writeQueue{w}, w.OperationsHandler()
	}
	if opts.Admin == nil || opts.Metrics == nil {
		m, h, err := monitoring(ctx, f, sys, opts.AdminListen, token, metrics.Options{Calls: true, Routes: metricRoutes(gc)})
		if err != nil {
			return err
		}
		if ops != nil {
			h.Handle(writes.OperationsPattern, ops)
		}
		if opts.Admin == nil {
			opts.Admin = h
		}
		if opts.Metrics == nil {
			opts.Metrics = m
			sys.Faults().OnInject(m.FaultInjected)
		}
	}
	gw, err = gateway.New(sys, gc, gateway.Options{Environment: c.Environment, AllowedEnvironments: c.Chaos.AllowedEnvironments,
		AdminToken: token, Metrics: opts.Metrics, Writes: opts.Writes, AccessLog: accessLog, Logger: logger})
	if err != nil {
		return &cmdutil.ExitError{Code: cmdutil.ExitUsage, Err: err}
	}
	defer gw.Close()
	ln, err := net.Listen("tcp", opts.Listen)
	if err != nil {
		return &cmdutil.ExitError{Code: cmdutil.ExitUsage, Err: fmt.Errorf("--listen %s: %w", opts.Listen, err)}
	}
	adminLn, err := net.Listen("tcp", opts.AdminListen)
	if err != nil {
		ln.Close()
		return &cmdutil.ExitError{Code: cmdutil.ExitUsage, Err: fmt.Errorf("--admin-listen %s: %w", opts.AdminListen, err)}
	}
	go gw.WatchRedis(ctx, gateway.ReadyInterval)
	stopping := func(s os.Signal) {
		logger.Info("gateway: stopping; requests in flight may finish", "signal", s.String(), "grace", opts.Grace.String())
		stop()
		if opts.Signals == nil {
			// a second SIGTERM or Ctrl-C kills at once rather than wait
			// out --grace
			signal.Reset(syscall.SIGTERM, os.Interrupt)
		}
	}
	go func() {
		for {
			select {
			case <-ctx.Done():
				// the command's signal context ends with the same SIGTERM
				// or Ctrl-C, which reached sigs first (the signal package
				// delivers to every channel before that context's
				// goroutine cancels it): say so rather than stop silently
				select {
				case s := <-sigs:
					if s != syscall.SIGHUP {
						stopping(s)
					}
				default:
				}
				return
			case s := <-sigs:
				if s != syscall.SIGHUP {
					stopping(s)
					return
				}
				reload(f, gw, opts.Routes, logger)
			}
		}
	}()
	logger.Info("gateway: serving", "listen", ln.Addr().String(), "admin", adminLn.Addr().String(), "services", gw.Services())
	if opts.Started != nil {
		opts.Started(ln.Addr().String(), adminLn.Addr().String())
	}
	adminErr := make(chan error, 1)
	go func() { adminErr <- gateway.Serve(ctx, adminLn, gw.AdminHandler(opts.Admin), opts.Grace) }()
	var front http.Handler = gw
	if ops != nil {
		// the 202's Location points here, on the listener the client used
		front = withOperations{ops: ops, gw: gw}
	}
	err = gateway.Serve(ctx, ln, front, opts.Grace)
	stop()
	if aerr := <-adminErr; err == nil {
		err = aerr
	}
	if err != nil {
		return fmt.Errorf("gateway: %w", err)
	}
	return nil
}

// writeQueue gives the gateway its queued writes: writes.Writer's Begin
// returns its own ticket type, which the gateway takes as a WriteTicket.
type writeQueue struct{ w *writes.Writer }

func (q writeQueue) Begin(w http.ResponseWriter, r *http.Request, body []byte, queue string) (gateway.WriteTicket, bool) {
	t, done := q.w.Begin(w, r, body, queue)
	if done {
		return nil, true
	}
	return t, false
}

// withOperations serves the queued operations' status endpoint beside
// the proxy: one prefix test, not a ServeMux (which would clean and
// redirect the paths the proxy must forward as they came).
type withOperations struct {
	ops http.Handler
	gw  *gateway.Gateway
}

func (h withOperations) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, writes.OperationsPath) {
		h.ops.ServeHTTP(w, r)
		return
	}
	h.gw.ServeHTTP(w, r)
}

// metricRoutes are the routes the metrics list before any request: every
// service's own and the configured ones.
func metricRoutes(gc gateway.Config) []metrics.Route {
	var out []metrics.Route
	for _, svc := range gc.Services {
		if svc.BaseURL != "" {
			out = append(out, metrics.Route{Name: svc.Name, Providers: []string{svc.Name}})
		}
	}
	for _, r := range gc.Settings.Routes {
		out = append(out, metrics.Route{Name: cmp.Or(r.Name, r.Prefix), Providers: r.Providers})
	}
	return out
}

// reload re-reads the configuration and swaps it in; a bad one is logged
// in one line and the running one kept.
func reload(f *cmdutil.Factory, gw *gateway.Gateway, routes string, logger *slog.Logger) {
	c, err := f.LoadConfig()
	var gc gateway.Config
	if err == nil {
		gc, err = gatewayConfig(c, routes)
	}
	if err == nil {
		err = gw.Reload(gc)
	} else {
		gw.ReloadRefused(err)
	}
	if err != nil {
		logger.Error("gateway: reload refused; the running config is kept", "err", err.Error())
		return
	}
	logger.Info("gateway: config reloaded", "services", gw.Services())
}

// gatewayConfig is the configuration's gateway part, with --routes'
// routes in place of the file's.
func gatewayConfig(c *config.Config, routesFile string) (gateway.Config, error) {
	gc := c.GatewayConfig()
	if routesFile == "" {
		return gc, nil
	}
	routes, err := config.LoadRoutes(routesFile)
	if err != nil {
		return gc, err
	}
	gc.Settings.Routes = routes
	if err := gc.Validate(); err != nil {
		return gc, &config.Error{Msg: fmt.Sprintf("routes file %s: %s", routesFile, err)}
	}
	return gc, nil
}

func openAccessLog(where string, stderr io.Writer) (*slog.Logger, func(), error) {
	switch where {
	case "off", "":
		return nil, func() {}, nil
	case "stderr", "-":
		w := gateway.NewLogWriter(stderr, accessLogFlush)
		return gateway.NewAccessLogger(w), w.Close, nil
	}
	file, err := os.OpenFile(where, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o640)
	if err != nil {
		return nil, nil, cmdutil.UsageErrorf("--access-log: %s", errors.Unwrap(err))
	}
	w := gateway.NewLogWriter(file, accessLogFlush)
	return gateway.NewAccessLogger(w), func() { w.Close(); file.Close() }, nil
}

// accessLogFlush is how long an access log line may wait in the buffer:
// a write per batch, not per request, keeps the hot path short.
const accessLogFlush = 200 * time.Millisecond
