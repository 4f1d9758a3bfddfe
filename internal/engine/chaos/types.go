// Package chaos is the control plane of fault injection: experiments kept
// in Redis with a TTL equal to their duration (they end on time even if
// every process dies), behind an enable switch, an environment
// allow-list, limits, an emergency stop with a halt latch, and an audit
// stream (docs/redis-schema.md, "Chaos"). The parts that act on it sit
// below it: package faults (the data plane: the HTTP transport and impact
// counting) and package agent (cpu and memory); package gameday, above
// it, plays scenarios.
//
//	chaos inject ──start script (switch, halt, limits)──▶ <ns>:{chaos}:exp:<id> (TTL)
//	                                                  └─▶ PUBLISH changed
//	readers (Active, State, snapshot): pure reads, ended ones filtered by Redis TIME
//	sweep (audits expiries): the data planes' tick, and the scripts that write anyway
//	data plane (faults): cache ◀── pub/sub + 1 s re-read ── active index
//	request ──▶ faults.Transport: service/method/path match, probability roll ──▶
//	            latency | error | abort | timeout ──▶ base transport
package chaos

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Kinds of experiments.
const (
	Latency = "latency"
	Error   = "error"
	Abort   = "abort"
	Timeout = "timeout"
	CPU     = "cpu"
	Memory  = "memory"
)

// Kinds lists every kind; the first four are network faults applied by the
// transport, cpu and memory are applied by agents.
var Kinds = []string{Latency, Error, Abort, Timeout, CPU, Memory}

// Experiment is one fault injection.
type Experiment struct {
	ID   string `json:"id"`
	Kind string `json:"kind"`
	// Services are the targets; ["*"] is every service.
	Services []string `json:"services"`
	// Probability is the share of matching requests affected, (0, 1].
	Probability float64 `json:"probability"`
	// Method and PathPrefix narrow the requests affected (empty: all).
	Method     string `json:"method,omitempty"`
	PathPrefix string `json:"path_prefix,omitempty"`
	// Parameters by kind.
	Delay    time.Duration `json:"delay,omitempty"`
	Jitter   time.Duration `json:"jitter,omitempty"`
	Status   int           `json:"status,omitempty"`
	Cores    float64       `json:"cores,omitempty"`
	MemoryMB int           `json:"memory_mb,omitempty"`

	Duration time.Duration `json:"duration"`
	// Start and End are set by Redis when it starts (Unix ms).
	StartMs int64  `json:"start_ms,omitempty"`
	EndMs   int64  `json:"end_ms,omitempty"`
	By      string `json:"by"`
	CIJob   string `json:"ci_job,omitempty"`
	Reason  string `json:"reason"`
	// Scenario names the game day that started it, if any.
	Scenario string `json:"scenario,omitempty"`
}

// Start and End as times.
func (e Experiment) Start() time.Time { return time.UnixMilli(e.StartMs) }

// End is when it stops by itself.
func (e Experiment) End() time.Time { return time.UnixMilli(e.EndMs) }

// Targets reports whether the experiment targets the service.
func (e Experiment) Targets(service string) bool {
	return slices.Contains(e.Services, "*") || slices.Contains(e.Services, service)
}

// Network reports whether the transport applies it.
func (e Experiment) Network() bool {
	return e.Kind == Latency || e.Kind == Error || e.Kind == Abort || e.Kind == Timeout
}

// InputError is bad input (exit 2).
type InputError struct{ Msg string }

func (e *InputError) Error() string { return e.Msg }

// RefusedError is a refusal by a safety guard (exit 4).
type RefusedError struct{ Msg string }

func (e *RefusedError) Error() string { return e.Msg }

// Limits bound experiments; each has a hard ceiling no configuration can
// lift.
type Limits struct {
	MaxDuration   time.Duration `json:"max_duration" yaml:"max_duration,omitempty"`
	MaxConcurrent int           `json:"max_concurrent" yaml:"max_concurrent,omitempty"`
	MaxPerHour    int           `json:"max_per_hour" yaml:"max_per_hour,omitempty"`
	// MaxCores and MaxMemoryMB cap what an agent burns or holds.
	MaxCores    float64 `json:"max_cores" yaml:"max_cores,omitempty"`
	MaxMemoryMB int     `json:"max_memory_mb" yaml:"max_memory_mb,omitempty"`
}

// Ceilings no configuration can exceed.
var Ceilings = Limits{MaxDuration: 4 * time.Hour, MaxConcurrent: 50, MaxPerHour: 500, MaxCores: 8, MaxMemoryMB: 8192}

// WithDefaults fills unset limits (15 min, 5 at once, 20 an hour, 1 core,
// 512 MB) and clamps them to the ceilings.
func (l Limits) WithDefaults() Limits {
	def := Limits{MaxDuration: 15 * time.Minute, MaxConcurrent: 5, MaxPerHour: 20, MaxCores: 1, MaxMemoryMB: 512}
	if l.MaxDuration <= 0 {
		l.MaxDuration = def.MaxDuration
	}
	if l.MaxConcurrent <= 0 {
		l.MaxConcurrent = def.MaxConcurrent
	}
	if l.MaxPerHour <= 0 {
		l.MaxPerHour = def.MaxPerHour
	}
	if l.MaxCores <= 0 {
		l.MaxCores = def.MaxCores
	}
	if l.MaxMemoryMB <= 0 {
		l.MaxMemoryMB = def.MaxMemoryMB
	}
	l.MaxDuration = min(l.MaxDuration, Ceilings.MaxDuration)
	l.MaxConcurrent = min(l.MaxConcurrent, Ceilings.MaxConcurrent)
	l.MaxPerHour = min(l.MaxPerHour, Ceilings.MaxPerHour)
	l.MaxCores = min(l.MaxCores, Ceilings.MaxCores)
	l.MaxMemoryMB = min(l.MaxMemoryMB, Ceilings.MaxMemoryMB)
	return l
}

// DefaultAllowed are the environments chaos may run in by default.
var DefaultAllowed = []string{"development", "test", "staging"}

// EnvironmentAllowed reports whether chaos may act in env: it must be set
// and on the allow-list; "production" never is.
func EnvironmentAllowed(env string, allowed []string) error {
	if len(allowed) == 0 {
		allowed = DefaultAllowed
	}
	e := strings.ToLower(strings.TrimSpace(env))
	switch {
	case e == "":
		return &RefusedError{"chaos refused: the environment is not set (HADERCTL_ENV or environment: in the config); allowed: " + strings.Join(allowed, ", ")}
	case e == "production" || e == "prod":
		return &RefusedError{"chaos refused: the environment is production"}
	case !slices.Contains(allowed, e):
		return &RefusedError{fmt.Sprintf("chaos refused: environment %q is not in the allow-list (%s)", env, strings.Join(allowed, ", "))}
	}
	return nil
}

// Validate checks an experiment against the kinds and the limits.
func (e *Experiment) Validate(l Limits) error {
	bad := func(format string, a ...any) error { return &InputError{fmt.Sprintf(format, a...)} }
	if !slices.Contains(Kinds, e.Kind) {
		return bad("unknown kind %q: use %s", e.Kind, strings.Join(Kinds, ", "))
	}
	if len(e.Services) == 0 {
		return bad("a target is required (--service NAME, or --service all)")
	}
	if e.Probability <= 0 || e.Probability > 1 {
		return bad("probability must be above 0 and at most 100%%")
	}
	if e.Duration <= 0 {
		return bad("a positive --duration is required")
	}
	if e.Duration > l.MaxDuration {
		return &RefusedError{fmt.Sprintf("chaos refused: duration %s exceeds the %s limit (chaos.max_duration)", e.Duration, l.MaxDuration)}
	}
	switch e.Kind {
	case Latency:
		if e.Delay <= 0 || e.Jitter < 0 || e.Jitter > e.Delay {
			return bad("latency needs --delay > 0 and 0 <= --jitter <= --delay")
		}
	case Error:
		if e.Status < 400 || e.Status > 599 {
			return bad("error needs --status between 400 and 599")
		}
	case CPU:
		if e.Cores <= 0 {
			return bad("cpu needs --cores > 0")
		}
		if e.Cores > l.MaxCores {
			return &RefusedError{fmt.Sprintf("chaos refused: %.1f cores exceeds the %.1f-core cap (chaos.max_cores)", e.Cores, l.MaxCores)}
		}
	case Memory:
		if e.MemoryMB <= 0 {
			return bad("memory needs --mb > 0")
		}
		if e.MemoryMB > l.MaxMemoryMB {
			return &RefusedError{fmt.Sprintf("chaos refused: %d MB exceeds the %d MB cap (chaos.max_memory_mb)", e.MemoryMB, l.MaxMemoryMB)}
		}
	}
	return nil
}
