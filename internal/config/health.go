package config

import (
	"fmt"
	"time"

	"github.com/haderos/haderctl/internal/engine/duration"
	"github.com/haderos/haderctl/internal/engine/health"
	"github.com/haderos/haderctl/internal/redact"
)

// Health holds the defaults of every service's health check.
type Health struct {
	Interval *duration.Duration `json:"interval" yaml:"interval,omitempty"`
	Timeout  *duration.Duration `json:"timeout" yaml:"timeout,omitempty"`
	// FeedBreaker records failed checks in the service's breaker (default
	// true).
	FeedBreaker *bool `json:"feed_breaker" yaml:"feed_breaker,omitempty"`
}

// Alerts are the alert policy defaults and the providers.
type Alerts struct {
	// AlertPolicy is every service's default alert policy (a zero field:
	// the engine's default).
	health.AlertPolicy `yaml:",inline"`
	// Log writes alerts to stderr (default true).
	Log     *bool         `json:"log" yaml:"log,omitempty"`
	Slack   *SlackAlerts  `json:"slack,omitempty" yaml:"slack,omitempty"`
	Webhook *WebhookAlert `json:"webhook,omitempty" yaml:"webhook,omitempty"`
	Email   *EmailAlerts  `json:"email,omitempty" yaml:"email,omitempty"`
}

// SlackAlerts is a Slack incoming webhook (the URL is a secret).
type SlackAlerts struct {
	WebhookURL string `json:"webhook_url" yaml:"webhook_url"`
}

// WebhookAlert posts alerts as JSON (the URL is a secret).
type WebhookAlert struct {
	URL     string            `json:"url" yaml:"url"`
	Headers map[string]string `json:"headers,omitempty" yaml:"headers,omitempty"`
}

// EmailAlerts sends alerts over SMTP (the password is a secret).
type EmailAlerts struct {
	Host     string   `json:"host" yaml:"host"`
	Port     *int     `json:"port" yaml:"port,omitempty"`
	Username string   `json:"username,omitempty" yaml:"username,omitempty"`
	Password string   `json:"password,omitempty" yaml:"password,omitempty"`
	From     string   `json:"from" yaml:"from"`
	To       []string `json:"to" yaml:"to"`
	StartTLS *bool    `json:"starttls" yaml:"starttls,omitempty"`
	CAFile   string   `json:"ca_file,omitempty" yaml:"ca_file,omitempty"`
}

// DefaultSMTPPort is alerts.email.port left out.
const DefaultSMTPPort = 587

// HealthCheck is the filled-in check of a service, or false when it has
// no health_url.
func (c *Config) HealthCheck(name string) (health.Check, bool) {
	s := c.Service(name)
	if s == nil || s.HealthURL == "" {
		return health.Check{}, false
	}
	chk := s.Health.Check(s.Name, s.HealthURL, c.Health.Interval, c.Health.Timeout, c.AlertPolicyFor(s.Health.Alert))
	chk.Source = "config"
	return chk, true
}

// AlertPolicyFor lays a service's alert settings over the alerts section
// (a zero field of the result is the engine's default).
func (c *Config) AlertPolicyFor(own health.AlertPolicy) health.AlertPolicy {
	p := c.Alerts.AlertPolicy
	if own.FailureThreshold != 0 {
		p.FailureThreshold = own.FailureThreshold
	}
	if own.SuccessThreshold != 0 {
		p.SuccessThreshold = own.SuccessThreshold
	}
	if own.RemindEvery != 0 {
		p.RemindEvery = own.RemindEvery
	}
	return p
}

// FeedsBreaker says whether failed checks feed the service's breaker.
func (c *Config) FeedsBreaker() bool { return c.Health.FeedBreaker == nil || *c.Health.FeedBreaker }

// SMTPPort is alerts.email.port, filled in.
func (e *EmailAlerts) SMTPPort() int {
	if e.Port == nil {
		return DefaultSMTPPort
	}
	return int(*e.Port)
}

// MaxRemindEvery bounds alerts' remind_every.
const MaxRemindEvery = 30 * 24 * time.Hour

func checkAlertPolicy(w written, section string, p health.AlertPolicy) error {
	err := firstError(
		checkInt(section+".failure_threshold", w.has(section+".failure_threshold"), p.FailureThreshold, 1, health.MaxThreshold),
		checkInt(section+".success_threshold", w.has(section+".success_threshold"), p.SuccessThreshold, 1, health.MaxThreshold))
	if err == nil && p.RemindEvery >= 0 { // negative: never
		if err := checkDuration(section+".remind_every", w.has(section+".remind_every"), p.RemindEvery, time.Millisecond, MaxRemindEvery); err != nil {
			return errorf("%s; never turns reminders off", err)
		}
	}
	return err
}

func checkServiceHealth(w written, section string, h health.CheckSettings) error {
	return firstError(
		checkDurationPtr(section+".interval", h.Interval, health.MinInterval, health.MaxInterval),
		checkDurationPtr(section+".timeout", h.Timeout, time.Millisecond, health.MaxTimeout),
		checkDurationPtr(section+".max_response_time", h.MaxResponseTime, 0, health.MaxTimeout),
		checkAlertPolicy(w, section+".alert", h.Alert))
}

func (c *Config) validateHealth() error {
	if err := firstError(
		checkDurationPtr("health.interval", c.Health.Interval, health.MinInterval, health.MaxInterval),
		checkDurationPtr("health.timeout", c.Health.Timeout, time.Millisecond, health.MaxTimeout),
		checkAlertPolicy(c.written, "alerts", c.Alerts.AlertPolicy),
	); err != nil {
		return err
	}
	for i, s := range c.Services {
		if err := checkServiceHealth(c.written, fmt.Sprintf("services[%d].health", i), s.Health); err != nil {
			return err
		}
		if chk, ok := c.HealthCheck(s.Name); ok {
			if err := chk.Validate(); err != nil {
				return errorf("services: %s", err)
			}
		}
	}
	if e := c.Alerts.Email; e != nil {
		if e.Host == "" || e.From == "" || len(e.To) == 0 {
			return errorf("alerts.email needs host, from and to")
		}
		if err := checkInt("alerts.email.port", e.Port != nil, e.SMTPPort(), 1, 65535); err != nil {
			return err
		}
	}
	if w := c.Alerts.Webhook; w != nil && w.URL == "" {
		return errorf("alerts.webhook needs url")
	}
	if s := c.Alerts.Slack; s != nil && s.WebhookURL == "" {
		return errorf("alerts.slack needs webhook_url")
	}
	return nil
}

func (a Alerts) redacted() Alerts {
	if a.Slack != nil {
		a.Slack = &SlackAlerts{WebhookURL: redact.Mask}
	}
	if a.Webhook != nil {
		a.Webhook = &WebhookAlert{URL: redact.Mask, Headers: redact.Headers(a.Webhook.Headers)}
	}
	if a.Email != nil {
		e := *a.Email
		if e.Password != "" {
			e.Password = redact.Mask
		}
		a.Email = &e
	}
	return a
}

func (a Alerts) secrets() []string {
	var out []string
	if a.Slack != nil {
		out = append(out, a.Slack.WebhookURL)
	}
	if a.Webhook != nil {
		out = append(out, a.Webhook.URL)
		for k, v := range a.Webhook.Headers {
			if redact.IsSecretName(k) {
				out = append(out, v)
			}
		}
	}
	if a.Email != nil && a.Email.Password != "" {
		out = append(out, a.Email.Password)
	}
	return out
}

// effectiveHealth fills in the health and alerts sections and every
// service's check, for printing.
func (c *Config) effectiveHealth(out *Config) {
	def := health.Check{Interval: time.Duration(deref[duration.Duration, int64](c.Health.Interval)),
		Timeout: time.Duration(deref[duration.Duration, int64](c.Health.Timeout)), Alert: c.AlertPolicyFor(health.AlertPolicy{})}.WithDefaults()
	out.Health = Health{Interval: ptr(duration.Duration(def.Interval)), Timeout: ptr(duration.Duration(def.Timeout)), FeedBreaker: ptr(c.FeedsBreaker())}
	out.Alerts.AlertPolicy = def.Alert
	if out.Alerts.Log == nil {
		out.Alerts.Log = ptr(true)
	}
	if e := out.Alerts.Email; e != nil {
		filled := *e
		filled.Port = ptr(e.SMTPPort())
		filled.StartTLS = ptr(e.StartTLS == nil || *e.StartTLS)
		out.Alerts.Email = &filled
	}
	for i, s := range out.Services {
		chk, ok := c.HealthCheck(s.Name)
		if !ok {
			continue
		}
		h := s.Health
		h.Method, h.Interval, h.Timeout = chk.Method, ptr(duration.Duration(chk.Interval)), ptr(duration.Duration(chk.Timeout))
		h.Alert = chk.Alert
		out.Services[i].Health = h
	}
}
