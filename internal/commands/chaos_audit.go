package commands

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/haderos/haderctl/internal/cmdutil"
	"github.com/haderos/haderctl/internal/engine/chaos"
	"github.com/spf13/cobra"
)

// ChaosAuditOptions are `haderctl chaos audit`'s inputs.
type ChaosAuditOptions struct {
	F      *cmdutil.Factory
	Follow bool
	Limit  int64
}

// NewCmdChaosAudit builds `haderctl chaos audit`.
func NewCmdChaosAudit(f *cmdutil.Factory, runF func(*ChaosAuditOptions) error) *cobra.Command {
	opts := &ChaosAuditOptions{F: f}
	cmd := &cobra.Command{
		Use:   "audit [--follow] [--limit N]",
		Short: "Show the audit log: every start, stop, expiry, refusal, halt",
		Example: `  haderctl chaos audit
  haderctl chaos audit --follow | jq -c 'select(.event == "refused")'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if opts.Limit < 1 {
				return cmdutil.UsageErrorf("invalid --limit %d: use at least 1", opts.Limit)
			}
			if runF != nil {
				return runF(opts)
			}
			return chaosAuditRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().BoolVarP(&opts.Follow, "follow", "f", false, "keep printing new entries until interrupted")
	int64Flag(cmd.Flags(), &opts.Limit, "limit", 100, "how many past entries to show")
	return cmd
}

// chaosAuditRun prints the past entries, then with --follow new ones until
// ctx ends (the follow itself is not bounded by the Redis timeout).
func chaosAuditRun(ctx context.Context, opts *ChaosAuditOptions) error {
	f := opts.F
	cc, rctx, cancel, err := partContext(ctx, f, f.Chaos)
	if err != nil {
		return err
	}
	entries, err := cc.Audit(rctx, opts.Limit)
	cancel()
	if err != nil {
		return f.RedisError(err)
	}
	ndjson := f.JSON() || !f.IO.IsStdoutTTY() || opts.Follow
	write := func(w io.Writer, e chaos.AuditEntry) {
		if ndjson {
			_ = cmdutil.WriteNDJSON(w, e)
			return
		}
		fmt.Fprintf(w, "%s  %-8s  %-16s  %s  %s\n", e.At.UTC().Format(time.RFC3339), e.Event, e.Target, e.By, truncate(e.Detail, 80))
	}
	for _, e := range entries {
		write(f.IO.Out, e)
	}
	if !opts.Follow {
		return nil
	}
	last := "0-0"
	if len(entries) > 0 {
		last = entries[len(entries)-1].ID
	}
	if err := cc.FollowAudit(ctx, last, func(e chaos.AuditEntry) { write(f.IO.Out, e) }); err != nil {
		return f.RedisError(err)
	}
	return nil
}
