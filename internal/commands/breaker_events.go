package commands

import (
	"context"
	"fmt"
	"strings"

	"github.com/haderos/haderctl/internal/cmdutil"
	"github.com/haderos/haderctl/internal/engine/breaker"
	"github.com/spf13/cobra"
)

// BreakerEventsOptions are `haderctl breaker events`' inputs.
type BreakerEventsOptions struct {
	F      *cmdutil.Factory
	Name   string
	Follow bool
	Limit  int64
}

// NewCmdBreakerEvents builds `haderctl breaker events`.
func NewCmdBreakerEvents(f *cmdutil.Factory, runF func(*BreakerEventsOptions) error) *cobra.Command {
	opts := &BreakerEventsOptions{F: f}
	cmd := &cobra.Command{
		Use:   "events [NAME]",
		Short: "Show breaker transitions (who, from, to, why); --follow streams new ones",
		Long: `Show the transition history of one breaker, or of all of them merged in
Redis time order. At a terminal: a table; otherwise (or with -o json) NDJSON,
one event per line. --follow keeps printing new transitions until Ctrl-C.`,
		Example: `  haderctl breaker events shopify
  haderctl breaker events --follow | jq -r 'select(.to=="open") | .name'`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				opts.Name = args[0]
			}
			if err := validNames(args); err != nil {
				return err
			}
			if opts.Limit < 1 {
				return cmdutil.UsageErrorf("--limit must be at least 1, not %d", opts.Limit)
			}
			if runF != nil {
				return runF(opts)
			}
			return breakerEventsRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().BoolVarP(&opts.Follow, "follow", "f", false, "keep printing new transitions until interrupted")
	cmd.Flags().Int64Var(&opts.Limit, "limit", 50, "how many past events to show")
	return cmd
}

// breakerEventsRun prints the history, or with --follow live events
// until parent ends.
func breakerEventsRun(parent context.Context, opts *BreakerEventsOptions) error {
	f := opts.F
	e, ctx, cancel, err := partContext(parent, f, f.Breakers)
	if err != nil {
		return err
	}
	defer cancel()
	all, known, err := knownBreakers(ctx, f, e)
	if err != nil {
		return err
	}
	names := all
	if opts.Name != "" {
		if err := requireKnown([]string{opts.Name}, known); err != nil {
			return err
		}
		names = []string{opts.Name}
	}
	table := f.IO.IsStdoutTTY() && !f.JSON()
	print := func(ev breaker.Event) error {
		if !table {
			return cmdutil.WriteNDJSON(f.IO.Out, ev)
		}
		who := fmt.Sprintf("%s@%s[%d]", ev.User, ev.Host, ev.PID)
		at := ev.At.Local().Format("2006-01-02 15:04:05.000")
		if ev.Action == breaker.ActionFallback {
			_, err := fmt.Fprintf(f.IO.Out, "%s  %-16s %s: %s  (%s)\n", at, ev.Name, ev.Action, ev.Reason, who)
			return err
		}
		if ev.Action != "" {
			changes := make([]string, len(ev.Changes))
			for i, c := range ev.Changes {
				changes[i] = c.String()
			}
			_, err := fmt.Fprintf(f.IO.Out, "%s  %-16s %s: %s  %s  (%s)\n", at, ev.Name, ev.Action,
				strings.Join(changes, ", "), ev.Reason, who)
			return err
		}
		_, err := fmt.Fprintf(f.IO.Out, "%s  %-16s %s → %s  %s  (%s)\n", at,
			ev.Name, ev.From, f.IO.Colorize(stateColor(ev.To), string(ev.To)), ev.Reason, who)
		return err
	}
	if !opts.Follow {
		evs, err := e.Events(ctx, names, opts.Limit)
		if err != nil {
			return f.RedisError(err)
		}
		for _, ev := range evs {
			if err := print(ev); err != nil {
				return err
			}
		}
		return nil
	}
	cancel() // following is not bounded by the Redis timeout
	return followEvents(parent, f, e, opts, names, print)
}

// followEvents subscribes first, then prints the history, then live events
// not already printed: no gap and no repeat between the two.
func followEvents(ctx context.Context, f *cmdutil.Factory, e *breaker.Engine, opts *BreakerEventsOptions, names []string, print func(breaker.Event) error) error {
	ready := make(chan struct{})
	live := make(chan breaker.Event, 1024)
	followErr := make(chan error, 1)
	var filter []string
	if opts.Name != "" {
		filter = names
	}
	go func() {
		followErr <- e.Follow(ctx, filter, ready, func(ev breaker.Event) { live <- ev })
	}()
	select {
	case <-ready:
	case err := <-followErr:
		return f.RedisError(err)
	}
	hctx, cancel := f.RedisContext(ctx)
	history, err := e.Events(hctx, names, opts.Limit)
	cancel()
	if err != nil {
		return f.RedisError(err)
	}
	printed := map[string]bool{}
	for _, ev := range history {
		printed[ev.ID] = true
		if err := print(ev); err != nil {
			return err
		}
	}
	for {
		select {
		case <-ctx.Done():
			return nil // interrupted: a clean stop
		case err := <-followErr:
			if ctx.Err() != nil {
				return nil
			}
			return f.RedisError(err)
		case ev := <-live:
			if printed[ev.ID] {
				continue
			}
			if err := print(ev); err != nil {
				return err
			}
		}
	}
}
