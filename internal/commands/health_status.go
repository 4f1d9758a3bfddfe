package commands

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/haderos/haderctl/internal/cmdutil"
	"github.com/haderos/haderctl/internal/engine/health"
	"github.com/haderos/haderctl/internal/engine/snapshot"
	"github.com/spf13/cobra"
)

// HealthStatusOptions are `haderctl health status`'s inputs.
type HealthStatusOptions struct {
	F *cmdutil.Factory
	// Names are service names or globs; empty means every service.
	Names           []string
	FailOnUnhealthy bool
	// Limit shows at most Limit services, the first by name; 0: all.
	Limit int
}

// NewCmdHealthStatus builds `haderctl health status`.
func NewCmdHealthStatus(f *cmdutil.Factory, runF func(*HealthStatusOptions) error) *cobra.Command {
	opts := &HealthStatusOptions{F: f}
	cmd := &cobra.Command{
		Use:   "status [NAME|GLOB...] [--fail-on-unhealthy]",
		Short: "Show the stored health without probing: uptime windows, latency, open alerts",
		Long: `Read each service's stored state (is_service_healthy: the last check
succeeded), uptime and average latency over 1h, 24h, 7d and 30d (hourly
buckets, the current hour included), and open alerts, without probing.
Names may be globs ('ship*'); --limit keeps the first N by name.
--fail-on-unhealthy exits 1 when any listed service is unhealthy or was
never checked.`,
		Example: `  haderctl health status
  haderctl health status shopify -o json | jq '.services.shopify.uptime."24h"'
  haderctl health status --fail-on-unhealthy`,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Names = args
			if err := validPatterns("service", args); err != nil {
				return err
			}
			if opts.Limit < 0 {
				return cmdutil.UsageErrorf("invalid --limit %d: use 0 (no limit) or more", opts.Limit)
			}
			if runF != nil {
				return runF(opts)
			}
			return healthStatusRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().BoolVar(&opts.FailOnUnhealthy, "fail-on-unhealthy", false, "exit 1 when any listed service is unhealthy or never checked")
	cmd.Flags().IntVar(&opts.Limit, "limit", 0, "show at most `N` services, the first by name (0: all)")
	return cmd
}

func healthStatusRun(ctx context.Context, opts *HealthStatusOptions) error {
	f := opts.F
	if _, err := f.Health(); err != nil {
		return err
	}
	// -o json shows the recent results (sparklines) as it always has
	reader, err := statusReader(f, func(o *snapshot.Options) { o.HealthSamples = snapshot.StatusHealthSamples })
	if err != nil {
		return err
	}
	ctx, cancel := f.RedisContext(ctx)
	defer cancel()
	filter := snapshot.Filter{Parts: snapshot.Health, Names: opts.Names, Limit: opts.Limit}
	if f.JSON() {
		filter.Events = snapshot.StatusAlertHistory
	}
	snap, err := reader.Snapshot(ctx, filter)
	if err != nil {
		return f.RedisError(err)
	}
	sts, now := snap.Services, snap.Time
	seen := make(map[string]bool, len(sts))
	for _, s := range sts {
		seen[s.Service] = true
	}
	if unknown := unknownNames(opts.Names, seen, opts.Limit, len(seen)); len(unknown) > 0 {
		return cmdutil.UsageErrorf("unknown service %s: give it a health_url in the config or `haderctl health register %s --url URL`",
			strings.Join(unknown, ", "), unknown[0])
	}
	for _, s := range sts {
		if s.Problem != "" {
			fmt.Fprintf(f.IO.ErrOut, "haderctl: service %s is corrupt in Redis: %s\n", s.Service, s.Problem)
		}
	}
	if f.JSON() {
		if err := cmdutil.WriteJSON(f.IO.Out, snapshot.HealthDocument(snap)); err != nil {
			return err
		}
	} else if err := renderHealthStatus(f, sts, now); err != nil {
		return err
	}
	if opts.FailOnUnhealthy {
		var bad []string
		for _, s := range sts {
			if !s.Healthy {
				bad = append(bad, s.Service+" ("+s.Status+")")
			}
		}
		if len(bad) > 0 {
			return cmdutil.Unhealthyf("unhealthy: %s", strings.Join(bad, ", "))
		}
	}
	return nil
}

func renderHealthStatus(f *cmdutil.Factory, sts []health.Status, now time.Time) error {
	t := cmdutil.NewTable(f.IO, "SERVICE", "STATUS", "CODE", "LATENCY", "UP 1H", "UP 24H", "UP 7D", "UP 30D", "AVG 24H", "FAILURES", "ALERT", "CHECKED")
	for _, s := range sts {
		alert, checked, lat, avg := "-", "never", "-", "-"
		if s.AlertOpen {
			alert = cmdutil.Colored("firing "+seconds(now.Sub(*s.AlertSince).Seconds(), true), "red")
		}
		if s.CheckedAt != nil {
			checked = seconds(now.Sub(*s.CheckedAt).Seconds(), true) + " ago"
			lat = fmt.Sprintf("%.0fms", s.Latency)
		}
		if w := s.Windows["24h"]; w.AvgLatency != nil {
			avg = fmt.Sprintf("%.0fms", *w.AvgLatency)
		}
		t.Row(s.Service, statusCell(s.Status), codeCell(s.Code), lat, uptimeCell(s.Windows["1h"]), uptimeCell(s.Windows["24h"]),
			uptimeCell(s.Windows["7d"]), uptimeCell(s.Windows["30d"]), avg, strconv.Itoa(s.ConsecutiveFailures), alert, checked)
	}
	return t.Render()
}
