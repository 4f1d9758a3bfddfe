package commands

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/haderos/haderctl/internal/cmdutil"
	"github.com/haderos/haderctl/internal/engine/queue"
	"github.com/spf13/cobra"
)

// QueueInspectOptions are `haderctl queue inspect`'s inputs.
type QueueInspectOptions struct {
	F           *cmdutil.Factory
	Queue       string
	ID          string
	ShowSecrets bool
}

// NewCmdQueueInspect builds `haderctl queue inspect`.
func NewCmdQueueInspect(f *cmdutil.Factory, runF func(*QueueInspectOptions) error) *cobra.Command {
	opts := &QueueInspectOptions{F: f}
	cmd := &cobra.Command{
		Use:   "inspect QUEUE ID",
		Short: "Show one operation: its state, attempts, errors and stored request",
		Example: `  haderctl queue inspect orders order-1042
  haderctl queue inspect orders order-1042 -o json --show-secrets`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Queue, opts.ID = args[0], args[1]
			if err := queue.ValidID(opts.ID); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			return queueInspectRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().BoolVar(&opts.ShowSecrets, "show-secrets", false, "show secret headers and data fields")
	return cmd
}

func queueInspectRun(ctx context.Context, opts *QueueInspectOptions) error {
	f := opts.F
	qc, ctx, cancel, err := queueContext(ctx, f, opts.Queue)
	if err != nil {
		return err
	}
	defer cancel()
	o, err := qc.Inspect(ctx, opts.Queue, opts.ID)
	if err != nil {
		return f.RedisError(err)
	}
	if o == nil {
		return cmdutil.UsageErrorf("queue %s has no operation %q (completed ones are kept for queue.retention)", opts.Queue, opts.ID)
	}
	now := f.Now()
	if o.State == "completed" {
		// only the completion is kept (deduplication): no request or data
		// to show
		if f.JSON() {
			return cmdutil.WriteJSON(f.IO.Out, map[string]any{"id": o.ID, "queue": o.Queue, "state": o.State,
				"attempts": o.Attempts, "completed_at": o.CompletedAt})
		}
		t := cmdutil.NewTable(f.IO, "FIELD", "VALUE")
		t.Row("id", o.ID)
		t.Row("state", o.State)
		t.Row("attempts", strconv.Itoa(o.Attempts))
		t.Row("completed", o.CompletedAt.UTC().Format(time.RFC3339)+" ("+seconds(now.Sub(*o.CompletedAt).Seconds(), true)+" ago)")
		return t.Render()
	}
	showable(o, opts.ShowSecrets)
	if f.JSON() {
		return cmdutil.WriteJSON(f.IO.Out, o)
	}
	t := cmdutil.NewTable(f.IO, "FIELD", "VALUE")
	t.Row("id", o.ID)
	t.Row("state", o.State)
	if o.State != "corrupt" {
		t.Row("operation", o.Operation)
		t.Row("service", o.Service)
		t.Row("priority", string(o.Priority))
		t.Row("attempts", fmt.Sprintf("%d of %d", o.Attempts, o.MaxAttempts))
		if o.Stalls > 0 {
			t.Row("stalls", fmt.Sprintf("%d (leases that expired while a drainer held it)", o.Stalls))
		}
		t.Row("created", o.CreatedAt.UTC().Format(time.RFC3339)+" ("+seconds(now.Sub(o.CreatedAt).Seconds(), true)+" ago)")
		t.Row("when", opWhen(o, now))
		t.Row("error", o.Error)
		if o.Request != nil {
			t.Row("request", o.Request.Method+" "+o.Request.URL)
			for _, k := range sortedKeys(o.Request.Headers) {
				t.Row("  "+k, o.Request.Headers[k])
			}
		}
		t.Row("data", truncate(string(o.Data), 200))
	}
	t.Row("last error", o.LastError)
	return t.Render()
}
