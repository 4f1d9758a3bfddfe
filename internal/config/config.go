// Package config loads haderctl's effective configuration: flags, then the
// environment, then the config file, then defaults (docs/configuration.md).
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/haderos/haderctl/internal/engine/breaker"
	"github.com/haderos/haderctl/internal/engine/duration"
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
	Environment string  `json:"environment" yaml:"environment"`
	Redis       Redis   `json:"redis" yaml:"redis"`
	Breaker     Breaker `json:"breaker" yaml:"breaker"`
	Queue       Queue   `json:"queue" yaml:"queue"`
	Health      Health  `json:"health" yaml:"health"`
	Alerts      Alerts  `json:"alerts" yaml:"alerts"`
	Chaos       Chaos   `json:"chaos" yaml:"chaos"`
	// Services are the integrated services, in file order.
	Services []Service `json:"services" yaml:"services"`
}

// Redis says where the shared state lives.
type Redis struct {
	URL       string `json:"url" yaml:"url"`
	Namespace string `json:"namespace" yaml:"namespace"`
	// Timeout is never 0 after Load: left out, it is DefaultTimeout (the
	// file cannot set 0; see checkTimeout).
	Timeout duration.Duration `json:"timeout" yaml:"timeout"`
	// TLS for rediss:// URLs (docs/configuration.md); the URL's tls_*
	// query parameters win over these.
	TLSCAFile             string `json:"tls_ca_file,omitempty" yaml:"tls_ca_file,omitempty"`
	TLSCertFile           string `json:"tls_cert_file,omitempty" yaml:"tls_cert_file,omitempty"`
	TLSKeyFile            string `json:"tls_key_file,omitempty" yaml:"tls_key_file,omitempty"`
	TLSInsecureSkipVerify bool   `json:"tls_insecure_skip_verify,omitempty" yaml:"tls_insecure_skip_verify,omitempty"`
}

// TLS is the file's TLS settings in the engine's form.
func (r Redis) TLS() store.TLSOptions {
	return store.TLSOptions{CAFile: r.TLSCAFile, CertFile: r.TLSCertFile, KeyFile: r.TLSKeyFile, InsecureSkipVerify: r.TLSInsecureSkipVerify}
}

// Breaker holds breaker settings in the file's form (durations as "120s"
// or a number of seconds); a nil field was left out: its default.
type Breaker struct {
	FailureThreshold *Int               `json:"failure_threshold,omitempty" yaml:"failure_threshold,omitempty"`
	SuccessThreshold *Int               `json:"success_threshold,omitempty" yaml:"success_threshold,omitempty"`
	RecoveryTimeout  *duration.Duration `json:"recovery_timeout,omitempty" yaml:"recovery_timeout,omitempty"`
	MaxProbes        *Int               `json:"max_probes,omitempty" yaml:"max_probes,omitempty"`
	ProbeLease       *duration.Duration `json:"probe_lease,omitempty" yaml:"probe_lease,omitempty"`
	RedisUnavailable string             `json:"redis_unavailable,omitempty" yaml:"redis_unavailable,omitempty"`
}

// MaxBreakerDuration bounds recovery_timeout and probe_lease: the engine's
// bound, so the config file and `breaker configure` accept the same values.
const MaxBreakerDuration = breaker.MaxDuration

// Settings converts to the engine's form (a field left out is zero: the
// engine's default).
func (b Breaker) Settings() breaker.Settings {
	return breaker.Settings{FailureThreshold: deref[Int, int](b.FailureThreshold), SuccessThreshold: deref[Int, int](b.SuccessThreshold),
		RecoveryTimeout: time.Duration(deref[duration.Duration, int64](b.RecoveryTimeout)), MaxProbes: deref[Int, int](b.MaxProbes),
		ProbeLease: time.Duration(deref[duration.Duration, int64](b.ProbeLease)), RedisUnavailable: b.RedisUnavailable}
}

// check refuses a value written in the file (or the environment) that is
// out of range; 0 included, which would otherwise read as the default.
func (b Breaker) check(section string) error {
	return firstError(
		checkInt(section+".failure_threshold", b.FailureThreshold, 1, breaker.MaxThreshold),
		checkInt(section+".success_threshold", b.SuccessThreshold, 1, breaker.MaxThreshold),
		checkDuration(section+".recovery_timeout", b.RecoveryTimeout, time.Millisecond, MaxBreakerDuration),
		checkInt(section+".max_probes", b.MaxProbes, 1, breaker.MaxThreshold),
		checkDuration(section+".probe_lease", b.ProbeLease, time.Millisecond, MaxBreakerDuration),
	)
}

// Queue holds the fallback queue's settings; a nil field was left out
// (its default). After Load every field is filled in.
type Queue struct {
	MaxAttempts   *Int               `json:"max_attempts" yaml:"max_attempts,omitempty"`
	BackoffBase   *duration.Duration `json:"backoff_base" yaml:"backoff_base,omitempty"`
	BackoffFactor *Float             `json:"backoff_factor" yaml:"backoff_factor,omitempty"`
	BackoffCap    *duration.Duration `json:"backoff_cap" yaml:"backoff_cap,omitempty"`
	MaxDataBytes  *Int               `json:"max_data_bytes" yaml:"max_data_bytes,omitempty"`
	Retention     *duration.Duration `json:"retention" yaml:"retention,omitempty"`
	DeadMax       *Int               `json:"dead_max" yaml:"dead_max,omitempty"`
	DeadMaxAge    *duration.Duration `json:"dead_max_age" yaml:"dead_max_age,omitempty"`
	MaxStalls     *Int               `json:"max_stalls" yaml:"max_stalls,omitempty"`
}

// Bounds of the queue's settings.
const (
	MaxQueueDataBytes   = 512 << 20 // a Redis string's limit
	MaxQueueDead        = 100_000_000
	MaxQueueBackoff     = 30 * 24 * time.Hour
	MaxQueueRetention   = 10 * 365 * 24 * time.Hour
	MaxQueueBackoffRate = 1000
)

// Settings converts to the engine's form, defaults filled in.
func (q Queue) Settings() queue.Settings {
	return queue.Settings{MaxAttempts: deref[Int, int](q.MaxAttempts), BackoffBase: time.Duration(deref[duration.Duration, int64](q.BackoffBase)),
		BackoffFactor: deref[Float, float64](q.BackoffFactor), BackoffCap: time.Duration(deref[duration.Duration, int64](q.BackoffCap)),
		MaxDataBytes: deref[Int, int](q.MaxDataBytes), Retention: time.Duration(deref[duration.Duration, int64](q.Retention)),
		DeadMax: deref[Int, int](q.DeadMax), DeadMaxAge: time.Duration(deref[duration.Duration, int64](q.DeadMaxAge)),
		MaxStalls: deref[Int, int](q.MaxStalls)}.Defaults()
}

func (q Queue) validate() error {
	if err := firstError(
		checkInt("queue.max_attempts", q.MaxAttempts, 1, MaxCount),
		checkDuration("queue.backoff_base", q.BackoffBase, time.Millisecond, MaxQueueBackoff),
		checkFloat("queue.backoff_factor", q.BackoffFactor, 1, MaxQueueBackoffRate, false),
		checkDuration("queue.backoff_cap", q.BackoffCap, time.Millisecond, MaxQueueBackoff),
		checkInt("queue.max_data_bytes", q.MaxDataBytes, 1, MaxQueueDataBytes),
		checkDuration("queue.retention", q.Retention, time.Second, MaxQueueRetention),
		checkInt("queue.dead_max", q.DeadMax, 1, MaxQueueDead),
		checkDuration("queue.dead_max_age", q.DeadMaxAge, time.Second, MaxQueueRetention),
		checkInt("queue.max_stalls", q.MaxStalls, 1, MaxCount),
	); err != nil {
		return err
	}
	if q.BackoffCap != nil && q.BackoffBase != nil && *q.BackoffCap < *q.BackoffBase {
		return errorf("queue.backoff_cap (%s) must not be below backoff_base (%s)", *q.BackoffCap, *q.BackoffBase)
	}
	return nil
}

func fromQueueSettings(s queue.Settings) Queue {
	return Queue{MaxAttempts: ptr(Int(s.MaxAttempts)), BackoffBase: ptr(duration.Duration(s.BackoffBase)), BackoffFactor: ptr(Float(s.BackoffFactor)),
		BackoffCap: ptr(duration.Duration(s.BackoffCap)), MaxDataBytes: ptr(Int(s.MaxDataBytes)), Retention: ptr(duration.Duration(s.Retention)),
		DeadMax: ptr(Int(s.DeadMax)), DeadMaxAge: ptr(duration.Duration(s.DeadMaxAge)), MaxStalls: ptr(Int(s.MaxStalls))}
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
	// Breaker overrides the default breaker settings for this service.
	Breaker Breaker `json:"breaker,omitzero" yaml:"breaker,omitempty"`
	// Health are the service's check settings (probing health_url).
	Health ServiceHealth `json:"health,omitzero" yaml:"health,omitempty"`
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
	c := &Config{}
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
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	err := dec.Decode(c)
	var te *yaml.TypeError
	var fe *duration.NodeError
	if err == nil {
		err = checkTimeout(data)
	}
	switch {
	case err == nil, errors.Is(err, io.EOF):
		return nil
	case errors.As(err, &fe):
		var root yaml.Node
		if yaml.Unmarshal(data, &root) == nil {
			if field := fieldPath(&root, fe.Line, fe.Column); field != "" {
				return fmt.Errorf("%s (line %d): %s", field, fe.Line, fe.Msg)
			}
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

// checkTimeout checks redis.timeout where it is written, so the message
// gives its line: a timeout of 0 or beyond MaxTimeout is an error, not the
// default.
func checkTimeout(data []byte) error {
	var doc struct {
		Redis struct {
			Timeout yaml.Node `yaml:"timeout"`
		} `yaml:"redis"`
	}
	if yaml.Unmarshal(data, &doc) != nil || doc.Redis.Timeout.Kind == 0 {
		return nil
	}
	n := &doc.Redis.Timeout
	var d duration.Duration
	if err := d.UnmarshalYAML(n); err != nil {
		return err
	}
	if err := checkDuration("timeout", &d, time.Millisecond, MaxTimeout); err != nil {
		return badNode(n, "%s", strings.TrimPrefix(err.Error(), "timeout: "))
	}
	return nil
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
		name string
		dst  **Int
	}{
		{"CIRCUIT_BREAKER_FAILURE_THRESHOLD", &c.Breaker.FailureThreshold},
		{"CIRCUIT_BREAKER_SUCCESS_THRESHOLD", &c.Breaker.SuccessThreshold},
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
			*e.dst = ptr(Int(n))
		}
	}
	if v := getenv("CIRCUIT_BREAKER_RECOVERY_TIMEOUT"); v != "" {
		d, err := envDuration("CIRCUIT_BREAKER_RECOVERY_TIMEOUT", v, time.Millisecond, MaxBreakerDuration)
		if err != nil {
			return err
		}
		c.Breaker.RecoveryTimeout = ptr(duration.Duration(d))
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
	if err := c.Queue.validate(); err != nil {
		return err
	}
	c.Queue = fromQueueSettings(c.Queue.Settings())
	if err := c.Breaker.check("breaker"); err != nil {
		return err
	}
	if err := c.Breaker.Settings().WithDefaults().Validate(); err != nil {
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
		if err := s.Breaker.check(fmt.Sprintf("services[%d].breaker", i)); err != nil {
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
	if err := c.validateHealth(); err != nil {
		return err
	}
	return c.Chaos.validate()
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
	s := c.Breaker.Settings()
	if svc := c.Service(name); svc != nil {
		s = s.Merge(svc.Breaker.Settings())
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
	out.Breaker = FromSettings(c.Breaker.Settings().WithDefaults())
	out.Queue = fromQueueSettings(c.Queue.Settings())
	out.Chaos = fromLimits(c.Chaos.Limits(), c.Chaos.AllowedEnvironments)
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

// FromSettings is the file form of engine settings (for printing).
func FromSettings(s breaker.Settings) Breaker {
	return Breaker{FailureThreshold: ptr(Int(s.FailureThreshold)), SuccessThreshold: ptr(Int(s.SuccessThreshold)),
		RecoveryTimeout: ptr(duration.Duration(s.RecoveryTimeout)), MaxProbes: ptr(Int(s.MaxProbes)),
		ProbeLease: ptr(duration.Duration(s.ProbeLease)), RedisUnavailable: s.RedisUnavailable}
}
