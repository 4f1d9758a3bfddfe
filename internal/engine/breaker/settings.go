package breaker

import (
	"fmt"
	"time"
)

// Settings tune one breaker. The zero value of each field means its
// default (the HaderOS seed's), filled in by WithDefaults.
type Settings struct {
	// FailureThreshold consecutive failures open a CLOSED breaker. Zero means 3.
	FailureThreshold int `json:"failure_threshold" yaml:"failure_threshold,omitempty"`
	// SuccessThreshold consecutive probe successes close a HALF_OPEN breaker. Zero means 2.
	SuccessThreshold int `json:"success_threshold" yaml:"success_threshold,omitempty"`
	// RecoveryTimeout is how long an OPEN breaker waits before it admits
	// probes (HALF_OPEN). Zero means 120 s.
	RecoveryTimeout time.Duration `json:"recovery_timeout" yaml:"recovery_timeout,omitempty"`
	// MaxProbes caps the probes admitted in one HALF_OPEN period across all
	// processes (in flight plus succeeded). Zero means SuccessThreshold.
	MaxProbes int `json:"max_probes" yaml:"max_probes,omitempty"`
	// ProbeLease is how long an admitted probe holds its slot without
	// reporting back (its process may have died). Zero means 30 s.
	ProbeLease time.Duration `json:"probe_lease" yaml:"probe_lease,omitempty"`
	// RedisUnavailable says what a process does while Redis is unreachable:
	// "allow" (zero value) keeps a local in-memory breaker per service
	// (fail-open); "deny" refuses every call (fail-closed).
	RedisUnavailable string `json:"redis_unavailable" yaml:"redis_unavailable,omitempty"`
	// MinReporters is how many distinct processes must have reported a
	// failure within ReporterWindow before a CLOSED breaker opens, so one
	// process with a bad network path cannot open it for every process.
	// Zero means 1: off, the failure threshold alone opens it. It does not
	// apply to a half-open probe's failure (one decisive call), nor to the
	// in-memory breakers used while Redis is unreachable (one process).
	MinReporters int `json:"min_reporters" yaml:"min_reporters,omitempty"`
	// ReporterWindow is how recent a process' last failure must be for it
	// to count towards MinReporters. Zero means 60 s.
	ReporterWindow time.Duration `json:"reporter_window" yaml:"reporter_window,omitempty"`
}

// Defaults from the HaderOS seed.
const (
	DefaultFailureThreshold = 3
	DefaultSuccessThreshold = 2
	DefaultRecoveryTimeout  = 120 * time.Second
	DefaultProbeLease       = 30 * time.Second
	// DefaultReporterWindow is fixed rather than the recovery timeout: how
	// long a failure says something about a process' path to a service
	// does not depend on how long an open breaker waits.
	DefaultReporterWindow = 60 * time.Second
)

// Bounds on the settings: a larger value is a typo, and would overflow
// time arithmetic. The Lua scripts hold the same bounds (MAX_SETTING).
const (
	MaxThreshold = 1<<31 - 1
	MaxDuration  = 7 * 24 * time.Hour
)

// WithDefaults returns s with every zero field set to its default.
func (s Settings) WithDefaults() Settings {
	if s.FailureThreshold == 0 {
		s.FailureThreshold = DefaultFailureThreshold
	}
	if s.SuccessThreshold == 0 {
		s.SuccessThreshold = DefaultSuccessThreshold
	}
	if s.RecoveryTimeout == 0 {
		s.RecoveryTimeout = DefaultRecoveryTimeout
	}
	if s.MaxProbes == 0 {
		s.MaxProbes = s.SuccessThreshold
	}
	if s.ProbeLease == 0 {
		s.ProbeLease = DefaultProbeLease
	}
	if s.RedisUnavailable == "" {
		s.RedisUnavailable = "allow"
	}
	if s.MinReporters == 0 {
		s.MinReporters = 1
	}
	if s.ReporterWindow == 0 {
		s.ReporterWindow = DefaultReporterWindow
	}
	return s
}

// Merge returns s with every non-zero field of over applied on top.
func (s Settings) Merge(over Settings) Settings {
	if over.FailureThreshold != 0 {
		s.FailureThreshold = over.FailureThreshold
	}
	if over.SuccessThreshold != 0 {
		s.SuccessThreshold = over.SuccessThreshold
	}
	if over.RecoveryTimeout != 0 {
		s.RecoveryTimeout = over.RecoveryTimeout
	}
	if over.MaxProbes != 0 {
		s.MaxProbes = over.MaxProbes
	}
	if over.ProbeLease != 0 {
		s.ProbeLease = over.ProbeLease
	}
	if over.RedisUnavailable != "" {
		s.RedisUnavailable = over.RedisUnavailable
	}
	if over.MinReporters != 0 {
		s.MinReporters = over.MinReporters
	}
	if over.ReporterWindow != 0 {
		s.ReporterWindow = over.ReporterWindow
	}
	return s
}

// Validate checks filled-in settings; the error names the bad field.
func (s Settings) Validate() error {
	if err := s.validateFields(false); err != nil {
		return err
	}
	switch {
	case s.MaxProbes < s.SuccessThreshold:
		return fmt.Errorf("max_probes (%d) must be at least success_threshold (%d), or the breaker could never close", s.MaxProbes, s.SuccessThreshold)
	case s.RedisUnavailable != "allow" && s.RedisUnavailable != "deny":
		return fmt.Errorf("redis_unavailable must be allow or deny, not %q", s.RedisUnavailable)
	}
	return nil
}

// ValidateChange checks a change for Configure, whose zero fields mean
// "leave as it is": each non-zero field must be in range. RedisUnavailable
// is not shared (it is each process' own) and must be empty.
func (s Settings) ValidateChange() error {
	if s.RedisUnavailable != "" {
		return fmt.Errorf("redis_unavailable is each process' own setting, not stored with the breaker")
	}
	if s == (Settings{}) {
		return fmt.Errorf("no setting to change")
	}
	return s.validateFields(true)
}

// validateFields checks each field's range; with zeroOK a zero field passes.
func (s Settings) validateFields(zeroOK bool) error {
	count := func(field string, n int) error {
		switch {
		case n == 0 && zeroOK:
		case n < 1:
			return fmt.Errorf("%s must be at least 1, not %d", field, n)
		case n > MaxThreshold:
			return fmt.Errorf("%s must be at most %d, not %d", field, MaxThreshold, n)
		}
		return nil
	}
	duration := func(field string, d time.Duration) error {
		switch {
		case d == 0 && zeroOK:
		case d < time.Millisecond:
			return fmt.Errorf("%s must be at least 1ms, not %s", field, d)
		case d > MaxDuration:
			return fmt.Errorf("%s must be at most %s, not %s", field, MaxDuration, d)
		}
		return nil
	}
	for _, err := range []error{
		count("failure_threshold", s.FailureThreshold),
		count("success_threshold", s.SuccessThreshold),
		duration("recovery_timeout", s.RecoveryTimeout),
		count("max_probes", s.MaxProbes),
		duration("probe_lease", s.ProbeLease),
		count("min_reporters", s.MinReporters),
		duration("reporter_window", s.ReporterWindow),
	} {
		if err != nil {
			return err
		}
	}
	return nil
}

// Diff names the shared fields (all but RedisUnavailable) in which s (a
// process' config) and other (the stored settings) differ, as
// "field other (config s)".
func (s Settings) Diff(other Settings) []string {
	var out []string
	add := func(field string, a, b any) {
		if a != b {
			out = append(out, fmt.Sprintf("%s %v (config %v)", field, b, a))
		}
	}
	add("failure_threshold", s.FailureThreshold, other.FailureThreshold)
	add("success_threshold", s.SuccessThreshold, other.SuccessThreshold)
	add("recovery_timeout", s.RecoveryTimeout, other.RecoveryTimeout)
	add("max_probes", s.MaxProbes, other.MaxProbes)
	add("probe_lease", s.ProbeLease, other.ProbeLease)
	add("min_reporters", s.MinReporters, other.MinReporters)
	add("reporter_window", s.ReporterWindow, other.ReporterWindow)
	return out
}
