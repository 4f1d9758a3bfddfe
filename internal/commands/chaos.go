package commands

import (
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/haderos/haderctl/internal/cmdutil"
	"github.com/haderos/haderctl/internal/engine/chaos"
	"github.com/spf13/cobra"
)

// chaosGlobals are flags every chaos verb shares. A verb's options hold a
// pointer to them: the persistent flag is parsed into it before RunE.
type chaosGlobals struct {
	auditFile string
	// now stamps the lines written to --audit-file.
	now func() time.Time
}

// NewCmdChaos groups the chaos verbs.
func NewCmdChaos(f *cmdutil.Factory) *cobra.Command {
	g := &chaosGlobals{now: func() time.Time { return f.Now() }}
	cmd := &cobra.Command{
		Use:   "chaos",
		Short: "Chaos engineering: faults per service, with safety limits and an emergency stop",
		Long: `Inject controlled faults into calls to a service — latency, errors, aborted
connections, timeouts — decided per request by the engine's HTTP transport
in every process (queue drains, health checks, the gateway). Experiments
live in Redis with a TTL equal to their duration, so they end on time even
if every haderctl process dies.

Safety: chaos is off until 'chaos enable', refused unless the environment
(HADERCTL_ENV or environment: in the config) is on the allow-list
(development, test, staging by default; never production); limits on
duration, concurrency and starts per hour; 'chaos stop-all' ends
everything everywhere within a second and latches a halt until 'chaos
resume'. Refusals exit 4. Everything is audited.`,
		RunE: groupRun,
	}
	cmd.PersistentFlags().StringVar(&g.auditFile, "audit-file", "", "also append what this command did to FILE as JSON lines")
	cmd.AddCommand(
		NewCmdChaosSwitch(f, g, "enable", nil),
		NewCmdChaosSwitch(f, g, "disable", nil),
		NewCmdChaosSwitch(f, g, "resume", nil),
		newCmdChaosStatus(f),
		NewCmdChaosInject(f, g, nil),
		NewCmdChaosList(f, nil),
		NewCmdChaosStop(f, g, nil),
		NewCmdChaosStopAll(f, g, nil),
		NewCmdChaosAudit(f, nil),
		NewCmdChaosScenarios(f, nil),
		NewCmdChaosRun(f, g, nil),
		NewCmdChaosAgent(f, nil),
	)
	return cmd
}

// appendAudit writes one JSON line to --audit-file.
func (g *chaosGlobals) appendAudit(event string, v any) error {
	if g == nil || g.auditFile == "" {
		return nil
	}
	fh, err := os.OpenFile(g.auditFile, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return cmdutil.UsageErrorf("--audit-file: %s", err)
	}
	defer fh.Close()
	line, _ := json.Marshal(map[string]any{"at": g.now().UTC(), "event": event, "detail": v})
	_, err = fmt.Fprintf(fh, "%s\n", line)
	return err
}

// warnStop tells, on stderr, what a stop could not record. The stop itself
// is done (exit 0): the experiments are gone.
func warnStop(f *cmdutil.Factory, r chaos.StopResult) {
	for _, w := range r.Warnings {
		fmt.Fprintf(f.IO.ErrOut, "haderctl: warning: %s\n", w)
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func nonNilExps(e []chaos.Experiment) []chaos.Experiment {
	if e == nil {
		return []chaos.Experiment{}
	}
	return e
}

func renderExperiments(f *cmdutil.Factory, exps []chaos.Experiment) error {
	now := f.Now()
	t := cmdutil.NewTable(f.IO, "ID", "KIND", "SERVICES", "EFFECT", "PROBABILITY", "ENDS IN", "BY", "REASON")
	for _, e := range exps {
		t.Row(e.ID, e.Kind, strings.Join(e.Services, ","), effect(e), strconv.FormatFloat(e.Probability*100, 'f', -1, 64)+"%",
			seconds(e.End().Sub(now).Seconds(), true), e.By, e.Reason)
	}
	return t.Render()
}

func effect(e chaos.Experiment) string {
	switch e.Kind {
	case chaos.Latency:
		if e.Jitter > 0 {
			return e.Delay.String() + "±" + e.Jitter.String()
		}
		return e.Delay.String()
	case chaos.Error:
		return "HTTP " + strconv.Itoa(e.Status)
	case chaos.CPU:
		return strconv.FormatFloat(e.Cores, 'f', -1, 64) + " cores"
	case chaos.Memory:
		return strconv.Itoa(e.MemoryMB) + " MB"
	}
	return e.Kind
}
