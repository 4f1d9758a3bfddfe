package queue

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/go-resty/resty/v2"
	"github.com/haderos/haderctl/internal/engine/breaker"
	"github.com/haderos/haderctl/internal/engine/transport"
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
	c := resty.New().SetTransport(rt).SetTimeout(timeout).SetRedirectPolicy(resty.NoRedirectPolicy())
	c.SetLogger(quietLogger{})
	return &HTTPReplayer{Client: c, Services: services}
}

// Handle replays op's request: its method, URL (a path is joined to the
// service's base URL), the service's headers then the operation's own, and
// the operation's data as the body. 2xx/3xx is done; 5xx, 429, 408 and
// transport errors retry; any other 4xx is dead at once (the request
// itself is wrong, retrying cannot help); a refusing breaker defers it.
func (r *HTTPReplayer) Handle(ctx context.Context, op *Operation) Outcome {
	if op.Request == nil {
		return Outcome{Kind: Dead, Err: "operation has no stored request; replay it with --exec"}
	}
	url := op.Request.URL
	svc, known := r.Services(op.Service)
	if !strings.Contains(url, "://") {
		if !known || svc.BaseURL == "" {
			return Outcome{Kind: Retry, Err: fmt.Sprintf("service %s has no base_url in the config to resolve %s", op.Service, url)}
		}
		url = strings.TrimSuffix(svc.BaseURL, "/") + "/" + strings.TrimPrefix(url, "/")
	}
	req := r.Client.R().SetContext(transport.WithService(ctx, op.Service))
	for k, v := range svc.Headers {
		req.SetHeader(k, v)
	}
	for k, v := range op.Request.Headers {
		req.SetHeader(k, v)
	}
	if op.Request.Method != http.MethodGet && op.Request.Method != http.MethodHead && string(op.Data) != "null" {
		req.SetBody([]byte(op.Data))
		if req.Header.Get("Content-Type") == "" {
			req.SetHeader("Content-Type", "application/json")
		}
	}
	resp, err := req.Execute(op.Request.Method, url)
	if err != nil {
		if open := (*breaker.OpenError)(nil); errors.As(err, &open) {
			return Outcome{Kind: Defer, Err: open.Error(), Delay: open.RetryAfter}
		}
		return Outcome{Kind: Retry, Err: scrubURLError(err, url)}
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

// scrubURLError drops the URL from a transport error (it may carry a
// token in its query) and keeps the cause.
func scrubURLError(err error, url string) string {
	return strings.ReplaceAll(err.Error(), url, "<url>")
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

// Handle runs the command for op.
func (r *ExecReplayer) Handle(ctx context.Context, op *Operation) Outcome {
	run := func(ctx context.Context) Outcome {
		ctx, cancel := context.WithTimeout(ctx, r.Timeout)
		defer cancel()
		in, _ := json.Marshal(op)
		cmd := exec.CommandContext(ctx, "/bin/sh", "-c", r.Command)
		cmd.Stdin = bytes.NewReader(in)
		var tail tailBuffer
		cmd.Stdout, cmd.Stderr = &tail, &tail
		cmd.Env = append(cmd.Environ(), "HADERCTL_QUEUE="+op.Queue, "HADERCTL_OPERATION_ID="+op.ID,
			"HADERCTL_OPERATION="+op.Operation, "HADERCTL_SERVICE="+op.Service, "HADERCTL_ATTEMPT="+strconv.Itoa(op.Attempts+1))
		err := cmd.Run()
		if err == nil {
			return Outcome{Kind: Done}
		}
		msg := err.Error()
		if ctx.Err() == context.DeadlineExceeded {
			msg = "timed out after " + r.Timeout.String()
		}
		if last := tail.lastLine(); last != "" {
			msg += ": " + last
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
	if len(s) > 300 {
		s = s[:300]
	}
	return s
}
