package queue

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/go-resty/resty/v2"
	"github.com/haderos/haderctl/internal/engine/breaker"
	"github.com/haderos/haderctl/internal/engine/transport"
	"github.com/haderos/haderctl/internal/redact"
)

// Service is what the HTTP replayer needs to know of a service.
type Service struct {
	BaseURL string
	Headers map[string]string
}

// HTTPReplayer replays operations' stored requests through resty over the
// engine's transport (so through the service's breaker).
type HTTPReplayer struct {
	Client *resty.Client
	// Services maps a service name to its base URL and headers.
	Services func(name string) (Service, bool)
}

// NewHTTPReplayer makes a replayer whose requests go through rt with the
// given per-request timeout.
func NewHTTPReplayer(rt http.RoundTripper, timeout time.Duration, services func(string) (Service, bool)) *HTTPReplayer {
	// A GET may have been stored with a body: it is replayed as stored.
	c := resty.New().SetTransport(rt).SetTimeout(timeout).SetRedirectPolicy(resty.NoRedirectPolicy()).SetAllowGetMethodPayload(true)
	c.SetLogger(quietLogger{})
	c.SetPreRequestHook(func(_ *resty.Client, r *http.Request) error {
		if r.Context().Value(noAcceptKey{}) != nil {
			r.Header.Del("Accept")
		}
		return nil
	})
	return &HTTPReplayer{Client: c, Services: services}
}

// noAcceptKey marks a replay whose stored request has no Accept header:
// resty would add one (a copy of a JSON Content-Type), and a replay sends
// the headers as stored.
type noAcceptKey struct{}

// Handle replays op's request: its method, URL (a path is joined to the
// service's base URL), the service's headers then the operation's own, and
// the request's raw body, or else the operation's data, as the body. The service's headers go only to the
// service: an absolute URL on another origin gets the operation's headers
// alone. 2xx/3xx is done; 5xx, 429, 408 and transport errors retry; any
// other 4xx is dead at once (the request itself is wrong, retrying cannot
// help); a refusing breaker defers it.
func (r *HTTPReplayer) Handle(ctx context.Context, op *Operation) Outcome {
	if op.Request == nil {
		return Outcome{Kind: Dead, Err: "operation has no stored request; replay it with --exec"}
	}
	target := op.Request.URL
	svc, known := r.Services(op.Service)
	toService := true
	if isAbsURL(target) {
		toService = known && sameOrigin(target, svc.BaseURL)
	} else {
		if !known || svc.BaseURL == "" {
			return Outcome{Kind: Retry, Err: redact.URLsIn(redact.Scrub(
				fmt.Sprintf("service %s has no base_url in the config to resolve %s", op.Service, target), secretsOf(op)...))}
		}
		target = strings.TrimSuffix(svc.BaseURL, "/") + "/" + strings.TrimPrefix(target, "/")
	}
	req := r.Client.R()
	if toService {
		for k, v := range svc.Headers {
			req.SetHeader(k, v)
		}
	}
	for k, v := range op.Request.Headers {
		req.SetHeader(k, v)
	}
	rctx := transport.WithService(ctx, op.Service)
	if req.Header.Get("Accept") == "" {
		rctx = context.WithValue(rctx, noAcceptKey{}, true)
	}
	req.SetContext(rctx)
	if op.Request.Method != http.MethodHead && len(op.Request.Body) > 0 {
		// a raw body (a form, bytes) goes as stored, with the stored
		// Content-Type (resty sniffs one only when none was stored)
		req.SetBody(op.Request.Body).SetContentLength(true)
	} else if op.Request.Method != http.MethodHead && len(op.Data) > 0 && string(op.Data) != "null" {
		// A known length: some services refuse a chunked body.
		req.SetBody([]byte(op.Data)).SetContentLength(true)
		if req.Header.Get("Content-Type") == "" {
			req.SetHeader("Content-Type", "application/json")
		}
	}
	resp, err := req.Execute(op.Request.Method, target)
	if err != nil {
		if open := (*breaker.OpenError)(nil); errors.As(err, &open) {
			return Outcome{Kind: Defer, Err: open.Error(), Delay: open.RetryAfter}
		}
		secrets := secretsOf(op)
		if toService {
			secrets = append(secrets, redact.HeaderSecrets(svc.Headers)...)
			secrets = append(secrets, redact.HTTPURLSecrets(svc.BaseURL)...)
		}
		return Outcome{Kind: Retry, Err: scrubURLError(err, target, secrets)}
	}
	code := resp.StatusCode()
	switch {
	case code < 400:
		return Outcome{Kind: Done}
	case transport.Failed(code) || code == http.StatusRequestTimeout:
		return Outcome{Kind: Retry, Err: "HTTP " + strconv.Itoa(code)}
	}
	return Outcome{Kind: Dead, Err: "HTTP " + strconv.Itoa(code) + " (a client error: not retried)"}
}

// isAbsURL tells a stored full URL from a path under the base URL (which
// may hold "://" in its query).
func isAbsURL(raw string) bool {
	u, err := url.Parse(raw)
	return err == nil && u.Scheme != "" && u.Host != ""
}

// sameOrigin reports whether two URLs have the same scheme, host and port.
func sameOrigin(a, b string) bool {
	ua, err := url.Parse(a)
	if err != nil {
		return false
	}
	ub, err := url.Parse(b)
	if err != nil {
		return false
	}
	return urlOrigin(ua) == urlOrigin(ub)
}

func urlOrigin(u *url.URL) string {
	scheme, port := strings.ToLower(u.Scheme), u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[scheme]
	}
	return scheme + "://" + strings.ToLower(u.Hostname()) + ":" + port
}

// scrubURLError drops the URL from a transport error, as given and as
// net/http prints it (password masked, query kept: it may carry a token),
// then masks any secret left: the operation's, and those of any URL.
func scrubURLError(err error, target string, secrets []string) string {
	msg := err.Error()
	forms := []string{target}
	if u, perr := url.Parse(target); perr == nil {
		forms = append(forms, u.String(), u.Redacted())
		if pw, ok := u.User.Password(); ok {
			// net/http's own masking (stripPassword)
			forms = append(forms, strings.Replace(u.String(), pw+"@", "***@", 1))
		}
	}
	for _, f := range forms {
		if f != "" {
			msg = strings.ReplaceAll(msg, f, "<url>")
		}
	}
	return redact.URLsIn(redact.Scrub(msg, secrets...))
}

// secretsOf lists the secret values an operation holds (secret headers and
// data fields, its URL's password and secret parameters), to scrub from
// text that may echo them: an error, a command's output.
func secretsOf(op *Operation) []string {
	out := redact.JSONSecrets(op.Data)
	if op.Request != nil {
		out = append(out, redact.HeaderSecrets(op.Request.Headers)...)
		out = append(out, redact.HTTPURLSecrets(op.Request.URL)...)
	}
	return out
}

type quietLogger struct{}

func (quietLogger) Errorf(string, ...any) {}
func (quietLogger) Warnf(string, ...any)  {}
func (quietLogger) Debugf(string, ...any) {}

// ExecReplayer hands each operation, as JSON on stdin, to a shell command:
// exit 0 is done, anything else a retry. The service's breaker guards it
// like an HTTP replay.
type ExecReplayer struct {
	Command  string
	Breakers *breaker.Engine
	Timeout  time.Duration
}

// execWaitDelay bounds how long a finished or killed command's output
// may stay open (held by a child that escaped its process group).
const execWaitDelay = 500 * time.Millisecond

// Handle runs the command for op. The command's output (its last line goes
// into the error) is scrubbed of op's secrets: a command may echo them.
func (r *ExecReplayer) Handle(ctx context.Context, op *Operation) Outcome {
	run := func(ctx context.Context) Outcome {
		ctx, cancel := context.WithTimeout(ctx, r.Timeout)
		defer cancel()
		in, _ := json.Marshal(op)
		cmd := exec.CommandContext(ctx, "/bin/sh", "-c", r.Command)
		// In its own process group, killed whole at the deadline: the
		// shell's children (a sleep, a curl) would otherwise live on,
		// holding the output pipe and the drain with it.
		ownProcessGroup(cmd)
		cmd.WaitDelay = execWaitDelay
		cmd.Stdin = bytes.NewReader(in)
		var tail tailBuffer
		cmd.Stdout, cmd.Stderr = &tail, &tail
		cmd.Env = append(cmd.Environ(), "HADERCTL_QUEUE="+op.Queue, "HADERCTL_OPERATION_ID="+op.ID,
			"HADERCTL_OPERATION="+op.Operation, "HADERCTL_SERVICE="+op.Service, "HADERCTL_ATTEMPT="+strconv.Itoa(op.Attempts+1))
		err := cmd.Run()
		if err == nil || (errors.Is(err, exec.ErrWaitDelay) && ctx.Err() == nil && cmd.ProcessState.Success()) {
			// a background child kept the output open: the command itself succeeded
			return Outcome{Kind: Done}
		}
		msg := err.Error()
		if ctx.Err() == context.DeadlineExceeded {
			msg = "timed out after " + r.Timeout.String()
		}
		if last := redact.URLsIn(redact.Scrub(tail.lastLine(), secretsOf(op)...)); last != "" {
			msg += ": " + clipBytes(last, 300)
		}
		return Outcome{Kind: Retry, Err: msg}
	}
	if r.Breakers == nil {
		return run(ctx)
	}
	done, err := r.Breakers.Allow(ctx, op.Service)
	if err != nil {
		if open := (*breaker.OpenError)(nil); errors.As(err, &open) {
			return Outcome{Kind: Defer, Err: open.Error(), Delay: open.RetryAfter}
		}
		return Outcome{Kind: Retry, Err: err.Error()}
	}
	out := run(ctx)
	done(out.Kind == Done)
	return out
}

// tailBuffer keeps the last 4 KiB written to it.
type tailBuffer struct{ b []byte }

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.b = append(t.b, p...)
	if len(t.b) > 4096 {
		t.b = t.b[len(t.b)-4096:]
	}
	return len(p), nil
}

func (t *tailBuffer) lastLine() string {
	s := strings.TrimSpace(string(t.b))
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	return s
}

// clipBytes cuts s to n bytes, after scrubbing: a cut secret would no
// longer match.
func clipBytes(s string, n int) string {
	if len(s) > n {
		s = s[:n]
	}
	return s
}
