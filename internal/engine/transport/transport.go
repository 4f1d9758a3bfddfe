// Package transport is the engine's HTTP transport: the one place calls to
// integrated services go through, so the breaker and the chaos faults
// (chaos.Transport, beneath this one: engine.System.Transport stacks them)
// act alike on queue replays, health checks and the gateway.
package transport

import (
	"context"
	"errors"
	"net/http"

	"github.com/haderos/haderctl/internal/engine/breaker"
)

type serviceKey struct{}

// WithService marks a request context as a call to the named service;
// requests without one pass straight through.
func WithService(ctx context.Context, name string) context.Context {
	return context.WithValue(ctx, serviceKey{}, name)
}

// Service is the service a request context names, or "".
func Service(ctx context.Context) string {
	s, _ := ctx.Value(serviceKey{}).(string)
	return s
}

// Transport guards each request to a service with its breaker. A 5xx,
// 429 or a transport error counts as a failure, a timeout (the request's
// deadline or a per-service timeout) included; anything else (including
// 4xx: the service answered) as a success. A request its caller cancelled
// before the response (its context canceled, with a cause or without) says
// nothing about the service: it counts as neither, and a half-open probe
// slot it held is freed at once. The outcome is taken when the response's
// headers arrive, so a caller that cancels while reading the body does not
// change it. A refused call returns an error matching breaker.ErrOpen without
// touching the network.
type Transport struct {
	Base     http.RoundTripper
	Breakers *breaker.Engine
}

// New wraps base (http.DefaultTransport when nil).
func New(base http.RoundTripper, b *breaker.Engine) *Transport {
	if base == nil {
		base = http.DefaultTransport
	}
	return &Transport{Base: base, Breakers: b}
}

// RoundTrip implements http.RoundTripper.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	name := Service(req.Context())
	if name == "" || t.Breakers == nil {
		return t.Base.RoundTrip(req)
	}
	call, err := t.Breakers.Admit(req.Context(), name)
	if err != nil {
		return nil, err
	}
	resp, err := t.Base.RoundTrip(req)
	if err != nil && CallerCancelled(req.Context(), err) {
		call.Release()
		return resp, err
	}
	call.Done(err == nil && !Failed(resp.StatusCode))
	return resp, err
}

// CallerCancelled reports whether a request failed because its caller
// cancelled it (not because a deadline passed or the service failed). It
// goes by the request's context, not by err: net/http returns the
// context's cause (context.Cause), which is context.Canceled only when the
// caller gave none.
func CallerCancelled(ctx context.Context, err error) bool {
	return err != nil && errors.Is(ctx.Err(), context.Canceled)
}

// Failed reports whether a status code means the service itself failed.
func Failed(code int) bool { return code >= 500 || code == http.StatusTooManyRequests }
