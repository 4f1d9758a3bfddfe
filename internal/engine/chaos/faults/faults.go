// Package faults is the data plane of chaos: a process' cache of the
// active experiments (re-read on every pub/sub notice and every second),
// the HTTP transport that applies the network ones to requests, and the
// counting of their impact, flushed to Redis every second.
package faults

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/haderos/haderctl/internal/engine/chaos"
	"github.com/haderos/haderctl/internal/engine/store"
	"github.com/haderos/haderctl/internal/engine/transport"
	"github.com/redis/go-redis/v9"
)

// FlushInterval is how often a data plane re-reads experiments and
// flushes its impact counts.
const FlushInterval = time.Second

// Faults is a data plane's view of the active experiments: a local cache
// re-read on every pub/sub notice and at least every Refresh (1 s). When
// Redis cannot be read it holds nothing: no faults (fail safe). A process
// whose own environment is not allowed never loads any.
type Faults struct {
	rdb     redis.UniversalClient
	keys    store.Keys
	refresh time.Duration
	log     *slog.Logger
	allowed bool
	active  atomic.Pointer[[]chaos.Experiment]
	loads   atomic.Int64
	impact  impact
	// roll draws a number in [0, 1) for the probability and the jitter
	// (math/rand/v2; tests seed their own). Called from every request's
	// goroutine.
	roll func() float64
	// wait blocks for d or until ctx is done (a timer; tests record the
	// delays instead of living through them).
	wait func(ctx context.Context, d time.Duration) error
}

// sleepCtx waits d on a timer, or until ctx is done.
func sleepCtx(ctx context.Context, d time.Duration) error {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// New makes the cache; Run keeps it fresh.
func New(rdb redis.UniversalClient, keys store.Keys, environment string, allowed []string, log *slog.Logger) *Faults {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	f := &Faults{rdb: rdb, keys: keys, refresh: FlushInterval, log: log, allowed: chaos.EnvironmentAllowed(environment, allowed) == nil,
		roll: rand.Float64, wait: sleepCtx}
	f.active.Store(&[]chaos.Experiment{})
	return f
}

// Active is the current set (do not modify it).
func (f *Faults) Active() []chaos.Experiment { return *f.active.Load() }

// Loads counts re-reads (tests).
func (f *Faults) Loads() int64 { return f.loads.Load() }

// Start loads the experiments once, then keeps them fresh in the
// background until ctx is done.
func (f *Faults) Start(ctx context.Context) {
	if !f.allowed {
		f.log.Debug("chaos: this process' environment is not allowed; experiments are ignored")
		return
	}
	f.reload(ctx)
	go f.Run(ctx)
}

// Run keeps the cache fresh until ctx is done.
func (f *Faults) Run(ctx context.Context) {
	if !f.allowed {
		return
	}
	sub := f.rdb.Subscribe(ctx, f.keys.ChaosChannel())
	defer sub.Close()
	msgs := sub.Channel()
	t := time.NewTicker(f.refresh)
	defer t.Stop()
	f.reload(ctx)
	for {
		select {
		case <-ctx.Done():
			return
		case <-msgs:
		case <-t.C:
			f.flush(ctx)
		}
		f.reload(ctx)
	}
}

func (f *Faults) reload(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, f.refresh)
	defer cancel()
	exps, err := chaos.LoadActive(ctx, f.rdb, f.keys)
	var now time.Time
	if err == nil && len(exps) > 0 {
		now, err = f.rdb.Time(ctx).Result() // scheduled phases start on Redis' clock
	}
	if err != nil {
		exps = nil // fail safe: no Redis, no faults
		if ctx.Err() == nil {
			f.log.Debug("chaos: cannot read experiments; injecting nothing", "err", err)
		}
	}
	net := make([]chaos.Experiment, 0, len(exps))
	for _, e := range exps {
		if e.Network() && e.StartMs <= now.UnixMilli() {
			net = append(net, e)
		}
	}
	f.active.Store(&net)
	f.loads.Add(1)
}

// Transport applies the network experiments to requests whose context
// names a target service (transport.WithService). With no experiments it
// costs one atomic load.
type Transport struct {
	Base   http.RoundTripper
	Faults *Faults
}

// AbortError is an injected connection reset; errors.Is(err,
// syscall.ECONNRESET) holds.
type AbortError struct{ Experiment string }

func (e *AbortError) Error() string {
	return "connection reset by peer (chaos experiment " + e.Experiment + ")"
}

// Unwrap makes it an ECONNRESET.
func (e *AbortError) Unwrap() error { return syscall.ECONNRESET }

// ErrInjectedTimeout is returned when a timeout experiment outlives the
// caller's patience or its own end.
var ErrInjectedTimeout = errors.New("chaos: injected timeout")

// RoundTrip implements http.RoundTripper.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	base := t.Base
	if base == nil {
		base = http.DefaultTransport
	}
	active := t.Faults.Active()
	if len(active) == 0 {
		return base.RoundTrip(req)
	}
	svc := transport.Service(req.Context())
	if svc == "" {
		return base.RoundTrip(req)
	}
	start := time.Now()
	resp, affected, err := t.inject(req, base, active, svc)
	key := "baseline:" + svc
	if affected != "" {
		key = affected
	}
	t.Faults.impact.add(key, err != nil || (resp != nil && transport.Failed(resp.StatusCode)), time.Since(start))
	return resp, err
}

// inject applies the first matching faults and makes the call (unless a
// fault ends it); affected names the experiment that acted, if any.
func (t *Transport) inject(req *http.Request, base http.RoundTripper, active []chaos.Experiment, svc string) (*http.Response, string, error) {
	affected := ""
	now := time.Now()
	for _, e := range active {
		// an experiment ends at its deadline here, whether or not the
		// next reload has seen it expire in Redis
		if !now.Before(e.End()) || !e.Targets(svc) || (e.Method != "" && !strings.EqualFold(e.Method, req.Method)) ||
			(e.PathPrefix != "" && !strings.HasPrefix(req.URL.Path, e.PathPrefix)) {
			continue
		}
		if t.Faults.roll() >= e.Probability {
			continue
		}
		switch e.Kind {
		case chaos.Latency:
			d := e.Delay
			if e.Jitter > 0 {
				// uniform in [delay - jitter, delay + jitter]
				d += time.Duration(t.Faults.roll()*float64(2*e.Jitter+1)) - e.Jitter
			}
			affected = e.ID
			if err := t.Faults.wait(req.Context(), d); err != nil {
				return nil, affected, err
			}
		case chaos.Error:
			body := fmt.Sprintf("chaos: injected HTTP %d by experiment %s\n", e.Status, e.ID)
			return &http.Response{StatusCode: e.Status, Status: strconv.Itoa(e.Status) + " " + http.StatusText(e.Status),
				Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1, Request: req, ContentLength: int64(len(body)),
				Header: http.Header{"X-Haderctl-Chaos": {e.ID}, "Content-Type": {"text/plain"}},
				Body:   io.NopCloser(strings.NewReader(body))}, e.ID, nil
		case chaos.Abort:
			return nil, e.ID, &AbortError{Experiment: e.ID}
		case chaos.Timeout:
			if err := t.Faults.wait(req.Context(), max(time.Until(e.End()), 0)); err != nil {
				return nil, e.ID, err
			}
			return nil, e.ID, ErrInjectedTimeout
		}
	}
	resp, err := base.RoundTrip(req)
	return resp, affected, err
}
