package commands

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/haderos/haderctl/internal/cmdutil"
	"github.com/haderos/haderctl/internal/engine/snapshot"
	"github.com/spf13/cobra"
)

// ChaosStatusOptions are `haderctl chaos status`'s inputs.
type ChaosStatusOptions struct {
	F *cmdutil.Factory
}

// newCmdChaosStatus is the verb as the chaos group adds it.
func newCmdChaosStatus(f *cmdutil.Factory) *cobra.Command { return NewCmdChaosStatus(f, nil) }

// NewCmdChaosStatus builds `haderctl chaos status`.
func NewCmdChaosStatus(f *cmdutil.Factory, runF func(*ChaosStatusOptions) error) *cobra.Command {
	opts := &ChaosStatusOptions{F: f}
	return &cobra.Command{
		Use:   "status",
		Short: "Show whether chaos is enabled, the environment, the halt latch, the limits and what runs",
		Long: `Show the chaos switch, this process' environment and whether chaos may act
in it, the halt latch, the limits, and the experiments running or
scheduled, with the time left on Redis' clock. It only reads: an
experiment past its end is not shown (its expiry is audited by the
control plane and the data plane, not by a read).`,
		Example: "  haderctl chaos status -o json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(opts)
			}
			return chaosStatusRun(cmd.Context(), opts)
		},
	}
}

func chaosStatusRun(ctx context.Context, opts *ChaosStatusOptions) error {
	f := opts.F
	if _, err := f.Chaos(); err != nil {
		return err
	}
	reader, err := statusReader(f)
	if err != nil {
		return err
	}
	ctx, cancel := f.RedisContext(ctx)
	defer cancel()
	snap, err := reader.Snapshot(ctx, snapshot.Filter{Parts: snapshot.Chaos})
	if err != nil {
		return f.RedisError(err)
	}
	st := snap.Chaos
	for _, p := range st.Problems {
		fmt.Fprintf(f.IO.ErrOut, "haderctl: chaos %s\n", p)
	}
	exps := snapshot.ChaosExperiments(st)
	if f.JSON() {
		return cmdutil.WriteJSON(f.IO.Out, snapshot.ChaosDocument(snap))
	}
	yes := map[bool]string{true: "yes", false: "no"}
	fmt.Fprintf(f.IO.Out, "enabled:      %s\n", yes[st.Enabled])
	env := st.Environment
	if env == "" {
		env = "(unset)"
	}
	if st.EnvironmentOK {
		fmt.Fprintf(f.IO.Out, "environment:  %s (allowed)\n", env)
	} else {
		fmt.Fprintf(f.IO.Out, "environment:  %s (refused: %s)\n", env, st.Refusal)
	}
	if st.Halted {
		fmt.Fprintf(f.IO.Out, "halted:       yes, by %s: %s (haderctl chaos resume)\n", st.HaltedBy, st.HaltReason)
	} else {
		fmt.Fprintln(f.IO.Out, "halted:       no")
	}
	l := st.Limits
	fmt.Fprintf(f.IO.Out, "limits:       %s per experiment, %d at once, %d per hour, %.1f cores, %d MB\n", l.MaxDuration, l.MaxConcurrent, l.MaxPerHour, l.MaxCores, l.MaxMemoryMB)
	fmt.Fprintf(f.IO.Out, "active:       %d\n", len(exps))
	if len(exps) == 0 {
		return nil
	}
	// ENDS IN on Redis' clock, as the snapshot measured it
	t := cmdutil.NewTable(f.IO, "ID", "KIND", "SERVICES", "EFFECT", "PROBABILITY", "ENDS IN", "BY", "REASON")
	for _, e := range exps {
		t.Row(e.ID, e.Kind, strings.Join(e.Services, ","), effect(e.Experiment), strconv.FormatFloat(e.Probability*100, 'f', -1, 64)+"%",
			seconds(e.TimeLeft.Seconds(), true), e.By, e.Reason)
	}
	return t.Render()
}
