package config

import (
	"time"

	"github.com/haderos/haderctl/internal/engine/chaos"
)

// Chaos holds chaos' safety settings: the environments it may act in and
// the engine's own limits (a zero limit is its default).
type Chaos struct {
	// AllowedEnvironments may run chaos (default development, test,
	// staging); production never can.
	AllowedEnvironments []string `json:"allowed_environments,omitempty" yaml:"allowed_environments,omitempty"`
	chaos.Limits        `yaml:",inline"`
}

// validate refuses a limit above its hard ceiling (rather than lowering it
// without a word) and a 0 written in the file, which would otherwise read
// as the default.
func (c Chaos) validate(w written) error {
	for _, e := range c.AllowedEnvironments {
		if e == "production" || e == "prod" {
			return errorf("chaos.allowed_environments: production cannot be allowed")
		}
	}
	top, l := chaos.Ceilings, c.Limits
	return firstError(
		checkDuration("chaos.max_duration", w.has("chaos.max_duration"), l.MaxDuration, time.Second, top.MaxDuration),
		checkInt("chaos.max_concurrent", w.has("chaos.max_concurrent"), l.MaxConcurrent, 1, top.MaxConcurrent),
		checkInt("chaos.max_per_hour", w.has("chaos.max_per_hour"), l.MaxPerHour, 1, top.MaxPerHour),
		checkFloat("chaos.max_cores", w.has("chaos.max_cores"), l.MaxCores, 0, top.MaxCores, true),
		checkInt("chaos.max_memory_mb", w.has("chaos.max_memory_mb"), l.MaxMemoryMB, 1, top.MaxMemoryMB),
	)
}

// effective is the section with every default filled in.
func (c Chaos) effective() Chaos {
	if len(c.AllowedEnvironments) == 0 {
		c.AllowedEnvironments = chaos.DefaultAllowed
	}
	c.Limits = c.Limits.WithDefaults()
	return c
}
