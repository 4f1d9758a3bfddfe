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
		{file: "services: [{name: a, breaker: {failure_threshold: -1}}]", want: "services[0] (a): breaker: failure_threshold must be at least 1"},
		{file: "redis: [", want: "config file"},
		{file: "queue: {backoff_factor: 0.5}", want: "queue: backoff_factor must be at least 1"},
		{file: "queue: {backoff_base: 10s, backoff_cap: 1s}", want: "backoff_cap must not be below backoff_base"},
		{file: "queue: {max_attempts: -2}", want: "queue: max_attempts must be at least 1"},
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
	s := c.Queue.Settings()
	if s.MaxAttempts != 4 || s.BackoffBase != 250*time.Millisecond || s.MaxDataBytes != 2048 ||
		s.BackoffCap != time.Hour || s.BackoffFactor != 2 || s.Retention != 24*time.Hour || s.DeadMax != 10000 {
		t.Fatalf("queue settings %+v", s)
	}
	if c.Queue.BackoffCap != Duration(time.Hour) {
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
