package commands

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/haderos/haderctl/internal/cmdutil"
	"github.com/haderos/haderctl/internal/engine/breaker"
	"github.com/haderos/haderctl/internal/engine/store"
	"github.com/spf13/cobra"
)

// BreakerStatusOptions are `haderctl breaker status`'s inputs.
type BreakerStatusOptions struct {
	F          *cmdutil.Factory
	Names      []string
	FailOnOpen bool
}

// NewCmdBreakerStatus builds `haderctl breaker status`.
func NewCmdBreakerStatus(f *cmdutil.Factory, runF func(*BreakerStatusOptions) error) *cobra.Command {
	opts := &BreakerStatusOptions{F: f}
	cmd := &cobra.Command{
		Use:   "status [NAME...]",
		Short: "Show breakers: state, counts, last failure, time until half-open",
		Long: `Show the named breakers, or every breaker Redis knows and every configured
service. -o json prints the HaderOS monitoring shape:
{"circuit_breakers": {...}, "alerts": [...], "timestamp": "..."}.`,
		Example: `  haderctl breaker status
  haderctl breaker status shopify aramex -o json
  haderctl breaker status --fail-on-open   # exit 1 if any breaker is open`,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Names = args
			if err := validNames(args); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			return breakerStatusRun(cmd, opts)
		},
	}
	cmd.Flags().BoolVar(&opts.FailOnOpen, "fail-on-open", false, "exit 1 when any listed breaker is open, forced open or corrupt")
	return cmd
}

// monitoringBreaker is one breaker in the seed's monitoring shape.
type monitoringBreaker struct {
	State                breaker.State `json:"state"`
	FailureCount         int64         `json:"failure_count"`
	SuccessCount         int64         `json:"success_count"`
	LastFailureTime      *float64      `json:"last_failure_time"`
	TimeSinceLastFailure float64       `json:"time_since_last_failure"`
	ShouldAttemptReset   bool          `json:"should_attempt_reset"`
	// Settings are those the breaker runs with (beyond the seed's shape);
	// SettingsStored is false while none are stored in Redis yet (each
	// process runs with its own until the breaker's next write seeds them).
	Settings       settingsJSON `json:"settings"`
	SettingsStored bool         `json:"settings_stored"`
}

// monitoringAlert is an alert for an open or forced-open breaker.
type monitoringAlert struct {
	Service  string        `json:"service"`
	State    breaker.State `json:"state"`
	Severity string        `json:"severity"`
	Message  string        `json:"message"`
}

type monitoringReport struct {
	CircuitBreakers map[string]monitoringBreaker `json:"circuit_breakers"`
	Alerts          []monitoringAlert            `json:"alerts"`
	Timestamp       string                       `json:"timestamp"`
}

func breakerStatusRun(cmd *cobra.Command, opts *BreakerStatusOptions) error {
	f := opts.F
	e, err := f.Breakers()
	if err != nil {
		if !store.IsUnavailable(err) {
			return err
		}
		return breakerStatusOffline(opts, err)
	}
	ctx, cancel := f.RedisContext(cmd.Context())
	defer cancel()
	names, known, err := knownBreakers(ctx, f, e)
	if err != nil {
		return err
	}
	var unknown []string
	if len(opts.Names) > 0 {
		names = nil
		for _, n := range opts.Names {
			if known[n] {
				names = append(names, n)
			} else {
				unknown = append(unknown, n)
			}
		}
	}
	statuses, now, err := e.Snapshot(ctx, names)
	if err != nil {
		return f.RedisError(err)
	}
	if err := renderBreakerStatus(f, statuses, now, true); err != nil {
		return err
	}
	for _, s := range statuses {
		if s.State == breaker.Corrupt {
			fmt.Fprintf(f.IO.ErrOut, "haderctl: breaker %s is corrupt in Redis: %s (`haderctl breaker reset %s` repairs it)\n", s.Name, s.Problem, s.Name)
		}
	}
	if len(unknown) > 0 {
		return cmdutil.UsageErrorf("unknown breaker %s: not in the config file and never used", quoteAll(unknown))
	}
	return failOnOpen(opts, statuses)
}

// breakerStatusOffline, with Redis unreachable, lists the configured (or
// named) breakers as state unknown, served by each process' in-memory
// fallback meanwhile, and exits 3. It cannot know any process' local state.
func breakerStatusOffline(opts *BreakerStatusOptions, cause error) error {
	f := opts.F
	c, err := f.Config()
	if err != nil {
		return err
	}
	names := opts.Names
	if len(names) == 0 {
		for _, s := range c.Services {
			names = append(names, s.Name)
		}
	}
	statuses := make([]breaker.Status, len(names))
	for i, n := range names {
		statuses[i] = breaker.Status{Name: n, State: breaker.Unknown, Settings: c.BreakerSettings(n), InMemory: true}
	}
	// The settings in force live in Redis: offline the table leaves them out.
	if err := renderBreakerStatus(f, statuses, time.Now(), false); err != nil {
		return err
	}
	return &cmdutil.ExitError{Code: cmdutil.ExitUnavailable,
		Err: fmt.Errorf("%w; processes use in-memory breakers meanwhile (redis_unavailable)", cause)}
}

func quoteAll(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = strconv.Quote(n)
	}
	return strings.Join(q, ", ")
}

func failOnOpen(opts *BreakerStatusOptions, statuses []breaker.Status) error {
	if !opts.FailOnOpen {
		return nil
	}
	for _, s := range statuses {
		switch s.State {
		case breaker.Open, breaker.ForcedOpen, breaker.Corrupt, breaker.Unknown:
			return cmdutil.Unhealthyf("breaker %s is %s", s.Name, s.State)
		}
	}
	return nil
}

// renderBreakerStatus prints the statuses; withSettings adds the settings
// each breaker runs with (recovery timeout, max probes, probe lease; the
// thresholds are the denominators of FAILURES and SUCCESSES).
func renderBreakerStatus(f *cmdutil.Factory, statuses []breaker.Status, now time.Time, withSettings bool) error {
	if f.JSON() {
		return cmdutil.WriteJSON(f.IO.Out, monitoringShape(statuses, now))
	}
	header := []string{"NAME", "STATE", "FAILURES", "SUCCESSES", "LAST FAILURE", "HALF-OPEN", "IN-MEMORY"}
	if withSettings {
		header = append(header, "RECOVERY", "PROBES", "LEASE")
	}
	t := cmdutil.NewTable(f.IO, header...)
	for _, s := range statuses {
		halfOpen := "-"
		switch {
		case s.State == breaker.Open && s.UntilHalfOpen > 0:
			halfOpen = "in " + short(s.UntilHalfOpen)
		case s.State == breaker.Open:
			halfOpen = "next call"
		case s.State == breaker.HalfOpen:
			// the scripts never cap probes below the success threshold
			halfOpen = fmt.Sprintf("now (%d/%d probes)", s.ProbesInFlight+s.Successes, max(s.Settings.MaxProbes, s.Settings.SuccessThreshold))
		case s.State == breaker.ForcedOpen:
			halfOpen = "after reset"
		}
		inMemory := "no"
		if s.InMemory {
			inMemory = "yes"
		}
		row := []string{s.Name, cmdutil.Colored(string(s.State), stateColor(s.State)),
			fmt.Sprintf("%d/%d", s.Failures, s.Settings.FailureThreshold),
			fmt.Sprintf("%d/%d", s.Successes, s.Settings.SuccessThreshold),
			ago(s.LastFailure, now), halfOpen, inMemory}
		if withSettings {
			row = append(row, s.Settings.RecoveryTimeout.String(), strconv.Itoa(s.Settings.MaxProbes), s.Settings.ProbeLease.String())
		}
		t.Row(row...)
	}
	return t.Render()
}

// monitoringShape is the HaderOS seed's monitoring JSON.
func monitoringShape(statuses []breaker.Status, now time.Time) monitoringReport {
	r := monitoringReport{CircuitBreakers: map[string]monitoringBreaker{}, Alerts: []monitoringAlert{},
		Timestamp: now.UTC().Format("2006-01-02T15:04:05.000Z07:00")}
	for _, s := range statuses {
		b := monitoringBreaker{State: s.State, FailureCount: s.Failures, SuccessCount: s.Successes,
			ShouldAttemptReset: s.ShouldAttemptReset, Settings: newSettingsJSON(s.Settings), SettingsStored: s.SettingsStored}
		if !s.LastFailure.IsZero() {
			at := float64(s.LastFailure.UnixMilli()) / 1000
			b.LastFailureTime = &at
			b.TimeSinceLastFailure = now.Sub(s.LastFailure).Seconds()
		}
		r.CircuitBreakers[s.Name] = b
		switch s.State {
		case breaker.Open:
			r.Alerts = append(r.Alerts, monitoringAlert{Service: s.Name, State: s.State, Severity: "critical",
				Message: fmt.Sprintf("circuit breaker for %s is open after %s", s.Name, plural(s.Failures, "failure"))})
		case breaker.ForcedOpen:
			r.Alerts = append(r.Alerts, monitoringAlert{Service: s.Name, State: s.State, Severity: "warning",
				Message: fmt.Sprintf("circuit breaker for %s is forced open by an operator", s.Name)})
		case breaker.Corrupt:
			r.Alerts = append(r.Alerts, monitoringAlert{Service: s.Name, State: s.State, Severity: "critical",
				Message: fmt.Sprintf("circuit breaker for %s is corrupt in Redis: %s", s.Name, s.Problem)})
		}
	}
	return r
}
