package commands

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/haderos/haderctl/internal/cmdutil"
	"github.com/haderos/haderctl/internal/engine/health"
	"github.com/spf13/cobra"
)

// HealthCheckOptions are `haderctl health check`'s inputs.
type HealthCheckOptions struct {
	F *cmdutil.Factory
	// Names narrows the services (none: all).
	Names []string
}

// NewCmdHealthCheck builds `haderctl health check`.
func NewCmdHealthCheck(f *cmdutil.Factory, runF func(*HealthCheckOptions) error) *cobra.Command {
	opts := &HealthCheckOptions{F: f}
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
			return healthCheckRun(cmd.Context(), opts)
		},
	}
}

// healthCheckRun probes every service at once; the probes are bounded by
// their own timeouts, not the Redis one.
func healthCheckRun(ctx context.Context, opts *HealthCheckOptions) error {
	f := opts.F
	hc, rctx, cancel, err := partContext(ctx, f, f.Health)
	if err != nil {
		return err
	}
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
}
