package commands

import (
	"context"
	"fmt"

	"github.com/haderos/haderctl/internal/cmdutil"
	"github.com/spf13/cobra"
)

// QueuePurgeOptions are `haderctl queue purge`'s inputs.
type QueuePurgeOptions struct {
	F     *cmdutil.Factory
	Queue string
	// Yes is --yes: do not ask. Without it the run asks on the terminal
	// (the constructor refuses when there is none).
	Yes bool
}

// NewCmdQueuePurge builds `haderctl queue purge`.
func NewCmdQueuePurge(f *cmdutil.Factory, runF func(*QueuePurgeOptions) error) *cobra.Command {
	opts := &QueuePurgeOptions{F: f}
	var dead bool
	cmd := &cobra.Command{
		Use:   "purge QUEUE --dead [--yes]",
		Short: "Delete a queue's dead operations for good",
		Long: `Delete every dead operation of QUEUE. This cannot be undone: without --yes
it asks on a terminal and refuses (exit 2) off one.`,
		Example: `  haderctl queue purge orders --dead --yes`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !dead {
				return cmdutil.UsageErrorf("purge deletes dead operations only: say so with --dead")
			}
			opts.Queue = args[0]
			if !opts.Yes && (!f.IO.IsStdinTTY() || !f.IO.IsStdoutTTY()) {
				return cmdutil.UsageErrorf("purge deletes dead operations for good: add --yes to confirm")
			}
			if runF != nil {
				return runF(opts)
			}
			return queuePurgeRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().BoolVar(&dead, "dead", false, "delete the dead operations (required)")
	cmd.Flags().BoolVarP(&opts.Yes, "yes", "y", false, "do not ask")
	return cmd
}

func queuePurgeRun(parent context.Context, opts *QueuePurgeOptions) error {
	f := opts.F
	qc, ctx, cancel, err := queueContext(parent, f, opts.Queue)
	if err != nil {
		return err
	}
	if !opts.Yes {
		// a person may take a while to answer: the Redis deadline starts
		// after the answer, not before the question
		cancel()
		if !confirm(f, fmt.Sprintf("Delete every dead operation of %s for good?", opts.Queue)) {
			return cmdutil.UsageErrorf("purge not confirmed: nothing deleted")
		}
		ctx, cancel = f.RedisContext(parent)
	}
	defer cancel()
	n, err := qc.PurgeDead(ctx, opts.Queue)
	if err != nil {
		return f.RedisError(err)
	}
	if f.JSON() {
		return cmdutil.WriteJSON(f.IO.Out, map[string]any{"queue": opts.Queue, "purged": n})
	}
	_, err = fmt.Fprintf(f.IO.Out, "purged %d dead operations of %s\n", n, opts.Queue)
	return err
}
