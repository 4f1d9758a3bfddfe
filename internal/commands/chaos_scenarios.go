package commands

import (
	"context"
	"strings"

	"github.com/haderos/haderctl/internal/cmdutil"
	"github.com/haderos/haderctl/internal/engine/gameday"
	"github.com/spf13/cobra"
)

// ChaosScenariosOptions are `haderctl chaos scenarios`' inputs.
type ChaosScenariosOptions struct {
	F *cmdutil.Factory
}

// NewCmdChaosScenarios builds `haderctl chaos scenarios`.
func NewCmdChaosScenarios(f *cmdutil.Factory, runF func(*ChaosScenariosOptions) error) *cobra.Command {
	opts := &ChaosScenariosOptions{F: f}
	return &cobra.Command{
		Use:     "scenarios",
		Short:   "List the built-in game-day scenarios",
		Example: "  haderctl chaos scenarios",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(opts)
			}
			return chaosScenariosRun(cmd.Context(), opts)
		},
	}
}

// chaosScenariosRun lists the built-ins; it needs neither Redis nor ctx.
func chaosScenariosRun(_ context.Context, opts *ChaosScenariosOptions) error {
	f := opts.F
	all, err := gameday.Builtins()
	if err != nil {
		return err
	}
	if f.JSON() {
		return cmdutil.WriteJSON(f.IO.Out, all)
	}
	t := cmdutil.NewTable(f.IO, "NAME", "ALIASES", "DESCRIPTION")
	for _, s := range all {
		t.Row(s.Name, strings.Join(s.Aliases, ","), s.Description)
	}
	return t.Render()
}
