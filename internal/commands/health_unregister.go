package commands

import (
	"context"
	"fmt"

	"github.com/haderos/haderctl/internal/cmdutil"
	"github.com/haderos/haderctl/internal/engine/store"
	"github.com/spf13/cobra"
)

// HealthUnregisterOptions are `haderctl health unregister`'s inputs.
type HealthUnregisterOptions struct {
	F    *cmdutil.Factory
	Name string
}

// NewCmdHealthUnregister builds `haderctl health unregister`.
func NewCmdHealthUnregister(f *cmdutil.Factory, runF func(*HealthUnregisterOptions) error) *cobra.Command {
	opts := &HealthUnregisterOptions{F: f}
	return &cobra.Command{
		Use:     "unregister NAME",
		Short:   "Remove a health check registered at run time",
		Example: `  haderctl health unregister shopify`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := store.ValidName("service", args[0]); err != nil {
				return err
			}
			opts.Name = args[0]
			if runF != nil {
				return runF(opts)
			}
			return healthUnregisterRun(cmd.Context(), opts)
		},
	}
}

func healthUnregisterRun(ctx context.Context, opts *HealthUnregisterOptions) error {
	f := opts.F
	hc, ctx, cancel, err := partContext(ctx, f, f.Health)
	if err != nil {
		return err
	}
	defer cancel()
	found, err := hc.Unregister(ctx, opts.Name)
	if err != nil {
		return f.RedisError(err)
	}
	if !found {
		return cmdutil.UsageErrorf("unknown service %s: no health check of that name is registered", opts.Name)
	}
	if f.JSON() {
		return cmdutil.WriteJSON(f.IO.Out, map[string]any{"service": opts.Name, "unregistered": true})
	}
	_, err = fmt.Fprintf(f.IO.Out, "unregistered %s\n", opts.Name)
	return err
}
