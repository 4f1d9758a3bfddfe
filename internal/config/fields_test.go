package config

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/haderos/haderctl/internal/engine/breaker"
	"gopkg.in/yaml.v3"
)

// The file decodes into the engine's own types, every duration in every
// form the duration type reads.
func TestTheFileDecodesIntoTheEngineTypes(t *testing.T) {
	dir := t.TempDir()
	p := writeFile(t, dir, "c.yaml", `
breaker: {recovery_timeout: 90, probe_lease: 1m}
queue: {backoff_base: 0.25, max_attempts: 4}
alerts: {remind_every: never}
chaos: {max_duration: 20m, max_cores: 0.5}
services:
  - name: shop
    breaker: {failure_threshold: 4}
    health_url: http://shop/h
    health: {alert: {remind_every: 2h}}
`)
	c, err := Load(Flags{Config: &p}, Sources{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if c.Breaker != (breaker.Settings{RecoveryTimeout: 90 * time.Second, ProbeLease: time.Minute}) {
		t.Errorf("breaker %+v", c.Breaker)
	}
	if c.Queue.BackoffBase != 250*time.Millisecond || c.Queue.MaxAttempts != 4 {
		t.Errorf("queue %+v", c.Queue)
	}
	if c.Alerts.RemindEvery >= 0 || c.Chaos.MaxDuration != 20*time.Minute || c.Chaos.MaxCores != 0.5 {
		t.Errorf("alerts %+v, chaos %+v", c.Alerts.AlertPolicy, c.Chaos)
	}
	if s := c.BreakerSettings("shop"); s.FailureThreshold != 4 || s.RecoveryTimeout != 90*time.Second {
		t.Errorf("shop's breaker %+v", s)
	}
	if chk, _ := c.HealthCheck("shop"); chk.Alert.RemindEvery != 2*time.Hour {
		t.Errorf("shop's alert policy %+v", chk.Alert)
	}
}

func TestNeverAndUnknownFieldsInEngineSectionsAreRefused(t *testing.T) {
	dir := t.TempDir()
	for file, want := range map[string]string{
		"breaker: {recovery_timeout: never}":        "breaker.recovery_timeout: never (or a negative duration, read as never) is not allowed",
		"queue: {retention: -1s}":                   "queue.retention: never (or a negative duration, read as never) is not allowed",
		"breaker: {retries: 3}":                     `line 1: unknown field "retries"`,
		"chaos: {max_per_hour: 1.5}":                `chaos.max_per_hour (line 1): "1.5" is not a whole number`,
		"services: [{name: a, breaker: {x: 1}}]":    `unknown field "x"`,
		"alerts: {remind_every: soon}":              `alerts.remind_every (line 1): "soon" is not a duration`,
		"services: [{name: a, health: {alert: 3}}]": `services[0].health.alert (line 1): must be a mapping of fields, not "3"`,
	} {
		p := writeFile(t, dir, "c.yaml", file)
		_, err := Load(Flags{Config: &p}, Sources{Dir: dir})
		var ce *Error
		if !errors.As(err, &ce) || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: got %v, want a config error containing %q", file, err, want)
		}
	}
}

// Printable shows the engine's durations as Go strings in JSON and YAML
// alike, and leaves out what a service did not override.
func TestPrintableShowsDurationsAsStrings(t *testing.T) {
	s := breaker.Settings{FailureThreshold: 4, RecoveryTimeout: 2 * time.Minute}
	j, err := json.Marshal(Printable(s))
	if err != nil || string(j) != `{"failure_threshold":4,"recovery_timeout":"2m0s"}` {
		t.Fatalf("json %s %v", j, err)
	}
	y, err := yaml.Marshal(Printable(&Config{Breaker: s}))
	if err != nil || !strings.Contains(string(y), "breaker:\n    failure_threshold: 4\n    recovery_timeout: 2m0s\n") {
		t.Fatalf("yaml %s %v", y, err)
	}
}

// A value of the wrong shape is refused naming its field and line, for
// every kind of field (yaml.v3 alone says "line 1: cannot unmarshal !!str
// `maybe` into bool", naming neither the field nor what it wants); a
// value left empty is still the field's zero value.
func TestWrongShapesNameTheFieldAndLine(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct{ file, want string }{
		{"health: {feed_breaker: maybe}", `health.feed_breaker (line 1): "maybe" is not true or false`},
		{"alerts:\n  log: [1]\n", `alerts.log (line 2): a list is not true or false`},
		{"alerts: {email: {host: h, from: f, to: [t], starttls: maybe}}", `alerts.email.starttls (line 1): "maybe" is not true or false`},
		{"redis: {tls_insecure_skip_verify: sometimes}", `redis.tls_insecure_skip_verify (line 1): "sometimes" is not true or false`},
		{"redis: {url: [1]}", `redis.url (line 1): must be a single value, not a list`},
		{"environment: {a: 1}", `environment (line 1): must be a single value, not a mapping`},
		{"services: {a: 1}", `services (line 1): must be a list, not a mapping`},
		{"alerts: {email: {host: h, from: f, to: t}}", `alerts.email.to (line 1): must be a list, not "t"`},
		{"chaos: {allowed_environments: staging}", `chaos.allowed_environments (line 1): must be a list, not "staging"`},
		{"breaker: 5", `breaker (line 1): must be a mapping of fields, not "5"`},
		{"services:\n  - name: a\n    headers: [x]\n", `services[0].headers (line 3): must be a mapping, not a list`},
		{"services: [{name: a, headers: {X-A: [1]}}]", `services[0].headers.X-A (line 1): must be a single value, not a list`},
	} {
		p := writeFile(t, dir, "c.yaml", c.file)
		_, err := Load(Flags{Config: &p}, Sources{Dir: dir})
		var ce *Error
		if !errors.As(err, &ce) || !strings.Contains(err.Error(), c.want) || strings.Count(err.Error(), "\n") != 0 {
			t.Errorf("%q: got %v, want a one-line config error containing %q", c.file, err, c.want)
		}
	}
	p := writeFile(t, dir, "c.yaml", "breaker:\nservices:\nredis: {url: }\nhealth: {feed_breaker: }\nalerts: {log: yes}\n")
	c, err := Load(Flags{Config: &p}, Sources{Dir: dir})
	if err != nil {
		t.Fatalf("empty values and yes: %v", err)
	}
	if c.Redis.URL != DefaultRedisURL || !c.FeedsBreaker() || c.Alerts.Log == nil || !*c.Alerts.Log {
		t.Errorf("empty values are not their defaults, or yes is not true: %+v", c)
	}
}
