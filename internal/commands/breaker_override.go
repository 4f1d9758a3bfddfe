package commands

import (
	"context"
	"strconv"

	"github.com/haderos/haderctl/internal/cmdutil"
	"github.com/haderos/haderctl/internal/engine/breaker"
	"github.com/spf13/cobra"
)

// override is one of the operator verbs that set a breaker's state.
type override struct {
	verb, short, example, defaultReason string
	reasonRequired, allowAll, multi     bool
	apply                               func(e *breaker.Engine, ctx context.Context, name, reason string) (breaker.Result, error)
}

var (
	overrideReset = override{verb: "reset", short: "Close breakers, clear their counts and bump their generation",
		example:        "  haderctl breaker reset shopify --reason 'Shopify incident resolved'\n  haderctl breaker reset --all --reason 'after game day'",
		reasonRequired: true, allowAll: true, multi: true, apply: (*breaker.Engine).Reset}
	overrideTrip = override{verb: "trip", short: "Force a breaker open until it is reset (drills)",
		example:        "  haderctl breaker trip aramex --reason 'game day: Aramex down'",
		reasonRequired: true, apply: (*breaker.Engine).Trip}
	overrideDisable = override{verb: "disable", short: "Make a breaker admit every call (outcomes still count)",
		example:       "  haderctl breaker disable shopify --reason 'flapping health endpoint'",
		defaultReason: "disabled by an operator", apply: (*breaker.Engine).Disable}
	overrideEnable = override{verb: "enable", short: "End a disable or trip: the breaker is closed with clear counts",
		example:       "  haderctl breaker enable shopify",
		defaultReason: "enabled by an operator", apply: (*breaker.Engine).Enable}
)

// BreakerOverrideOptions are the inputs of reset, trip, disable and enable.
type BreakerOverrideOptions struct {
	F      *cmdutil.Factory
	Names  []string
	All    bool
	Reason string
	op     override
}

// overrideResult is one line of output: what changed.
type overrideResult struct {
	Name       string        `json:"name"`
	From       breaker.State `json:"from"`
	To         breaker.State `json:"to"`
	Generation int64         `json:"generation"`
	Reason     string        `json:"reason"`
	EventID    string        `json:"event_id"`
}

// NewCmdBreakerOverride builds one operator verb.
func NewCmdBreakerOverride(f *cmdutil.Factory, op override, runF func(*BreakerOverrideOptions) error) *cobra.Command {
	opts := &BreakerOverrideOptions{F: f, op: op}
	use := op.verb + " NAME"
	switch {
	case op.allowAll:
		use = op.verb + " NAME...|--all"
	case op.multi:
		use = op.verb + " NAME..."
	}
	cmd := &cobra.Command{
		Use:     use,
		Short:   op.short,
		Example: op.example,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Names = args
			switch {
			case opts.All && len(args) > 0:
				return cmdutil.UsageErrorf("give breaker names or --all, not both")
			case !opts.All && len(args) == 0:
				return cmdutil.UsageErrorf("%s needs a breaker name", op.verb)
			case !op.multi && len(args) > 1:
				return cmdutil.UsageErrorf("%s takes one breaker name, not %d", op.verb, len(args))
			case op.reasonRequired && opts.Reason == "":
				return cmdutil.UsageErrorf("%s needs --reason TEXT: it is recorded in the event stream", op.verb)
			}
			if err := validNames(args); err != nil {
				return err
			}
			if opts.Reason == "" {
				opts.Reason = op.defaultReason
			}
			if runF != nil {
				return runF(opts)
			}
			return breakerOverrideRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.Reason, "reason", "", "why (recorded in the event stream)")
	if op.allowAll {
		cmd.Flags().BoolVar(&opts.All, "all", false, "every breaker Redis knows and every configured service")
	}
	return cmd
}

func breakerOverrideRun(ctx context.Context, opts *BreakerOverrideOptions) error {
	f := opts.F
	e, ctx, cancel, err := partContext(ctx, f, f.Breakers)
	if err != nil {
		return err
	}
	defer cancel()
	all, known, err := knownBreakers(ctx, f, e)
	if err != nil {
		return err
	}
	names := opts.Names
	if opts.All {
		names = all
	}
	if err := requireKnown(names, known); err != nil {
		return err
	}
	results := make([]overrideResult, 0, len(names))
	for _, n := range names {
		r, err := opts.op.apply(e, ctx, n, opts.Reason)
		if err != nil {
			return f.RedisError(err)
		}
		out := overrideResult{Name: n, To: r.State, Generation: r.Generation, Reason: opts.Reason}
		if r.Transition != nil {
			out.From, out.EventID = r.Transition.From, r.Transition.ID
		}
		results = append(results, out)
	}
	if f.JSON() {
		return cmdutil.WriteJSON(f.IO.Out, results)
	}
	t := cmdutil.NewTable(f.IO, "NAME", "FROM", "TO", "GENERATION")
	for _, r := range results {
		t.Row(r.Name, string(r.From), cmdutil.Colored(string(r.To), stateColor(r.To)), strconv.FormatInt(r.Generation, 10))
	}
	return t.Render()
}
