package commands

import (
	"context"
	"fmt"
	"time"

	"github.com/haderos/haderctl/internal/cmdutil"
	"github.com/haderos/haderctl/internal/engine/health"
	"github.com/haderos/haderctl/internal/engine/store"
	"github.com/haderos/haderctl/internal/redact"
	"github.com/spf13/cobra"
)

// HealthRegisterOptions are `haderctl health register`'s inputs.
type HealthRegisterOptions struct {
	F *cmdutil.Factory
	// Check is validated, with its defaults filled in.
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
		Example: `  haderctl health register shopify --url https://shop.example/health
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
			return healthRegisterRun(cmd.Context(), opts)
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

// healthRegisterRun stores the check, unless the config file has one of
// that name (exit 2: the file is where it changes).
func healthRegisterRun(ctx context.Context, opts *HealthRegisterOptions) error {
	f, chk := opts.F, opts.Check
	c, err := f.Config()
	if err != nil {
		return err
	}
	if _, inConfig := c.HealthCheck(chk.Name); inConfig {
		return cmdutil.UsageErrorf("service %s has its health check in the config file (%s); change it there", chk.Name, c.File)
	}
	hc, ctx, cancel, err := partContext(ctx, f, f.Health)
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
	_, err = fmt.Fprintf(f.IO.Out, "registered %s: %s %s every %s (timeout %s)\n", chk.Name, chk.Method, redact.HTTPURL(chk.URL), chk.Interval, chk.Timeout)
	return err
}
