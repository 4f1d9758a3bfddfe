// Package gameday plays chaos scenarios (the built-in ones are embedded)
// as game days: it schedules their experiments through the chaos control
// plane, judges the steady-state hypothesis with probes of the breakers,
// the health checks and the queues before, during and after, keeps a
// journal and writes it as JUnit. It sits above the parts it judges; none
// of them imports it.
package gameday

import (
	"bytes"
	"embed"
	"fmt"
	"io/fs"
	"slices"
	"strings"
	"time"

	"github.com/haderos/haderctl/internal/engine/chaos"
	"github.com/haderos/haderctl/internal/engine/duration"
	"gopkg.in/yaml.v3"
)

//go:embed scenarios/*.yaml
var builtin embed.FS

// Scenario is a game day: phases of experiments on a timeline, and the
// probes of its steady-state hypothesis (docs/scenarios.md).
type Scenario struct {
	Name        string   `yaml:"name" json:"name"`
	Aliases     []string `yaml:"aliases,omitempty" json:"aliases,omitempty"`
	Description string   `yaml:"description" json:"description"`
	Phases      []Phase  `yaml:"phases" json:"phases"`
	Probes      Probes   `yaml:"probes,omitempty" json:"probes"`
	// RecoveryDeadline bounds how long the after-probes may take to pass
	// once the experiments are stopped (default 2 m; time-scaled, but never below 1 s).
	RecoveryDeadline Dur `yaml:"recovery_deadline,omitempty" json:"recovery_deadline"`
}

// Phase is a set of experiments that start at At and last Duration.
type Phase struct {
	Name     string `yaml:"name" json:"name"`
	At       Dur    `yaml:"at" json:"at"`
	Duration Dur    `yaml:"duration" json:"duration"`
	// CascadeStep, when set, gives each target its own experiments, the
	// i-th starting i steps later (a failure that spreads).
	CascadeStep Dur `yaml:"cascade_step,omitempty" json:"cascade_step,omitempty"`
	// PerService gives each target its own experiments at once (cpu and
	// memory are applied per service by its agent).
	PerService  bool       `yaml:"per_service,omitempty" json:"per_service,omitempty"`
	Experiments []Template `yaml:"experiments" json:"experiments"`
}

// Template is an experiment without its targets and times.
type Template struct {
	Kind        string  `yaml:"kind" json:"kind"`
	Probability float64 `yaml:"probability,omitempty" json:"probability,omitempty"` // percent, default 100
	Delay       Dur     `yaml:"delay,omitempty" json:"delay,omitempty"`
	Jitter      Dur     `yaml:"jitter,omitempty" json:"jitter,omitempty"`
	Status      int     `yaml:"status,omitempty" json:"status,omitempty"`
	Cores       float64 `yaml:"cores,omitempty" json:"cores,omitempty"`
	MemoryMB    int     `yaml:"memory_mb,omitempty" json:"memory_mb,omitempty"`
	Method      string  `yaml:"method,omitempty" json:"method,omitempty"`
	Path        string  `yaml:"path,omitempty" json:"path,omitempty"`
}

// Probes are the checks of a game day.
type Probes struct {
	Before []Probe `yaml:"before,omitempty" json:"before"`
	During []Probe `yaml:"during,omitempty" json:"during"`
	After  []Probe `yaml:"after,omitempty" json:"after"`
}

// Probe is one check. Types: breakers_closed, breakers_open,
// breakers_open_where_failing (the breakers of services whose calls the
// experiments failed), healthy, queue_backlog (Queue, Min/Max on pending +
// delayed), queue_drained.
// Services defaults to the game day's targets.
type Probe struct {
	Name     string   `yaml:"name,omitempty" json:"name"`
	Type     string   `yaml:"type" json:"type"`
	Services []string `yaml:"services,omitempty" json:"services,omitempty"`
	Queue    string   `yaml:"queue,omitempty" json:"queue,omitempty"`
	Min      *int64   `yaml:"min,omitempty" json:"min,omitempty"`
	Max      *int64   `yaml:"max,omitempty" json:"max,omitempty"`
}

// ProbeTypes are the probe types a scenario may use.
var ProbeTypes = []string{"breakers_closed", "breakers_open", "breakers_open_where_failing", "healthy", "queue_backlog", "queue_drained"}

// Dur is a duration in scenario files: the engine's one duration type,
// read as the config file reads it ("90s", "5m", or a number of seconds).
type Dur = duration.Duration

// Builtins are the scenarios embedded in the binary, by name.
func Builtins() ([]Scenario, error) {
	files, err := fs.Glob(builtin, "scenarios/*.yaml")
	if err != nil {
		return nil, err
	}
	var out []Scenario
	for _, f := range files {
		data, _ := builtin.ReadFile(f)
		s, err := ParseScenario(data)
		if err != nil {
			return nil, fmt.Errorf("built-in %s: %w", f, err)
		}
		out = append(out, s)
	}
	return out, nil
}

// FindScenario returns a built-in scenario by name or alias.
func FindScenario(name string) (Scenario, error) {
	all, err := Builtins()
	if err != nil {
		return Scenario{}, err
	}
	var names []string
	for _, s := range all {
		if s.Name == name || slices.Contains(s.Aliases, name) {
			return s, nil
		}
		names = append(names, s.Name)
	}
	return Scenario{}, &chaos.InputError{Msg: fmt.Sprintf("unknown scenario %q: built in are %s (or --file)", name, strings.Join(names, ", "))}
}

// ParseScenario reads a scenario file (unknown fields are errors).
func ParseScenario(data []byte) (Scenario, error) {
	var s Scenario
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&s); err != nil {
		return s, &chaos.InputError{Msg: "scenario: " + strings.TrimPrefix(err.Error(), "yaml: ")}
	}
	bad := func(format string, a ...any) error {
		return &chaos.InputError{Msg: "scenario " + s.Name + ": " + fmt.Sprintf(format, a...)}
	}
	if s.Name == "" || len(s.Phases) == 0 {
		return s, &chaos.InputError{Msg: "scenario: name and at least one phase are required"}
	}
	if s.RecoveryDeadline < 0 {
		return s, bad("recovery_deadline must be a duration, not never or negative")
	}
	for _, p := range s.Phases {
		if p.Duration <= 0 || len(p.Experiments) == 0 {
			return s, bad("phase %q needs a duration and experiments", p.Name)
		}
		// the duration type reads "never" and negative values as Never:
		// no phase time means that
		if p.At < 0 || p.CascadeStep < 0 {
			return s, bad("phase %q: at and cascade_step must be durations from 0, not never or negative", p.Name)
		}
		for _, t := range p.Experiments {
			if !slices.Contains(chaos.Kinds, t.Kind) {
				return s, bad("phase %q: unknown kind %q", p.Name, t.Kind)
			}
			if t.Delay < 0 || t.Jitter < 0 {
				return s, bad("phase %q: %s delay and jitter must be durations from 0, not never or negative", p.Name, t.Kind)
			}
		}
	}
	for _, pr := range append(append(append([]Probe{}, s.Probes.Before...), s.Probes.During...), s.Probes.After...) {
		if !slices.Contains(ProbeTypes, pr.Type) {
			return s, bad("unknown probe type %q: use %s", pr.Type, strings.Join(ProbeTypes, ", "))
		}
		if strings.HasPrefix(pr.Type, "queue_") && pr.Queue == "" {
			return s, bad("probe %q needs a queue", pr.Type)
		}
	}
	if s.RecoveryDeadline == 0 {
		s.RecoveryDeadline = Dur(2 * time.Minute)
	}
	return s, nil
}

// Step is one experiment of a planned game day.
type Step struct {
	Phase      string           `json:"phase"`
	Offset     time.Duration    `json:"offset_ns"`
	Experiment chaos.Experiment `json:"experiment"`
}

// Plan lays the phases out for targets (nil or ["*"]: every service),
// every time multiplied by scale.
func (s Scenario) Plan(targets []string, scale float64) ([]Step, error) {
	if scale <= 0 {
		scale = 1
	}
	all := len(targets) == 0 || slices.Contains(targets, "*")
	scaled := func(d Dur) time.Duration { return time.Duration(float64(d) * scale) }
	var out []Step
	for _, p := range s.Phases {
		per := p.PerService || p.CascadeStep > 0
		if per && all {
			return nil, &chaos.InputError{Msg: fmt.Sprintf("scenario %s, phase %q acts per service: name the targets with --services (or list services in the config)", s.Name, p.Name)}
		}
		groups := [][]string{targets}
		if all {
			groups = [][]string{{"*"}}
		} else if per {
			groups = nil
			for _, t := range targets {
				groups = append(groups, []string{t})
			}
		}
		for i, g := range groups {
			offset := scaled(p.At) + time.Duration(i)*scaled(p.CascadeStep)
			dur := scaled(p.Duration) - time.Duration(i)*scaled(p.CascadeStep)
			if dur <= 0 {
				continue // the cascade reached this one after the phase ended
			}
			for _, t := range p.Experiments {
				prob := t.Probability
				if prob == 0 {
					prob = 100
				}
				e := chaos.Experiment{Kind: t.Kind, Services: g, Probability: prob / 100, Delay: time.Duration(t.Delay),
					Jitter: time.Duration(t.Jitter), Status: t.Status, Cores: t.Cores, MemoryMB: t.MemoryMB,
					Method: t.Method, PathPrefix: t.Path, Duration: dur, Scenario: s.Name,
					Reason: "game day " + s.Name + ": " + p.Name}
				if e.Kind == chaos.Error && e.Status == 0 {
					e.Status = 503
				}
				out = append(out, Step{Phase: p.Name, Offset: offset, Experiment: e})
			}
		}
	}
	slices.SortStableFunc(out, func(a, b Step) int { return int(a.Offset - b.Offset) })
	return out, nil
}
