package commands

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/haderos/haderctl/internal/cmdutil"
	"github.com/haderos/haderctl/internal/engine/breaker"
	"github.com/spf13/cobra"
)

// BreakerConfigureOptions are `haderctl breaker configure`'s inputs.
type BreakerConfigureOptions struct {
	F    *cmdutil.Factory
	Name string
	// Change holds the settings given; a zero field is left as it is.
	Change breaker.Settings
	Reason string
}

// NewCmdBreakerConfigure builds `haderctl breaker configure`.
func NewCmdBreakerConfigure(f *cmdutil.Factory, runF func(*BreakerConfigureOptions) error) *cobra.Command {
	opts := &BreakerConfigureOptions{F: f}
	var failures, successes, probes, reporters int
	var recovery, lease, window time.Duration
	cmd := &cobra.Command{
		Use:   "configure NAME [--failure-threshold N] [--recovery-timeout D] [--success-threshold N] [--max-probes N] [--probe-lease D] [--min-reporters N] [--reporter-window D] --reason TEXT",
		Short: "Change the settings a breaker runs with, for every process (audited)",
		Long: `Change the settings a breaker runs with. They live with the breaker in Redis,
so every process follows them at once, whatever its own config says (a
process whose config differs logs a warning). Settings not given stay as
they are. The change is recorded in the breaker's event stream with who
made it and --reason. State and counts are untouched; a half-open breaker
whose successes already meet a lowered success threshold closes at its
next call.

--min-reporters N (above 1) keeps a closed breaker from opening until N
distinct processes have reported a failure within --reporter-window (60s
by default), so one gateway with a bad path cannot open it for all; 1
turns it off. Upgrade every process first: an older haderctl opens on the
failure threshold alone.

To write the config file's per-service settings instead, use
'haderctl breaker apply'.`,
		Example: `  haderctl breaker configure shopify --recovery-timeout 30s --reason 'Shopify recovers fast'
  haderctl breaker configure erp --success-threshold 3 --max-probes 3 --reason 'flaky ERP'
  haderctl breaker configure aramex --min-reporters 2 --reason 'one bad gateway must not open it for all'`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return cmdutil.UsageErrorf("configure takes one breaker name, e.g. `haderctl breaker configure shopify --recovery-timeout 30s --reason TEXT`")
			}
			if err := validNames(args); err != nil {
				return err
			}
			opts.Name = args[0]
			fl := cmd.Flags()
			given := 0
			for _, x := range []struct {
				flag, field string
				ok          bool
			}{
				{"failure-threshold", "failure_threshold", failures >= 1},
				{"success-threshold", "success_threshold", successes >= 1},
				{"max-probes", "max_probes", probes >= 1},
				{"recovery-timeout", "recovery_timeout", recovery >= time.Millisecond},
				{"probe-lease", "probe_lease", lease >= time.Millisecond},
				{"min-reporters", "min_reporters", reporters >= 1},
				{"reporter-window", "reporter_window", window >= time.Millisecond},
			} {
				if !fl.Changed(x.flag) {
					continue
				}
				given++
				if !x.ok {
					v := fl.Lookup(x.flag).Value.String()
					if strings.HasSuffix(x.field, "threshold") || x.field == "max_probes" || x.field == "min_reporters" {
						return cmdutil.UsageErrorf("--%s (%s) must be at least 1, not %s", x.flag, x.field, v)
					}
					return cmdutil.UsageErrorf("--%s (%s) must be at least 1ms, not %s", x.flag, x.field, v)
				}
			}
			if given == 0 {
				return cmdutil.UsageErrorf("configure needs at least one setting: --failure-threshold, --recovery-timeout, --success-threshold, --max-probes, --probe-lease, --min-reporters or --reporter-window")
			}
			if opts.Reason == "" {
				return cmdutil.UsageErrorf("configure needs --reason TEXT: it is recorded in the event stream")
			}
			opts.Change = breaker.Settings{FailureThreshold: failures, SuccessThreshold: successes,
				RecoveryTimeout: recovery, MaxProbes: probes, ProbeLease: lease, MinReporters: reporters, ReporterWindow: window}
			if err := opts.Change.ValidateChange(); err != nil {
				return cmdutil.UsageErrorf("%s", err)
			}
			if runF != nil {
				return runF(opts)
			}
			return breakerConfigureRun(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.IntVar(&failures, "failure-threshold", 0, "consecutive failures that open the breaker")
	fl.DurationVar(&recovery, "recovery-timeout", 0, "how long an open breaker waits before it admits probes")
	fl.IntVar(&successes, "success-threshold", 0, "consecutive probe successes that close a half-open breaker")
	fl.IntVar(&probes, "max-probes", 0, "probes admitted in one half-open period, across all processes")
	fl.DurationVar(&lease, "probe-lease", 0, "how long a probe holds its slot without reporting back")
	fl.IntVar(&reporters, "min-reporters", 0, "distinct processes whose failures it takes to open the breaker (1: off)")
	fl.DurationVar(&window, "reporter-window", 0, "how recent a process' last failure must be to count towards --min-reporters")
	fl.StringVar(&opts.Reason, "reason", "", "why (recorded in the event stream; required)")
	return cmd
}

// configureOutput is one breaker's line of configure or apply output.
type configureOutput struct {
	Name     string           `json:"name"`
	Settings settingsJSON     `json:"settings"`
	Changes  []breaker.Change `json:"changes"`
	EventID  string           `json:"event_id"`
	// DryRun is set when apply --dry-run wrote nothing.
	DryRun bool `json:"dry_run,omitempty"`
}

func newConfigureOutput(r breaker.ConfigureResult) configureOutput {
	out := configureOutput{Name: r.Name, Settings: newSettingsJSON(r.Settings), Changes: r.Changes}
	if out.Changes == nil {
		out.Changes = []breaker.Change{}
	}
	if r.Event != nil {
		out.EventID = r.Event.ID
	}
	return out
}

func breakerConfigureRun(ctx context.Context, opts *BreakerConfigureOptions) error {
	f := opts.F
	e, err := f.Breakers()
	if err != nil {
		return err
	}
	ctx, cancel := f.RedisContext(ctx)
	defer cancel()
	_, known, err := knownBreakers(ctx, f, e)
	if err != nil {
		return err
	}
	if err := requireKnown([]string{opts.Name}, known); err != nil {
		return err
	}
	r, err := e.Configure(ctx, opts.Name, opts.Change, opts.Reason, breaker.ActionConfigure)
	if err != nil {
		return configureError(f, err)
	}
	return renderConfigure(f, []configureOutput{newConfigureOutput(r)})
}

// configureError maps a refused settings change to exit 2.
func configureError(f *cmdutil.Factory, err error) error {
	var se *breaker.SettingsError
	if errors.As(err, &se) {
		return cmdutil.UsageErrorf("%s", se)
	}
	return f.RedisError(err)
}

func renderConfigure(f *cmdutil.Factory, results []configureOutput) error {
	if f.JSON() {
		return cmdutil.WriteJSON(f.IO.Out, results)
	}
	t := cmdutil.NewTable(f.IO, "NAME", "CHANGES", "SETTINGS")
	for _, r := range results {
		changes := "unchanged"
		if len(r.Changes) > 0 {
			parts := make([]string, len(r.Changes))
			for i, c := range r.Changes {
				parts[i] = c.String()
			}
			changes = strings.Join(parts, ", ")
			if r.DryRun {
				changes = "would change " + changes
			}
		}
		t.Row(r.Name, changes, r.Settings.String())
	}
	return t.Render()
}

// settingsJSON is a breaker's settings in output: durations in Go form, as
// the config file and `config show` write them.
type settingsJSON struct {
	FailureThreshold int    `json:"failure_threshold"`
	SuccessThreshold int    `json:"success_threshold"`
	RecoveryTimeout  string `json:"recovery_timeout"`
	MaxProbes        int    `json:"max_probes"`
	ProbeLease       string `json:"probe_lease"`
	MinReporters     int    `json:"min_reporters"`
	ReporterWindow   string `json:"reporter_window"`
}

func newSettingsJSON(s breaker.Settings) settingsJSON {
	return settingsJSON{FailureThreshold: s.FailureThreshold, SuccessThreshold: s.SuccessThreshold,
		RecoveryTimeout: s.RecoveryTimeout.String(), MaxProbes: s.MaxProbes, ProbeLease: s.ProbeLease.String(),
		MinReporters: s.MinReporters, ReporterWindow: s.ReporterWindow.String()}
}

// String names the reporters quorum only when one is asked for, so the
// common case reads as it did before min_reporters existed.
func (s settingsJSON) String() string {
	out := fmt.Sprintf("failures %d, recovery %s, successes %d, probes %d, lease %s",
		s.FailureThreshold, s.RecoveryTimeout, s.SuccessThreshold, s.MaxProbes, s.ProbeLease)
	if s.MinReporters > 1 {
		out += fmt.Sprintf(", reporters %d within %s", s.MinReporters, s.ReporterWindow)
	}
	return out
}
