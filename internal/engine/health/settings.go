package health

import (
	"time"

	"github.com/haderos/haderctl/internal/engine/duration"
)

// CheckSettings are a service's own check settings as the config file
// writes them beside its health_url (services[].health): a field left out
// is nil or empty, and takes the health section's default or the
// engine's.
type CheckSettings struct {
	Method       string             `json:"method,omitempty" yaml:"method,omitempty"`
	Interval     *duration.Duration `json:"interval,omitempty" yaml:"interval,omitempty"`
	Timeout      *duration.Duration `json:"timeout,omitempty" yaml:"timeout,omitempty"`
	ExpectStatus []int              `json:"expect_status,omitempty" yaml:"expect_status,omitempty"`
	BodyMatch    string             `json:"body_match,omitempty" yaml:"body_match,omitempty"`
	// MaxResponseTime: a slower answer is a failure; 0 or left out: no
	// limit.
	MaxResponseTime *duration.Duration `json:"max_response_time,omitempty" yaml:"max_response_time,omitempty"`
	Headers         map[string]string  `json:"headers,omitempty" yaml:"headers,omitempty"`
	// Alert overrides the alerts section's policy for this service (a
	// zero field: the section's).
	Alert AlertPolicy `json:"alert,omitzero" yaml:"alert,omitempty"`
}

// Check is the filled-in check of service name at url: these settings,
// then interval and timeout (the health section's defaults; nil: the
// engine's), with alert as its policy.
func (s CheckSettings) Check(name, url string, interval, timeout *duration.Duration, alert AlertPolicy) Check {
	chk := Check{Name: name, URL: url, Method: s.Method, BodyMatch: s.BodyMatch, Headers: s.Headers,
		ExpectStatus: append([]int(nil), s.ExpectStatus...), Alert: alert}
	chk.Interval = durationOf(s.Interval, interval)
	chk.Timeout = durationOf(s.Timeout, timeout)
	chk.MaxResponseTime = durationOf(s.MaxResponseTime, nil)
	return chk.WithDefaults()
}

// durationOf is own, else fallback, else 0 (the engine's default).
func durationOf(own, fallback *duration.Duration) time.Duration {
	switch {
	case own != nil:
		return time.Duration(*own)
	case fallback != nil:
		return time.Duration(*fallback)
	}
	return 0
}
