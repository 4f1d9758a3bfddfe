package commands

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/haderos/haderctl/internal/cmdutil"
	"github.com/haderos/haderctl/internal/engine/health"
	"github.com/haderos/haderctl/internal/engine/store"
	"github.com/spf13/cobra"
)

// NewCmdHealth groups the health verbs.
func NewCmdHealth(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "health",
		Short: "Health checks: services probed on schedule, uptime and latency in Redis, alerts that fire once",
		Long: `Services (from the config file's health_url, or registered at run time) are
probed on their interval; results, hourly uptime and latency counters and
alert state live in Redis. Several watchers may run at once: between them
each service is probed once per interval and each alert is sent once.`,
		RunE: groupRun,
	}
	cmd.AddCommand(
		NewCmdHealthRegister(f, nil),
		NewCmdHealthUnregister(f, nil),
		NewCmdHealthWatch(f, nil),
		NewCmdHealthCheck(f, nil),
		NewCmdHealthStatus(f, nil),
	)
	return cmd
}

// healthChecks returns the configured and registered checks, sorted by
// name, narrowed to names (an unknown name is exit 2).
func healthChecks(ctx context.Context, f *cmdutil.Factory, hc *health.Checker, names []string) ([]health.Check, error) {
	c, err := f.Config()
	if err != nil {
		return nil, err
	}
	all := map[string]health.Check{}
	reg, err := hc.Registered(ctx)
	if err != nil {
		return nil, f.RedisError(err)
	}
	for n, chk := range reg {
		all[n] = chk
	}
	for _, s := range c.Services {
		if chk, ok := c.HealthCheck(s.Name); ok {
			all[s.Name] = chk
		}
	}
	if len(names) == 0 {
		out := make([]health.Check, 0, len(all))
		for _, n := range sortedKeys(all) {
			out = append(out, all[n])
		}
		return out, nil
	}
	var out []health.Check
	var unknown []string
	for _, n := range names {
		if err := store.ValidName("service", n); err != nil {
			return nil, err
		}
		if chk, ok := all[n]; ok {
			out = append(out, chk)
		} else {
			unknown = append(unknown, n)
		}
	}
	if len(unknown) > 0 {
		return nil, cmdutil.UsageErrorf("unknown service %s: give it a health_url in the config or `haderctl health register %s --url URL`",
			strings.Join(unknown, ", "), unknown[0])
	}
	return out, nil
}

func statusCell(s string) string {
	switch s {
	case "healthy":
		return cmdutil.Colored(s, "green")
	case "unhealthy":
		return cmdutil.Colored(s, "red")
	}
	return cmdutil.Colored(s, "yellow")
}

func codeCell(code int) string {
	if code == 0 {
		return "-"
	}
	return strconv.Itoa(code)
}

func renderHealthTable(f *cmdutil.Factory, sts []health.Status) error {
	t := cmdutil.NewTable(f.IO, "SERVICE", "STATUS", "LATENCY", "UPTIME 24H", "FAILURES", "ALERT", "LAST ERROR")
	for _, s := range sts {
		alert := "-"
		if s.AlertOpen {
			alert = cmdutil.Colored("firing", "red")
		}
		lat := "-"
		if s.CheckedAt != nil {
			lat = fmt.Sprintf("%.0fms", s.Latency)
		}
		t.Row(s.Service, statusCell(s.Status), lat, uptimeCell(s.Windows["24h"]), strconv.Itoa(s.ConsecutiveFailures), alert, truncate(s.Error, 50))
	}
	return t.Render()
}

func uptimeCell(w health.Window) string {
	if w.Uptime == nil {
		return "-"
	}
	return strconv.FormatFloat(*w.Uptime, 'f', 2, 64) + "%"
}

// HealthStatusOptions are `haderctl health status`'s inputs.
type HealthStatusOptions struct {
	F               *cmdutil.Factory
	Names           []string
	FailOnUnhealthy bool
}

// NewCmdHealthStatus builds `haderctl health status`.
func NewCmdHealthStatus(f *cmdutil.Factory, runF func(*HealthStatusOptions) error) *cobra.Command {
	opts := &HealthStatusOptions{F: f}
	cmd := &cobra.Command{
		Use:   "status [NAME...] [--fail-on-unhealthy]",
		Short: "Show the stored health without probing: uptime windows, latency, open alerts",
		Long: `Read each service's stored state (is_service_healthy: the last check
succeeded), uptime and average latency over 1h, 24h, 7d and 30d (hourly
buckets, the current hour included), and open alerts, without probing.
--fail-on-unhealthy exits 1 when any listed service is unhealthy or was
never checked.`,
		Example: `  haderctl health status
  haderctl health status shopify -o json | jq '.services.shopify.uptime."24h"'
  haderctl health status --fail-on-unhealthy`,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Names = args
			if runF != nil {
				return runF(opts)
			}
			hc, ctx, cancel, err := engineContext(cmd, f, f.Health)
			if err != nil {
				return err
			}
			defer cancel()
			checks, err := healthChecks(ctx, f, hc, opts.Names)
			if err != nil {
				return err
			}
			names := make([]string, len(checks))
			for i, c := range checks {
				names[i] = c.Name
			}
			sts, now, err := hc.Statuses(ctx, names)
			if err != nil {
				return f.RedisError(err)
			}
			if f.JSON() {
				out := struct {
					Services  map[string]health.Status `json:"services"`
					Alerts    []health.Status          `json:"open_alerts"`
					History   []health.AlertEvent      `json:"alert_history"`
					Timestamp string                   `json:"timestamp"`
				}{Services: map[string]health.Status{}, Alerts: []health.Status{}, History: []health.AlertEvent{}, Timestamp: now.UTC().Format(time.RFC3339Nano)}
				for _, s := range sts {
					out.Services[s.Service] = s
					if s.AlertOpen {
						out.Alerts = append(out.Alerts, s)
					}
					// fired, reminders and resolutions, as recorded in Redis
					events, err := hc.Alerts(ctx, s.Service, 10)
					if err != nil {
						return f.RedisError(err)
					}
					out.History = append(out.History, events...)
				}
				if err := cmdutil.WriteJSON(f.IO.Out, out); err != nil {
					return err
				}
			} else {
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
				if err := t.Render(); err != nil {
					return err
				}
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
		},
	}
	cmd.Flags().BoolVar(&opts.FailOnUnhealthy, "fail-on-unhealthy", false, "exit 1 when any listed service is unhealthy or never checked")
	return cmd
}
