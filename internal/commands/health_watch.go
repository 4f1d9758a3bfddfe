package commands

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/haderos/haderctl/internal/cmdutil"
	"github.com/haderos/haderctl/internal/engine/health"
	"github.com/haderos/haderctl/internal/tui/live"
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
	// Redraw is how often the live table is read again (1s).
	Redraw time.Duration
	// Program holds options of the live view's program (tests: a window
	// size, since a test's stdout is no terminal to ask).
	Program []tea.ProgramOption
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
alert is sent once. On a terminal a live table of every watcher's results
updates in place on the alternate screen (q or ctrl+c quits; below 80x24
it asks for a larger terminal); otherwise (or with -o json) one NDJSON
line per check this watcher made.`,
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

// healthWatchRun probes until ctx ends. On a terminal (and not -o json)
// it shows a live table of the stored state (tui/live); otherwise each
// result this watcher got is an NDJSON line.
func healthWatchRun(ctx context.Context, opts *HealthWatchOptions) error {
	f := opts.F
	onTerminal := f.IO.IsStdoutTTY() && !f.JSON()
	var hold *stderrHold
	if onTerminal {
		// before the engine opens: its alert log keeps the writer it gets
		hold = holdStderr(f)
	}
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
	if !onTerminal {
		return hc.Watch(ctx, checks, opts.Rescan, func(r health.Result) {
			_ = cmdutil.WriteNDJSON(f.IO.Out, r)
		})
	}
	// the table is drawn from the stored state, so it shows what every
	// watcher found, not only this one
	read := func(ctx context.Context) (live.Frame, error) { return healthFrame(ctx, f, hc, checks) }
	frame, err := read(ctx)
	switch {
	case ctx.Err() != nil:
		return nil // interrupted before the first frame
	case err != nil:
		return err // before the screen is taken: the message and exit code as usual
	}
	c, err := f.Config()
	if err != nil {
		return err
	}
	title := "haderctl health watch  ·  namespace " + c.Redis.Namespace
	ctx, stop := context.WithCancel(ctx)
	var watching sync.WaitGroup
	defer watching.Wait() // no probe runs after the command returns
	defer stop()          // runs first: the watch ends, then it is waited for
	watching.Add(1)
	go func() {
		defer watching.Done()
		_ = hc.Watch(ctx, checks, opts.Rescan, func(health.Result) {})
	}()
	return liveRun(ctx, f, frame, live.Options{Title: title, Interval: opts.Redraw, Fetch: read}, hold, opts.Program)
}

// healthFrame reads the stored state of the watched services as the live
// table's frame.
func healthFrame(ctx context.Context, f *cmdutil.Factory, hc *health.Checker, checks func(context.Context) ([]health.Check, error)) (live.Frame, error) {
	list, err := checks(ctx)
	if err != nil {
		return live.Frame{}, err
	}
	names := make([]string, len(list))
	for i, c := range list {
		names[i] = c.Name
	}
	rctx, cancel := f.RedisContext(ctx)
	sts, _, err := hc.Statuses(rctx, names)
	cancel()
	if err != nil {
		return live.Frame{}, f.RedisError(err)
	}
	fr := live.Frame{Headers: []string{"SERVICE", "STATUS", "LATENCY", "UPTIME 24H", "FAILURES", "ALERT", "LAST ERROR"},
		Empty: "no services to check yet; waiting for `haderctl health register`", At: f.Now()}
	for _, s := range sts {
		alert := live.Cell{Text: "-"}
		if s.AlertOpen {
			alert = live.Cell{Text: "firing", State: "firing"}
		}
		lat := "-"
		if s.CheckedAt != nil {
			lat = fmt.Sprintf("%.0fms", s.Latency)
		}
		fr.Rows = append(fr.Rows, []live.Cell{{Text: s.Service}, {Text: s.Status, State: s.Status}, {Text: lat},
			{Text: uptimeCell(s.Windows["24h"])}, {Text: strconv.Itoa(s.ConsecutiveFailures)}, alert, {Text: truncate(s.Error, 50)}})
	}
	return fr, nil
}
