package commands

import (
	"context"
	"fmt"
	"strings"

	"github.com/haderos/haderctl/internal/cmdutil"
	"github.com/haderos/haderctl/internal/engine/chaos"
	"github.com/spf13/cobra"
)

// ChaosSwitchOptions are the inputs of `haderctl chaos enable`, `disable`
// and `resume`.
type ChaosSwitchOptions struct {
	F     *cmdutil.Factory
	Audit *chaosGlobals
	// Verb is enable, disable or resume.
	Verb string
	// Reason is disable's --reason (audited).
	Reason string
}

// NewCmdChaosSwitch builds `haderctl chaos enable`, `disable` or `resume`
// (verb).
func NewCmdChaosSwitch(f *cmdutil.Factory, g *chaosGlobals, verb string, runF func(*ChaosSwitchOptions) error) *cobra.Command {
	short := map[string]string{
		"enable":  "Turn chaos on (refused outside the allowed environments)",
		"disable": "Turn chaos off and end every experiment",
		"resume":  "Clear the halt latched by stop-all",
	}[verb]
	opts := &ChaosSwitchOptions{F: f, Audit: g, Verb: verb}
	cmd := &cobra.Command{
		Use:     verb,
		Short:   short,
		Example: "  HADERCTL_ENV=staging haderctl chaos " + verb,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(opts)
			}
			return chaosSwitchRun(cmd.Context(), opts)
		},
	}
	if verb == "disable" {
		cmd.Flags().StringVar(&opts.Reason, "reason", "", "why (audited)")
	}
	return cmd
}

func chaosSwitchRun(ctx context.Context, opts *ChaosSwitchOptions) error {
	f := opts.F
	cc, ctx, cancel, err := partContext(ctx, f, f.Chaos)
	if err != nil {
		return err
	}
	defer cancel()
	var stop chaos.StopResult
	switch opts.Verb {
	case "enable":
		err = cc.Enable(ctx)
	case "disable":
		stop, err = cc.Disable(ctx, opts.Reason)
	case "resume":
		err = cc.Resume(ctx)
	default:
		return fmt.Errorf("chaos switch: unknown verb %q", opts.Verb)
	}
	if aerr := opts.Audit.appendAudit(opts.Verb, map[string]any{"by": cc.Who, "error": errString(err), "stopped": stop.Stopped, "warnings": stop.Warnings}); aerr != nil {
		return aerr
	}
	if err != nil {
		return f.RedisError(err)
	}
	warnStop(f, stop)
	if f.JSON() {
		out := map[string]any{"action": opts.Verb, "stopped": nonNil(stop.Stopped)}
		if opts.Verb == "disable" {
			out["warnings"] = nonNil(stop.Warnings)
		}
		return cmdutil.WriteJSON(f.IO.Out, out)
	}
	msg := map[string]string{"enable": "chaos enabled", "disable": "chaos disabled", "resume": "halt cleared: experiments may start again"}[opts.Verb]
	if len(stop.Stopped) > 0 {
		msg += fmt.Sprintf("; stopped %s", strings.Join(stop.Stopped, ", "))
	}
	_, err = fmt.Fprintln(f.IO.Out, msg)
	return err
}
