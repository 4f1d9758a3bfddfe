package commands

import (
	"context"
	"time"

	"github.com/haderos/haderctl/internal/cmdutil"
	"github.com/haderos/haderctl/internal/dashboard"
	"github.com/haderos/haderctl/internal/dashboard/source"
	"github.com/haderos/haderctl/internal/tui"
	"github.com/spf13/cobra"
)

// DashboardOptions are `haderctl dashboard`'s inputs.
type DashboardOptions struct {
	F        *cmdutil.Factory
	Refresh  time.Duration
	ReadOnly bool
	NoColor  bool
}

// NewCmdDashboard builds `haderctl dashboard` (alias dash).
func NewCmdDashboard(f *cmdutil.Factory, runF func(*DashboardOptions) error) *cobra.Command {
	opts := &DashboardOptions{F: f, Refresh: time.Second}
	cmd := &cobra.Command{
		Use:     "dashboard [--refresh 1s] [--read-only]",
		Aliases: []string{"dash"},
		Short:   "A live screen of breakers, queues, health and chaos, with actions",
		Long: `One screen for on-call over the shared Redis state: breakers (state,
failures against thresholds, next probe), queues (ready, delayed, in
flight, dead, rate, oldest), services' health (up/down, latency, uptime,
alerts), chaos (switch, environment, latch, running experiments), the
gateway's traffic per route, and a tail of events. Enter drills down,
Esc goes back, / filters, ? shows every key, q quits.

Actions (each asks to confirm, and for a reason where the CLI takes one;
recorded in the same event and audit streams as the CLI): r reset, t trip,
d disable, e enable a breaker; p pause, u resume a queue; R retry a dead
operation; x stop an experiment; S stop all chaos. --read-only offers
none, for a shared screen.

It needs a terminal (at least 80×24). It reads one snapshot per refresh
and follows events in between; when Redis stops answering it says so,
keeps the last data with its age and keeps reconnecting.`,
		Example: `  haderctl dashboard
  haderctl dash --read-only --refresh 5s
  haderctl dashboard --redis-url rediss://redis.internal:6380/0`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if f.JSON() {
				return cmdutil.UsageErrorf("the dashboard is a screen and has no -o json: use `haderctl breaker status`, `queue status`, `health status` or `chaos status` with -o json")
			}
			if opts.Refresh < 100*time.Millisecond {
				return cmdutil.UsageErrorf("invalid --refresh %s: use 100ms or more", opts.Refresh)
			}
			opts.NoColor = f.IO.NoColor()
			if runF != nil {
				return runF(opts)
			}
			return dashboardRun(cmd.Context(), opts)
		},
	}
	durationFlag(cmd.Flags(), &opts.Refresh, "refresh", time.Second, "how often the snapshot is read")
	cmd.Flags().BoolVar(&opts.ReadOnly, "read-only", false, "offer no actions (a shared screen)")
	return cmd
}

func dashboardRun(ctx context.Context, opts *DashboardOptions) error {
	f := opts.F
	if !f.IO.IsStdoutTTY() || !f.IO.IsStdinTTY() {
		return cmdutil.UsageErrorf("the dashboard needs a terminal on stdin and stdout; for scripts use `haderctl breaker status`, `queue status`, `health status` or `chaos status` with -o json")
	}
	c, err := f.Config()
	if err != nil {
		return err
	}
	sys, err := f.System()
	if err != nil {
		return err
	}
	b := source.New(sys, source.Options{Environment: c.Environment, ReadOnly: opts.ReadOnly})
	profile := tui.ColorProfile(f.IO.Out, true, opts.NoColor, f.Getenv)
	return dashboard.Run(ctx, b, dashboard.Options{Refresh: opts.Refresh, ReadOnly: opts.ReadOnly, Profile: profile, Now: f.Now}, f.IO.In, f.IO.Out)
}
