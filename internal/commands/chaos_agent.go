package commands

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/haderos/haderctl/internal/cmdutil"
	"github.com/haderos/haderctl/internal/engine/chaos/agent"
	"github.com/haderos/haderctl/internal/engine/store"
	"github.com/spf13/cobra"
)

// ChaosAgentOptions are `haderctl chaos agent`'s inputs.
type ChaosAgentOptions struct {
	F       *cmdutil.Factory
	Service string
}

// NewCmdChaosAgent builds `haderctl chaos agent`.
func NewCmdChaosAgent(f *cmdutil.Factory, runF func(*ChaosAgentOptions) error) *cobra.Command {
	opts := &ChaosAgentOptions{F: f}
	cmd := &cobra.Command{
		Use:   "agent --service NAME",
		Short: "Run beside a service: burn CPU and hold memory while cpu/memory experiments target it",
		Long: `Run beside a service and apply the cpu and memory experiments that target
it: burn the cores and hold the memory they ask for (within chaos.max_cores
and chaos.max_memory_mb), and release everything when they end, are
stopped, or the agent stops (Ctrl-C). A process whose environment is not
allowed applies nothing. Prints one line (NDJSON off a terminal) whenever
what it applies changes.`,
		Example: `  HADERCTL_ENV=staging haderctl chaos agent --service shopify`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := store.ValidName("service", opts.Service); err != nil {
				return cmdutil.UsageErrorf("--service is required: %s", err)
			}
			if runF != nil {
				return runF(opts)
			}
			return chaosAgentRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.Service, "service", "", "the service this agent runs beside")
	return cmd
}

// chaosAgentRun applies the experiments until ctx ends.
func chaosAgentRun(ctx context.Context, opts *ChaosAgentOptions) error {
	f := opts.F
	sys, err := f.System()
	if err != nil {
		return err
	}
	a := sys.Agent(opts.Service)
	a.OnChange = func(st agent.State) {
		if f.JSON() || !f.IO.IsStdoutTTY() {
			_ = cmdutil.WriteNDJSON(f.IO.Out, st)
			return
		}
		fmt.Fprintf(f.IO.Out, "%s  %s: %.2f cores, %d MB (%s)\n", f.Now().Format(time.TimeOnly), st.Service, st.Cores,
			st.MemoryMB, strings.Join(st.Experiments, ", "))
	}
	return a.Run(ctx)
}
