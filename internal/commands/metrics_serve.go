package commands

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/haderos/haderctl/internal/cmdutil"
	"github.com/haderos/haderctl/internal/engine"
	"github.com/haderos/haderctl/internal/engine/gateway/admin"
	"github.com/haderos/haderctl/internal/engine/metrics"
	"github.com/haderos/haderctl/internal/engine/snapshot"
	"github.com/spf13/cobra"
)

// DefaultMetricsListen is `metrics serve`'s address: loopback, and
// Prometheus' registered default port range (9464 is the one the
// OpenTelemetry Prometheus exporter uses).
const DefaultMetricsListen = "127.0.0.1:9464"

// metricsShutdownGrace is how long in-flight scrapes may take to finish
// once the command is told to stop.
const metricsShutdownGrace = 10 * time.Second

// MetricsServeOptions are `haderctl metrics serve`'s inputs.
type MetricsServeOptions struct {
	F      *cmdutil.Factory
	Listen string
	// Token is HADERCTL_ADMIN_TOKEN; required when Listen is not loopback.
	// Never printed.
	Token string
	// Listening, when set, is told the address once the listener is bound
	// (tests listen on port 0).
	Listening func(addr string)
}

// NewCmdMetricsServe builds `haderctl metrics serve`.
func NewCmdMetricsServe(f *cmdutil.Factory, getenv func(string) string, runF func(*MetricsServeOptions) error) *cobra.Command {
	opts := &MetricsServeOptions{F: f}
	cmd := &cobra.Command{
		Use:   "serve [--listen ADDR]",
		Short: "Serve /metrics and the monitoring API from Redis until stopped",
		Long: `Serve, until interrupted (Ctrl-C or SIGTERM, then in-flight requests finish):

  /metrics                                          Prometheus, read from Redis on each scrape
  /api/v1/integrations/monitoring/circuit-breakers  = breaker status -o json
  /api/v1/integrations/monitoring/queues            = queue status -o json
  /api/v1/integrations/monitoring/health            = health status -o json
  /api/v1/integrations/monitoring/chaos             = chaos status -o json
  /api/v1/integrations/monitoring/routes            the gateways' traffic per route, last minute
  /livez, /readyz                                   alive; ready = Redis answers

It makes no calls of its own: the families counted where calls are made
(haderos_gateway_*, haderos_circuitbreaker_calls_seconds,
haderos_chaos_faults_injected_total) come from the gateway. Breaker
transitions of every process are counted from the moment it starts.

It listens on loopback by default. Anywhere else every request except
/livez and /readyz needs "Authorization: Bearer $HADERCTL_ADMIN_TOKEN",
and without the variable it refuses to start (exit 2).`,
		Example: `  haderctl metrics serve
  HADERCTL_ADMIN_TOKEN=$(cat /run/secrets/admin) haderctl metrics serve --listen :9464
  curl -s localhost:9464/metrics | grep haderos_circuitbreaker_state`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if _, _, err := net.SplitHostPort(opts.Listen); err != nil {
				return cmdutil.UsageErrorf("invalid --listen %q: use HOST:PORT, such as %s", opts.Listen, DefaultMetricsListen)
			}
			if getenv != nil {
				opts.Token = strings.TrimSpace(getenv(admin.TokenEnv))
			}
			if !admin.IsLoopback(opts.Listen) && opts.Token == "" {
				return cmdutil.UsageErrorf("--listen %s is not loopback: set %s to a bearer token, or listen on 127.0.0.1", opts.Listen, admin.TokenEnv)
			}
			if runF != nil {
				return runF(opts)
			}
			return metricsServeRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.Listen, "listen", DefaultMetricsListen, "`ADDR` to serve on (HOST:PORT); off loopback needs "+admin.TokenEnv)
	return cmd
}

func metricsServeRun(ctx context.Context, opts *MetricsServeOptions) error {
	f := opts.F
	sys, err := f.System()
	if err != nil {
		return err
	}
	_, h, err := monitoring(ctx, f, sys, opts.Listen, opts.Token, metrics.Options{})
	if err != nil {
		return err
	}
	h.HandlePublic("GET /livez", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		writeProbe(w, http.StatusOK, map[string]any{"live": true})
	}))
	h.HandlePublic("GET /readyz", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rctx, cancel := f.RedisContext(r.Context())
		defer cancel()
		if err := sys.Redis.Ping(rctx).Err(); err != nil {
			writeProbe(w, http.StatusServiceUnavailable, map[string]any{"ready": false, "redis": f.RedisError(err).Error()})
			return
		}
		writeProbe(w, http.StatusOK, map[string]any{"ready": true, "redis": "ok"})
	}))

	ln, err := net.Listen("tcp", opts.Listen)
	if err != nil {
		return cmdutil.UsageErrorf("cannot listen on %s: %s", opts.Listen, unwrapOp(err))
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	addr := ln.Addr().String()
	fmt.Fprintf(f.IO.ErrOut, "haderctl: serving /metrics and the monitoring API on http://%s (Ctrl-C stops)\n", addr)
	if opts.Listening != nil {
		opts.Listening(addr)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), metricsShutdownGrace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("stopping the metrics server: %w", err)
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// monitoring builds the monitoring API and /metrics for an admin listener
// at listen: one snapshot reader for both (it remembers the names it saw,
// so each read is one round trip), the breaker transitions followed under
// ctx. mo gives the metrics' own options (Calls, Routes); a missing token
// off loopback is a usage error.
func monitoring(ctx context.Context, f *cmdutil.Factory, sys *engine.System, listen, token string, mo metrics.Options) (*metrics.Metrics, *admin.Handler, error) {
	reader := sys.Reader(func(o *snapshot.Options) { o.HealthSamples = snapshot.StatusHealthSamples })
	mo.Reader, mo.Logger = reader, f.Logger
	m := metrics.New(mo)
	m.FollowTransitions(ctx, sys.Breakers)
	h, err := admin.New(admin.Options{Reader: reader, Metrics: m.Handler(), Token: token,
		RequireToken: !admin.IsLoopback(listen), Logger: f.Logger})
	if err != nil {
		return nil, nil, cmdutil.UsageErrorf("%s", err)
	}
	return m, h, nil
}

// unwrapOp drops net's "listen tcp ADDR:" prefix, which the message
// already names.
func unwrapOp(err error) error {
	var op *net.OpError
	if errors.As(err, &op) && op.Err != nil {
		return op.Err
	}
	return err
}

func writeProbe(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}
