package commands

import (
	"context"
	"fmt"

	"github.com/haderos/haderctl/internal/cmdutil"
	"github.com/spf13/cobra"
)

// ChaosStopAllOptions are `haderctl chaos stop-all`'s inputs.
type ChaosStopAllOptions struct {
	F      *cmdutil.Factory
	Audit  *chaosGlobals
	Reason string
}

// NewCmdChaosStopAll builds `haderctl chaos stop-all`.
func NewCmdChaosStopAll(f *cmdutil.Factory, g *chaosGlobals, runF func(*ChaosStopAllOptions) error) *cobra.Command {
	opts := &ChaosStopAllOptions{F: f, Audit: g}
	cmd := &cobra.Command{
		Use:   "stop-all [--reason TEXT]",
		Short: "Emergency stop: end every experiment everywhere and refuse new ones until resume",
		Long: `End every experiment at once — every data plane hears of it over pub/sub
and re-reads within a second anyway — and latch a halt that refuses new
experiments until 'haderctl chaos resume'. Works in any environment, and
when Redis is full (maxmemory) or the audit key is broken: the experiments
end first, and what Redis then refuses of the bookkeeping (the latch, the
audit entries) is a warning on stderr and in -o json; the exit is 0.`,
		Example: `  haderctl chaos stop-all --reason "customers affected"`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if opts.Reason == "" {
				opts.Reason = "emergency stop"
			}
			if runF != nil {
				return runF(opts)
			}
			return chaosStopAllRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.Reason, "reason", "", "why (audited)")
	return cmd
}

func chaosStopAllRun(ctx context.Context, opts *ChaosStopAllOptions) error {
	f := opts.F
	cc, ctx, cancel, err := partContext(ctx, f, f.Chaos)
	if err != nil {
		return err
	}
	defer cancel()
	stop, err := cc.StopAll(ctx, opts.Reason)
	if aerr := opts.Audit.appendAudit("stop-all", map[string]any{"stopped": stop.Stopped, "reason": opts.Reason, "halted": stop.Halted,
		"warnings": stop.Warnings, "error": errString(err)}); aerr != nil {
		return aerr
	}
	if err != nil {
		return f.RedisError(err)
	}
	warnStop(f, stop)
	if f.JSON() {
		return cmdutil.WriteJSON(f.IO.Out, map[string]any{"stopped": nonNil(stop.Stopped), "halted": stop.Halted, "warnings": nonNil(stop.Warnings)})
	}
	if stop.Halted {
		_, err = fmt.Fprintf(f.IO.Out, "stopped %d experiments; chaos halted until `haderctl chaos resume`\n", len(stop.Stopped))
	} else {
		_, err = fmt.Fprintf(f.IO.Out, "stopped %d experiments; the halt could not be latched (see the warnings)\n", len(stop.Stopped))
	}
	return err
}
