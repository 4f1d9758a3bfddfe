package gateway

import (
	"cmp"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/haderos/haderctl/internal/engine/store"
)

// Defaults of the settings' zero values.
const (
	DefaultTimeout         = 30 * time.Second
	DefaultMaxRequestBytes = 10 << 20
	DefaultMaxActiveFaults = 10
	DefaultMaxFaultDelay   = 10 * time.Second
	// MaxRequestBytesLimit bounds max_request_bytes: the body is held in
	// memory so it can be re-sent to a fallback provider.
	MaxRequestBytesLimit = 1 << 30
)

// DefaultQueueMethods are the methods a route treats as writes.
var DefaultQueueMethods = []string{http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete}

// Settings are the config file's gateway section. Every zero value is
// documented and means the default.
type Settings struct {
	// Routes map path prefixes to ordered providers; every service with a
	// base_url is reachable at /<service>/ besides.
	Routes []Route `json:"routes,omitempty" yaml:"routes,omitempty"`
	// Timeout is a provider's default time limit per request (zero:
	// DefaultTimeout); a service's own timeout wins.
	Timeout time.Duration `json:"timeout,omitempty" yaml:"timeout,omitempty"`
	// MaxRequestBytes bounds a request's body (zero: 10 MiB); a service's
	// own max_request_bytes wins.
	MaxRequestBytes int64 `json:"max_request_bytes,omitempty" yaml:"max_request_bytes,omitempty"`
	// CAFile adds PEM certificates to the system pool for https upstreams.
	CAFile       string       `json:"ca_file,omitempty" yaml:"ca_file,omitempty"`
	HeaderFaults HeaderFaults `json:"header_faults,omitzero" yaml:"header_faults,omitempty"`
}

// Route sends requests whose path starts with Prefix to Providers, in
// order: the next one when a breaker refuses or a provider fails.
type Route struct {
	// Name labels the route in logs and metrics (empty: the prefix) and
	// names its queue (empty: the first provider's name).
	Name   string `json:"name,omitempty" yaml:"name,omitempty"`
	Prefix string `json:"prefix" yaml:"prefix"`
	// Providers are configured services with a base_url.
	Providers []string `json:"providers" yaml:"providers"`
	// StripPrefix removes Prefix before joining the path to a provider's
	// base URL (false: the path is forwarded unchanged).
	StripPrefix bool `json:"strip_prefix,omitempty" yaml:"strip_prefix,omitempty"`
	// QueueMethods are the methods that are writes (empty: POST, PUT,
	// PATCH, DELETE): failed everywhere, they go to the write queue.
	QueueMethods []string `json:"queue_methods,omitempty" yaml:"queue_methods,omitempty"`
	// Queue names the fallback queue of the route's writes (empty: the
	// route's name, else the first provider's).
	Queue string `json:"queue,omitempty" yaml:"queue,omitempty"`
	// KeepCredentials stores the client's Authorization, Proxy-Authorization
	// and Cookie headers with a queued write, for a replay that needs them
	// (false: they are dropped; the service's configured headers give the
	// replay its own credentials). Kept ones are redacted in every output.
	KeepCredentials bool `json:"keep_credentials,omitempty" yaml:"keep_credentials,omitempty"`
}

// HeaderFaults are Envoy-style faults a test client asks for with
// X-Hader-Fault-* headers. They are off unless Enabled, never act where
// chaos may not, and need the admin token.
type HeaderFaults struct {
	Enabled bool `json:"enabled" yaml:"enabled"`
	// MaxActiveFaults caps header faults in flight in this process (zero:
	// 10); a request over the cap proceeds without its fault.
	MaxActiveFaults int `json:"max_active_faults,omitempty" yaml:"max_active_faults,omitempty"`
	// MaxDelay bounds X-Hader-Fault-Delay (zero: 10 s).
	MaxDelay time.Duration `json:"max_delay,omitempty" yaml:"max_delay,omitempty"`
}

// Upstream are a service's own gateway settings (a services[] entry's
// timeout, fail_on and max_request_bytes). Zero fields: the gateway's.
type Upstream struct {
	// Timeout bounds one request to the service, headers and body.
	Timeout time.Duration `json:"timeout,omitempty" yaml:"timeout,omitempty"`
	// FailOn are the status classes ("5xx", "4xx") and codes ("429")
	// that count as the service failing (empty: 5xx); timeouts and
	// connection errors always do.
	FailOn []string `json:"fail_on,omitempty" yaml:"fail_on,omitempty"`
	// MaxRequestBytes bounds a request body sent to the service.
	MaxRequestBytes int64 `json:"max_request_bytes,omitempty" yaml:"max_request_bytes,omitempty"`
}

// Service is one configured service the gateway can send to.
type Service struct {
	Name    string
	BaseURL string
	// Headers are added to every request to the service.
	Headers map[string]string
	Upstream
}

// Config is everything a gateway routes by; Reload swaps it whole.
type Config struct {
	Settings Settings
	Services []Service
}

// FieldError is a setting the gateway cannot use; Field is its path in
// the config file ("gateway.routes[0].providers[1]", "services[2].fail_on").
type FieldError struct {
	Field string
	Msg   string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Msg }

func fieldErr(field, format string, a ...any) error {
	return &FieldError{Field: field, Msg: fmt.Sprintf(format, a...)}
}

// Validate checks a service's own settings; fields are named under
// prefix (e.g. "services[2]").
func (u Upstream) Validate(prefix string) error {
	if u.Timeout < 0 || u.Timeout > time.Hour {
		return fieldErr(prefix+".timeout", "%s is out of range: between 1ms and 1h", u.Timeout)
	}
	if u.MaxRequestBytes < 0 || u.MaxRequestBytes > MaxRequestBytesLimit {
		return fieldErr(prefix+".max_request_bytes", "%d is out of range: between 1 and %d", u.MaxRequestBytes, MaxRequestBytesLimit)
	}
	for i, c := range u.FailOn {
		if _, err := parseStatusClass(c); err != nil {
			return fieldErr(fmt.Sprintf("%s.fail_on[%d]", prefix, i), "%s", err)
		}
	}
	return nil
}

// Validate checks the whole configuration: every field it names is the
// one to fix.
func (c Config) Validate() error {
	s := c.Settings
	if s.Timeout < 0 || s.Timeout > time.Hour {
		return fieldErr("gateway.timeout", "%s is out of range: between 1ms and 1h", s.Timeout)
	}
	if s.MaxRequestBytes < 0 || s.MaxRequestBytes > MaxRequestBytesLimit {
		return fieldErr("gateway.max_request_bytes", "%d is out of range: between 1 and %d", s.MaxRequestBytes, MaxRequestBytesLimit)
	}
	if n := s.HeaderFaults.MaxActiveFaults; n < 0 || n > 1_000_000 {
		return fieldErr("gateway.header_faults.max_active_faults", "%d is out of range: between 1 and 1000000", n)
	}
	if d := s.HeaderFaults.MaxDelay; d < 0 || d > time.Hour {
		return fieldErr("gateway.header_faults.max_delay", "%s is out of range: between 1ms and 1h", d)
	}
	upstreams := map[string]bool{}
	for i, svc := range c.Services {
		if err := svc.Upstream.Validate(fmt.Sprintf("services[%d]", i)); err != nil {
			return err
		}
		if svc.BaseURL == "" {
			continue
		}
		if _, err := parseBaseURL(svc.BaseURL); err != nil {
			return fieldErr(fmt.Sprintf("services[%d].base_url", i), "%s", err)
		}
		upstreams[svc.Name] = true
	}
	prefixes := map[string]int{}
	for i, r := range s.Routes {
		at := fmt.Sprintf("gateway.routes[%d]", i)
		if r.Name != "" {
			if err := store.ValidName("route", r.Name); err != nil {
				return fieldErr(at+".name", "%s", err)
			}
		}
		switch {
		case !strings.HasPrefix(r.Prefix, "/"):
			return fieldErr(at+".prefix", "%q must start with /", r.Prefix)
		case strings.ContainsAny(r.Prefix, "?#"):
			return fieldErr(at+".prefix", "%q is a path prefix: no query or fragment", r.Prefix)
		}
		if j, dup := prefixes[normPrefix(r.Prefix)]; dup {
			return fieldErr(at+".prefix", "%q is also gateway.routes[%d]'s prefix", r.Prefix, j)
		}
		prefixes[normPrefix(r.Prefix)] = i
		if len(r.Providers) == 0 {
			return fieldErr(at+".providers", "list at least one service")
		}
		for j, p := range r.Providers {
			if !upstreams[p] {
				return fieldErr(fmt.Sprintf("%s.providers[%d]", at, j), "%q is not a configured service with a base_url", p)
			}
			if slices.Index(r.Providers, p) != j {
				return fieldErr(fmt.Sprintf("%s.providers[%d]", at, j), "%q is listed twice", p)
			}
		}
		for j, m := range r.QueueMethods {
			if !validMethod(m) {
				return fieldErr(fmt.Sprintf("%s.queue_methods[%d]", at, j), "%q is not an HTTP method", m)
			}
		}
		if r.Queue != "" {
			if err := store.ValidName("queue", r.Queue); err != nil {
				return fieldErr(at+".queue", "%s", err)
			}
		}
	}
	return nil
}

func normPrefix(p string) string { return strings.TrimSuffix(p, "/") }

func validMethod(m string) bool {
	if m == "" || m != strings.ToUpper(m) {
		return false
	}
	for _, r := range m {
		if r < 'A' || r > 'Z' {
			return false
		}
	}
	return true
}

func parseBaseURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return nil, fmt.Errorf("not a URL")
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, fmt.Errorf("must be an http:// or https:// URL")
	case u.Host == "":
		return nil, fmt.Errorf("has no host")
	case u.RawQuery != "" || u.Fragment != "":
		return nil, fmt.Errorf("must not carry a query or fragment")
	}
	return u, nil
}

// failSet says which statuses count as a service failing.
type failSet struct {
	classes [6]bool // by code/100
	codes   []int
}

// parseStatusClass reads "5xx" (a class, 1-5) or "429" (a code).
func parseStatusClass(s string) (func(*failSet), error) {
	s = strings.ToLower(strings.TrimSpace(s))
	if len(s) == 3 && strings.HasSuffix(s, "xx") && s[0] >= '1' && s[0] <= '5' {
		c := int(s[0] - '0')
		return func(f *failSet) { f.classes[c] = true }, nil
	}
	if n, err := strconv.Atoi(s); err == nil && n >= 100 && n <= 599 {
		return func(f *failSet) { f.codes = append(f.codes, n) }, nil
	}
	return nil, fmt.Errorf("%q is neither a status class (5xx, 4xx) nor a status code (429)", s)
}

func newFailSet(list []string) failSet {
	var f failSet
	if len(list) == 0 {
		f.classes[5] = true
		return f
	}
	for _, s := range list {
		if add, err := parseStatusClass(s); err == nil {
			add(&f)
		}
	}
	return f
}

func (f *failSet) failed(code int) bool {
	if c := code / 100; c >= 0 && c < len(f.classes) && f.classes[c] {
		return true
	}
	return slices.Contains(f.codes, code)
}

// WorstCase is the longest a request can take at the gateway under c: the
// route whose providers' time limits add up to the most (each provider
// tried in turn). A request's Idempotency-Key claim must outlive it.
func (c Config) WorstCase() time.Duration {
	limit := map[string]time.Duration{}
	var worst time.Duration
	for _, svc := range c.Services {
		limit[svc.Name] = cmp.Or(svc.Timeout, c.Settings.Timeout, DefaultTimeout)
		worst = max(worst, limit[svc.Name])
	}
	for _, r := range c.Settings.Routes {
		var sum time.Duration
		for _, p := range r.Providers {
			sum += limit[p]
		}
		worst = max(worst, sum)
	}
	return worst
}
