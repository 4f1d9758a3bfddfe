package config

import (
	"time"

	"github.com/haderos/haderctl/internal/engine/chaos"
)

// Chaos holds chaos' safety settings.
type Chaos struct {
	// AllowedEnvironments may run chaos (default development, test,
	// staging); production never can.
	AllowedEnvironments []string `json:"allowed_environments,omitempty" yaml:"allowed_environments,omitempty"`
	MaxDuration         Duration `json:"max_duration,omitempty" yaml:"max_duration,omitempty"`
	MaxConcurrent       int      `json:"max_concurrent,omitempty" yaml:"max_concurrent,omitempty"`
	MaxPerHour          int      `json:"max_per_hour,omitempty" yaml:"max_per_hour,omitempty"`
	MaxCores            float64  `json:"max_cores,omitempty" yaml:"max_cores,omitempty"`
	MaxMemoryMB         int      `json:"max_memory_mb,omitempty" yaml:"max_memory_mb,omitempty"`
}

// Limits are the effective limits, clamped to the hard ceilings.
func (c Chaos) Limits() chaos.Limits {
	return chaos.Limits{MaxDuration: time.Duration(c.MaxDuration), MaxConcurrent: c.MaxConcurrent, MaxPerHour: c.MaxPerHour,
		MaxCores: c.MaxCores, MaxMemoryMB: c.MaxMemoryMB}.WithDefaults()
}

func (c Chaos) validate() error {
	for _, e := range c.AllowedEnvironments {
		if e == "production" || e == "prod" {
			return errorf("chaos.allowed_environments: production cannot be allowed")
		}
	}
	if c.MaxConcurrent < 0 || c.MaxPerHour < 0 || c.MaxCores < 0 || c.MaxMemoryMB < 0 {
		return errorf("chaos: limits must be positive")
	}
	return nil
}
