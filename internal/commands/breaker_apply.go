package commands

import (
	"context"
	"errors"
	"fmt"

	"github.com/haderos/haderctl/internal/cmdutil"
	"github.com/haderos/haderctl/internal/engine/breaker"
	"github.com/spf13/cobra"
)

// BreakerApplyOptions are `haderctl breaker apply`'s inputs.
type BreakerApplyOptions struct {
	F      *cmdutil.Factory
	Names  []string
	Reason string
	DryRun bool
}

// NewCmdBreakerApply builds `haderctl breaker apply`.
func NewCmdBreakerApply(f *cmdutil.Factory, runF func(*BreakerApplyOptions) error) *cobra.Command {
	opts := &BreakerApplyOptions{F: f}
	cmd := &cobra.Command{
		Use:   "apply [NAME...] --reason TEXT [--dry-run]",
		Short: "Write the config file's breaker settings of each service to Redis (audited)",
		Long: `Write each configured service's effective breaker settings (the file's
breaker section and environment, then the service's own breaker: overrides)
to its breaker in Redis, which every process then follows. With names, only
those services. Each breaker that changes gets an event with --reason; one
that already runs with these settings is left alone. redis_unavailable is
not written: it is each process' own choice. --dry-run shows what would
change and writes nothing.`,
		Example: `  haderctl breaker apply --dry-run
  haderctl breaker apply --reason 'settings reviewed in INC-42'
  haderctl breaker apply shopify --reason 'new recovery timeout for Shopify'`,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Names = args
			if err := validNames(args); err != nil {
				return err
			}
			if opts.Reason == "" && !opts.DryRun {
				return cmdutil.UsageErrorf("apply needs --reason TEXT: it is recorded in the event stream")
			}
			if runF != nil {
				return runF(opts)
			}
			return breakerApplyRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.Reason, "reason", "", "why (recorded in the event stream; required)")
	cmd.Flags().BoolVar(&opts.DryRun, "dry-run", false, "show what would change; write nothing")
	return cmd
}

func breakerApplyRun(ctx context.Context, opts *BreakerApplyOptions) error {
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
		if len(names) == 0 {
			return cmdutil.UsageErrorf("the config file lists no services: nothing to apply (see `haderctl help configuration`)")
		}
	}
	for _, n := range names {
		if c.Service(n) == nil {
			return cmdutil.UsageErrorf("%q is not a service in the config file: apply writes only configured settings (use `haderctl breaker configure` for others)", n)
		}
	}
	e, err := f.Breakers()
	if err != nil {
		return err
	}
	ctx, cancel := f.RedisContext(ctx)
	defer cancel()
	want := func(n string) breaker.Settings {
		s := c.BreakerSettings(n)
		s.RedisUnavailable = ""
		return s
	}
	results := make([]configureOutput, 0, len(names))
	if opts.DryRun {
		statuses, _, err := e.Snapshot(ctx, names)
		if err != nil {
			return f.RedisError(err)
		}
		for _, st := range statuses {
			if st.State == breaker.Corrupt {
				return f.RedisError(&breaker.CorruptError{Name: st.Name, Detail: st.Problem})
			}
			w := want(st.Name)
			results = append(results, configureOutput{Name: st.Name, Settings: newSettingsJSON(w),
				Changes: st.Plan(w), DryRun: true})
		}
		return renderConfigure(f, results)
	}
	// A corrupt breaker does not keep the others from being applied: it is
	// reported after them (exit 1; `breaker reset` repairs it).
	var corrupt []error
	for _, n := range names {
		r, err := e.Configure(ctx, n, want(n), opts.Reason, breaker.ActionApply)
		var ce *breaker.CorruptError
		if errors.As(err, &ce) {
			corrupt = append(corrupt, err)
			continue
		}
		if err != nil {
			return configureError(f, err)
		}
		results = append(results, newConfigureOutput(r))
	}
	if err := renderConfigure(f, results); err != nil {
		return err
	}
	for _, err := range corrupt[min(1, len(corrupt)):] {
		fmt.Fprintf(f.IO.ErrOut, "haderctl: %s\n", err)
	}
	if len(corrupt) > 0 {
		return corrupt[0]
	}
	return nil
}
