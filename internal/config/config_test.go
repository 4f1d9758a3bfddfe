package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func writeFile(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestDefaultsWithNothingSet(t *testing.T) {
	c, err := Load(Flags{}, Sources{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	s := c.BreakerSettings("any")
	if c.Redis.URL != DefaultRedisURL || c.Redis.Namespace != "hader" || time.Duration(c.Redis.Timeout) != 5*time.Second ||
		s.FailureThreshold != 3 || s.SuccessThreshold != 2 || s.RecoveryTimeout != 120*time.Second || s.MaxProbes != 2 || s.ProbeLease != 30*time.Second || s.RedisUnavailable != "allow" {
		t.Fatalf("defaults: %+v %+v", c.Redis, s)
	}
	if c.File != "" {
		t.Fatalf("read a config file %q that does not exist", c.File)
	}
}

func TestPrecedenceFlagsOverEnvOverFileOverDefaults(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "haderctl.yaml", `
redis: {url: "redis://file:6379/0", namespace: file, timeout: 9}
breaker: {failure_threshold: 7, recovery_timeout: 60}
services:
  - name: shopify
    breaker: {failure_threshold: 4}
`)
	src := Sources{Dir: dir, Getenv: env(map[string]string{"HADERCTL_NAMESPACE": "env", "CIRCUIT_BREAKER_FAILURE_THRESHOLD": "5"})}
	c, err := Load(Flags{}, src)
	if err != nil {
		t.Fatal(err)
	}
	if c.Redis.URL != "redis://file:6379/0" || c.Redis.Namespace != "env" || time.Duration(c.Redis.Timeout) != 9*time.Second {
		t.Fatalf("redis: %+v", c.Redis)
	}
	if got := c.BreakerSettings("aramex"); got.FailureThreshold != 5 || got.RecoveryTimeout != time.Minute {
		t.Fatalf("env over file for the default: %+v", got)
	}
	if got := c.BreakerSettings("shopify"); got.FailureThreshold != 4 {
		t.Fatalf("a service's own override is more specific than the defaults: %+v", got)
	}
	ns, url := "flag", "redis://flag:6379/1"
	c, err = Load(Flags{Namespace: &ns, RedisURL: &url}, src)
	if err != nil {
		t.Fatal(err)
	}
	if c.Redis.Namespace != "flag" || c.Redis.URL != url {
		t.Fatalf("flags over env: %+v", c.Redis)
	}
}

func TestXDGConfigIsReadWhenNoLocalFile(t *testing.T) {
	dir, xdg := t.TempDir(), t.TempDir()
	writeFile(t, xdg, "haderctl/config.yaml", "services: [{name: from-xdg}]\n")
	c, err := Load(Flags{}, Sources{Dir: dir, Getenv: env(map[string]string{"XDG_CONFIG_HOME": xdg})})
	if err != nil {
		t.Fatal(err)
	}
	if c.Service("from-xdg") == nil {
		t.Fatalf("XDG config not read: %+v", c)
	}
	writeFile(t, dir, "haderctl.yaml", "services: [{name: local}]\n")
	c, _ = Load(Flags{}, Sources{Dir: dir, Getenv: env(map[string]string{"XDG_CONFIG_HOME": xdg})})
	if c.Service("local") == nil || c.Service("from-xdg") != nil {
		t.Fatalf("./haderctl.yaml must win over the XDG file: %+v", c.Services)
	}
}

func TestBadInputIsAConfigErrorNamingWhatIsWrong(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		file string
		env  map[string]string
		want string
	}{
		{env: map[string]string{"CIRCUIT_BREAKER_FAILURE_THRESHOLD": "x"}, want: "CIRCUIT_BREAKER_FAILURE_THRESHOLD"},
		{env: map[string]string{"CIRCUIT_BREAKER_RECOVERY_TIMEOUT": "-3"}, want: "CIRCUIT_BREAKER_RECOVERY_TIMEOUT"},
		{env: map[string]string{"HADERCTL_TIMEOUT": "fast"}, want: "HADERCTL_TIMEOUT"},
		{env: map[string]string{"HADERCTL_NAMESPACE": "a b"}, want: `invalid namespace "a b"`},
		{file: "services: [{name: a}, {name: a}]", want: `"a" is listed twice`},
		{file: "services: [{name: 'x{y}'}]", want: `invalid service name "x{y}"`},
		{file: "breaker: {max_probes: 1, success_threshold: 2}", want: "max_probes (1) must be at least success_threshold (2)"},
		{file: "breaker: {redis_unavailable: maybe}", want: `redis_unavailable must be allow or deny, not "maybe"`},
		{file: "services: [{name: a, breaker: {failure_threshold: -1}}]", want: "services[0].breaker.failure_threshold: -1 is too small: it must be at least 1"},
		{file: "redis: [", want: "config file"},
		{file: "queue: {backoff_factor: 0.5}", want: "queue.backoff_factor: 0.5 is too small: it must be at least 1"},
		{file: "queue: {backoff_base: 10s, backoff_cap: 1s}", want: "queue.backoff_cap (1s) must not be below backoff_base (10s)"},
		{file: "queue: {max_attempts: -2}", want: "queue.max_attempts: -2 is too small: it must be at least 1"},
		{file: "queue: {retention: soon}", want: `"soon" is not a duration`},
	} {
		var path *string
		if c.file != "" {
			p := writeFile(t, dir, "c.yaml", c.file)
			path = &p
		}
		_, err := Load(Flags{Config: path}, Sources{Dir: dir, Getenv: env(c.env)})
		var ce *Error
		if !errors.As(err, &ce) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v %q: got %v, want a config error containing %q", c.env, c.file, err, c.want)
		}
	}
}

func TestRedactedHidesSecretsAndSecretsListsThem(t *testing.T) {
	c := &Config{Redis: Redis{URL: "redis://app:pw-123@h:6379/0"},
		Services: []Service{{Name: "shopify", Headers: map[string]string{"Authorization": "Bearer tok-456", "X-Api-Key": "key-789", "Accept": "json"}}}}
	r := c.Redacted()
	if r.Redis.URL != "redis://app:***@h:6379/0" || r.Services[0].Headers["Authorization"] != "***" ||
		r.Services[0].Headers["X-Api-Key"] != "***" || r.Services[0].Headers["Accept"] != "json" {
		t.Fatalf("redacted: %+v", r)
	}
	if c.Services[0].Headers["Authorization"] != "Bearer tok-456" {
		t.Fatal("Redacted changed the original")
	}
	got := strings.Join(c.Secrets(), ",")
	for _, s := range []string{"pw-123", "Bearer tok-456", "key-789"} {
		if !strings.Contains(got, s) {
			t.Errorf("Secrets() misses %q", s)
		}
	}
}

func TestQueueSettingsFromTheFileWithDefaultsFilledIn(t *testing.T) {
	dir := t.TempDir()
	p := writeFile(t, dir, "c.yaml", "queue: {max_attempts: 4, backoff_base: 250ms, max_data_bytes: 2048}")
	c, err := Load(Flags{Config: &p}, Sources{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	s := c.Queue
	if s.MaxAttempts != 4 || s.BackoffBase != 250*time.Millisecond || s.MaxDataBytes != 2048 ||
		s.BackoffCap != time.Hour || s.BackoffFactor != 2 || s.Retention != 24*time.Hour || s.DeadMax != 10000 {
		t.Fatalf("queue settings %+v", s)
	}
	if c.Queue.BackoffCap != time.Hour {
		t.Fatalf("the effective configuration shows the default cap: %v", c.Queue.BackoffCap)
	}
}

func TestAlertSecretsAreRedactedAndListed(t *testing.T) {
	dir := t.TempDir()
	p := writeFile(t, dir, "c.yaml", `
alerts:
  slack: {webhook_url: "https://hooks.slack.com/services/T0/B0/slack-secret"}
  webhook: {url: "https://alerts.example/hook?k=hook-secret", headers: {Authorization: "Bearer hdr-secret"}}
  email: {host: smtp.example, from: a@example, to: [b@example], password: smtp-secret}
services:
  - name: shop
    health_url: https://shop.example/health
    health: {headers: {X-Health-Token: tok-secret}, interval: 5s}
`)
	c, err := Load(Flags{Config: &p}, Sources{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	shown := fmt.Sprintf("%+v %+v %+v", *c.Redacted().Alerts.Slack, *c.Redacted().Alerts.Webhook, c.Redacted().Alerts.Email)
	shown += fmt.Sprintf("%+v", c.Redacted().Services)
	secrets := strings.Join(c.Secrets(), " ")
	for _, s := range []string{"slack-secret", "hook-secret", "hdr-secret", "smtp-secret", "tok-secret"} {
		if strings.Contains(shown, s) {
			t.Errorf("%s shown: %s", s, shown)
		}
		if !strings.Contains(secrets, s) {
			t.Errorf("%s not listed as a secret", s)
		}
	}
	chk, ok := c.HealthCheck("shop")
	if !ok || chk.Interval != 5*time.Second || chk.Timeout != 10*time.Second || chk.Headers["X-Health-Token"] != "tok-secret" {
		t.Fatalf("health check %+v", chk)
	}
}

// Every number of the file and the environment: a 0 without a documented
// meaning, a value out of range or one that overflows is a config error
// naming the field and what is wrong, never the default in disguise.
func TestNumbersOutOfRangeNameTheFieldAndWhatIsWrong(t *testing.T) {
	dir := t.TempDir()
	huge := "99999999999999999999"
	for _, c := range []struct {
		file string
		env  map[string]string
		want string
	}{
		// a 0 written in the file is not the default
		{file: "breaker: {recovery_timeout: 0}", want: "breaker.recovery_timeout: 0 is not allowed: it must be at least 1ms"},
		{file: "breaker: {failure_threshold: 0}", want: "breaker.failure_threshold: 0 is not allowed: it must be at least 1"},
		{file: "breaker: {success_threshold: 0}", want: "breaker.success_threshold: 0 is not allowed"},
		{file: "breaker: {max_probes: 0}", want: "breaker.max_probes: 0 is not allowed"},
		{file: "breaker: {probe_lease: 0s}", want: "breaker.probe_lease: 0 is not allowed"},
		{file: "breaker: {min_reporters: 0}", want: "breaker.min_reporters: 0 is not allowed: it must be at least 1"},
		{file: "breaker: {reporter_window: 0s}", want: "breaker.reporter_window: 0 is not allowed: it must be at least 1ms"},
		{file: "services: [{name: a, breaker: {min_reporters: -2}}]", want: "services[0].breaker.min_reporters"},
		{file: "services: [{name: a, breaker: {recovery_timeout: 0}}]", want: "services[0].breaker.recovery_timeout: 0 is not allowed"},
		{file: "redis: {timeout: 0}", want: "redis.timeout (line 1): 0 is not allowed: it must be at least 1ms"},
		{file: "queue: {max_attempts: 0}", want: "queue.max_attempts: 0 is not allowed"},
		{file: "queue: {backoff_base: 0}", want: "queue.backoff_base: 0 is not allowed"},
		{file: "queue: {backoff_factor: 0}", want: "queue.backoff_factor: 0 is not allowed"},
		{file: "queue: {backoff_cap: 0}", want: "queue.backoff_cap: 0 is not allowed"},
		{file: "queue: {max_data_bytes: 0}", want: "queue.max_data_bytes: 0 is not allowed"},
		{file: "queue: {retention: 0}", want: "queue.retention: 0 is not allowed"},
		{file: "queue: {dead_max: 0}", want: "queue.dead_max: 0 is not allowed"},
		{file: "queue: {dead_max_age: 0}", want: "queue.dead_max_age: 0 is not allowed"},
		{file: "queue: {max_stalls: 0}", want: "queue.max_stalls: 0 is not allowed"},
		{file: "health: {interval: 0}", want: "health.interval: 0 is not allowed: it must be at least 1s"},
		{file: "health: {timeout: 0}", want: "health.timeout: 0 is not allowed"},
		{file: "alerts: {failure_threshold: 0}", want: "alerts.failure_threshold: 0 is not allowed"},
		{file: "alerts: {success_threshold: 0}", want: "alerts.success_threshold: 0 is not allowed"},
		{file: "alerts: {remind_every: 0}", want: "alerts.remind_every: 0 is not allowed"},
		{file: "alerts: {email: {host: h, from: f, to: [t], port: 0}}", want: "alerts.email.port: 0 is not allowed"},
		{file: "chaos: {max_duration: 0}", want: "chaos.max_duration: 0 is not allowed"},
		{file: "chaos: {max_concurrent: 0}", want: "chaos.max_concurrent: 0 is not allowed"},
		{file: "chaos: {max_per_hour: 0}", want: "chaos.max_per_hour: 0 is not allowed"},
		{file: "chaos: {max_cores: 0}", want: "chaos.max_cores: 0 is not allowed: it must be above 0"},
		{file: "chaos: {max_memory_mb: 0}", want: "chaos.max_memory_mb: 0 is not allowed"},
		{file: "services: [{name: a, health_url: 'http://a/h', health: {interval: 0}}]", want: "services[0].health.interval: 0 is not allowed"},
		{file: "services: [{name: a, health_url: 'http://a/h', health: {timeout: 0}}]", want: "services[0].health.timeout: 0 is not allowed"},
		{file: "services: [{name: a, health_url: 'http://a/h', health: {alert: {failure_threshold: 0}}}]", want: "services[0].health.alert.failure_threshold: 0 is not allowed"},
		// too large, by range or by overflow: said so, naming the field
		{file: "breaker: {recovery_timeout: 9999999999h}", want: `breaker.recovery_timeout (line 1): "9999999999h" is too large`},
		{file: "breaker: {recovery_timeout: 1e30}", want: `breaker.recovery_timeout (line 1): "1e30" is too large`},
		{file: "breaker: {recovery_timeout: 200h}", want: "breaker.recovery_timeout: 200h0m0s is too large: at most 168h0m0s"},
		{file: "breaker: {failure_threshold: " + huge + "}", want: "breaker.failure_threshold (line 1): " + huge + " is too large"},
		{file: "breaker: {failure_threshold: 3000000000}", want: "breaker.failure_threshold: 3000000000 is too large: at most 2147483647"},
		{file: "breaker: {min_reporters: 3000000000}", want: "breaker.min_reporters: 3000000000 is too large: at most 2147483647"},
		{file: "breaker: {reporter_window: 200h}", want: "breaker.reporter_window: 200h0m0s is too large: at most 168h0m0s"},
		{file: "services:\n  - name: a\n    breaker:\n      probe_lease: 99999999999999999h\n", want: `services[0].breaker.probe_lease (line 4): "99999999999999999h" is too large`},
		{file: "redis: {timeout: 2h}", want: "redis.timeout (line 1): 2h0m0s is too large: at most 1h0m0s"},
		{file: "queue: {max_attempts: " + huge + "}", want: "queue.max_attempts (line 1): " + huge + " is too large"},
		{file: "queue: {backoff_factor: .inf}", want: "queue.backoff_factor (line 1): .inf is too large"},
		{file: "queue: {backoff_factor: 1e400}", want: "queue.backoff_factor (line 1): 1e400 is too large"},
		{file: "queue: {max_data_bytes: 1073741824}", want: "queue.max_data_bytes: 1073741824 is too large"},
		{file: "queue: {dead_max_age: 9999999999h}", want: `queue.dead_max_age (line 1): "9999999999h" is too large`},
		{file: "health: {interval: 48h}", want: "health.interval: 48h0m0s is too large: at most 24h0m0s"},
		{file: "health: {timeout: 9999999999h}", want: `health.timeout (line 1): "9999999999h" is too large`},
		{file: "alerts: {failure_threshold: " + huge + "}", want: "alerts.failure_threshold (line 1): " + huge + " is too large"},
		{file: "alerts: {remind_every: 9999999999h}", want: `alerts.remind_every (line 1): "9999999999h" is too large`},
		{file: "alerts: {email: {host: h, from: f, to: [t], port: 70000}}", want: "alerts.email.port: 70000 is too large: at most 65535"},
		{file: "chaos: {max_duration: 5h}", want: "chaos.max_duration: 5h0m0s is too large: at most 4h0m0s"},
		{file: "chaos: {max_concurrent: 51}", want: "chaos.max_concurrent: 51 is too large: at most 50"},
		{file: "chaos: {max_per_hour: 501}", want: "chaos.max_per_hour: 501 is too large: at most 500"},
		{file: "chaos: {max_cores: 9}", want: "chaos.max_cores: 9 is too large: at most 8"},
		{file: "chaos: {max_memory_mb: " + huge + "}", want: "chaos.max_memory_mb (line 1): " + huge + " is too large"},
		{file: "services: [{name: a, health_url: 'http://a/h', health: {expect_status: [" + huge + "]}}]", want: "services[0].health.expect_status[0] (line 1): " + huge + " is too large"},
		{file: "services: [{name: a, health_url: 'http://a/h', health: {max_response_time: 2h}}]", want: "services[0].health.max_response_time: 2h0m0s is too large"},
		// the environment
		{env: map[string]string{"CIRCUIT_BREAKER_RECOVERY_TIMEOUT": "0"}, want: `CIRCUIT_BREAKER_RECOVERY_TIMEOUT: "0" is too small: it must be at least 1ms`},
		{env: map[string]string{"CIRCUIT_BREAKER_RECOVERY_TIMEOUT": "9999999999h"}, want: `CIRCUIT_BREAKER_RECOVERY_TIMEOUT: "9999999999h" is too large`},
		{env: map[string]string{"CIRCUIT_BREAKER_RECOVERY_TIMEOUT": "1e30"}, want: `CIRCUIT_BREAKER_RECOVERY_TIMEOUT: "1e30" is too large`},
		{env: map[string]string{"CIRCUIT_BREAKER_FAILURE_THRESHOLD": huge}, want: `CIRCUIT_BREAKER_FAILURE_THRESHOLD: "` + huge + `" is too large`},
		{env: map[string]string{"CIRCUIT_BREAKER_SUCCESS_THRESHOLD": "0"}, want: `CIRCUIT_BREAKER_SUCCESS_THRESHOLD: "0" is not a whole number of at least 1`},
		{env: map[string]string{"HADERCTL_TIMEOUT": "0"}, want: `HADERCTL_TIMEOUT: "0" is too small: it must be at least 1ms`},
		{env: map[string]string{"HADERCTL_TIMEOUT": "9999999999h"}, want: `HADERCTL_TIMEOUT: "9999999999h" is too large: at most 1h0m0s`},
	} {
		var path *string
		if c.file != "" {
			p := writeFile(t, dir, "c.yaml", c.file)
			path = &p
		}
		_, err := Load(Flags{Config: path}, Sources{Dir: dir, Getenv: env(c.env)})
		var ce *Error
		if !errors.As(err, &ce) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v %q: got %v, want a config error containing %q", c.env, c.file, err, c.want)
		}
		if err != nil && strings.Contains(err.Error(), "2562047h") {
			t.Errorf("%v %q: %v prints an overflowed duration", c.env, c.file, err)
		}
	}
}

// A 0 with a documented meaning is kept: max_response_time 0 is no limit,
// and remind_every never (or negative) turns reminders off.
func TestDocumentedZerosAndNeverAreKept(t *testing.T) {
	dir := t.TempDir()
	p := writeFile(t, dir, "c.yaml", `
alerts: {remind_every: never}
services:
  - name: a
    health_url: http://a/health
    health: {max_response_time: 0}
  - name: b
    health_url: http://b/health
    health: {alert: {remind_every: -1s}}
`)
	c, err := Load(Flags{Config: &p}, Sources{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	a, _ := c.HealthCheck("a")
	b, _ := c.HealthCheck("b")
	if a.MaxResponseTime != 0 || a.Alert.RemindEvery >= 0 || b.Alert.RemindEvery >= 0 {
		t.Fatalf("a %+v, b %+v: want no response-time limit and no reminders", a, b.Alert)
	}
}

// The flag > environment > file precedence holds for every number the
// environment can set, and a flag's own range is checked too.
func TestEnvironmentOverFileForNumbersAndTimeoutFlagRange(t *testing.T) {
	dir := t.TempDir()
	p := writeFile(t, dir, "c.yaml", "redis: {timeout: 9}\nbreaker: {failure_threshold: 7, success_threshold: 4, recovery_timeout: 60}\n")
	src := Sources{Dir: dir, Getenv: env(map[string]string{"HADERCTL_TIMEOUT": "2", "CIRCUIT_BREAKER_SUCCESS_THRESHOLD": "3",
		"CIRCUIT_BREAKER_RECOVERY_TIMEOUT": "90"})}
	c, err := Load(Flags{Config: &p}, src)
	if err != nil {
		t.Fatal(err)
	}
	s := c.BreakerSettings("x")
	if time.Duration(c.Redis.Timeout) != 2*time.Second || s.FailureThreshold != 7 || s.SuccessThreshold != 3 || s.RecoveryTimeout != 90*time.Second {
		t.Fatalf("timeout %v, breaker %+v", c.Redis.Timeout, s)
	}
	flag := 3 * time.Second
	if c, err = Load(Flags{Config: &p, Timeout: &flag}, src); err != nil || time.Duration(c.Redis.Timeout) != flag {
		t.Fatalf("--timeout over HADERCTL_TIMEOUT: %v %v", c, err)
	}
	flag = 2 * time.Hour
	var ce *Error
	if _, err := Load(Flags{Config: &p, Timeout: &flag}, src); !errors.As(err, &ce) || !strings.Contains(err.Error(), "--timeout: 2h0m0s is too large") {
		t.Fatalf("--timeout 2h: %v", err)
	}
}
