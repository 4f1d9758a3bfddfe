package commands

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/haderos/haderctl/internal/cmdutil"
	"github.com/haderos/haderctl/internal/engine/breaker"
	"github.com/haderos/haderctl/internal/engine/snapshot"
	"github.com/haderos/haderctl/internal/engine/store"
	"github.com/spf13/cobra"
)

// BreakerStatusOptions are `haderctl breaker status`'s inputs.
type BreakerStatusOptions struct {
	F *cmdutil.Factory
	// Names are breaker names or globs ('ship*'); empty means every one.
	Names      []string
	FailOnOpen bool
	// Limit shows at most Limit breakers, the first by name; 0: all.
	Limit int
}

// NewCmdBreakerStatus builds `haderctl breaker status`.
func NewCmdBreakerStatus(f *cmdutil.Factory, runF func(*BreakerStatusOptions) error) *cobra.Command {
	opts := &BreakerStatusOptions{F: f}
	cmd := &cobra.Command{
		Use:   "status [NAME|GLOB...]",
		Short: "Show breakers: state, counts, last failure, time until half-open",
		Long: `Show the named breakers (or those matching a glob such as 'ship*'), or every
breaker Redis knows and every configured service, sorted by name; --limit
keeps the first N. -o json prints the HaderOS monitoring shape:
{"circuit_breakers": {...}, "alerts": [...], "timestamp": "..."}, streamed
a page of 500 breakers at a time, so a fleet of any size prints in flat
memory.`,
		Example: `  haderctl breaker status
  haderctl breaker status shopify aramex -o json
  haderctl breaker status 'ship*' --limit 20
  haderctl breaker status --fail-on-open   # exit 1 if any breaker is open`,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Names = args
			if err := validPatterns("breaker", args); err != nil {
				return err
			}
			if opts.Limit < 0 {
				return cmdutil.UsageErrorf("invalid --limit %d: use 0 (no limit) or more", opts.Limit)
			}
			if runF != nil {
				return runF(opts)
			}
			return breakerStatusRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().BoolVar(&opts.FailOnOpen, "fail-on-open", false, "exit 1 when any listed breaker is open, forced open or corrupt")
	cmd.Flags().IntVar(&opts.Limit, "limit", 0, "show at most `N` breakers, the first by name (0: all)")
	return cmd
}

// isGlob reports whether a name argument is a pattern.
func isGlob(s string) bool { return strings.ContainsAny(s, "*?[") }

// validPatterns checks name arguments: a plain name must be a valid name,
// a glob a valid pattern (bad input: exit 2).
func validPatterns(kind string, args []string) error {
	for _, a := range args {
		if !isGlob(a) {
			if err := store.ValidName(kind, a); err != nil {
				return err
			}
			continue
		}
		if _, err := path.Match(a, ""); err != nil {
			return cmdutil.UsageErrorf("invalid %s pattern %q: %s", kind, a, err)
		}
	}
	return nil
}

// unknownNames are the plain names among args that were not seen. When
// --limit cut the list (listed reached it), a name not seen may lie
// beyond it: none is reported then.
func unknownNames(args []string, seen map[string]bool, limit, listed int) []string {
	if limit > 0 && listed >= limit {
		return nil
	}
	var out []string
	for _, a := range args {
		if !isGlob(a) && !seen[a] {
			out = append(out, a)
		}
	}
	return out
}

// statusReader is the snapshot reader of the status verbs (the engine's,
// with this process' settings, environment and configured services); tune
// adjusts its options.
func statusReader(f *cmdutil.Factory, tune ...func(*snapshot.Options)) (*snapshot.Reader, error) {
	sys, err := f.System()
	if err != nil {
		return nil, err
	}
	return sys.Reader(tune...), nil
}

func breakerStatusRun(ctx context.Context, opts *BreakerStatusOptions) error {
	f := opts.F
	e, err := f.Breakers()
	if err != nil {
		if !store.IsUnavailable(err) {
			return err
		}
		return breakerStatusOffline(opts, err)
	}
	reader, err := statusReader(f)
	if err != nil {
		return err
	}
	filter := snapshot.Filter{Parts: snapshot.Breakers, Names: opts.Names, Limit: opts.Limit}
	// seen holds only the plain names asked for: a fleet of any size is
	// not held
	seen := map[string]bool{}
	asked := map[string]bool{}
	for _, n := range opts.Names {
		asked[n] = !isGlob(n)
	}
	var corrupt []breaker.Status
	var bad *breaker.Status
	listed := 0
	note := func(s breaker.Status) {
		listed++
		if asked[s.Name] {
			seen[s.Name] = true
		}
		if s.State == breaker.Corrupt {
			corrupt = append(corrupt, breaker.Status{Name: s.Name, Problem: s.Problem})
		}
		if bad == nil && unhealthyBreaker(s.State) {
			bad = &breaker.Status{Name: s.Name, State: s.State}
		}
	}
	if f.JSON() {
		// streamed: only the names and the alerts are held. A fleet of any
		// size takes as many pages as it needs: the timeout bounds each
		// read and write of a page (the client's), not the whole stream.
		defer streamGC()()
		stream := snapshot.NewMonitoringStream(f.IO.Out)
		first, err := reader.EachBreaker(ctx, filter, snapshot.DefaultPage, func(s breaker.Status, now time.Time) error {
			note(s)
			return stream.Add(s, now)
		})
		if err != nil {
			return breakerReadError(ctx, f, e, err)
		}
		if err := stream.Close(first); err != nil {
			return err
		}
	} else {
		ctx, cancel := f.RedisContext(ctx)
		defer cancel()
		snap, err := reader.Snapshot(ctx, filter)
		if err != nil {
			return breakerReadError(ctx, f, e, err)
		}
		for _, s := range snap.Breakers {
			note(s)
		}
		if err := renderBreakerStatus(f, snap.Breakers, snap.Time, true); err != nil {
			return err
		}
	}
	for _, s := range corrupt {
		fmt.Fprintf(f.IO.ErrOut, "haderctl: breaker %s is corrupt in Redis: %s (`haderctl breaker reset %s` repairs it)\n", s.Name, s.Problem, s.Name)
	}
	if unknown := unknownNames(opts.Names, seen, opts.Limit, listed); len(unknown) > 0 {
		return cmdutil.UsageErrorf("unknown breaker %s: not in the config file and never used", quoteAll(unknown))
	}
	if opts.FailOnOpen && bad != nil {
		return cmdutil.Unhealthyf("breaker %s is %s", bad.Name, bad.State)
	}
	return nil
}

// streamGCPercent is the garbage collector's target while -o json
// streams. The stream's live heap stays under 2 MB at any fleet size, but
// it allocates about 2 KB per breaker read and written, and at the
// default (100) the runtime lets the heap reach its 4 MB minimum before
// collecting: that minimum, not held data, was most of the peak-RSS
// growth from 10 to 10,000 breakers (docs/benchmarks.md). At 50 the
// minimum is 2 MB, for a few more collections.
const streamGCPercent = 50

// streamGC lowers the collector's target for a stream, unless GOGC sets
// it; the returned function restores it.
func streamGC() (restore func()) {
	if os.Getenv("GOGC") != "" {
		return func() {}
	}
	old := debug.SetGCPercent(streamGCPercent)
	return func() { debug.SetGCPercent(old) }
}

// breakerReadError words a failed read: a registry of the wrong type is
// named with its type (one more read, on the error path only).
func breakerReadError(ctx context.Context, f *cmdutil.Factory, e *breaker.Engine, err error) error {
	var reg *breaker.RegistryError
	if errors.As(err, &reg) {
		if _, nerr := e.Names(ctx); nerr != nil {
			err = nerr
		}
	}
	return f.RedisError(err)
}

func unhealthyBreaker(s breaker.State) bool {
	switch s {
	case breaker.Open, breaker.ForcedOpen, breaker.Corrupt, breaker.Unknown:
		return true
	}
	return false
}

// breakerStatusOffline, with Redis unreachable, lists the configured (or
// named) breakers as state unknown, served by each process' in-memory
// fallback meanwhile, and exits 3. It cannot know any process' local state.
func breakerStatusOffline(opts *BreakerStatusOptions, cause error) error {
	f := opts.F
	c, err := f.Config()
	if err != nil {
		return err
	}
	names := opts.Names
	if len(names) == 0 {
		for _, s := range c.Services {
			names = append(names, s.Name)
		}
	}
	statuses := make([]breaker.Status, len(names))
	for i, n := range names {
		statuses[i] = breaker.Status{Name: n, State: breaker.Unknown, Settings: c.BreakerSettings(n), InMemory: true}
	}
	// The settings in force live in Redis: offline the table leaves them out.
	if err := renderBreakerStatus(f, statuses, f.Now(), false); err != nil {
		return err
	}
	return &cmdutil.ExitError{Code: cmdutil.ExitUnavailable,
		Err: fmt.Errorf("%w; processes use in-memory breakers meanwhile (redis_unavailable)", cause)}
}

func quoteAll(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = strconv.Quote(n)
	}
	return strings.Join(q, ", ")
}

// reporters is the REPORTERS cell: the processes that reported a failure
// within the window over min_reporters, "-" where no quorum is asked
// (min_reporters 1) or nothing is known (Redis down, or not closed: the
// set is cleared on every transition).
func reporters(s breaker.Status) string {
	if s.Settings.MinReporters <= 1 || s.State != breaker.Closed || s.InMemory {
		return "-"
	}
	return fmt.Sprintf("%d/%d", s.Reporters, s.Settings.MinReporters)
}

// renderBreakerStatus prints the statuses; withSettings adds the settings
// each breaker runs with (recovery timeout, max probes, probe lease; the
// thresholds are the denominators of FAILURES and SUCCESSES).
func renderBreakerStatus(f *cmdutil.Factory, statuses []breaker.Status, now time.Time, withSettings bool) error {
	if f.JSON() {
		return cmdutil.WriteJSON(f.IO.Out, snapshot.MonitoringOf(statuses, now))
	}
	header := []string{"NAME", "STATE", "FAILURES", "SUCCESSES", "REPORTERS", "LAST FAILURE", "HALF-OPEN", "IN-MEMORY"}
	if withSettings {
		header = append(header, "RECOVERY", "PROBES", "LEASE")
	}
	t := cmdutil.NewTable(f.IO, header...)
	for _, s := range statuses {
		halfOpen := "-"
		switch {
		case s.State == breaker.Open && s.UntilHalfOpen > 0:
			halfOpen = "in " + short(s.UntilHalfOpen)
		case s.State == breaker.Open:
			halfOpen = "next call"
		case s.State == breaker.HalfOpen:
			// the scripts never cap probes below the success threshold
			halfOpen = fmt.Sprintf("now (%d/%d probes)", s.ProbesInFlight+s.Successes, max(s.Settings.MaxProbes, s.Settings.SuccessThreshold))
		case s.State == breaker.ForcedOpen:
			halfOpen = "after reset"
		}
		inMemory := "no"
		if s.InMemory {
			inMemory = "yes"
		}
		row := []string{s.Name, cmdutil.Colored(string(s.State), stateColor(s.State)),
			fmt.Sprintf("%d/%d", s.Failures, s.Settings.FailureThreshold),
			fmt.Sprintf("%d/%d", s.Successes, s.Settings.SuccessThreshold),
			reporters(s), ago(s.LastFailure, now), halfOpen, inMemory}
		if withSettings {
			row = append(row, s.Settings.RecoveryTimeout.String(), strconv.Itoa(s.Settings.MaxProbes), s.Settings.ProbeLease.String())
		}
		t.Row(row...)
	}
	return t.Render()
}
