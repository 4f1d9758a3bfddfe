package commands

import (
	"context"
	"fmt"

	"github.com/haderos/haderctl/internal/cmdutil"
	"github.com/spf13/cobra"
)

// QueueListOptions are `haderctl queue list`'s inputs.
type QueueListOptions struct {
	F           *cmdutil.Factory
	Queue       string
	State       string
	Limit       int64
	ShowSecrets bool
}

// NewCmdQueueList builds `haderctl queue list`.
func NewCmdQueueList(f *cmdutil.Factory, runF func(*QueueListOptions) error) *cobra.Command {
	opts := &QueueListOptions{F: f}
	cmd := &cobra.Command{
		Use:   "list QUEUE [--state ready|delayed|leased|dead] [--limit N]",
		Short: "List a queue's operations in one state",
		Long: `List operations of QUEUE in one state: ready (in claim order: priority, then
age), delayed (by retry time), leased (by lease deadline) or dead (by when
they died). Secret headers and data fields are redacted unless
--show-secrets.`,
		Example: `  haderctl queue list orders
  haderctl queue list orders --state dead -o json | jq -r '.[].id'`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Queue = args[0]
			if opts.Limit < 1 {
				return cmdutil.UsageErrorf("invalid --limit %d: use at least 1", opts.Limit)
			}
			if runF != nil {
				return runF(opts)
			}
			return queueListRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.State, "state", "ready", "ready, delayed, leased or dead")
	cmd.Flags().Int64Var(&opts.Limit, "limit", 50, "how many to list")
	cmd.Flags().BoolVar(&opts.ShowSecrets, "show-secrets", false, "show secret headers and data fields")
	return cmd
}

func queueListRun(ctx context.Context, opts *QueueListOptions) error {
	f := opts.F
	qc, ctx, cancel, err := queueContext(ctx, f, opts.Queue)
	if err != nil {
		return err
	}
	defer cancel()
	ops, err := qc.List(ctx, opts.Queue, opts.State, opts.Limit)
	if err != nil {
		return f.RedisError(err)
	}
	for _, o := range ops {
		showable(o, opts.ShowSecrets)
	}
	if f.JSON() {
		return cmdutil.WriteJSON(f.IO.Out, ops)
	}
	t := cmdutil.NewTable(f.IO, "ID", "OPERATION", "SERVICE", "PRIORITY", "ATTEMPTS", "AGE", "WHEN", "LAST ERROR")
	now := f.Now()
	for _, o := range ops {
		if o.State == "corrupt" {
			t.Row(o.ID, cmdutil.Colored("corrupt", "red"), "-", "-", "-", "-", "-", o.LastError)
			continue
		}
		t.Row(o.ID, o.Operation, o.Service, string(o.Priority), fmt.Sprintf("%d/%d", o.Attempts, o.MaxAttempts),
			seconds(now.Sub(o.CreatedAt).Seconds(), true), opWhen(o, now), truncate(o.LastError, 60))
	}
	return t.Render()
}
