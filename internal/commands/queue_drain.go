package commands

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"

	"charm.land/bubbles/v2/progress"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/colorprofile"
	"github.com/charmbracelet/x/ansi"
	"github.com/haderos/haderctl/internal/cmdutil"
	"github.com/haderos/haderctl/internal/engine/queue"
	"github.com/haderos/haderctl/internal/engine/store"
	"github.com/haderos/haderctl/internal/redact"
	"github.com/haderos/haderctl/internal/tui"
	"github.com/spf13/cobra"
)

// QueueDrainOptions are `haderctl queue drain`'s inputs.
type QueueDrainOptions struct {
	F           *cmdutil.Factory
	Queues      []string
	Service     string
	Concurrency int
	Max         int
	Follow      bool
	DryRun      bool
	Lease       time.Duration
	Grace       time.Duration
	OpTimeout   time.Duration
	Exec        string
}

// NewCmdQueueDrain builds `haderctl queue drain`.
func NewCmdQueueDrain(f *cmdutil.Factory, runF func(*QueueDrainOptions) error) *cobra.Command {
	opts := &QueueDrainOptions{F: f}
	cmd := &cobra.Command{
		Use:   "drain [QUEUE...] [flags]",
		Short: "Replay queued operations: over HTTP through the breaker, or with --exec",
		Long: `Claim and replay operations of the named queues (default: every queue),
highest priority first, oldest first within a priority. Each is replayed
over HTTP exactly as stored (method, URL, headers, data as the body)
through its service's breaker, or with --exec CMD, which gets the operation
as JSON on stdin (exit 0 = success). An open breaker puts the operation back
for later without spending an attempt. Failures retry with exponential
backoff and full jitter; after max attempts the operation is dead.

Claims are leased for --lease and renewed while the replay runs; a drainer
that dies leaves its operations to come back when the lease expires.
Without --follow the drain ends when nothing is ready; with it, it waits
for more until interrupted. SIGINT/SIGTERM stop claiming at once, give
replays in flight --grace to finish, and release the rest.

On a terminal: a summary; otherwise (or with -o json) NDJSON, one line
per outcome (completed, retry, dead, deferred, released, lost). A progress
bar is drawn on stderr when stderr is a terminal (not over NDJSON on a
terminal). Exit 0 when
everything attempted succeeded or was rescheduled (or no queue exists yet),
1 when operations went dead during the drain.`,
		Example: `  haderctl queue drain orders
  haderctl queue drain --service shopify --concurrency 20
  haderctl queue drain notifications --exec './send.sh' --max 100
  haderctl queue drain --follow | jq -c 'select(.outcome=="dead")'`,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Queues = args
			switch {
			case opts.Concurrency < 1 || opts.Concurrency > 1000:
				return cmdutil.UsageErrorf("invalid --concurrency %d: use 1 to 1000", opts.Concurrency)
			case opts.Max < 0:
				return cmdutil.UsageErrorf("invalid --max %d: use 0 (no limit) or more", opts.Max)
			case opts.Lease < time.Second:
				return cmdutil.UsageErrorf("invalid --lease %s: use at least 1s", opts.Lease)
			case opts.Grace < 0:
				return cmdutil.UsageErrorf("invalid --grace %s: it must not be negative", opts.Grace)
			case opts.OpTimeout <= 0:
				return cmdutil.UsageErrorf("invalid --op-timeout %s: it must be positive", opts.OpTimeout)
			}
			if opts.Service != "" {
				if err := store.ValidName("service", opts.Service); err != nil {
					return err
				}
			}
			if runF != nil {
				return runF(opts)
			}
			return queueDrainRun(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.Service, "service", "", "replay only this service's operations")
	fl.IntVarP(&opts.Concurrency, "concurrency", "c", 10, "replays in flight at once")
	fl.IntVar(&opts.Max, "max", 0, "stop after claiming this many (0: no limit)")
	fl.BoolVarP(&opts.Follow, "follow", "f", false, "keep waiting for new operations until interrupted")
	fl.BoolVar(&opts.DryRun, "dry-run", false, "show what would be replayed; claim nothing")
	fl.DurationVar(&opts.Lease, "lease", 30*time.Second, "how long a claimed operation stays with this drainer without renewal")
	fl.DurationVar(&opts.Grace, "grace", 10*time.Second, "on SIGINT/SIGTERM, how long replays in flight may finish")
	fl.DurationVar(&opts.OpTimeout, "op-timeout", 30*time.Second, "time limit of one replay (HTTP request or --exec command)")
	fl.StringVar(&opts.Exec, "exec", "", "replay by running this shell command with the operation as JSON on stdin")
	return cmd
}

// queueDrainRun drains until nothing is ready, or with --follow until ctx
// ends (then in-flight replays get --grace).
func queueDrainRun(ctx context.Context, opts *QueueDrainOptions) error {
	f := opts.F
	c, err := f.Config()
	if err != nil {
		return err
	}
	if opts.Follow {
		// a long-running drainer (a service started before Redis, a
		// restart) waits for Redis as a running drain does
		if err := awaitRedis(ctx, f, store.Options{URL: c.Redis.URL, Timeout: time.Duration(c.Redis.Timeout), TLS: c.Redis.TLS()}, queue.DefaultGiveUp); err != nil {
			return err
		}
		if ctx.Err() != nil {
			return nil // interrupted while waiting: nothing was claimed
		}
	}
	qc, err := f.Queues()
	if err != nil {
		return err
	}
	names, err := drainQueues(ctx, f, qc, opts)
	if err != nil {
		return f.RedisError(err)
	}
	if ctx.Err() != nil {
		return nil // interrupted while waiting for a first queue
	}
	if len(names) == 0 {
		// nothing to replay is not an error: a drain run on a schedule
		// before the first failure succeeds
		fmt.Fprintln(f.IO.ErrOut, "haderctl: no queues to drain: nothing was ever pushed (haderctl queue push)")
		return nil
	}
	if opts.DryRun {
		return queueDrainDryRun(ctx, opts, qc, names)
	}
	breakers, err := f.Breakers()
	if err != nil {
		return err
	}
	var handler queue.Handler
	if opts.Exec != "" {
		handler = (&queue.ExecReplayer{Command: opts.Exec, Breakers: breakers, Timeout: opts.OpTimeout}).Handle
	} else {
		rt := f.HTTPTransport(true)
		handler = queue.NewHTTPReplayer(rt, opts.OpTimeout, func(name string) (queue.Service, bool) {
			s := c.Service(name)
			if s == nil {
				return queue.Service{}, false
			}
			return queue.Service{BaseURL: s.BaseURL, Headers: s.Headers}, true
		}).Handle
	}

	// stdout carries NDJSON for programs, a summary for a person; the bar
	// is drawn on stderr, so only when that is a terminal, and not over
	// NDJSON that goes to a terminal too
	ndjson := f.JSON() || !f.IO.IsStdoutTTY()
	var bar *progressBar
	if f.IO.IsStderrTTY() && !(ndjson && f.IO.IsStdoutTTY()) {
		rctx, cancel := f.RedisContext(ctx)
		stats, _, err := qc.Stats(rctx, names)
		cancel()
		if err != nil {
			return f.RedisError(err)
		}
		total := 0
		for _, s := range stats {
			total += int(s.PendingTotal)
		}
		if opts.Max > 0 {
			total = min(total, opts.Max)
		}
		bar = newProgressBar(f, total)
		defer bar.stop()
	}
	var outMu sync.Mutex
	sum, err := qc.Drain(ctx, queue.DrainOptions{
		Queues: names, Service: opts.Service, Concurrency: opts.Concurrency, Max: opts.Max,
		Follow: opts.Follow, Lease: opts.Lease, Grace: opts.Grace, Handler: handler, Logger: f.Logger,
		OnReport: func(r queue.Report) {
			r.Error = redact.URLsIn(redact.Scrub(r.Error, c.Secrets()...))
			if bar != nil {
				bar.add(r)
			}
			if !ndjson {
				return
			}
			outMu.Lock()
			defer outMu.Unlock()
			_ = cmdutil.WriteNDJSON(f.IO.Out, r)
		},
	})
	if bar != nil {
		bar.stop()
	}
	if !ndjson {
		fmt.Fprintf(f.IO.Out, "drained %s: %d completed, %d rescheduled, %d deferred (breaker open), %d dead, %d released, %d lost\n",
			strings.Join(names, ", "), sum.Completed, sum.Retried, sum.Deferred, sum.Dead, sum.Released, sum.Lost)
	}
	if len(sum.Paused) > 0 {
		fmt.Fprintf(f.IO.ErrOut, "haderctl: skipped paused queue(s): %s (haderctl queue resume)\n", strings.Join(sum.Paused, ", "))
	}
	if err != nil {
		return f.RedisError(err)
	}
	if sum.Dead > 0 {
		return cmdutil.Unhealthyf("%d operations went dead during the drain (haderctl queue list QUEUE --state dead)", sum.Dead)
	}
	return nil
}

// drainQueues are the queues a drain claims from. A --follow drain is a
// long-running replayer that may start before the first failure: the
// queues it names need not exist yet, and without names it waits for a
// first queue to appear (polling once a second) rather than exit.
func drainQueues(ctx context.Context, f *cmdutil.Factory, qc *queue.Client, opts *QueueDrainOptions) ([]string, error) {
	for {
		rctx, cancel := f.RedisContext(ctx)
		names, err := qc.Resolve(rctx, opts.Queues)
		cancel()
		var unknown *queue.UnknownQueueError
		switch {
		case opts.Follow && errors.As(err, &unknown):
			return opts.Queues, nil
		case err != nil || len(names) > 0 || !opts.Follow:
			return names, err
		}
		t := time.NewTimer(time.Second)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, nil
		case <-t.C:
		}
	}
}

// awaitRedis returns once Redis at o.URL answers a PING, retrying an
// unreachable one for up to giveUp (then it is the error, exit 3); a
// Redis that refuses (e.g. a wrong password) is the error at once. o must
// be what the factory opens (the config file's TLS settings too).
func awaitRedis(ctx context.Context, f *cmdutil.Factory, o store.Options, giveUp time.Duration) error {
	timeout := o.Timeout
	rdb, err := store.Open(o)
	if err != nil {
		return nil // a bad URL is f.Queues()'s to report
	}
	defer rdb.Close()
	start := time.Now()
	warned := false
	for wait := 50 * time.Millisecond; ; wait = min(2*wait, time.Second) {
		pctx, cancel := context.WithTimeout(ctx, timeout)
		err := rdb.Ping(pctx).Err()
		cancel()
		switch {
		case err == nil:
			if warned {
				fmt.Fprintln(f.IO.ErrOut, "haderctl: Redis is reachable again: draining")
			}
			return nil
		case ctx.Err() != nil:
			return nil // interrupted: the caller stops
		case store.IsRefused(err) || !store.IsUnavailable(err):
			// a wrong password counts as unavailable for the engine's
			// fallbacks, but waiting does not fix it (LOADING is
			// unavailable, and waited for)
			return f.RedisError(err)
		case time.Since(start) > giveUp:
			return f.RedisError(err)
		case !warned:
			fmt.Fprintf(f.IO.ErrOut, "haderctl: %s; retrying for up to %s\n", f.RedisError(err), giveUp)
			warned = true
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
	}
}

// queueDrainDryRun shows what a drain would claim, in its order: queue by
// queue, paused ones skipped, the --service filter applied before --max.
func queueDrainDryRun(ctx context.Context, opts *QueueDrainOptions, qc *queue.Client, names []string) error {
	f := opts.F
	ctx, cancel := f.RedisContext(ctx)
	defer cancel()
	stats, _, err := qc.Stats(ctx, names)
	if err != nil {
		return f.RedisError(err)
	}
	limit := opts.Max
	if limit == 0 {
		limit = 1000
	}
	scan := int64(limit)
	if opts.Service != "" {
		scan = max(scan, queue.ServiceScan) // as many as a claim looks through
	}
	var plan []*queue.Operation
	var paused []string
	for _, s := range stats {
		if s.Paused {
			paused = append(paused, s.Queue)
			continue
		}
		if opts.Max > 0 && len(plan) >= opts.Max {
			continue // on, to name every paused queue
		}
		ops, err := qc.List(ctx, s.Queue, "ready", scan)
		if err != nil {
			return f.RedisError(err)
		}
		for _, o := range ops {
			if opts.Service == "" || o.Service == opts.Service {
				showable(o, false)
				plan = append(plan, o)
			}
		}
	}
	if opts.Max > 0 && len(plan) > opts.Max {
		plan = plan[:opts.Max]
	}
	if len(paused) > 0 {
		fmt.Fprintf(f.IO.ErrOut, "haderctl: skipped paused queue(s): %s (haderctl queue resume)\n", strings.Join(paused, ", "))
	}
	if f.JSON() || !f.IO.IsStdoutTTY() {
		for _, o := range plan {
			if err := cmdutil.WriteNDJSON(f.IO.Out, map[string]any{"dry_run": true, "queue": o.Queue, "id": o.ID,
				"operation": o.Operation, "service": o.Service, "priority": o.Priority, "request": o.Request}); err != nil {
				return err
			}
		}
		return nil
	}
	t := cmdutil.NewTable(f.IO, "QUEUE", "ID", "PRIORITY", "SERVICE", "REPLAY")
	for _, o := range plan {
		replay := "exec: " + opts.Exec
		if opts.Exec == "" {
			replay = "(no request stored: needs --exec)"
			if o.Request != nil {
				replay = o.Request.Method + " " + o.Request.URL
			}
		}
		t.Row(o.Queue, o.ID, string(o.Priority), o.Service, replay)
	}
	if err := t.Render(); err != nil {
		return err
	}
	// a message after the table: stdout keeps only the plan
	fmt.Fprintf(f.IO.ErrOut, "dry run: %d operations would be replayed; nothing was claimed\n", len(plan))
	return nil
}

// progressBar draws one line on stderr, redrawn in place: a
// bubbles/progress bar of done/total, the counts, the rate and the ETA,
// the outcomes in words (coloured by tui.Styles when stderr takes colour).
type progressBar struct {
	w      io.Writer // stderr, downsampled to its colour profile
	styles tui.Styles
	bar    progress.Model
	width  int // the terminal's
	total  int
	// now is the clock the rate and ETA are measured on (f.Now).
	now    func() time.Time
	start  time.Time
	mu     sync.Mutex
	counts map[string]int
	done   int
	quit   chan struct{}
	once   sync.Once
	wg     sync.WaitGroup
}

// newProgressLine is the bar over w (not yet drawing).
func newProgressLine(w io.Writer, profile colorprofile.Profile, width, total int, now func() time.Time) *progressBar {
	st := tui.NewStyles()
	bar := progress.New(progress.WithFillCharacters('█', '░'))
	bar.FullColor, bar.EmptyColor = st.BarFull.GetForeground(), st.BarEmpty.GetForeground()
	return &progressBar{w: tui.Writer(w, profile), styles: st, bar: bar, width: max(width, 40), total: total,
		now: now, start: now(), counts: map[string]int{}, quit: make(chan struct{})}
}

// newProgressBar draws the bar on f's stderr every 200ms until stop.
func newProgressBar(f *cmdutil.Factory, total int) *progressBar {
	profile := tui.ColorProfile(f.IO.ErrOut, f.IO.IsStderrTTY(), f.IO.NoColor(), f.Getenv)
	b := newProgressLine(f.IO.ErrOut, profile, f.IO.TerminalWidth(), total, f.Now)
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-b.quit:
				b.draw()
				fmt.Fprintln(b.w)
				return
			case <-t.C:
				b.draw()
			}
		}
	}()
	return b
}

func (b *progressBar) add(r queue.Report) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.counts[r.Outcome]++
	b.done++
}

func (b *progressBar) stop() {
	b.once.Do(func() { close(b.quit); b.wg.Wait() })
}

func (b *progressBar) draw() {
	b.mu.Lock()
	done, total := b.done, max(b.total, b.done)
	c := b.counts
	st := b.styles
	count := func(word string, n int, style lipgloss.Style) string {
		text := fmt.Sprintf("%s %d", word, n)
		if n == 0 {
			return text
		}
		return style.Render(text)
	}
	outcomes := strings.Join([]string{count("ok", c["completed"], st.Good), count("retry", c["retry"], st.Warn),
		count("deferred", c["deferred"], st.Warn), count("dead", c["dead"], st.Bad)}, "  ")
	b.mu.Unlock()
	elapsed := b.now().Sub(b.start).Seconds()
	rate := 0.0
	if elapsed > 0 {
		rate = float64(done) / elapsed
	}
	eta := "-"
	if rate > 0 && total > done {
		eta = seconds(float64(total-done)/rate, true)
	}
	frac := 1.0
	if total > 0 {
		frac = float64(done) / float64(total)
	}
	digits := len(strconv.Itoa(total))
	rest := fmt.Sprintf("  %*d/%d  %.1f/s  ETA %s  %s", digits, done, total, rate, eta, outcomes)
	// the bar takes what the rest leaves of the line, so the line never
	// wraps (a wrapped line is not redrawn in place by \r); it is sized
	// for the widest the rest gets while the drain runs, so it does not
	// jump as the figures grow
	line := b.width - 1
	widest := fmt.Sprintf("  %s/%s  %s/s  ETA %s  ok %s  retry %s  deferred %s  dead %s", strings.Repeat("9", digits), strings.Repeat("9", digits),
		"9999.9", "59m59s", strings.Repeat("9", digits), strings.Repeat("9", digits), strings.Repeat("9", digits), strings.Repeat("9", digits))
	b.bar.SetWidth(min(max(line-len(widest), 14), 40))
	fmt.Fprint(b.w, "\r"+ansi.Truncate(b.bar.ViewAs(frac)+rest, line, "")+ansi.EraseLineRight)
}
