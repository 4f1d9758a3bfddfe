package health

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/smtp"
	"os"
	"strconv"
	"strings"
	"time"
)

// Provider sends alerts somewhere.
type Provider interface {
	Name() string
	Send(ctx context.Context, a Alert) error
}

// Notifier sends each alert to every provider; a provider's failure is
// logged (with its secrets scrubbed by the caller's logger) and does not
// stop the others.
type Notifier struct {
	Providers []Provider
	Logger    *slog.Logger
	// Timeout bounds one provider's send (default 10 s).
	Timeout time.Duration
}

// Send delivers a to every provider.
func (n *Notifier) Send(ctx context.Context, a Alert) {
	timeout := n.Timeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	for _, p := range n.Providers {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
		err := p.Send(sctx, a)
		cancel()
		if err != nil && n.Logger != nil {
			n.Logger.Warn("alert not delivered", "provider", p.Name(), "service", a.Service, "kind", a.Kind, "err", err)
		}
	}
}

// LogProvider writes alerts as log lines (stderr).
type LogProvider struct{ Logger *slog.Logger }

// Name implements Provider.
func (LogProvider) Name() string { return "log" }

// Send implements Provider.
func (p LogProvider) Send(_ context.Context, a Alert) error {
	level := slog.LevelError
	if a.Kind == "resolved" {
		level = slog.LevelInfo
	}
	p.Logger.Log(context.Background(), level, "health alert "+a.Kind, "service", a.Service, "message", a.Message)
	return nil
}

// SlackProvider posts to a Slack incoming webhook. The URL is a secret.
type SlackProvider struct {
	WebhookURL string
	Client     *http.Client
}

// Name implements Provider.
func (SlackProvider) Name() string { return "slack" }

// Send implements Provider.
func (p SlackProvider) Send(ctx context.Context, a Alert) error {
	icon := map[string]string{"fired": ":rotating_light:", "reminder": ":warning:", "resolved": ":white_check_mark:"}[a.Kind]
	return postJSON(ctx, p.Client, p.WebhookURL, nil, map[string]string{"text": icon + " " + a.Message})
}

// WebhookProvider posts the alert as JSON. The URL and secret headers are
// secrets.
type WebhookProvider struct {
	URL     string
	Headers map[string]string
	Client  *http.Client
}

// Name implements Provider.
func (WebhookProvider) Name() string { return "webhook" }

// Send implements Provider.
func (p WebhookProvider) Send(ctx context.Context, a Alert) error {
	return postJSON(ctx, p.Client, p.URL, p.Headers, a)
}

func postJSON(ctx context.Context, c *http.Client, url string, headers map[string]string, v any) error {
	if c == nil {
		c = &http.Client{}
	}
	body, _ := json.Marshal(v)
	req, err := http.NewRequestWithContext(ctx, "POST", url, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("invalid webhook URL")
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		return fmt.Errorf("webhook unreachable: %s", transportError(err))
	}
	resp.Body.Close()
	if resp.StatusCode >= 300 {
		return fmt.Errorf("webhook answered HTTP %d", resp.StatusCode)
	}
	return nil
}

// EmailProvider sends alerts over SMTP, upgrading with STARTTLS unless
// StartTLS is false. The password is a secret.
type EmailProvider struct {
	Host     string
	Port     int
	Username string
	Password string
	From     string
	To       []string
	// StartTLS requires the STARTTLS upgrade (default true).
	StartTLS bool
	// CAFile, when set, is the CA bundle that signs the server's cert.
	CAFile string
}

// Name implements Provider.
func (EmailProvider) Name() string { return "email" }

// Send implements Provider.
func (p EmailProvider) Send(ctx context.Context, a Alert) error {
	addr := net.JoinHostPort(p.Host, strconv.Itoa(p.Port))
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("SMTP %s unreachable: %s", addr, transportError(err))
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	c, err := smtp.NewClient(conn, p.Host)
	if err != nil {
		conn.Close()
		return fmt.Errorf("SMTP %s: %w", addr, err)
	}
	defer c.Close()
	if p.StartTLS {
		if ok, _ := c.Extension("STARTTLS"); !ok {
			return fmt.Errorf("SMTP %s does not offer STARTTLS (set alerts.email.starttls: false to send in clear)", addr)
		}
		cfg := &tls.Config{ServerName: p.Host, MinVersion: tls.VersionTLS12}
		if p.CAFile != "" {
			pem, err := os.ReadFile(p.CAFile)
			if err != nil {
				return fmt.Errorf("alerts.email.ca_file: %w", err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return fmt.Errorf("alerts.email.ca_file %s holds no PEM certificate", p.CAFile)
			}
			cfg.RootCAs = pool
		}
		if err := c.StartTLS(cfg); err != nil {
			return fmt.Errorf("SMTP %s STARTTLS: %w", addr, err)
		}
	}
	if p.Username != "" {
		if err := c.Auth(smtp.PlainAuth("", p.Username, p.Password, p.Host)); err != nil {
			return fmt.Errorf("SMTP %s authentication failed", addr)
		}
	}
	if err := c.Mail(p.From); err != nil {
		return fmt.Errorf("SMTP MAIL FROM: %w", err)
	}
	for _, to := range p.To {
		if err := c.Rcpt(to); err != nil {
			return fmt.Errorf("SMTP RCPT TO %s: %w", to, err)
		}
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	subject := fmt.Sprintf("[haderctl] %s %s", a.Service, a.Kind)
	fmt.Fprintf(w, "From: %s\r\nTo: %s\r\nSubject: %s\r\nDate: %s\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n%s\r\n",
		p.From, strings.Join(p.To, ", "), subject, a.At.UTC().Format(time.RFC1123Z), a.Message)
	if err := w.Close(); err != nil {
		return err
	}
	return c.Quit()
}
