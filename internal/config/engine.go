package config

import (
	"log/slog"
	"time"

	"github.com/haderos/haderctl/internal/engine"
	"github.com/haderos/haderctl/internal/engine/health"
	"github.com/haderos/haderctl/internal/engine/store"
)

// EngineOptions are the options engine.Open takes, from the effective
// configuration. logger receives the engine's logs; alertLog the alerts
// of the log provider.
func (c *Config) EngineOptions(logger, alertLog *slog.Logger) engine.Options {
	o := engine.Options{
		Redis:               store.Options{URL: c.Redis.URL, Timeout: time.Duration(c.Redis.Timeout), TLS: c.Redis.TLS()},
		Namespace:           c.Redis.Namespace,
		Environment:         c.Environment,
		AllowedEnvironments: c.Chaos.AllowedEnvironments,
		BreakerSettings:     c.BreakerSettings,
		Queue:               c.Queue,
		ChaosLimits:         c.Chaos.Limits.WithDefaults(),
		NoFeedBreaker:       !c.FeedsBreaker(),
		Logger:              logger,
	}
	for _, s := range c.Services {
		o.Services = append(o.Services, s.Name)
		if _, ok := c.HealthCheck(s.Name); ok {
			o.HealthServices = append(o.HealthServices, s.Name)
		}
	}
	a := c.Alerts
	o.Alerts = engine.Alerts{Log: a.Log == nil || *a.Log, Logger: alertLog}
	if a.Slack != nil {
		o.Alerts.SlackWebhookURL = a.Slack.WebhookURL
	}
	if a.Webhook != nil {
		o.Alerts.WebhookURL, o.Alerts.WebhookHeaders = a.Webhook.URL, a.Webhook.Headers
	}
	if e := a.Email; e != nil {
		o.Alerts.Email = &health.EmailProvider{Host: e.Host, Port: e.SMTPPort(), Username: e.Username, Password: e.Password,
			From: e.From, To: e.To, StartTLS: e.StartTLS == nil || *e.StartTLS, CAFile: e.CAFile}
	}
	return o
}
