// Package health checks services on a schedule, keeps their results,
// uptime and latency in Redis, and raises each alert once, however many
// watchers run (docs/redis-schema.md, "Health").
//
//	watcher ──(slot lock: one probe per interval between all watchers)──▶
//	probe over the engine transport ──▶ record script (state, hourly
//	counters, recent list, alert decision) ──▶ the watcher whose script
//	decided an alert sends it ──▶ providers (log, Slack, webhook, email)
package health

import (
	"fmt"
	"net/url"
	"strings"
	"time"
)

// Defaults from the HaderOS documents.
const (
	DefaultInterval = 30 * time.Second
	DefaultTimeout  = 10 * time.Second
	// MinInterval is the shortest interval accepted: faster is a load
	// test, not a health check.
	MinInterval = time.Second
	// MaxInterval, MaxTimeout (a probe's timeout and max_response_time)
	// and MaxThreshold (alert thresholds) bound the rest: beyond them a
	// value is a typo, and would overflow the slot lock's expiry.
	MaxInterval  = 24 * time.Hour
	MaxTimeout   = time.Hour
	MaxThreshold = 1_000_000
)

// Check is one service's health check.
type Check struct {
	Name   string `json:"name"`
	URL    string `json:"url"`
	Method string `json:"method,omitempty"`
	// Interval between probes (default 30 s, at least 1 s); Timeout of one
	// probe (default 10 s).
	Interval time.Duration `json:"interval"`
	Timeout  time.Duration `json:"timeout"`
	// ExpectStatus lists the healthy HTTP codes; empty means 200-399.
	ExpectStatus []int `json:"expect_status,omitempty"`
	// BodyMatch, when set, must occur in the response body.
	BodyMatch string `json:"body_match,omitempty"`
	// MaxResponseTime, when set, makes a slower answer a failure.
	MaxResponseTime time.Duration     `json:"max_response_time,omitempty"`
	Headers         map[string]string `json:"headers,omitempty"`
	Alert           AlertPolicy       `json:"alert"`
	// Source is "config" or "registered" (health register).
	Source string `json:"source"`
}

// AlertPolicy says when a service's alert fires, reminds and resolves.
type AlertPolicy struct {
	// FailureThreshold consecutive failures fire it (default 3);
	// SuccessThreshold consecutive successes resolve it (default 2).
	FailureThreshold int `json:"failure_threshold" yaml:"failure_threshold,omitempty"`
	SuccessThreshold int `json:"success_threshold" yaml:"success_threshold,omitempty"`
	// RemindEvery re-sends an open alert at most this often (default 1 h;
	// negative: never).
	RemindEvery time.Duration `json:"remind_every" yaml:"remind_every,omitempty"`
}

// InputError is bad input (exit 2).
type InputError struct{ Msg string }

func (e *InputError) Error() string { return e.Msg }

// WithDefaults fills unset fields.
func (c Check) WithDefaults() Check {
	if c.Method == "" {
		c.Method = "GET"
	}
	c.Method = strings.ToUpper(c.Method)
	if c.Interval == 0 {
		c.Interval = DefaultInterval
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.Alert.FailureThreshold == 0 {
		c.Alert.FailureThreshold = 3
	}
	if c.Alert.SuccessThreshold == 0 {
		c.Alert.SuccessThreshold = 2
	}
	if c.Alert.RemindEvery == 0 {
		c.Alert.RemindEvery = time.Hour
	}
	return c
}

// Validate checks a filled-in check.
func (c Check) Validate() error {
	bad := func(format string, a ...any) error {
		return &InputError{fmt.Sprintf("health check %s: ", c.Name) + fmt.Sprintf(format, a...)}
	}
	u, err := url.Parse(c.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return bad("invalid URL: use http:// or https:// with a host")
	}
	switch {
	case c.Interval < MinInterval:
		return bad("interval %s is below the %s minimum", c.Interval, MinInterval)
	case c.Interval > MaxInterval:
		return bad("interval %s is too large: at most %s", c.Interval, MaxInterval)
	case c.Timeout <= 0:
		return bad("timeout must be positive")
	case c.Timeout > MaxTimeout:
		return bad("timeout %s is too large: at most %s", c.Timeout, MaxTimeout)
	case c.Alert.FailureThreshold < 1 || c.Alert.SuccessThreshold < 1:
		return bad("alert thresholds must be at least 1")
	case c.Alert.FailureThreshold > MaxThreshold || c.Alert.SuccessThreshold > MaxThreshold:
		return bad("alert thresholds are too large: at most %d", MaxThreshold)
	case c.MaxResponseTime < 0:
		return bad("max_response_time must not be negative")
	case c.MaxResponseTime > MaxTimeout:
		return bad("max_response_time %s is too large: at most %s", c.MaxResponseTime, MaxTimeout)
	}
	for _, code := range c.ExpectStatus {
		if code < 100 || code > 599 {
			return bad("expected status %d is not an HTTP status", code)
		}
	}
	for _, ch := range c.Method {
		if ch < 'A' || ch > 'Z' {
			return bad("invalid method %q", c.Method)
		}
	}
	return nil
}

func (c Check) healthyStatus(code int) bool {
	if len(c.ExpectStatus) == 0 {
		return code >= 200 && code < 400
	}
	for _, s := range c.ExpectStatus {
		if s == code {
			return true
		}
	}
	return false
}

// Result is one probe's outcome as recorded.
type Result struct {
	Service string    `json:"service"`
	Healthy bool      `json:"healthy"`
	Status  string    `json:"status"`
	Code    int       `json:"http_code"`
	Latency float64   `json:"latency_ms"`
	Error   string    `json:"error,omitempty"`
	At      time.Time `json:"checked_at"`
	// ConsecutiveFailures and ConsecutiveSuccesses after this result.
	ConsecutiveFailures  int `json:"consecutive_failures"`
	ConsecutiveSuccesses int `json:"consecutive_successes"`
	// Alert is "fired", "reminder" or "resolved" when this result made
	// this process send one.
	Alert string `json:"alert,omitempty"`
}

// Alert is what providers send.
type Alert struct {
	Service string `json:"service"`
	// Kind is fired, reminder or resolved.
	Kind                string    `json:"kind"`
	Message             string    `json:"message"`
	At                  time.Time `json:"at"`
	Since               time.Time `json:"since"`
	ConsecutiveFailures int       `json:"consecutive_failures"`
	LastError           string    `json:"last_error,omitempty"`
}
