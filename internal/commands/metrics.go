package commands

import (
	"github.com/haderos/haderctl/internal/cmdutil"
	"github.com/spf13/cobra"
)

// NewCmdMetrics groups the metrics verbs. getenv reads the environment
// (the admin token, HADERCTL_ADMIN_TOKEN).
func NewCmdMetrics(f *cmdutil.Factory, getenv func(string) string) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "metrics",
		Short: "Prometheus metrics and the monitoring API, read from Redis",
		Long: `Export the engine's state in Redis (breakers, queues, health, chaos) for
Prometheus, and serve the HaderOS monitoring API, for deployments without
the gateway. docs/metrics.md lists every family.`,
		RunE: groupRun,
	}
	cmd.AddCommand(NewCmdMetricsServe(f, getenv, nil))
	return cmd
}
