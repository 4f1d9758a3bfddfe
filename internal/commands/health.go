package commands

import (
	"context"
	"fmt"
	"strconv"
	"strings"

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
