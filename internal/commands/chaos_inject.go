package commands

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/haderos/haderctl/internal/cmdutil"
	"github.com/haderos/haderctl/internal/engine/chaos"
	"github.com/haderos/haderctl/internal/engine/store"
	"github.com/spf13/cobra"
)

// ChaosInjectOptions are `haderctl chaos inject`'s inputs.
type ChaosInjectOptions struct {
	F     *cmdutil.Factory
	Audit *chaosGlobals
	// Experiment is what to start: Kind from the argument, Services
	// checked ("all" is "*"), Probability a share (0, 1].
	Experiment chaos.Experiment
	// Percent is --probability as given, for the message.
	Percent float64
}

// NewCmdChaosInject builds `haderctl chaos inject`.
func NewCmdChaosInject(f *cmdutil.Factory, g *chaosGlobals, runF func(*ChaosInjectOptions) error) *cobra.Command {
	opts := &ChaosInjectOptions{F: f, Audit: g}
	e := &opts.Experiment
	var services []string
	cmd := &cobra.Command{
		Use:   "inject latency|error|abort|timeout|cpu|memory --service S --duration D [flags]",
		Short: "Start an experiment on a service (or --service all)",
		Long: `Start an experiment. latency: --delay (and --jitter); error: --status
(500, 503, 429…); abort: connection reset; timeout: hang until the caller
gives up; cpu: --cores burnt by 'chaos agent'; memory: --mb held by
'chaos agent'. --probability (default 100) is the share of matching
requests affected; --method and --path narrow them. The experiment ends by
itself after --duration.`,
		Example: `  haderctl chaos inject latency --service shopify --delay 1s --duration 5m
  haderctl chaos inject error --service aramex --status 503 --probability 30 --duration 2m --reason "game day"
  haderctl chaos inject abort --service all --path /api/orders --duration 1m`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			e.Kind = args[0]
			e.Services = nil
			for _, s := range services {
				if s == "all" || s == "*" {
					e.Services = []string{"*"}
					break
				}
				if err := store.ValidName("service", s); err != nil {
					return err
				}
				e.Services = append(e.Services, s)
			}
			if opts.Percent <= 0 || opts.Percent > 100 {
				return cmdutil.UsageErrorf("invalid --probability %g: use a percentage above 0 and at most 100", opts.Percent)
			}
			e.Probability = opts.Percent / 100
			if e.Kind != chaos.Error {
				e.Status = 0 // the flag's default belongs to error experiments only
			}
			if runF != nil {
				return runF(opts)
			}
			return chaosInjectRun(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.StringSliceVar(&services, "service", nil, "target service(s), or all")
	durationFlag(fl, &e.Duration, "duration", 0, "how long it lasts (it ends by itself)")
	floatFlag(fl, &opts.Percent, "probability", 100, "percentage of matching requests affected")
	fl.StringVar(&e.Method, "method", "", "only requests with this method")
	fl.StringVar(&e.PathPrefix, "path", "", "only requests whose path starts with this")
	durationFlag(fl, &e.Delay, "delay", 0, "latency: added delay")
	durationFlag(fl, &e.Jitter, "jitter", 0, "latency: ± random spread")
	intFlag(fl, &e.Status, "status", 503, "error: HTTP status returned")
	floatFlag(fl, &e.Cores, "cores", 0, "cpu: cores to burn")
	intFlag(fl, &e.MemoryMB, "mb", 0, "memory: megabytes to hold")
	fl.StringVar(&e.Reason, "reason", "", "why (audited)")
	return cmd
}

func chaosInjectRun(ctx context.Context, opts *ChaosInjectOptions) error {
	f := opts.F
	cc, ctx, cancel, err := partContext(ctx, f, f.Chaos)
	if err != nil {
		return err
	}
	defer cancel()
	started, err := cc.Start(ctx, opts.Experiment)
	if aerr := opts.Audit.appendAudit("inject", map[string]any{"experiment": started, "error": errString(err)}); aerr != nil {
		return aerr
	}
	if err != nil {
		return f.RedisError(err)
	}
	if f.JSON() {
		return cmdutil.WriteJSON(f.IO.Out, started)
	}
	_, err = fmt.Fprintf(f.IO.Out, "started %s: %s on %s (%s, %s of requests) until %s\n", started.ID, started.Kind,
		strings.Join(started.Services, ","), effect(started), strconv.FormatFloat(opts.Percent, 'f', -1, 64)+"%",
		started.End().UTC().Format(time.RFC3339))
	return err
}
