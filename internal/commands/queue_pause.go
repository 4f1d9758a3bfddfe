package commands

import (
	"context"
	"fmt"
	"strings"

	"github.com/haderos/haderctl/internal/cmdutil"
	"github.com/spf13/cobra"
)

// QueuePauseOptions are the inputs of `haderctl queue pause` and `resume`.
type QueuePauseOptions struct {
	F     *cmdutil.Factory
	Queue string
	// Pause is true for pause, false for resume.
	Pause bool
}

// NewCmdQueuePause builds `haderctl queue pause` (pause) or `resume`.
func NewCmdQueuePause(f *cmdutil.Factory, pause bool, runF func(*QueuePauseOptions) error) *cobra.Command {
	opts := &QueuePauseOptions{F: f, Pause: pause}
	use, short := "resume QUEUE", "Let drainers claim from a paused queue again"
	if pause {
		use, short = "pause QUEUE", "Stop drainers claiming from a queue (pushes still land)"
	}
	return &cobra.Command{
		Use:     use,
		Short:   short,
		Example: "  haderctl queue " + strings.Fields(use)[0] + " orders",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Queue = args[0]
			if runF != nil {
				return runF(opts)
			}
			return queuePauseRun(cmd.Context(), opts)
		},
	}
}

func queuePauseRun(ctx context.Context, opts *QueuePauseOptions) error {
	f := opts.F
	qc, ctx, cancel, err := queueContext(ctx, f, opts.Queue)
	if err != nil {
		return err
	}
	defer cancel()
	if opts.Pause {
		err = qc.Pause(ctx, opts.Queue, whoAmI())
	} else {
		err = qc.Resume(ctx, opts.Queue)
	}
	if err != nil {
		return f.RedisError(err)
	}
	if f.JSON() {
		return cmdutil.WriteJSON(f.IO.Out, map[string]any{"queue": opts.Queue, "paused": opts.Pause})
	}
	state := map[bool]string{true: "paused", false: "resumed"}[opts.Pause]
	_, err = fmt.Fprintf(f.IO.Out, "%s %s\n", state, opts.Queue)
	return err
}
