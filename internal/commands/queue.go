package commands

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/haderos/haderctl/internal/cmdutil"
	"github.com/haderos/haderctl/internal/engine/breaker"
	"github.com/haderos/haderctl/internal/engine/queue"
	"github.com/spf13/cobra"
)

// NewCmdQueue groups the queue verbs.
func NewCmdQueue(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "queue",
		Short: "The fallback queue: failed operations kept in Redis, retried, drained",
		Long: `Failed operations (a Shopify order, an Aramex shipment, a notification) are
kept in a Redis queue per operation type and replayed when the service is
back: over HTTP exactly as stored, or handed to a command with --exec.
Claims are leased and fenced, so a drainer killed mid-drain loses nothing:
its operations come back when the lease expires.`,
		RunE: groupRun,
	}
	cmd.AddCommand(
		NewCmdQueuePush(f, nil),
		NewCmdQueueStatus(f, nil),
		NewCmdQueueDrain(f, nil),
		NewCmdQueueList(f, nil),
		NewCmdQueueInspect(f, nil),
		NewCmdQueueRetry(f, nil),
		NewCmdQueuePurge(f, nil),
		NewCmdQueuePause(f, true, nil),
		NewCmdQueuePause(f, false, nil),
	)
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
	if !show {
		queue.Redact(o)
	}
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
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

func whoAmI() string {
	w := breaker.ThisProcess()
	return w.User + "@" + w.Host + ":" + strconv.Itoa(w.PID)
}

// queueContext opens the queue client for a command on one queue that
// must exist (an unknown queue is exit 2).
func queueContext(parent context.Context, f *cmdutil.Factory, name string) (*queue.Client, context.Context, context.CancelFunc, error) {
	qc, ctx, cancel, err := partContext(parent, f, f.Queues)
	if err != nil {
		return nil, nil, cancel, err
	}
	if _, err := qc.Resolve(ctx, []string{name}); err != nil {
		cancel()
		return nil, nil, func() {}, f.RedisError(err)
	}
	return qc, ctx, cancel, nil
}
