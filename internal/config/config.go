// Package config loads haderctl's effective configuration: flags, then the
// environment, then the config file, then defaults (docs/configuration.md).
package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/haderos/haderctl/internal/engine/breaker"
	"github.com/haderos/haderctl/internal/engine/duration"
	"github.com/haderos/haderctl/internal/engine/gateway"
	"github.com/haderos/haderctl/internal/engine/health"
	"github.com/haderos/haderctl/internal/engine/queue"
	"github.com/haderos/haderctl/internal/engine/store"
	"github.com/haderos/haderctl/internal/redact"
	"gopkg.in/yaml.v3"
)

// Defaults.
const (
	DefaultRedisURL  = "redis://127.0.0.1:6379/0"
	DefaultNamespace = "hader"
	DefaultTimeout   = 5 * time.Second
	// MaxTimeout bounds redis.timeout, HADERCTL_TIMEOUT and --timeout.
	MaxTimeout = time.Hour
)

// Config is the effective configuration.
type Config struct {
	// File is the config file that was read; empty when none was.
	File string `json:"config_file" yaml:"-"`
	// Environment names where this runs (development, staging, production…).
	Environment string `json:"environment" yaml:"environment"`
	Redis       Redis  `json:"redis" yaml:"redis"`
	// Breaker are the default settings of every breaker (the seed's
	// CIRCUIT_BREAKER_* variables over the file's breaker section).
	Breaker breaker.Settings `json:"breaker" yaml:"breaker"`
	// Queue are the fallback queue's settings; after Load every field is
	// filled in.
	Queue  queue.Settings `json:"queue" yaml:"queue"`
	Health Health         `json:"health" yaml:"health"`
	Alerts Alerts         `json:"alerts" yaml:"alerts"`
	Chaos  Chaos          `json:"chaos" yaml:"chaos"`
	// Gateway is `haderctl gateway`'s section: routes, limits, header
	// faults (docs/configuration.md, "Gateway").
	Gateway gateway.Settings `json:"gateway" yaml:"gateway"`
	// Services are the integrated services, in file order.
	Services []Service `json:"services" yaml:"services"`

	// written are the fields the file and the environment set.
	written written
}

// Redis says where the shared state lives.
type Redis struct {
	URL       string `json:"url" yaml:"url"`
	Namespace string `json:"namespace" yaml:"namespace"`
	// Timeout is never 0 after Load: left out, it is DefaultTimeout (the
	// file cannot set 0; see checkTimeout).
	Timeout duration.Duration `json:"timeout" yaml:"timeout"`
	// TLS for rediss:// URLs (docs/configuration.md: tls_ca_file,
	// tls_cert_file, tls_key_file, tls_insecure_skip_verify); the URL's
	// tls_* query parameters win over these.
	store.TLSOptions `yaml:",inline"`
}

// TLS is the file's TLS settings in the engine's form.
func (r Redis) TLS() store.TLSOptions {
	return r.TLSOptions
}

// MaxBreakerDuration bounds recovery_timeout and probe_lease: the engine's
// bound, so the config file and `breaker configure` accept the same values.
const MaxBreakerDuration = breaker.MaxDuration

// checkBreaker refuses a value written in the file (or the environment)
// that is out of range; 0 included, which would otherwise read as the
// default.
func checkBreaker(w written, section string, b breaker.Settings) error {
	f := func(name string) (string, bool) { return section + "." + name, w.has(section + "." + name) }
	field, set := f("failure_threshold")
	err := checkInt(field, set, b.FailureThreshold, 1, breaker.MaxThreshold)
	if field, set = f("success_threshold"); err == nil {
		err = checkInt(field, set, b.SuccessThreshold, 1, breaker.MaxThreshold)
	}
	if field, set = f("recovery_timeout"); err == nil {
		err = checkDuration(field, set, b.RecoveryTimeout, time.Millisecond, MaxBreakerDuration)
	}
	if field, set = f("max_probes"); err == nil {
		err = checkInt(field, set, b.MaxProbes, 1, breaker.MaxThreshold)
	}
	if field, set = f("probe_lease"); err == nil {
		err = checkDuration(field, set, b.ProbeLease, time.Millisecond, MaxBreakerDuration)
	}
	if field, set = f("min_reporters"); err == nil {
		err = checkInt(field, set, b.MinReporters, 1, breaker.MaxThreshold)
	}
	if field, set = f("reporter_window"); err == nil {
		err = checkDuration(field, set, b.ReporterWindow, time.Millisecond, MaxBreakerDuration)
	}
	return err
}

// Bounds of the queue's settings.
const (
	MaxQueueDataBytes   = 512 << 20 // a Redis string's limit
	MaxQueueDead        = 100_000_000
	MaxQueueBackoff     = 30 * 24 * time.Hour
	MaxQueueRetention   = 10 * 365 * 24 * time.Hour
	MaxQueueBackoffRate = 1000
)

func checkQueue(w written, q queue.Settings) error {
	has := func(name string) bool { return w.has("queue." + name) }
	if err := firstError(
		checkInt("queue.max_attempts", has("max_attempts"), q.MaxAttempts, 1, MaxCount),
		checkDuration("queue.backoff_base", has("backoff_base"), q.BackoffBase, time.Millisecond, MaxQueueBackoff),
		checkFloat("queue.backoff_factor", has("backoff_factor"), q.BackoffFactor, 1, MaxQueueBackoffRate, false),
		checkDuration("queue.backoff_cap", has("backoff_cap"), q.BackoffCap, time.Millisecond, MaxQueueBackoff),
		checkInt("queue.max_data_bytes", has("max_data_bytes"), q.MaxDataBytes, 1, MaxQueueDataBytes),
		checkDuration("queue.retention", has("retention"), q.Retention, time.Second, MaxQueueRetention),
		checkInt("queue.dead_max", has("dead_max"), q.DeadMax, 1, MaxQueueDead),
		checkDuration("queue.dead_max_age", has("dead_max_age"), q.DeadMaxAge, time.Second, MaxQueueRetention),
		checkInt("queue.max_stalls", has("max_stalls"), q.MaxStalls, 1, MaxCount),
	); err != nil {
		return err
	}
	if has("backoff_cap") && has("backoff_base") && q.BackoffCap < q.BackoffBase {
		return errorf("queue.backoff_cap (%s) must not be below backoff_base (%s)", q.BackoffCap, q.BackoffBase)
	}
	return nil
}

// Service is one integrated service.
type Service struct {
	Name string `json:"name" yaml:"name"`
	// BaseURL is where requests to the service go (queue replays, gateway).
	BaseURL string `json:"base_url,omitempty" yaml:"base_url,omitempty"`
	// HealthURL is probed by the health checker.
	HealthURL string `json:"health_url,omitempty" yaml:"health_url,omitempty"`
	// Fallback names the service to use while this one's breaker is open.
	Fallback string `json:"fallback,omitempty" yaml:"fallback,omitempty"`
	// Headers are sent with every request to the service; secret ones
	// (Authorization, tokens, keys) are redacted in every output.
	Headers map[string]string `json:"headers,omitempty" yaml:"headers,omitempty"`
	// Breaker overrides the default breaker settings for this service
	// (a zero field: the default's).
	Breaker breaker.Settings `json:"breaker,omitzero" yaml:"breaker,omitempty"`
	// Health are the service's check settings (probing health_url).
	Health health.CheckSettings `json:"health,omitzero" yaml:"health,omitempty"`
	// Upstream are the gateway's settings for the service: timeout,
	// fail_on, max_request_bytes (zero: the gateway section's).
	gateway.Upstream `yaml:",inline"`
}

// Error is a configuration problem: exit code 2.
type Error struct{ Msg string }

func (e *Error) Error() string { return e.Msg }

func errorf(format string, a ...any) error { return &Error{Msg: fmt.Sprintf(format, a...)} }

// Flags are the global flags that bear on configuration; a nil pointer
// means the flag was not given.
type Flags struct {
	Config    *string
	RedisURL  *string
	Namespace *string
	Timeout   *time.Duration
}

// Sources are where Load looks besides the flags.
type Sources struct {
	Getenv func(string) string
	// Dir is the working directory, for ./haderctl.yaml.
	Dir string
}

// SystemSources reads the process' environment and working directory.
func SystemSources() Sources {
	dir, _ := os.Getwd()
	return Sources{Getenv: os.Getenv, Dir: dir}
}

// Load builds the effective configuration.
func Load(f Flags, src Sources) (*Config, error) {
	if src.Getenv == nil {
		src.Getenv = func(string) string { return "" }
	}
	c := &Config{written: written{}}
	path, explicit := configPath(f, src)
	if path != "" {
		data, err := os.ReadFile(path)
		switch {
		case err == nil:
			if err := decode(data, c); err != nil {
				return nil, errorf("config file %s: %s", path, err)
			}
			c.File = path
		case errors.Is(err, os.ErrNotExist) && !explicit:
		default:
			return nil, errorf("config file %s: %s", path, strings.TrimPrefix(err.Error(), "open "+path+": "))
		}
	}
	if err := applyEnv(c, src.Getenv); err != nil {
		return nil, err
	}
	if f.RedisURL != nil {
		c.Redis.URL = *f.RedisURL
	}
	if f.Namespace != nil {
		c.Redis.Namespace = *f.Namespace
	}
	if f.Timeout != nil {
		if *f.Timeout > MaxTimeout {
			return nil, errorf("--timeout: %s is too large: at most %s", *f.Timeout, MaxTimeout)
		}
		c.Redis.Timeout = duration.Duration(*f.Timeout)
	}
	if c.Redis.URL == "" {
		c.Redis.URL = DefaultRedisURL
	}
	if c.Redis.Namespace == "" {
		c.Redis.Namespace = DefaultNamespace
	}
	if c.Redis.Timeout == 0 {
		c.Redis.Timeout = duration.Duration(DefaultTimeout)
	}
	return c, c.validate()
}

func configPath(f Flags, src Sources) (path string, explicit bool) {
	if f.Config != nil && *f.Config != "" {
		return *f.Config, true
	}
	if p := src.Getenv("HADERCTL_CONFIG"); p != "" {
		return p, true
	}
	local := filepath.Join(src.Dir, "haderctl.yaml")
	if _, err := os.Stat(local); err == nil {
		return local, false
	}
	xdg := src.Getenv("XDG_CONFIG_HOME")
	if xdg == "" {
		if home := src.Getenv("HOME"); home != "" {
			xdg = filepath.Join(home, ".config")
		}
	}
	if xdg != "" {
		return filepath.Join(xdg, "haderctl", "config.yaml"), false
	}
	return "", false
}

func decode(data []byte, c *Config) error {
	var root yaml.Node
	err := yaml.Unmarshal(data, &root)
	if err == nil && root.Kind != 0 {
		if err = scan(&root, reflect.TypeFor[Config](), "", c.written); err == nil {
			err = root.Decode(c)
		}
		if n := c.written["redis.timeout"]; err == nil && n != nil {
			// checked where it is written, so the message gives its line
			if cerr := checkDuration("timeout", true, time.Duration(c.Redis.Timeout), time.Millisecond, MaxTimeout); cerr != nil {
				err = badNode(n, "%s", strings.TrimPrefix(cerr.Error(), "timeout: "))
			}
		}
	}
	var te *yaml.TypeError
	var fe *duration.NodeError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &fe):
		if field := fieldPath(&root, fe.Line, fe.Column); field != "" {
			return fmt.Errorf("%s (line %d): %s", field, fe.Line, fe.Msg)
		}
		return fe
	case errors.As(err, &te):
		msgs := make([]string, len(te.Errors))
		for i, m := range te.Errors {
			msgs[i] = unknownFieldRE.ReplaceAllString(m, `unknown field "$1"`)
		}
		return errors.New(strings.Join(msgs, "; "))
	}
	return errors.New(strings.TrimPrefix(err.Error(), "yaml: "))
}

var unknownFieldRE = regexp.MustCompile(`field (\S+) not found in type \S+`)

// applyEnv lays the environment over the file.
func applyEnv(c *Config, getenv func(string) string) error {
	if v := getenv("REDIS_URL"); v != "" {
		c.Redis.URL = v
	}
	if v := getenv("HADERCTL_NAMESPACE"); v != "" {
		c.Redis.Namespace = v
	}
	if v := getenv("HADERCTL_ENV"); v != "" {
		c.Environment = v
	}
	if v := getenv("HADERCTL_TIMEOUT"); v != "" {
		d, err := envDuration("HADERCTL_TIMEOUT", v, time.Millisecond, MaxTimeout)
		if err != nil {
			return err
		}
		c.Redis.Timeout = duration.Duration(d)
	}
	ints := []struct {
		name, field string
		dst         *int
	}{
		{"CIRCUIT_BREAKER_FAILURE_THRESHOLD", "breaker.failure_threshold", &c.Breaker.FailureThreshold},
		{"CIRCUIT_BREAKER_SUCCESS_THRESHOLD", "breaker.success_threshold", &c.Breaker.SuccessThreshold},
	}
	for _, e := range ints {
		if v := getenv(e.name); v != "" {
			n, err := ParseInt(v)
			switch {
			case errors.Is(err, ErrTooLarge) || (err == nil && n > breaker.MaxThreshold):
				return errorf("%s: %q is too large: at most %d", e.name, v, breaker.MaxThreshold)
			case err != nil || n < 1:
				return errorf("%s: %q is not a whole number of at least 1", e.name, v)
			}
			*e.dst = n
			c.written[e.field] = nil
		}
	}
	if v := getenv("CIRCUIT_BREAKER_RECOVERY_TIMEOUT"); v != "" {
		d, err := envDuration("CIRCUIT_BREAKER_RECOVERY_TIMEOUT", v, time.Millisecond, MaxBreakerDuration)
		if err != nil {
			return err
		}
		c.Breaker.RecoveryTimeout = d
		c.written["breaker.recovery_timeout"] = nil
	}
	return nil
}

// envDuration reads a variable's duration and checks its range.
func envDuration(name, v string, lo, hi time.Duration) (time.Duration, error) {
	d, err := duration.Parse(v)
	switch {
	case errors.Is(err, ErrTooLarge) || (err == nil && d > hi):
		return 0, errorf("%s: %q is too large: at most %s", name, v, hi)
	case err != nil:
		return 0, errorf("%s: %q is not a number of seconds (or a duration such as 2m) of at least %s", name, v, lo)
	case d < lo:
		return 0, errorf("%s: %q is too small: it must be at least %s", name, v, lo)
	}
	return d, nil
}

func (c *Config) validate() error {
	if err := store.CheckURL(c.Redis.URL, c.Redis.TLS()); err != nil {
		return &Error{Msg: err.Error()}
	}
	if err := store.ValidNamespace(c.Redis.Namespace); err != nil {
		return &Error{Msg: err.Error()}
	}
	if err := checkQueue(c.written, c.Queue); err != nil {
		return err
	}
	c.Queue = c.Queue.Defaults()
	if err := checkBreaker(c.written, "breaker", c.Breaker); err != nil {
		return err
	}
	if err := c.Breaker.WithDefaults().Validate(); err != nil {
		return errorf("breaker: %s", err)
	}
	seen := map[string]bool{}
	for i, s := range c.Services {
		if err := store.ValidName("service", s.Name); err != nil {
			return errorf("services[%d]: %s", i, err)
		}
		if seen[s.Name] {
			return errorf("services: %q is listed twice", s.Name)
		}
		seen[s.Name] = true
		if err := checkBreaker(c.written, fmt.Sprintf("services[%d].breaker", i), s.Breaker); err != nil {
			return err
		}
		if err := c.BreakerSettings(s.Name).Validate(); err != nil {
			return errorf("services[%d] (%s): breaker: %s", i, s.Name, err)
		}
	}
	for _, s := range c.Services {
		if s.Fallback != "" && !seen[s.Fallback] {
			return errorf("service %s: fallback %q is not a listed service", s.Name, s.Fallback)
		}
	}
	if err := c.validateGateway(); err != nil {
		return err
	}
	if err := c.validateHealth(); err != nil {
		return err
	}
	return c.Chaos.validate(c.written)
}

// Service returns the named service, or nil.
func (c *Config) Service(name string) *Service {
	for i := range c.Services {
		if c.Services[i].Name == name {
			return &c.Services[i]
		}
	}
	return nil
}

// BreakerSettings returns the filled-in breaker settings of a service: the
// defaults (from the file's breaker section and the seed's environment
// variables), then the service's own overrides.
func (c *Config) BreakerSettings(name string) breaker.Settings {
	s := c.Breaker
	if svc := c.Service(name); svc != nil {
		s = s.Merge(svc.Breaker)
	}
	return s.WithDefaults()
}

// Redacted returns a copy fit to print: passwords, secret headers masked.
func (c *Config) Redacted() *Config {
	out := *c
	out.Redis.URL = redact.URL(c.Redis.URL)
	out.Alerts = c.Alerts.redacted()
	out.Services = make([]Service, len(c.Services))
	for i, s := range c.Services {
		s.Headers = redact.Headers(s.Headers)
		s.BaseURL, s.HealthURL = redact.HTTPURL(s.BaseURL), redact.HTTPURL(s.HealthURL)
		s.Health.Headers = redact.Headers(s.Health.Headers)
		out.Services[i] = s
	}
	return &out
}

// Effective returns a copy fit to print with every default filled in, so
// what is shown is what runs (a service's breaker section stays its own
// overrides: `config view` prints the merged result beside it).
func (c *Config) Effective() *Config {
	out := *c
	out.Breaker = c.Breaker.WithDefaults()
	out.Queue = c.Queue.Defaults()
	out.Chaos = c.Chaos.effective()
	out.Services = slices.Clone(c.Services)
	c.effectiveHealth(&out)
	return &out
}

// Secrets lists the secret values in the configuration, for scrubbing
// messages as a last line of defence.
func (c *Config) Secrets() []string {
	var out []string
	if uo, err := store.ParseURL(c.Redis.URL); err == nil {
		out = append(out, uo.Password, uo.SentinelPassword)
	}
	for _, s := range c.Services {
		out = append(out, redact.HTTPURLSecrets(s.BaseURL)...)
		out = append(out, redact.HTTPURLSecrets(s.HealthURL)...)
		for k, v := range s.Headers {
			if redact.IsSecretName(k) {
				out = append(out, v)
			}
		}
		for k, v := range s.Health.Headers {
			if redact.IsSecretName(k) {
				out = append(out, v)
			}
		}
	}
	return append(out, c.Alerts.secrets()...)
}
