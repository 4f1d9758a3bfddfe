package commands

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/haderos/haderctl/internal/cmdutil"
	"github.com/haderos/haderctl/internal/engine/queue"
	"github.com/haderos/haderctl/internal/engine/snapshot"
	"github.com/haderos/haderctl/internal/tui/live"
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
	// Ticks, when set, paces --watch off a terminal instead of a ticker
	// (tests).
	Ticks <-chan time.Time
	// Program holds options of the live view's program (tests: a window
	// size, since a test's stdout is no terminal to ask).
	Program []tea.ProgramOption
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
--watch redraws every --interval until interrupted: on a terminal a live
table on the alternate screen (q or ctrl+c quits; below 80x24 it asks for
a larger terminal), off one a table (NDJSON with -o json) per refresh; a
long-running watch reads each refresh in one round trip.`,
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
	if tty {
		return queueStatusLive(ctx, opts, once)
	}
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
		if err := renderQueueStatus(f, st, true); err != nil {
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

// queueStatusLive is --watch on a terminal: the live table (tui/live),
// read every --interval. The first read is made before the screen is
// taken, so an unknown queue or Redis down is the usual message and exit
// code; its corrupt-queue lines and "no queues yet" go to stderr once.
func queueStatusLive(ctx context.Context, opts *QueueStatusOptions, once func(context.Context) (*snapshot.QueueStatus, error)) error {
	f := opts.F
	st, err := once(ctx)
	switch {
	case ctx.Err() != nil:
		return nil // interrupted before the first frame
	case err != nil:
		return err
	}
	reportCorrupt(f, st)
	if len(st.Queues) == 0 {
		fmt.Fprintln(f.IO.ErrOut, "no queues yet: nothing was ever pushed (haderctl queue push)")
	}
	read := func(ctx context.Context) (live.Frame, error) {
		st, err := once(ctx)
		if err != nil {
			return live.Frame{}, err
		}
		return queueStatusFrame(st, f.Now()), nil
	}
	c, err := f.Config()
	if err != nil {
		return err
	}
	title := "haderctl queue status  ·  namespace " + c.Redis.Namespace
	return liveRun(ctx, f, queueStatusFrame(st, f.Now()), live.Options{Title: title, Interval: opts.Interval, Fetch: read}, nil, opts.Program)
}

// queueStatusFrame is the live table of st: the columns of `queue status`,
// a queue's name marked (paused) or (corrupt), a non-zero FAILED as dead.
func queueStatusFrame(st *snapshot.QueueStatus, at time.Time) live.Frame {
	fr := live.Frame{Headers: queueStatusHeaders, Empty: "no queues yet: nothing was ever pushed (haderctl queue push)", At: at}
	row := func(name string, s queue.Stats) {
		nameCell := live.Cell{Text: name}
		switch {
		case s.Problem != "":
			nameCell = live.Cell{Text: name + " (corrupt)", State: "corrupt"}
		case s.Paused:
			nameCell = live.Cell{Text: name + " (paused)", State: "paused"}
		}
		out := []live.Cell{nameCell}
		for _, text := range queueStatusCells(s) {
			out = append(out, live.Cell{Text: text})
		}
		if s.Dead > 0 {
			out[6].State = "dead" // FAILED: operations in the dead set now
		}
		fr.Rows = append(fr.Rows, out)
	}
	for _, name := range sortedKeys(st.Queues) {
		row(name, st.Queues[name])
	}
	if len(st.Queues) > 1 {
		row("(overall)", st.Overall)
	}
	return fr
}

var queueStatusHeaders = []string{"QUEUE", "PENDING", "CRIT/HIGH/NORM/LOW", "DELAYED", "IN FLIGHT", "COMPLETED", "FAILED", "AVG RETRY", "SUCCESS", "OLDEST", "RATE"}

// queueStatusCells are a queue's columns after its name, plain.
func queueStatusCells(s queue.Stats) []string {
	return []string{strconv.FormatInt(s.PendingTotal, 10),
		fmt.Sprintf("%d/%d/%d/%d", s.Pending[queue.Critical], s.Pending[queue.High], s.Pending[queue.Normal], s.Pending[queue.Low]),
		strconv.FormatInt(s.Delayed, 10), strconv.FormatInt(s.InFlight, 10), strconv.FormatInt(s.Completed, 10), strconv.FormatInt(s.Dead, 10),
		seconds(s.AvgRetrySeconds, s.Completed > 0), percent(s.RetrySuccessRate, s.Completed+s.Failed > 0),
		seconds(s.OldestPendingSeconds, s.PendingTotal > 0), fmt.Sprintf("%.1f/s", s.ThroughputPerSecond)}
}

func reportCorrupt(f *cmdutil.Factory, st *snapshot.QueueStatus) {
	for _, name := range sortedKeys(st.Queues) {
		if p := st.Queues[name].Problem; p != "" {
			fmt.Fprintf(f.IO.ErrOut, "haderctl: queue %s is corrupt in Redis: %s\n", name, p)
		}
	}
}

func renderQueueStatus(f *cmdutil.Factory, st *snapshot.QueueStatus, ndjson bool) error {
	reportCorrupt(f, st)
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
