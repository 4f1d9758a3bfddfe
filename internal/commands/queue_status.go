package commands

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"time"

	"github.com/haderos/haderctl/internal/cmdutil"
	"github.com/haderos/haderctl/internal/engine/queue"
	"github.com/haderos/haderctl/internal/engine/snapshot"
	"github.com/spf13/cobra"
)

// QueueStatusOptions are `haderctl queue status`'s inputs.
type QueueStatusOptions struct {
	F *cmdutil.Factory
	// Names are queue names or globs; empty means every queue.
	Names    []string
	Watch    bool
	Interval time.Duration
	// Limit shows at most Limit queues, the first by name; 0: all.
	Limit int
	// Ticks, when set, paces --watch instead of a ticker (tests).
	Ticks <-chan time.Time
}

// NewCmdQueueStatus builds `haderctl queue status`.
func NewCmdQueueStatus(f *cmdutil.Factory, runF func(*QueueStatusOptions) error) *cobra.Command {
	opts := &QueueStatusOptions{F: f}
	cmd := &cobra.Command{
		Use:   "status [QUEUE|GLOB...] [--watch]",
		Short: "Show each queue's backlog: pending by priority, delayed, in flight, dead, rates",
		Long: `Show the named queues (or those matching a glob such as 'ship*'), or every
queue ever pushed to: pending operations by priority, delayed (waiting for
a retry), in flight (leased by a drainer), completed, failed (dead now),
average retry time (first failure to success), retry success rate
(completed / (completed + failed)), the age of the oldest pending operation
and the throughput over the last minute. --limit keeps the first N by name.
-o json prints {"queues": {...}, "overall": {...}, "timestamp": "..."}.
--watch redraws every --interval until interrupted (NDJSON off a terminal);
a long-running watch reads each refresh in one round trip.`,
		Example: `  haderctl queue status
  haderctl queue status orders shipping -o json
  haderctl queue status 'ship*' --limit 10
  haderctl queue status --watch`,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Names = args
			if opts.Interval < 100*time.Millisecond {
				return cmdutil.UsageErrorf("invalid --interval %s: use at least 100ms", opts.Interval)
			}
			if opts.Limit < 0 {
				return cmdutil.UsageErrorf("invalid --limit %d: use 0 (no limit) or more", opts.Limit)
			}
			if err := validPatterns("queue", args); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			return queueStatusRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().BoolVarP(&opts.Watch, "watch", "w", false, "redraw until interrupted")
	cmd.Flags().DurationVar(&opts.Interval, "interval", 2*time.Second, "how often --watch redraws")
	cmd.Flags().IntVar(&opts.Limit, "limit", 0, "show at most `N` queues, the first by name (0: all)")
	return cmd
}

func queueStatusRun(ctx context.Context, opts *QueueStatusOptions) error {
	f := opts.F
	if _, err := f.Queues(); err != nil {
		return err
	}
	reader, err := statusReader(f)
	if err != nil {
		return err
	}
	filter := snapshot.Filter{Parts: snapshot.Queues, Names: opts.Names, Limit: opts.Limit}
	once := func(ctx context.Context) (*snapshot.QueueStatus, error) {
		ctx, cancel := f.RedisContext(ctx)
		defer cancel()
		snap, err := reader.Snapshot(ctx, filter)
		if err != nil {
			return nil, f.RedisError(err)
		}
		st := snapshot.QueueTotals(snap)
		seen := make(map[string]bool, len(st.Queues))
		for n := range st.Queues {
			seen[n] = true
		}
		if unknown := unknownNames(opts.Names, seen, opts.Limit, len(seen)); len(unknown) > 0 {
			return nil, &queue.UnknownQueueError{Names: unknown}
		}
		return &st, nil
	}
	if !opts.Watch {
		st, err := once(ctx)
		if err != nil {
			return err
		}
		return renderQueueStatus(f, st, false)
	}
	tty := f.IO.IsStdoutTTY() && !f.JSON()
	ticks := opts.Ticks
	if ticks == nil {
		t := time.NewTicker(opts.Interval)
		defer t.Stop()
		ticks = t.C
	}
	for {
		st, err := once(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		if tty {
			fmt.Fprint(f.IO.Out, "\x1b[H\x1b[2J")
		}
		if err := renderQueueStatus(f, st, !tty); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return nil
		case _, ok := <-ticks:
			if !ok {
				return nil
			}
		}
	}
}

func renderQueueStatus(f *cmdutil.Factory, st *snapshot.QueueStatus, ndjson bool) error {
	for _, name := range sortedKeys(st.Queues) {
		if p := st.Queues[name].Problem; p != "" {
			fmt.Fprintf(f.IO.ErrOut, "haderctl: queue %s is corrupt in Redis: %s\n", name, p)
		}
	}
	if f.JSON() {
		if ndjson {
			return cmdutil.WriteNDJSON(f.IO.Out, st)
		}
		return cmdutil.WriteJSON(f.IO.Out, st)
	}
	if len(st.Queues) == 0 {
		fmt.Fprintln(f.IO.ErrOut, "no queues yet: nothing was ever pushed (haderctl queue push)")
		return nil
	}
	t := cmdutil.NewTable(f.IO, "QUEUE", "PENDING", "CRIT/HIGH/NORM/LOW", "DELAYED", "IN FLIGHT", "COMPLETED", "FAILED", "AVG RETRY", "SUCCESS", "OLDEST", "RATE")
	row := func(name string, s queue.Stats) {
		switch {
		case s.Problem != "":
			name = cmdutil.Colored(name+" (corrupt)", "red")
		case s.Paused:
			name = cmdutil.Colored(name+" (paused)", "yellow")
		}
		failed := strconv.FormatInt(s.Dead, 10)
		if s.Dead > 0 {
			failed = cmdutil.Colored(failed, "red")
		}
		t.Row(name, strconv.FormatInt(s.PendingTotal, 10),
			fmt.Sprintf("%d/%d/%d/%d", s.Pending[queue.Critical], s.Pending[queue.High], s.Pending[queue.Normal], s.Pending[queue.Low]),
			strconv.FormatInt(s.Delayed, 10), strconv.FormatInt(s.InFlight, 10), strconv.FormatInt(s.Completed, 10), failed,
			seconds(s.AvgRetrySeconds, s.Completed > 0), percent(s.RetrySuccessRate, s.Completed+s.Failed > 0),
			seconds(s.OldestPendingSeconds, s.PendingTotal > 0), fmt.Sprintf("%.1f/s", s.ThroughputPerSecond))
	}
	for _, name := range sortedKeys(st.Queues) {
		row(name, st.Queues[name])
	}
	if len(st.Queues) > 1 {
		row("(overall)", st.Overall)
	}
	return t.Render()
}

func seconds(s float64, ok bool) string {
	if !ok {
		return "-"
	}
	d := time.Duration(s * float64(time.Second))
	switch {
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	case d < time.Hour:
		return d.Round(time.Second).String()
	}
	return d.Round(time.Minute).String()
}

func percent(r float64, ok bool) string {
	if !ok {
		return "-"
	}
	return strconv.FormatFloat(r*100, 'f', 1, 64) + "%"
}

func sortedKeys[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }
