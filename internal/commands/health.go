package commands

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/haderos/haderctl/internal/cmdutil"
	"github.com/haderos/haderctl/internal/engine/health"
	"github.com/haderos/haderctl/internal/engine/store"
	"github.com/haderos/haderctl/internal/redact"
	"github.com/spf13/cobra"
)

// NewCmdHealth groups the health verbs.
func NewCmdHealth(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "health",
		Short: "Health checks: services probed on schedule, uptime and latency in Redis, alerts that fire once",
		Long: `Services (from the config file's health_url, or registered at run time) are
probed on their interval; results, hourly uptime and latency counters and
alert state live in Redis. Several watchers may run at once: between them
each service is probed once per interval and each alert is sent once.`,
		RunE: groupRun,
	}
	cmd.AddCommand(
		NewCmdHealthRegister(f, nil),
		NewCmdHealthUnregister(f, nil),
		NewCmdHealthWatch(f, nil),
		NewCmdHealthCheck(f, nil),
		NewCmdHealthStatus(f, nil),
	)
	return cmd
}

// healthChecks returns the configured and registered checks, sorted by
// name, narrowed to names (an unknown name is exit 2).
func healthChecks(ctx context.Context, f *cmdutil.Factory, hc *health.Checker, names []string) ([]health.Check, error) {
	c, err := f.Config()
	if err != nil {
		return nil, err
	}
	all := map[string]health.Check{}
	reg, err := hc.Registered(ctx)
	if err != nil {
		return nil, f.RedisError(err)
	}
	for n, chk := range reg {
		all[n] = chk
	}
	for _, s := range c.Services {
		if chk, ok := c.HealthCheck(s.Name); ok {
			all[s.Name] = chk
		}
	}
	if len(names) == 0 {
		out := make([]health.Check, 0, len(all))
		for _, n := range sortedKeys(all) {
			out = append(out, all[n])
		}
		return out, nil
	}
	var out []health.Check
	var unknown []string
	for _, n := range names {
		if err := store.ValidName("service", n); err != nil {
			return nil, err
		}
		if chk, ok := all[n]; ok {
			out = append(out, chk)
		} else {
			unknown = append(unknown, n)
		}
	}
	if len(unknown) > 0 {
		return nil, cmdutil.UsageErrorf("unknown service %s: give it a health_url in the config or `haderctl health register %s --url URL`",
			strings.Join(unknown, ", "), unknown[0])
	}
	return out, nil
}

// HealthRegisterOptions are `haderctl health register`'s inputs.
type HealthRegisterOptions struct {
	F     *cmdutil.Factory
	Check health.Check
}

// NewCmdHealthRegister builds `haderctl health register`.
func NewCmdHealthRegister(f *cmdutil.Factory, runF func(*HealthRegisterOptions) error) *cobra.Command {
	opts := &HealthRegisterOptions{F: f}
	var expect []int
	var failures, successes int
	cmd := &cobra.Command{
		Use:   "register NAME --url URL [--interval 30s] [--timeout 10s]",
		Short: "Register a service's health check in Redis, for every watcher",
		Example: `  haderctl health register shopify --url https://shop.example.com/health
  haderctl health register aramex --url https://aramex.example/ping --interval 10s --timeout 2s --expect-status 200,204`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := store.ValidName("service", args[0]); err != nil {
				return err
			}
			opts.Check.Name = args[0]
			opts.Check.ExpectStatus = expect
			opts.Check.Alert.FailureThreshold, opts.Check.Alert.SuccessThreshold = failures, successes
			if opts.Check.URL == "" {
				return cmdutil.UsageErrorf("--url is required (the URL to probe)")
			}
			fl := cmd.Flags()
			if err := firstErr(
				durationFlagRange(fl, "interval", opts.Check.Interval, health.MinInterval, health.MaxInterval),
				durationFlagRange(fl, "timeout", opts.Check.Timeout, time.Millisecond, health.MaxTimeout),
				durationFlagRange(fl, "max-response-time", opts.Check.MaxResponseTime, 0, health.MaxTimeout),
				intFlagRange(fl, "failure-threshold", failures, 1, health.MaxThreshold),
				intFlagRange(fl, "success-threshold", successes, 1, health.MaxThreshold),
			); err != nil {
				return err
			}
			chk := opts.Check.WithDefaults()
			if err := chk.Validate(); err != nil {
				return cmdutil.UsageErrorf("%s", redact.Scrub(err.Error(), redact.HTTPURLSecrets(opts.Check.URL)...))
			}
			opts.Check = chk
			if runF != nil {
				return runF(opts)
			}
			c, err := f.Config()
			if err != nil {
				return err
			}
			if _, inConfig := c.HealthCheck(chk.Name); inConfig {
				return cmdutil.UsageErrorf("service %s has its health check in the config file (%s); change it there", chk.Name, c.File)
			}
			hc, ctx, cancel, err := engineContext(cmd, f, f.Health)
			if err != nil {
				return err
			}
			defer cancel()
			if err := hc.Register(ctx, chk); err != nil {
				return f.RedisError(err)
			}
			if f.JSON() {
				shown := chk
				shown.URL, shown.Headers = redact.HTTPURL(chk.URL), redact.Headers(chk.Headers)
				return cmdutil.WriteJSON(f.IO.Out, shown)
			}
			fmt.Fprintf(f.IO.Out, "registered %s: %s %s every %s (timeout %s)\n", chk.Name, chk.Method, redact.HTTPURL(chk.URL), chk.Interval, chk.Timeout)
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.Check.URL, "url", "", "URL to probe (http or https)")
	fl.StringVar(&opts.Check.Method, "method", "GET", "HTTP method")
	durationFlag(fl, &opts.Check.Interval, "interval", health.DefaultInterval, "time between probes (1s to 24h)")
	durationFlag(fl, &opts.Check.Timeout, "timeout", health.DefaultTimeout, "time limit of one probe (at most 1h)")
	fl.IntSliceVar(&expect, "expect-status", nil, "healthy HTTP codes (default 200-399)")
	fl.StringVar(&opts.Check.BodyMatch, "body-match", "", "text the body must contain")
	durationFlag(fl, &opts.Check.MaxResponseTime, "max-response-time", 0, "a slower answer is a failure (0: no limit)")
	intFlag(fl, &failures, "failure-threshold", 0, "consecutive failures that fire the alert, at least 1 (default 3)")
	intFlag(fl, &successes, "success-threshold", 0, "consecutive successes that resolve it, at least 1 (default 2)")
	return cmd
}

// NewCmdHealthUnregister builds `haderctl health unregister`.
func NewCmdHealthUnregister(f *cmdutil.Factory, runF func(string) error) *cobra.Command {
	return &cobra.Command{
		Use:     "unregister NAME",
		Short:   "Remove a health check registered at run time",
		Example: `  haderctl health unregister shopify`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := store.ValidName("service", args[0]); err != nil {
				return err
			}
			if runF != nil {
				return runF(args[0])
			}
			hc, ctx, cancel, err := engineContext(cmd, f, f.Health)
			if err != nil {
				return err
			}
			defer cancel()
			found, err := hc.Unregister(ctx, args[0])
			if err != nil {
				return f.RedisError(err)
			}
			if !found {
				return cmdutil.UsageErrorf("unknown service %s: no health check of that name is registered", args[0])
			}
			if f.JSON() {
				return cmdutil.WriteJSON(f.IO.Out, map[string]any{"service": args[0], "unregistered": true})
			}
			fmt.Fprintf(f.IO.Out, "unregistered %s\n", args[0])
			return nil
		},
	}
}

// HealthRunOptions are the inputs of `health check` and `health watch`.
type HealthRunOptions struct {
	F     *cmdutil.Factory
	Names []string
}

// NewCmdHealthCheck builds `haderctl health check`.
func NewCmdHealthCheck(f *cmdutil.Factory, runF func(*HealthRunOptions) error) *cobra.Command {
	opts := &HealthRunOptions{F: f}
	return &cobra.Command{
		Use:   "check [NAME...]",
		Short: "Probe services once now; exit 1 if any is unhealthy",
		Long: `Probe the named services (default: all) once, now, and record the results
like a watcher would (they count toward uptime and alerts). Exit 0 when all
are healthy, 1 when any is not.`,
		Example: `  haderctl health check
  haderctl health check shopify aramex -o json`,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Names = args
			if runF != nil {
				return runF(opts)
			}
			hc, err := f.Health()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			rctx, cancel := f.RedisContext(ctx)
			checks, err := healthChecks(rctx, f, hc, opts.Names)
			cancel()
			if err != nil {
				return err
			}
			if len(checks) == 0 {
				return cmdutil.UsageErrorf("no services to check: give services a health_url in the config or `haderctl health register`")
			}
			results := make([]health.Result, len(checks))
			errs := make([]error, len(checks))
			done := make(chan int)
			for i, chk := range checks {
				go func() {
					results[i], errs[i] = hc.Check(ctx, chk)
					done <- i
				}()
			}
			for range checks {
				<-done
			}
			for _, err := range errs {
				if err != nil {
					return f.RedisError(err)
				}
			}
			if f.JSON() {
				if err := cmdutil.WriteJSON(f.IO.Out, results); err != nil {
					return err
				}
			} else {
				t := cmdutil.NewTable(f.IO, "SERVICE", "STATUS", "CODE", "LATENCY", "FAILURES", "ERROR")
				for _, r := range results {
					t.Row(r.Service, statusCell(r.Status), codeCell(r.Code), fmt.Sprintf("%.0fms", r.Latency), strconv.Itoa(r.ConsecutiveFailures), r.Error)
				}
				if err := t.Render(); err != nil {
					return err
				}
			}
			var bad []string
			for _, r := range results {
				if !r.Healthy {
					bad = append(bad, r.Service)
				}
			}
			if len(bad) > 0 {
				return cmdutil.Unhealthyf("unhealthy: %s", strings.Join(bad, ", "))
			}
			return nil
		},
	}
}

func statusCell(s string) string {
	switch s {
	case "healthy":
		return cmdutil.Colored(s, "green")
	case "unhealthy":
		return cmdutil.Colored(s, "red")
	}
	return cmdutil.Colored(s, "yellow")
}

func codeCell(code int) string {
	if code == 0 {
		return "-"
	}
	return strconv.Itoa(code)
}

// NewCmdHealthWatch builds `haderctl health watch`.
func NewCmdHealthWatch(f *cmdutil.Factory, runF func(*HealthRunOptions) error) *cobra.Command {
	opts := &HealthRunOptions{F: f}
	return &cobra.Command{
		Use:   "watch [NAME...]",
		Short: "Run the checker: a live table on a terminal, NDJSON otherwise",
		Long: `Probe the named services (default: all, including ones registered later)
on their intervals until interrupted. Several watchers may run against one
Redis: between them each service is probed once per interval and each
alert is sent once. On a terminal a live table updates in place; otherwise
(or with -o json) one NDJSON line per check this watcher made.`,
		Example: `  haderctl health watch
  haderctl health watch shopify | jq -c 'select(.healthy | not)'`,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Names = args
			if runF != nil {
				return runF(opts)
			}
			return healthWatchRun(cmd, opts)
		},
	}
}

func healthWatchRun(cmd *cobra.Command, opts *HealthRunOptions) error {
	f := opts.F
	hc, err := f.Health()
	if err != nil {
		return err
	}
	ctx := cmd.Context()
	rctx, cancel := f.RedisContext(ctx)
	first, err := healthChecks(rctx, f, hc, opts.Names)
	cancel()
	if err != nil {
		return err
	}
	if len(first) == 0 && len(opts.Names) == 0 {
		fmt.Fprintln(f.IO.ErrOut, "haderctl: no services to check yet; waiting for `haderctl health register`")
	}
	checks := func(ctx context.Context) ([]health.Check, error) {
		rctx, cancel := f.RedisContext(ctx)
		defer cancel()
		list, err := healthChecks(rctx, f, hc, nil)
		if err != nil || len(opts.Names) == 0 {
			return list, err
		}
		return slices.DeleteFunc(list, func(c health.Check) bool { return !slices.Contains(opts.Names, c.Name) }), nil
	}
	live := f.IO.IsStdoutTTY() && !f.JSON()
	if !live {
		return hc.Watch(ctx, checks, 5*time.Second, func(r health.Result) {
			_ = cmdutil.WriteNDJSON(f.IO.Out, r)
		})
	}
	// live table: redraw from the stored state once a second
	go func() {
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			list, err := checks(ctx)
			if err == nil {
				names := make([]string, len(list))
				for i, c := range list {
					names[i] = c.Name
				}
				rctx, cancel := f.RedisContext(ctx)
				sts, _, err := hc.Statuses(rctx, names)
				cancel()
				if err == nil {
					fmt.Fprint(f.IO.Out, "\x1b[H\x1b[2J")
					_ = renderHealthTable(f, sts)
				}
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	return hc.Watch(ctx, checks, 5*time.Second, func(health.Result) {})
}

func renderHealthTable(f *cmdutil.Factory, sts []health.Status) error {
	t := cmdutil.NewTable(f.IO, "SERVICE", "STATUS", "LATENCY", "UPTIME 24H", "FAILURES", "ALERT", "LAST ERROR")
	for _, s := range sts {
		alert := "-"
		if s.AlertOpen {
			alert = cmdutil.Colored("firing", "red")
		}
		lat := "-"
		if s.CheckedAt != nil {
			lat = fmt.Sprintf("%.0fms", s.Latency)
		}
		t.Row(s.Service, statusCell(s.Status), lat, uptimeCell(s.Windows["24h"]), strconv.Itoa(s.ConsecutiveFailures), alert, truncate(s.Error, 50))
	}
	return t.Render()
}

func uptimeCell(w health.Window) string {
	if w.Uptime == nil {
		return "-"
	}
	return strconv.FormatFloat(*w.Uptime, 'f', 2, 64) + "%"
}
