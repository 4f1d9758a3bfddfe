package commands

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/haderos/haderctl/internal/cmdutil"
	"github.com/haderos/haderctl/internal/engine/chaos"
	"github.com/haderos/haderctl/internal/engine/gameday"
	"github.com/haderos/haderctl/internal/engine/store"
	"github.com/spf13/cobra"
)

// ChaosRunOptions are `haderctl chaos run`'s inputs.
type ChaosRunOptions struct {
	F         *cmdutil.Factory
	Audit     *chaosGlobals
	Scenario  string
	File      string
	Services  []string
	TimeScale float64
	DryRun    bool
	Wait      bool
	Journal   string
	JUnit     string
}

// NewCmdChaosRun builds `haderctl chaos run`.
func NewCmdChaosRun(f *cmdutil.Factory, g *chaosGlobals, runF func(*ChaosRunOptions) error) *cobra.Command {
	opts := &ChaosRunOptions{F: f, Audit: g}
	cmd := &cobra.Command{
		Use:   "run SCENARIO|--file FILE [--services a,b] [--time-scale X] [--dry-run] [--wait [--journal F] [--junit F]]",
		Short: "Run a game-day scenario: schedule it, or with --wait play it with steady-state checks",
		Long: `Without --wait the scenario's phases are scheduled in Redis (each
experiment starts at its offset and ends by itself) and the command
returns. With --wait it is a game day: the steady state is checked before
(breakers closed, services healthy), the phases run, checks during must
hold at least once, every experiment it started is stopped (also on Ctrl-C,
SIGTERM or a failed check), and the system must recover within the
scenario's deadline (breakers closed, health green). Exit 0 passed, 1 a
check deviated, 4 refused. --journal writes everything as JSON; --junit one
test case per probe for CI. --time-scale 0.1 compresses every phase.
Scenario files: docs/scenarios.md.`,
		Example: `  haderctl chaos scenarios
  haderctl chaos run blackout --services shopify,aramex --dry-run
  haderctl chaos run network_storm
  haderctl chaos run total_blackout --time-scale 0.05 --wait --journal gameday.json --junit gameday.xml`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				opts.Scenario = args[0]
			}
			if (opts.Scenario == "") == (opts.File == "") {
				return cmdutil.UsageErrorf("give a scenario name or --file, not both or neither (see haderctl chaos scenarios)")
			}
			if opts.TimeScale <= 0 || opts.TimeScale > 10 {
				return cmdutil.UsageErrorf("invalid --time-scale %g: use a factor above 0 and at most 10", opts.TimeScale)
			}
			if !opts.Wait && (opts.Journal != "" || opts.JUnit != "") {
				return cmdutil.UsageErrorf("--journal and --junit need --wait")
			}
			for _, t := range opts.Services {
				if err := store.ValidName("service", t); err != nil {
					return err
				}
			}
			if runF != nil {
				return runF(opts)
			}
			return chaosRunRun(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.File, "file", "", "a scenario file of your own (docs/scenarios.md)")
	fl.StringSliceVar(&opts.Services, "services", nil, "narrow the targets (default: the configured services, or all)")
	floatFlag(fl, &opts.TimeScale, "time-scale", 1, "multiply every offset and duration (0.1 for CI)")
	fl.BoolVar(&opts.DryRun, "dry-run", false, "print the timeline; touch nothing")
	fl.BoolVar(&opts.Wait, "wait", false, "play it as a game day with checks, and wait for the verdict")
	fl.StringVar(&opts.Journal, "journal", "", "with --wait: write the journal (JSON) here")
	fl.StringVar(&opts.JUnit, "junit", "", "with --wait: write a JUnit XML report here")
	return cmd
}

// chaosRunRun schedules the scenario, or with --wait plays the game day
// until its verdict or until ctx ends (then it stops what it started).
func chaosRunRun(ctx context.Context, opts *ChaosRunOptions) error {
	f, g := opts.F, opts.Audit
	var s gameday.Scenario
	var err error
	if opts.File != "" {
		data, rerr := os.ReadFile(opts.File)
		if rerr != nil {
			return cmdutil.UsageErrorf("--file: %s", rerr)
		}
		s, err = gameday.ParseScenario(data)
	} else {
		s, err = gameday.FindScenario(opts.Scenario)
	}
	if err != nil {
		return err
	}
	c, err := f.Config()
	if err != nil {
		return err
	}
	targets := opts.Services
	if len(targets) == 0 {
		for _, svc := range c.Services {
			targets = append(targets, svc.Name)
		}
	}
	plan, err := s.Plan(targets, opts.TimeScale)
	if err != nil {
		return err
	}
	if opts.DryRun {
		if f.JSON() {
			return cmdutil.WriteJSON(f.IO.Out, map[string]any{"scenario": s.Name, "targets": targets, "time_scale": opts.TimeScale, "steps": plan})
		}
		t := cmdutil.NewTable(f.IO, "AT", "FOR", "PHASE", "KIND", "SERVICES", "EFFECT", "PROBABILITY")
		for _, st := range plan {
			e := st.Experiment
			t.Row("+"+st.Offset.String(), e.Duration.String(), st.Phase, e.Kind, strings.Join(e.Services, ","), effect(e),
				fmt.Sprintf("%g%%", e.Probability*100))
		}
		if err := t.Render(); err != nil {
			return err
		}
		// a message after the table: stdout keeps only the timeline
		fmt.Fprintf(f.IO.ErrOut, "dry run: %d experiments; nothing was started\n", len(plan))
		return nil
	}
	cc, err := f.Chaos()
	if err != nil {
		return err
	}
	if !opts.Wait {
		rctx, cancel := f.RedisContext(ctx)
		defer cancel()
		var started []chaos.Experiment
		for _, st := range plan {
			e, err := cc.Schedule(rctx, st.Experiment, st.Offset)
			if err != nil {
				_ = g.appendAudit("run", map[string]any{"scenario": s.Name, "scheduled": started, "error": err.Error()})
				if len(started) > 0 {
					fmt.Fprintf(f.IO.ErrOut, "haderctl: %d experiments were scheduled before the refusal; stop them with haderctl chaos stop ID\n", len(started))
				}
				return f.RedisError(err)
			}
			started = append(started, e)
		}
		if err := g.appendAudit("run", map[string]any{"scenario": s.Name, "scheduled": started}); err != nil {
			return err
		}
		if f.JSON() {
			return cmdutil.WriteJSON(f.IO.Out, started)
		}
		for _, e := range started {
			fmt.Fprintf(f.IO.Out, "scheduled %s %s on %s from %s to %s\n", e.ID, e.Kind, strings.Join(e.Services, ","),
				e.Start().UTC().Format(time.RFC3339), e.End().UTC().Format(time.RFC3339))
		}
		return nil
	}
	gd := &gameday.GameDay{Chaos: cc, Targets: targets, Scale: opts.TimeScale,
		OnEvent: func(line string) { fmt.Fprintln(f.IO.ErrOut, "gameday: "+line) }}
	// the probes read one snapshot per round: breakers, the services with
	// a health check now (registered or configured) and queues
	sys, err := f.System()
	if err != nil {
		return err
	}
	gd.State = sys.Reader()
	j, runErr := gd.Run(ctx, s)
	if j != nil {
		if opts.Journal != "" {
			data, _ := json.MarshalIndent(j, "", "  ")
			if err := os.WriteFile(opts.Journal, append(data, '\n'), 0o644); err != nil {
				return cmdutil.UsageErrorf("--journal: %s", err)
			}
		}
		if opts.JUnit != "" {
			fh, err := os.Create(opts.JUnit)
			if err != nil {
				return cmdutil.UsageErrorf("--junit: %s", err)
			}
			werr := gameday.WriteJUnit(fh, j)
			if cerr := fh.Close(); werr == nil {
				werr = cerr
			}
			if werr != nil {
				return werr
			}
		}
		_ = g.appendAudit("gameday", map[string]any{"scenario": s.Name, "verdict": j.Verdict, "reason": j.Reason})
		if f.JSON() {
			if err := cmdutil.WriteJSON(f.IO.Out, j); err != nil {
				return err
			}
		} else {
			fmt.Fprintf(f.IO.Out, "game day %s: %s", s.Name, j.Verdict)
			if j.Reason != "" {
				fmt.Fprintf(f.IO.Out, " (%s)", j.Reason)
			}
			fmt.Fprintln(f.IO.Out)
		}
	}
	if runErr != nil {
		return f.RedisError(runErr)
	}
	if j.Verdict != "passed" {
		return cmdutil.SilentExit(cmdutil.ExitUnhealthy)
	}
	return nil
}
