package commands

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/haderos/haderctl/internal/cmdutil"
	"github.com/haderos/haderctl/internal/engine/health"
	"github.com/spf13/cobra"
)

// HealthWatchOptions are `haderctl health watch`'s inputs.
type HealthWatchOptions struct {
	F *cmdutil.Factory
	// Names narrows the services (none: all, including ones registered
	// while it runs).
	Names []string
	// Rescan is how often the list of checks is re-read (5s).
	Rescan time.Duration
	// Redraw is how often the live table is redrawn (1s).
	Redraw time.Duration
}

// NewCmdHealthWatch builds `haderctl health watch`.
func NewCmdHealthWatch(f *cmdutil.Factory, runF func(*HealthWatchOptions) error) *cobra.Command {
	opts := &HealthWatchOptions{F: f, Rescan: 5 * time.Second, Redraw: time.Second}
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
			return healthWatchRun(cmd.Context(), opts)
		},
	}
}

// healthWatchRun probes until ctx ends. On a terminal (and not -o json) it
// redraws a table of the stored state; otherwise each result this watcher
// got is an NDJSON line.
func healthWatchRun(ctx context.Context, opts *HealthWatchOptions) error {
	f := opts.F
	hc, rctx, cancel, err := partContext(ctx, f, f.Health)
	if err != nil {
		return err
	}
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
		return hc.Watch(ctx, checks, opts.Rescan, func(r health.Result) {
			_ = cmdutil.WriteNDJSON(f.IO.Out, r)
		})
	}
	// the table is drawn from the stored state, so it shows what every
	// watcher found, not only this one
	var drawing sync.WaitGroup
	defer drawing.Wait() // no line is drawn after the command returns
	ctx, stop := context.WithCancel(ctx)
	defer stop() // also when Watch fails: the drawing ends first
	drawing.Add(1)
	go func() {
		defer drawing.Done()
		t := time.NewTicker(opts.Redraw)
		defer t.Stop()
		for {
			drawHealth(ctx, f, hc, checks)
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	return hc.Watch(ctx, checks, opts.Rescan, func(health.Result) {})
}

// drawHealth clears the terminal and draws the table once; a failed read
// keeps the last table on screen.
func drawHealth(ctx context.Context, f *cmdutil.Factory, hc *health.Checker, checks func(context.Context) ([]health.Check, error)) {
	list, err := checks(ctx)
	if err != nil {
		return
	}
	names := make([]string, len(list))
	for i, c := range list {
		names[i] = c.Name
	}
	rctx, cancel := f.RedisContext(ctx)
	sts, _, err := hc.Statuses(rctx, names)
	cancel()
	if err != nil {
		return
	}
	fmt.Fprint(f.IO.Out, "\x1b[H\x1b[2J")
	_ = renderHealthTable(f, sts)
}
