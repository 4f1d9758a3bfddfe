package commands

import (
	"context"
	"fmt"
	"strings"

	"github.com/haderos/haderctl/internal/cmdutil"
	"github.com/haderos/haderctl/internal/engine/queue"
	"github.com/spf13/cobra"
)

// QueueRetryOptions are `haderctl queue retry`'s inputs.
type QueueRetryOptions struct {
	F     *cmdutil.Factory
	Queue string
	// IDs are the dead operations to retry; none with AllDead.
	IDs     []string
	AllDead bool
}

// NewCmdQueueRetry builds `haderctl queue retry`.
func NewCmdQueueRetry(f *cmdutil.Factory, runF func(*QueueRetryOptions) error) *cobra.Command {
	opts := &QueueRetryOptions{F: f}
	cmd := &cobra.Command{
		Use:   "retry QUEUE ID...|--all-dead",
		Short: "Move dead operations back to ready, attempts reset",
		Example: `  haderctl queue retry orders order-1042 order-1043
  haderctl queue retry orders --all-dead`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if opts.AllDead == (len(args) > 1) {
				return cmdutil.UsageErrorf("give operation ids or --all-dead, not both or neither")
			}
			opts.Queue, opts.IDs = args[0], args[1:]
			for _, id := range opts.IDs {
				if err := queue.ValidID(id); err != nil {
					return err
				}
			}
			if runF != nil {
				return runF(opts)
			}
			return queueRetryRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().BoolVar(&opts.AllDead, "all-dead", false, "every dead operation of the queue")
	return cmd
}

func queueRetryRun(ctx context.Context, opts *QueueRetryOptions) error {
	f := opts.F
	qc, ctx, cancel, err := queueContext(ctx, f, opts.Queue)
	if err != nil {
		return err
	}
	defer cancel()
	var ids []string // nil: every dead one
	if !opts.AllDead {
		ids = opts.IDs
	}
	r, err := qc.Retry(ctx, opts.Queue, ids)
	if err != nil {
		return f.RedisError(err)
	}
	if f.JSON() {
		if err := cmdutil.WriteJSON(f.IO.Out, map[string]any{"queue": opts.Queue, "retried": r.Moved,
			"not_dead": r.NotDead, "corrupt": r.Corrupt}); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(f.IO.Out, "%d operations of %s back to ready\n", r.Moved, opts.Queue)
	}
	if len(r.NotDead) > 0 {
		return cmdutil.UsageErrorf("not dead in %s (nothing done for them): %s", opts.Queue, strings.Join(r.NotDead, ", "))
	}
	if len(r.Corrupt) > 0 {
		return fmt.Errorf("dead in %s but their entries cannot be read, so they stay dead (see `haderctl queue inspect`): %s",
			opts.Queue, strings.Join(r.Corrupt, ", "))
	}
	return nil
}
