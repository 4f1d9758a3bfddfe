package commands

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/haderos/haderctl/internal/cmdutil"
	"github.com/haderos/haderctl/internal/engine/breaker"
	"github.com/haderos/haderctl/internal/engine/queue"
	"github.com/haderos/haderctl/internal/redact"
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
			f := opts.F
			qc, ctx, cancel, err := queueContext(cmd, f, opts.Queue)
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
		},
	}
	cmd.Flags().StringVar(&opts.State, "state", "ready", "ready, delayed, leased or dead")
	cmd.Flags().Int64Var(&opts.Limit, "limit", 50, "how many to list")
	cmd.Flags().BoolVar(&opts.ShowSecrets, "show-secrets", false, "show secret headers and data fields")
	return cmd
}

func opWhen(o *queue.Operation, now time.Time) string {
	switch {
	case o.NextAttemptAt != nil:
		return "retry in " + seconds(o.NextAttemptAt.Sub(now).Seconds(), true)
	case o.LeaseDeadline != nil:
		return "lease ends in " + seconds(o.LeaseDeadline.Sub(now).Seconds(), true)
	case o.DiedAt != nil:
		return "died " + seconds(now.Sub(*o.DiedAt).Seconds(), true) + " ago"
	}
	return "-"
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-1] + "…"
}

// showable redacts an operation for output unless secrets were asked for.
func showable(o *queue.Operation, show bool) {
	if show {
		return
	}
	// errors may quote a URL with a token in it (a library's, a command's)
	o.Error, o.LastError = redact.URLsIn(o.Error), redact.URLsIn(o.LastError)
	if len(o.Data) > 0 {
		o.Data = json.RawMessage(redact.JSON(o.Data))
	}
	if o.Request != nil {
		r := *o.Request
		r.Headers = redact.Headers(r.Headers)
		r.URL = redact.HTTPURL(r.URL)
		o.Request = &r
	}
}

// NewCmdQueueInspect builds `haderctl queue inspect`.
func NewCmdQueueInspect(f *cmdutil.Factory, runF func([]string, bool) error) *cobra.Command {
	var show bool
	cmd := &cobra.Command{
		Use:   "inspect QUEUE ID",
		Short: "Show one operation: its state, attempts, errors and stored request",
		Example: `  haderctl queue inspect orders order-1042
  haderctl queue inspect orders order-1042 -o json --show-secrets`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(args, show)
			}
			qc, ctx, cancel, err := queueContext(cmd, f, args[0])
			if err != nil {
				return err
			}
			defer cancel()
			if err := queue.ValidID(args[1]); err != nil {
				return err
			}
			o, err := qc.Inspect(ctx, args[0], args[1])
			if err != nil {
				return f.RedisError(err)
			}
			if o == nil {
				return cmdutil.UsageErrorf("queue %s has no operation %q (completed ones are kept for queue.retention)", args[0], args[1])
			}
			now := f.Now()
			if o.State == "completed" {
				// only the completion is kept (deduplication): no request
				// or data to show
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
			showable(o, show)
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
		},
	}
	cmd.Flags().BoolVar(&show, "show-secrets", false, "show secret headers and data fields")
	return cmd
}

// NewCmdQueueRetry builds `haderctl queue retry`.
func NewCmdQueueRetry(f *cmdutil.Factory, runF func([]string, bool) error) *cobra.Command {
	var all bool
	cmd := &cobra.Command{
		Use:   "retry QUEUE ID...|--all-dead",
		Short: "Move dead operations back to ready, attempts reset",
		Example: `  haderctl queue retry orders order-1042 order-1043
  haderctl queue retry orders --all-dead`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if all == (len(args) > 1) {
				return cmdutil.UsageErrorf("give operation ids or --all-dead, not both or neither")
			}
			if runF != nil {
				return runF(args, all)
			}
			qc, ctx, cancel, err := queueContext(cmd, f, args[0])
			if err != nil {
				return err
			}
			defer cancel()
			var ids []string
			if !all {
				ids = args[1:]
				for _, id := range ids {
					if err := queue.ValidID(id); err != nil {
						return err
					}
				}
			}
			r, err := qc.Retry(ctx, args[0], ids)
			if err != nil {
				return f.RedisError(err)
			}
			if f.JSON() {
				if err := cmdutil.WriteJSON(f.IO.Out, map[string]any{"queue": args[0], "retried": r.Moved,
					"not_dead": r.NotDead, "corrupt": r.Corrupt}); err != nil {
					return err
				}
			} else {
				fmt.Fprintf(f.IO.Out, "%d operations of %s back to ready\n", r.Moved, args[0])
			}
			if len(r.NotDead) > 0 {
				return cmdutil.UsageErrorf("not dead in %s (nothing done for them): %s", args[0], strings.Join(r.NotDead, ", "))
			}
			if len(r.Corrupt) > 0 {
				return fmt.Errorf("dead in %s but their entries cannot be read, so they stay dead (see `haderctl queue inspect`): %s",
					args[0], strings.Join(r.Corrupt, ", "))
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&all, "all-dead", false, "every dead operation of the queue")
	return cmd
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// NewCmdQueuePurge builds `haderctl queue purge`.
func NewCmdQueuePurge(f *cmdutil.Factory, runF func(string, bool) error) *cobra.Command {
	var dead, yes bool
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
			if runF != nil {
				return runF(args[0], yes)
			}
			if !yes && (!f.IO.IsStdinTTY() || !f.IO.IsStdoutTTY()) {
				return cmdutil.UsageErrorf("purge deletes dead operations for good: add --yes to confirm")
			}
			qc, ctx, cancel, err := queueContext(cmd, f, args[0])
			if err != nil {
				return err
			}
			if !yes {
				// a person may take a while to answer: the Redis deadline
				// starts after the answer, not before the question
				cancel()
				if !confirm(f, fmt.Sprintf("Delete every dead operation of %s for good?", args[0])) {
					return cmdutil.UsageErrorf("purge not confirmed: nothing deleted")
				}
				ctx, cancel = f.RedisContext(cmd.Context())
			}
			defer cancel()
			n, err := qc.PurgeDead(ctx, args[0])
			if err != nil {
				return f.RedisError(err)
			}
			if f.JSON() {
				return cmdutil.WriteJSON(f.IO.Out, map[string]any{"queue": args[0], "purged": n})
			}
			fmt.Fprintf(f.IO.Out, "purged %d dead operations of %s\n", n, args[0])
			return nil
		},
	}
	cmd.Flags().BoolVar(&dead, "dead", false, "delete the dead operations (required)")
	cmd.Flags().BoolVarP(&yes, "yes", "y", false, "do not ask")
	return cmd
}

// confirm asks a yes/no question on the terminal (default no). Any Redis
// deadline of the command must start after it returns.
func confirm(f *cmdutil.Factory, question string) bool {
	fmt.Fprintf(f.IO.ErrOut, "%s [y/N] ", question)
	var answer string
	fmt.Fscanln(f.IO.In, &answer)
	a := strings.ToLower(strings.TrimSpace(answer))
	return a == "y" || a == "yes"
}

// NewCmdQueuePause builds `haderctl queue pause` (pause) or `resume`.
func NewCmdQueuePause(f *cmdutil.Factory, pause bool, runF func(string) error) *cobra.Command {
	use, short := "resume QUEUE", "Let drainers claim from a paused queue again"
	if pause {
		use, short = "pause QUEUE", "Stop drainers claiming from a queue (pushes still land)"
	}
	cmd := &cobra.Command{
		Use:     use,
		Short:   short,
		Example: "  haderctl queue " + strings.Fields(use)[0] + " orders",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(args[0])
			}
			qc, ctx, cancel, err := queueContext(cmd, f, args[0])
			if err != nil {
				return err
			}
			defer cancel()
			if pause {
				err = qc.Pause(ctx, args[0], whoAmI())
			} else {
				err = qc.Resume(ctx, args[0])
			}
			if err != nil {
				return f.RedisError(err)
			}
			state := map[bool]string{true: "paused", false: "resumed"}[pause]
			if f.JSON() {
				return cmdutil.WriteJSON(f.IO.Out, map[string]any{"queue": args[0], "paused": pause})
			}
			fmt.Fprintf(f.IO.Out, "%s %s\n", state, args[0])
			return nil
		},
	}
	return cmd
}

func whoAmI() string {
	w := breaker.ThisProcess()
	return w.User + "@" + w.Host + ":" + strconv.Itoa(w.PID)
}

// queueContext opens the queue client for a command on one queue that
// must exist (an unknown queue is exit 2).
func queueContext(cmd *cobra.Command, f *cmdutil.Factory, name string) (*queue.Client, context.Context, context.CancelFunc, error) {
	qc, ctx, cancel, err := engineContext(cmd, f, f.Queues)
	if err != nil {
		return nil, nil, cancel, err
	}
	if _, err := qc.Resolve(ctx, []string{name}); err != nil {
		cancel()
		return nil, nil, func() {}, f.RedisError(err)
	}
	return qc, ctx, cancel, nil
}
