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
	"github.com/spf13/cobra"
)

// QueueStatusOptions are `haderctl queue status`'s inputs.
type QueueStatusOptions struct {
	F        *cmdutil.Factory
	Names    []string
	Watch    bool
	Interval time.Duration
}

// NewCmdQueueStatus builds `haderctl queue status`.
func NewCmdQueueStatus(f *cmdutil.Factory, runF func(*QueueStatusOptions) error) *cobra.Command {
	opts := &QueueStatusOptions{F: f}
	cmd := &cobra.Command{
		Use:   "status [QUEUE...] [--watch]",
		Short: "Show each queue's backlog: pending by priority, delayed, in flight, dead, rates",
		Long: `Show the named queues, or every queue ever pushed to: pending operations by
priority, delayed (waiting for a retry), in flight (leased by a drainer),
completed, failed (dead now), average retry time (first failure to
success), retry success rate (completed / (completed + failed)), the age of
the oldest pending operation and the throughput over the last minute.
-o json prints {"queues": {...}, "overall": {...}, "timestamp": "..."}.
--watch redraws every --interval until interrupted (NDJSON off a terminal).`,
		Example: `  haderctl queue status
  haderctl queue status orders shipping -o json
  haderctl queue status --watch`,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Names = args
			if opts.Interval < 100*time.Millisecond {
				return cmdutil.UsageErrorf("invalid --interval %s: use at least 100ms", opts.Interval)
			}
			if runF != nil {
				return runF(opts)
			}
			return queueStatusRun(cmd, opts)
		},
	}
	cmd.Flags().BoolVarP(&opts.Watch, "watch", "w", false, "redraw until interrupted")
	cmd.Flags().DurationVar(&opts.Interval, "interval", 2*time.Second, "how often --watch redraws")
	return cmd
}

// systemStatus is the seed's get_system_status() shape.
type systemStatus struct {
	Queues    map[string]queue.Stats `json:"queues"`
	Overall   queue.Stats            `json:"overall"`
	Timestamp string                 `json:"timestamp"`
}

func queueStatusRun(cmd *cobra.Command, opts *QueueStatusOptions) error {
	f := opts.F
	qc, err := f.Queues()
	if err != nil {
		return err
	}
	once := func(ctx context.Context) (*systemStatus, error) {
		ctx, cancel := f.RedisContext(ctx)
		defer cancel()
		names, err := qc.Resolve(ctx, opts.Names)
		if err != nil {
			return nil, f.RedisError(err)
		}
		stats, now, err := qc.Stats(ctx, names)
		if err != nil {
			return nil, f.RedisError(err)
		}
		st := &systemStatus{Queues: map[string]queue.Stats{}, Timestamp: now.UTC().Format(time.RFC3339Nano)}
		for _, s := range stats {
			st.Queues[s.Queue] = s
		}
		st.Overall = overall(stats)
		return st, nil
	}
	ctx := cmd.Context()
	if !opts.Watch {
		st, err := once(ctx)
		if err != nil {
			return err
		}
		return renderQueueStatus(f, st, false)
	}
	tty := f.IO.IsStdoutTTY() && !f.JSON()
	t := time.NewTicker(opts.Interval)
	defer t.Stop()
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
		case <-t.C:
		}
	}
}

func overall(stats []queue.Stats) queue.Stats {
	o := queue.Stats{Queue: "overall", Pending: map[queue.Priority]int64{}}
	var retryMs float64
	for _, s := range stats {
		for p, n := range s.Pending {
			o.Pending[p] += n
		}
		o.PendingTotal += s.PendingTotal
		o.Delayed += s.Delayed
		o.InFlight += s.InFlight
		o.Dead += s.Dead
		o.Enqueued += s.Enqueued
		o.Completed += s.Completed
		o.Failed += s.Failed
		o.Retried += s.Retried
		o.Deferred += s.Deferred
		o.Duplicates += s.Duplicates
		o.DeadTrimmed += s.DeadTrimmed
		o.ThroughputPerSecond += s.ThroughputPerSecond
		retryMs += s.AvgRetrySeconds * float64(s.Completed)
		o.OldestPendingSeconds = max(o.OldestPendingSeconds, s.OldestPendingSeconds)
	}
	for _, p := range queue.Priorities {
		o.Pending[p] += 0
	}
	if o.Completed > 0 {
		o.AvgRetrySeconds = retryMs / float64(o.Completed)
	}
	if o.Completed+o.Failed > 0 {
		o.RetrySuccessRate = float64(o.Completed) / float64(o.Completed+o.Failed)
	}
	return o
}

func renderQueueStatus(f *cmdutil.Factory, st *systemStatus, ndjson bool) error {
	if f.JSON() {
		if ndjson {
			return cmdutil.WriteNDJSON(f.IO.Out, st)
		}
		return cmdutil.WriteJSON(f.IO.Out, st)
	}
	if len(st.Queues) == 0 {
		fmt.Fprintln(f.IO.Out, "no queues yet: nothing was ever pushed (haderctl queue push)")
		return nil
	}
	t := cmdutil.NewTable(f.IO, "QUEUE", "PENDING", "CRIT/HIGH/NORM/LOW", "DELAYED", "IN FLIGHT", "COMPLETED", "FAILED", "AVG RETRY", "SUCCESS", "OLDEST", "RATE")
	row := func(name string, s queue.Stats) {
		if s.Paused {
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
