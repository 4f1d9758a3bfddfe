package commands

import (
	"context"
	"fmt"

	"github.com/haderos/haderctl/internal/cmdutil"
	"github.com/spf13/cobra"
)

// ChaosListOptions are `haderctl chaos list`'s inputs.
type ChaosListOptions struct {
	F *cmdutil.Factory
}

// NewCmdChaosList builds `haderctl chaos list`.
func NewCmdChaosList(f *cmdutil.Factory, runF func(*ChaosListOptions) error) *cobra.Command {
	opts := &ChaosListOptions{F: f}
	return &cobra.Command{
		Use:     "list",
		Short:   "List the running experiments",
		Example: "  haderctl chaos list -o json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(opts)
			}
			return chaosListRun(cmd.Context(), opts)
		},
	}
}

func chaosListRun(ctx context.Context, opts *ChaosListOptions) error {
	f := opts.F
	cc, ctx, cancel, err := partContext(ctx, f, f.Chaos)
	if err != nil {
		return err
	}
	defer cancel()
	active, err := cc.Active(ctx)
	if err != nil {
		return f.RedisError(err)
	}
	if f.JSON() {
		return cmdutil.WriteJSON(f.IO.Out, nonNilExps(active))
	}
	if len(active) == 0 {
		// a message, not data: a script reading stdout sees no rows
		fmt.Fprintln(f.IO.ErrOut, "no experiments running")
		return nil
	}
	return renderExperiments(f, active)
}
