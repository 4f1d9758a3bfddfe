package config

import (
	"time"

	"github.com/haderos/haderctl/internal/engine/chaos"
	"github.com/haderos/haderctl/internal/engine/duration"
)

// Chaos holds chaos' safety settings.
type Chaos struct {
	// AllowedEnvironments may run chaos (default development, test,
	// staging); production never can.
	AllowedEnvironments []string           `json:"allowed_environments,omitempty" yaml:"allowed_environments,omitempty"`
	MaxDuration         *duration.Duration `json:"max_duration,omitempty" yaml:"max_duration,omitempty"`
	MaxConcurrent       *Int               `json:"max_concurrent,omitempty" yaml:"max_concurrent,omitempty"`
	MaxPerHour          *Int               `json:"max_per_hour,omitempty" yaml:"max_per_hour,omitempty"`
	MaxCores            *Float             `json:"max_cores,omitempty" yaml:"max_cores,omitempty"`
	MaxMemoryMB         *Int               `json:"max_memory_mb,omitempty" yaml:"max_memory_mb,omitempty"`
}

// Limits are the effective limits: the defaults for the fields left out.
func (c Chaos) Limits() chaos.Limits {
	return chaos.Limits{MaxDuration: time.Duration(deref[duration.Duration, int64](c.MaxDuration)), MaxConcurrent: deref[Int, int](c.MaxConcurrent),
		MaxPerHour: deref[Int, int](c.MaxPerHour), MaxCores: deref[Float, float64](c.MaxCores), MaxMemoryMB: deref[Int, int](c.MaxMemoryMB)}.WithDefaults()
}

// validate refuses a limit above its hard ceiling (rather than lowering it
// without a word) and a 0, which would read as the default.
func (c Chaos) validate() error {
	for _, e := range c.AllowedEnvironments {
		if e == "production" || e == "prod" {
			return errorf("chaos.allowed_environments: production cannot be allowed")
		}
	}
	top := chaos.Ceilings
	return firstError(
		checkDuration("chaos.max_duration", c.MaxDuration, time.Second, top.MaxDuration),
		checkInt("chaos.max_concurrent", c.MaxConcurrent, 1, top.MaxConcurrent),
		checkInt("chaos.max_per_hour", c.MaxPerHour, 1, top.MaxPerHour),
		checkFloat("chaos.max_cores", c.MaxCores, 0, top.MaxCores, true),
		checkInt("chaos.max_memory_mb", c.MaxMemoryMB, 1, top.MaxMemoryMB),
	)
}

func fromLimits(l chaos.Limits, allowed []string) Chaos {
	if len(allowed) == 0 {
		allowed = chaos.DefaultAllowed
	}
	return Chaos{AllowedEnvironments: allowed, MaxDuration: ptr(duration.Duration(l.MaxDuration)), MaxConcurrent: ptr(Int(l.MaxConcurrent)),
		MaxPerHour: ptr(Int(l.MaxPerHour)), MaxCores: ptr(Float(l.MaxCores)), MaxMemoryMB: ptr(Int(l.MaxMemoryMB))}
}
