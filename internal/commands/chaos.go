package commands

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/haderos/haderctl/internal/cmdutil"
	"github.com/haderos/haderctl/internal/engine/chaos"
	"github.com/haderos/haderctl/internal/engine/store"
	"github.com/spf13/cobra"
)

// chaosGlobals are flags every chaos verb shares.
type chaosGlobals struct {
	auditFile string
}

// NewCmdChaos groups the chaos verbs.
func NewCmdChaos(f *cmdutil.Factory) *cobra.Command {
	g := &chaosGlobals{}
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
		newCmdChaosSwitch(f, g, "enable"),
		newCmdChaosSwitch(f, g, "disable"),
		newCmdChaosSwitch(f, g, "resume"),
		newCmdChaosStatus(f),
		newCmdChaosInject(f, g),
		newCmdChaosList(f),
		newCmdChaosStop(f, g),
		newCmdChaosStopAll(f, g),
		newCmdChaosAudit(f),
		newCmdChaosScenarios(f),
		newCmdChaosRun(f, g),
		newCmdChaosAgent(f),
	)
	return cmd
}

// appendAudit writes one JSON line to --audit-file.
func (g *chaosGlobals) appendAudit(event string, v any) error {
	if g.auditFile == "" {
		return nil
	}
	fh, err := os.OpenFile(g.auditFile, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return cmdutil.UsageErrorf("--audit-file: %s", err)
	}
	defer fh.Close()
	line, _ := json.Marshal(map[string]any{"at": time.Now().UTC(), "event": event, "detail": v})
	_, err = fmt.Fprintf(fh, "%s\n", line)
	return err
}

func newCmdChaosSwitch(f *cmdutil.Factory, g *chaosGlobals, verb string) *cobra.Command {
	short := map[string]string{
		"enable":  "Turn chaos on (refused outside the allowed environments)",
		"disable": "Turn chaos off and end every experiment",
		"resume":  "Clear the halt latched by stop-all",
	}[verb]
	var reason string
	cmd := &cobra.Command{
		Use:     verb,
		Short:   short,
		Example: "  HADERCTL_ENV=staging haderctl chaos " + verb,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cc, ctx, cancel, err := engineContext(cmd, f, f.Chaos)
			if err != nil {
				return err
			}
			defer cancel()
			var stop chaos.StopResult
			switch verb {
			case "enable":
				err = cc.Enable(ctx)
			case "disable":
				stop, err = cc.Disable(ctx, reason)
			case "resume":
				err = cc.Resume(ctx)
			}
			if aerr := g.appendAudit(verb, map[string]any{"by": cc.Who, "error": errString(err), "stopped": stop.Stopped, "warnings": stop.Warnings}); aerr != nil {
				return aerr
			}
			if err != nil {
				return f.RedisError(err)
			}
			warnStop(f, stop)
			if f.JSON() {
				out := map[string]any{"action": verb, "stopped": nonNil(stop.Stopped)}
				if verb == "disable" {
					out["warnings"] = nonNil(stop.Warnings)
				}
				return cmdutil.WriteJSON(f.IO.Out, out)
			}
			msg := map[string]string{"enable": "chaos enabled", "disable": "chaos disabled", "resume": "halt cleared: experiments may start again"}[verb]
			if len(stop.Stopped) > 0 {
				msg += fmt.Sprintf("; stopped %s", strings.Join(stop.Stopped, ", "))
			}
			fmt.Fprintln(f.IO.Out, msg)
			return nil
		},
	}
	if verb == "disable" {
		cmd.Flags().StringVar(&reason, "reason", "", "why (audited)")
	}
	return cmd
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

func newCmdChaosInject(f *cmdutil.Factory, g *chaosGlobals) *cobra.Command {
	var e chaos.Experiment
	var services []string
	var probability float64
	cmd := &cobra.Command{
		Use:   "inject latency|error|abort|timeout|cpu|memory --service S --duration D [flags]",
		Short: "Start an experiment on a service (or --service all)",
		Long: `Start an experiment. latency: --delay (and --jitter); error: --status
(500, 503, 429…); abort: connection reset; timeout: hang until the caller
gives up; cpu: --cores burnt by 'chaos agent'; memory: --mb held by
'chaos agent'. --probability (default 100) is the share of matching
requests affected; --method and --path narrow them. The experiment ends by
itself after --duration.`,
		Example: `  haderctl chaos inject latency --service shopify --delay 1s --duration 5m
  haderctl chaos inject error --service aramex --status 503 --probability 30 --duration 2m --reason "game day"
  haderctl chaos inject abort --service all --path /api/orders --duration 1m`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			e.Kind = args[0]
			for _, s := range services {
				if s == "all" || s == "*" {
					e.Services = []string{"*"}
					break
				}
				if err := store.ValidName("service", s); err != nil {
					return err
				}
				e.Services = append(e.Services, s)
			}
			if probability <= 0 || probability > 100 {
				return cmdutil.UsageErrorf("invalid --probability %g: use a percentage above 0 and at most 100", probability)
			}
			e.Probability = probability / 100
			if e.Kind != chaos.Error {
				e.Status = 0 // the flag's default belongs to error experiments only
			}
			cc, ctx, cancel, err := engineContext(cmd, f, f.Chaos)
			if err != nil {
				return err
			}
			defer cancel()
			started, err := cc.Start(ctx, e)
			if aerr := g.appendAudit("inject", map[string]any{"experiment": started, "error": errString(err)}); aerr != nil {
				return aerr
			}
			if err != nil {
				return f.RedisError(err)
			}
			if f.JSON() {
				return cmdutil.WriteJSON(f.IO.Out, started)
			}
			fmt.Fprintf(f.IO.Out, "started %s: %s on %s (%s, %s of requests) until %s\n", started.ID, started.Kind,
				strings.Join(started.Services, ","), effect(started), strconv.FormatFloat(probability, 'f', -1, 64)+"%",
				started.End().UTC().Format(time.RFC3339))
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringSliceVar(&services, "service", nil, "target service(s), or all")
	durationFlag(fl, &e.Duration, "duration", 0, "how long it lasts (it ends by itself)")
	floatFlag(fl, &probability, "probability", 100, "percentage of matching requests affected")
	fl.StringVar(&e.Method, "method", "", "only requests with this method")
	fl.StringVar(&e.PathPrefix, "path", "", "only requests whose path starts with this")
	durationFlag(fl, &e.Delay, "delay", 0, "latency: added delay")
	durationFlag(fl, &e.Jitter, "jitter", 0, "latency: ± random spread")
	intFlag(fl, &e.Status, "status", 503, "error: HTTP status returned")
	floatFlag(fl, &e.Cores, "cores", 0, "cpu: cores to burn")
	intFlag(fl, &e.MemoryMB, "mb", 0, "memory: megabytes to hold")
	fl.StringVar(&e.Reason, "reason", "", "why (audited)")
	return cmd
}

func newCmdChaosList(f *cmdutil.Factory) *cobra.Command {
	return &cobra.Command{
		Use:     "list",
		Short:   "List the running experiments",
		Example: "  haderctl chaos list -o json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cc, ctx, cancel, err := engineContext(cmd, f, f.Chaos)
			if err != nil {
				return err
			}
			defer cancel()
			active, err := cc.Active(ctx)
			if err != nil {
				return f.RedisError(err)
			}
			if f.JSON() {
				return cmdutil.WriteJSON(f.IO.Out, nonNilExps(active))
			}
			if len(active) == 0 {
				fmt.Fprintln(f.IO.Out, "no experiments running")
				return nil
			}
			return renderExperiments(f, active)
		},
	}
}

func newCmdChaosStop(f *cmdutil.Factory, g *chaosGlobals) *cobra.Command {
	var reason string
	cmd := &cobra.Command{
		Use:     "stop ID",
		Short:   "End one experiment now",
		Example: "  haderctl chaos stop ch-1a2b3c4d5e6f --reason done",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cc, ctx, cancel, err := engineContext(cmd, f, f.Chaos)
			if err != nil {
				return err
			}
			defer cancel()
			stop, err := cc.Stop(ctx, args[0], reason)
			found := len(stop.Stopped) == 1
			if aerr := g.appendAudit("stop", map[string]any{"id": args[0], "found": found, "error": errString(err), "warnings": stop.Warnings}); aerr != nil {
				return aerr
			}
			if err != nil {
				return f.RedisError(err)
			}
			if !found {
				return cmdutil.UsageErrorf("no running experiment %q (see haderctl chaos list)", args[0])
			}
			warnStop(f, stop)
			if f.JSON() {
				return cmdutil.WriteJSON(f.IO.Out, map[string]any{"stopped": []string{args[0]}, "warnings": nonNil(stop.Warnings)})
			}
			fmt.Fprintf(f.IO.Out, "stopped %s\n", args[0])
			return nil
		},
	}
	cmd.Flags().StringVar(&reason, "reason", "", "why (audited)")
	return cmd
}

func newCmdChaosStopAll(f *cmdutil.Factory, g *chaosGlobals) *cobra.Command {
	var reason string
	cmd := &cobra.Command{
		Use:   "stop-all [--reason TEXT]",
		Short: "Emergency stop: end every experiment everywhere and refuse new ones until resume",
		Long: `End every experiment at once — every data plane hears of it over pub/sub
and re-reads within a second anyway — and latch a halt that refuses new
experiments until 'haderctl chaos resume'. Works in any environment, and
when Redis is full (maxmemory) or the audit key is broken: the experiments
end first, and what Redis then refuses of the bookkeeping (the latch, the
audit entries) is a warning on stderr and in -o json; the exit is 0.`,
		Example: `  haderctl chaos stop-all --reason "customers affected"`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cc, ctx, cancel, err := engineContext(cmd, f, f.Chaos)
			if err != nil {
				return err
			}
			defer cancel()
			if reason == "" {
				reason = "emergency stop"
			}
			stop, err := cc.StopAll(ctx, reason)
			if aerr := g.appendAudit("stop-all", map[string]any{"stopped": stop.Stopped, "reason": reason, "halted": stop.Halted,
				"warnings": stop.Warnings, "error": errString(err)}); aerr != nil {
				return aerr
			}
			if err != nil {
				return f.RedisError(err)
			}
			warnStop(f, stop)
			if f.JSON() {
				return cmdutil.WriteJSON(f.IO.Out, map[string]any{"stopped": nonNil(stop.Stopped), "halted": stop.Halted, "warnings": nonNil(stop.Warnings)})
			}
			if stop.Halted {
				fmt.Fprintf(f.IO.Out, "stopped %d experiments; chaos halted until `haderctl chaos resume`\n", len(stop.Stopped))
			} else {
				fmt.Fprintf(f.IO.Out, "stopped %d experiments; the halt could not be latched (see the warnings)\n", len(stop.Stopped))
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&reason, "reason", "", "why (audited)")
	return cmd
}

func newCmdChaosAudit(f *cmdutil.Factory) *cobra.Command {
	var follow bool
	var limit int64
	cmd := &cobra.Command{
		Use:   "audit [--follow] [--limit N]",
		Short: "Show the audit log: every start, stop, expiry, refusal, halt",
		Example: `  haderctl chaos audit
  haderctl chaos audit --follow | jq -c 'select(.event == "refused")'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if limit < 1 {
				return cmdutil.UsageErrorf("invalid --limit %d: use at least 1", limit)
			}
			cc, err := f.Chaos()
			if err != nil {
				return err
			}
			ctx, cancel := f.RedisContext(cmd.Context())
			entries, err := cc.Audit(ctx, limit)
			cancel()
			if err != nil {
				return f.RedisError(err)
			}
			ndjson := f.JSON() || !f.IO.IsStdoutTTY() || follow
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
			if !follow {
				return nil
			}
			last := "0-0"
			if len(entries) > 0 {
				last = entries[len(entries)-1].ID
			}
			if err := cc.FollowAudit(cmd.Context(), last, func(e chaos.AuditEntry) { write(f.IO.Out, e) }); err != nil {
				return f.RedisError(err)
			}
			return nil
		},
	}
	cmd.Flags().BoolVarP(&follow, "follow", "f", false, "keep printing new entries until interrupted")
	int64Flag(cmd.Flags(), &limit, "limit", 100, "how many past entries to show")
	return cmd
}
