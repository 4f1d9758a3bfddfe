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
	"strconv"
	"strings"
	"time"

	"github.com/haderos/haderctl/internal/engine/breaker"
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
	URL       string   `json:"url" yaml:"url"`
	Namespace string   `json:"namespace" yaml:"namespace"`
	Timeout   Duration `json:"timeout" yaml:"timeout"`
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
// or a number of seconds).
type Breaker struct {
	FailureThreshold int      `json:"failure_threshold,omitempty" yaml:"failure_threshold,omitempty"`
	SuccessThreshold int      `json:"success_threshold,omitempty" yaml:"success_threshold,omitempty"`
	RecoveryTimeout  Duration `json:"recovery_timeout,omitempty" yaml:"recovery_timeout,omitempty"`
	MaxProbes        int      `json:"max_probes,omitempty" yaml:"max_probes,omitempty"`
	ProbeLease       Duration `json:"probe_lease,omitempty" yaml:"probe_lease,omitempty"`
	RedisUnavailable string   `json:"redis_unavailable,omitempty" yaml:"redis_unavailable,omitempty"`
}

// Settings converts to the engine's form.
func (b Breaker) Settings() breaker.Settings {
	return breaker.Settings{FailureThreshold: b.FailureThreshold, SuccessThreshold: b.SuccessThreshold,
		RecoveryTimeout: time.Duration(b.RecoveryTimeout), MaxProbes: b.MaxProbes,
		ProbeLease: time.Duration(b.ProbeLease), RedisUnavailable: b.RedisUnavailable}
}

// Queue holds the fallback queue's settings (0 or unset: the default).
type Queue struct {
	MaxAttempts   int      `json:"max_attempts" yaml:"max_attempts,omitempty"`
	BackoffBase   Duration `json:"backoff_base" yaml:"backoff_base,omitempty"`
	BackoffFactor float64  `json:"backoff_factor" yaml:"backoff_factor,omitempty"`
	BackoffCap    Duration `json:"backoff_cap" yaml:"backoff_cap,omitempty"`
	MaxDataBytes  int      `json:"max_data_bytes" yaml:"max_data_bytes,omitempty"`
	Retention     Duration `json:"retention" yaml:"retention,omitempty"`
	DeadMax       int      `json:"dead_max" yaml:"dead_max,omitempty"`
	DeadMaxAge    Duration `json:"dead_max_age" yaml:"dead_max_age,omitempty"`
	MaxStalls     int      `json:"max_stalls" yaml:"max_stalls,omitempty"`
}

// Settings converts to the engine's form, defaults filled in.
func (q Queue) Settings() queue.Settings {
	return queue.Settings{MaxAttempts: q.MaxAttempts, BackoffBase: time.Duration(q.BackoffBase),
		BackoffFactor: q.BackoffFactor, BackoffCap: time.Duration(q.BackoffCap), MaxDataBytes: q.MaxDataBytes,
		Retention: time.Duration(q.Retention), DeadMax: q.DeadMax, DeadMaxAge: time.Duration(q.DeadMaxAge),
		MaxStalls: q.MaxStalls}.Defaults()
}

func (q Queue) validate() error {
	switch {
	case q.MaxAttempts < 0:
		return errorf("queue: max_attempts must be at least 1")
	case q.BackoffFactor != 0 && q.BackoffFactor < 1:
		return errorf("queue: backoff_factor must be at least 1")
	case q.BackoffCap != 0 && q.BackoffBase != 0 && q.BackoffCap < q.BackoffBase:
		return errorf("queue: backoff_cap must not be below backoff_base")
	case q.MaxDataBytes < 0:
		return errorf("queue: max_data_bytes must be positive")
	case q.DeadMax < 0:
		return errorf("queue: dead_max must be positive")
	case q.MaxStalls < 0:
		return errorf("queue: max_stalls must be at least 1")
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
		c.Redis.Timeout = Duration(*f.Timeout)
	}
	if c.Redis.URL == "" {
		c.Redis.URL = DefaultRedisURL
	}
	if c.Redis.Namespace == "" {
		c.Redis.Namespace = DefaultNamespace
	}
	if c.Redis.Timeout == 0 {
		c.Redis.Timeout = Duration(DefaultTimeout)
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
	switch {
	case err == nil, errors.Is(err, io.EOF):
		return nil
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
		d, err := parseDuration(v)
		if err != nil || d <= 0 {
			return errorf("HADERCTL_TIMEOUT: %q is not a duration (e.g. 5s, or a number of seconds)", v)
		}
		c.Redis.Timeout = Duration(d)
	}
	ints := []struct {
		name string
		dst  *int
	}{
		{"CIRCUIT_BREAKER_FAILURE_THRESHOLD", &c.Breaker.FailureThreshold},
		{"CIRCUIT_BREAKER_SUCCESS_THRESHOLD", &c.Breaker.SuccessThreshold},
	}
	for _, e := range ints {
		if v := getenv(e.name); v != "" {
			n, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil || n < 1 {
				return errorf("%s: %q is not a whole number of at least 1", e.name, v)
			}
			*e.dst = n
		}
	}
	if v := getenv("CIRCUIT_BREAKER_RECOVERY_TIMEOUT"); v != "" {
		d, err := parseDuration(v)
		if err != nil || d < time.Millisecond {
			return errorf("CIRCUIT_BREAKER_RECOVERY_TIMEOUT: %q is not a number of seconds (or a duration such as 2m) of at least 1ms", v)
		}
		c.Breaker.RecoveryTimeout = Duration(d)
	}
	return nil
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
	qs := c.Queue.Settings()
	c.Queue = Queue{MaxAttempts: qs.MaxAttempts, BackoffBase: Duration(qs.BackoffBase), BackoffFactor: qs.BackoffFactor,
		BackoffCap: Duration(qs.BackoffCap), MaxDataBytes: qs.MaxDataBytes, Retention: Duration(qs.Retention),
		DeadMax: qs.DeadMax, DeadMaxAge: Duration(qs.DeadMaxAge), MaxStalls: qs.MaxStalls}
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

// Duration is a time.Duration written as "120s" or a number of seconds.
type Duration time.Duration

func parseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		return time.Duration(f * float64(time.Second)), nil
	}
	return time.ParseDuration(s)
}

// UnmarshalYAML accepts "30s", "2m" or a number of seconds.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := parseDuration(n.Value)
	if err != nil || v < 0 {
		return fmt.Errorf("line %d: %q is not a duration (e.g. 30s, 2m, or a number of seconds)", n.Line, n.Value)
	}
	*d = Duration(v)
	return nil
}

// MarshalYAML writes the Go form, e.g. "2m0s".
func (d Duration) MarshalYAML() (any, error) { return time.Duration(d).String(), nil }

// MarshalJSON writes the Go form, e.g. "2m0s".
func (d Duration) MarshalJSON() ([]byte, error) {
	return strconv.AppendQuote(nil, time.Duration(d).String()), nil
}

// String is the Go form.
func (d Duration) String() string { return time.Duration(d).String() }

// FromSettings is the file form of engine settings (for printing).
func FromSettings(s breaker.Settings) Breaker {
	return Breaker{FailureThreshold: s.FailureThreshold, SuccessThreshold: s.SuccessThreshold,
		RecoveryTimeout: Duration(s.RecoveryTimeout), MaxProbes: s.MaxProbes,
		ProbeLease: Duration(s.ProbeLease), RedisUnavailable: s.RedisUnavailable}
}
