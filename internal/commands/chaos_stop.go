package commands

import (
	"context"
	"fmt"

	"github.com/haderos/haderctl/internal/cmdutil"
	"github.com/spf13/cobra"
)

// ChaosStopOptions are `haderctl chaos stop`'s inputs.
type ChaosStopOptions struct {
	F      *cmdutil.Factory
	Audit  *chaosGlobals
	ID     string
	Reason string
}

// NewCmdChaosStop builds `haderctl chaos stop`.
func NewCmdChaosStop(f *cmdutil.Factory, g *chaosGlobals, runF func(*ChaosStopOptions) error) *cobra.Command {
	opts := &ChaosStopOptions{F: f, Audit: g}
	cmd := &cobra.Command{
		Use:     "stop ID",
		Short:   "End one experiment now",
		Example: "  haderctl chaos stop ch-1a2b3c4d5e6f --reason done",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.ID = args[0]
			if runF != nil {
				return runF(opts)
			}
			return chaosStopRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.Reason, "reason", "", "why (audited)")
	return cmd
}

func chaosStopRun(ctx context.Context, opts *ChaosStopOptions) error {
	f := opts.F
	cc, ctx, cancel, err := partContext(ctx, f, f.Chaos)
	if err != nil {
		return err
	}
	defer cancel()
	stop, err := cc.Stop(ctx, opts.ID, opts.Reason)
	found := len(stop.Stopped) == 1
	if aerr := opts.Audit.appendAudit("stop", map[string]any{"id": opts.ID, "found": found, "error": errString(err), "warnings": stop.Warnings}); aerr != nil {
		return aerr
	}
	if err != nil {
		return f.RedisError(err)
	}
	if !found {
		return cmdutil.UsageErrorf("no running experiment %q (see haderctl chaos list)", opts.ID)
	}
	warnStop(f, stop)
	if f.JSON() {
		return cmdutil.WriteJSON(f.IO.Out, map[string]any{"stopped": []string{opts.ID}, "warnings": nonNil(stop.Warnings)})
	}
	_, err = fmt.Fprintf(f.IO.Out, "stopped %s\n", opts.ID)
	return err
}
