package commands

import (
	"context"
	"fmt"

	"github.com/haderos/haderctl/internal/cmdutil"
	"github.com/haderos/haderctl/internal/engine/breaker"
	"github.com/spf13/cobra"
)

// BreakerRecordOptions are `haderctl breaker record`'s inputs.
type BreakerRecordOptions struct {
	F       *cmdutil.Factory
	Name    string
	Success bool
}

// NewCmdBreakerRecord builds `haderctl breaker record`.
func NewCmdBreakerRecord(f *cmdutil.Factory, runF func(*BreakerRecordOptions) error) *cobra.Command {
	opts := &BreakerRecordOptions{F: f}
	return &cobra.Command{
		Use:   "record NAME success|failure",
		Short: "Report the outcome of a call to a service (for scripts and services in other languages)",
		Example: `  haderctl breaker record shopify failure
  curl -fsS https://example.test/health && haderctl breaker record shop success`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) != 2 {
				return cmdutil.UsageErrorf("record takes a breaker name and success or failure, e.g. `haderctl breaker record shopify failure`")
			}
			opts.Name = args[0]
			switch args[1] {
			case "success", "ok":
				opts.Success = true
			case "failure", "fail":
			default:
				return cmdutil.UsageErrorf("invalid outcome %q: use success or failure", args[1])
			}
			if err := validNames(args[:1]); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			return breakerRecordRun(cmd.Context(), opts)
		},
	}
}

// recordOutput is what record prints.
type recordOutput struct {
	Name       string `json:"name"`
	Outcome    string `json:"outcome"`
	State      string `json:"state"`
	Failures   int64  `json:"failures"`
	Successes  int64  `json:"successes"`
	Generation int64  `json:"generation"`
	// Transition is the state change this report caused, or null.
	Transition any `json:"transition"`
}

func breakerRecordRun(ctx context.Context, opts *BreakerRecordOptions) error {
	f := opts.F
	e, ctx, cancel, err := partContext(ctx, f, f.Breakers)
	if err != nil {
		return err
	}
	defer cancel()
	r, err := e.Record(ctx, opts.Name, opts.Success)
	if err != nil {
		return f.RedisError(err)
	}
	out := recordOutput{Name: opts.Name, Outcome: "failure", State: string(r.State), Failures: r.Failures,
		Successes: r.Successes, Generation: r.Generation}
	if opts.Success {
		out.Outcome = "success"
	}
	if r.Transition != nil {
		out.Transition = r.Transition
	}
	if f.JSON() {
		return cmdutil.WriteJSON(f.IO.Out, out)
	}
	line := fmt.Sprintf("%s %s: %s, failures %d/%d", opts.Name, out.Outcome, f.IO.Colorize(stateColor(r.State), string(r.State)), r.Failures, r.Settings.FailureThreshold)
	if r.State == breaker.HalfOpen {
		line += fmt.Sprintf(", probe successes %d/%d", r.Successes, r.Settings.SuccessThreshold)
	}
	if r.State == breaker.Closed && r.Reporters > 0 {
		// why a failure at the threshold left it closed
		line += fmt.Sprintf(", reporters %d/%d", r.Reporters, r.Settings.MinReporters)
	}
	if r.Transition != nil {
		line += fmt.Sprintf(" (%s → %s: %s)", r.Transition.From, r.Transition.To, r.Transition.Reason)
	}
	_, err = fmt.Fprintln(f.IO.Out, line)
	return err
}
