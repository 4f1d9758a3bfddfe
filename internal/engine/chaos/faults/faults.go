// Package faults is the data plane of chaos: a process' cache of the
// active experiments (re-read on every pub/sub notice and every second),
// the HTTP transport that applies the network ones to requests, and the
// counting of their impact, flushed to Redis every second. On the same
// tick it sweeps the experiments that ended (chaos.Sweep), so their
// expiry is audited without any reader writing.
//
//	chaos (control plane) ──PUBLISH── pub/sub ──┐
//	active index ── chaos.ReadActive, 1 s tick ─┴─▶ Faults: activeSet (atomic)
//	request ──▶ Transport: service/method/path match, probability roll ──▶
//	            latency | error | abort | timeout ──▶ base transport
//	            └─ counted: the experiment's counter, or its services' baseline
//	tick ──▶ flush counts (HINCRBY) ──▶ sweep, when the last read saw ended ones
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

// FlushInterval is how often a data plane re-reads experiments, flushes
// its impact counts and sweeps the experiments that ended.
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
	// who signs the expiries this data plane's sweep audits.
	who string
	// epoch is when it was made: requests read the clock as time.Since
	// (epoch), one monotonic read, and ends are kept as offsets from it.
	epoch  time.Time
	active atomic.Pointer[activeSet]
	loads  atomic.Int64
	counts registry
	// roll draws a number in [0, 1) for the probability and the jitter
	// (math/rand/v2; tests seed their own). Called from every request's
	// goroutine.
	roll func() float64
	// wait blocks for d or until ctx is done (a timer; tests record the
	// delays instead of living through them).
	wait func(ctx context.Context, d time.Duration) error
	// done is closed when the goroutine Start began returns.
	done chan struct{}
	// onInject, when set, is told of every fault applied (OnInject).
	onInject atomic.Pointer[func(service, kind string)]
}

// activeSet is what one re-read armed, immutable once stored: the network
// experiments that have started, each with its impact counter, and the
// baseline counters of the services they target, so a request finds
// what to count without building a key or taking a lock.
type activeSet struct {
	exps  []chaos.Experiment
	armed []armed
	// baseline counts a targeted service's calls that no experiment
	// affected; everyService (nil without a "*" experiment) every
	// service's.
	baseline     map[string]*counts
	everyService *counts
	// ended is how many index entries had ended unswept at the read.
	ended int
}

type armed struct {
	*chaos.Experiment
	// end is End as an offset from the data plane's epoch
	end    time.Duration
	counts *counts
	// perService counts the calls it affected per named target (not for
	// "*"), so a game day judges each service by its own failures
	perService map[string]*counts
}

var noneActive = &activeSet{}

// arm builds the set a request reads from what ReadActive found.
func (f *Faults) arm(read chaos.ActiveSet) *activeSet {
	set := &activeSet{ended: read.Ended}
	for _, e := range read.Experiments {
		if e.Network() && e.StartMs <= read.Now.UnixMilli() {
			set.exps = append(set.exps, e)
		}
	}
	if len(set.exps) == 0 && set.ended == 0 {
		return noneActive
	}
	for i := range set.exps {
		e := &set.exps[i]
		a := armed{Experiment: e, end: e.End().Sub(f.epoch), counts: f.counts.get(e.ID)}
		for _, svc := range e.Services {
			if svc != "*" {
				if a.perService == nil {
					a.perService = map[string]*counts{}
				}
				a.perService[svc] = f.counts.get(chaos.ServiceImpactKey(e.ID, svc))
			}
		}
		set.armed = append(set.armed, a)
		for _, svc := range e.Services {
			if svc == "*" {
				set.everyService = f.counts.get(chaos.BaselineKey("*"))
				continue
			}
			if set.baseline == nil {
				set.baseline = map[string]*counts{}
			}
			set.baseline[svc] = f.counts.get(chaos.BaselineKey(svc))
		}
	}
	return set
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

// OnInject sets fn to be called with the target service and the kind
// (latency, error, abort, timeout) each time a fault acts on a request,
// from the request's goroutine: the gateway counts
// haderos_chaos_faults_injected_total with it. nil removes it. It costs
// one atomic load per fault applied and nothing on a request no fault
// touches.
func (f *Faults) OnInject(fn func(service, kind string)) {
	if fn == nil {
		f.onInject.Store(nil)
		return
	}
	f.onInject.Store(&fn)
}

// New makes the cache; Run keeps it fresh.
func New(rdb redis.UniversalClient, keys store.Keys, environment string, allowed []string, log *slog.Logger) *Faults {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	who, _ := chaos.Identity(nil)
	f := &Faults{rdb: rdb, keys: keys, refresh: FlushInterval, log: log, allowed: chaos.EnvironmentAllowed(environment, allowed) == nil,
		who: who, epoch: time.Now(), roll: rand.Float64, wait: sleepCtx}
	f.active.Store(noneActive)
	return f
}

// Active is the current set (do not modify it).
func (f *Faults) Active() []chaos.Experiment { return f.active.Load().exps }

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
	f.done = make(chan struct{})
	go func() {
		defer close(f.done)
		f.Run(ctx)
	}()
}

// Done is closed once the background work Start began has ended (its
// last impact counts flushed); it is closed at once when Start never ran
// or applied nothing.
func (f *Faults) Done() <-chan struct{} {
	if f.done == nil {
		return closedDone
	}
	return f.done
}

var closedDone = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

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
			// the counts since the last tick still reach Redis (the client
			// is closed only after Done)
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
			f.flush(fctx)
			cancel()
			return
		case <-msgs:
		case <-t.C:
			f.tick(ctx)
		}
		f.reload(ctx)
	}
}

// tick flushes the impact counts and, when the last read saw experiments
// that ended, sweeps them (audits their expiry): the readers do not.
func (f *Faults) tick(ctx context.Context) {
	f.flush(ctx)
	if f.active.Load().ended == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, f.refresh)
	defer cancel()
	if err := chaos.Sweep(ctx, f.rdb, f.keys, f.who); err != nil && ctx.Err() == nil {
		f.log.Debug("chaos: cannot sweep ended experiments; a later tick will", "err", err)
	}
}

func (f *Faults) reload(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, f.refresh)
	defer cancel()
	read, err := chaos.ReadActive(ctx, f.rdb, f.keys)
	if err != nil {
		read = chaos.ActiveSet{} // fail safe: no Redis, no faults
		if ctx.Err() == nil {
			f.log.Debug("chaos: cannot read experiments; injecting nothing", "err", err)
		}
	}
	f.active.Store(f.arm(read))
	f.loads.Add(1)
}

// Transport applies the network experiments to requests whose context
// names a target service (transport.WithService). With no experiments it
// costs one atomic load; a call to a service no experiment targets, one
// map lookup more; a targeted call adds two monotonic clock reads and
// two or three atomic adds for its impact, and allocates nothing unless a
// fault acts. A call its caller cancelled is not counted.
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

// HeaderExperiment names, on an answer an error experiment made up, the
// experiment that made it: no service gave that answer.
const HeaderExperiment = "X-Haderctl-Chaos"

// ErrInjectedTimeout is returned when a timeout experiment outlives the
// caller's patience or its own end.
var ErrInjectedTimeout = errors.New("chaos: injected timeout")

// RoundTrip implements http.RoundTripper.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	base := t.Base
	if base == nil {
		base = http.DefaultTransport
	}
	set := t.Faults.active.Load()
	if len(set.armed) == 0 {
		return base.RoundTrip(req)
	}
	svc := transport.Service(req.Context())
	if svc == "" {
		return base.RoundTrip(req)
	}
	baseline := set.baseline[svc]
	if baseline == nil && set.everyService == nil {
		return base.RoundTrip(req) // no experiment targets it: nothing to inject or count
	}
	// two monotonic clock reads (time.Now would read the wall clock too)
	start := time.Since(t.Faults.epoch)
	resp, hit, err := t.inject(req, base, set, svc, start)
	if err != nil && transport.CallerCancelled(req.Context(), err) {
		// the caller gave up: that says nothing about the service (the
		// breaker's rule too), so it counts neither as the experiment's
		// impact nor in the baseline
		return resp, err
	}
	failed := err != nil || (resp != nil && transport.Failed(resp.StatusCode))
	latency := time.Since(t.Faults.epoch) - start
	switch {
	case hit != nil:
		hit.counts.add(failed, latency)
		if c := hit.perService[svc]; c != nil {
			c.add(failed, latency)
		}
	default:
		if baseline != nil {
			baseline.add(failed, latency)
		}
		if set.everyService != nil {
			set.everyService.add(failed, latency)
		}
	}
	return resp, err
}

// inject applies the first matching faults and makes the call (unless a
// fault ends it); hit is the experiment that acted, if any.
func (t *Transport) inject(req *http.Request, base http.RoundTripper, set *activeSet, svc string, now time.Duration) (*http.Response, *armed, error) {
	var hit *armed
	for i := range set.armed {
		a := &set.armed[i]
		e := a.Experiment
		// an experiment ends at its deadline here, whether or not the
		// next reload has seen it expire in Redis
		if now >= a.end || !e.Targets(svc) || (e.Method != "" && !strings.EqualFold(e.Method, req.Method)) ||
			(e.PathPrefix != "" && !strings.HasPrefix(req.URL.Path, e.PathPrefix)) {
			continue
		}
		if t.Faults.roll() >= e.Probability {
			continue
		}
		if fn := t.Faults.onInject.Load(); fn != nil {
			(*fn)(svc, e.Kind)
		}
		switch e.Kind {
		case chaos.Latency:
			d := e.Delay
			if e.Jitter > 0 {
				// uniform in [delay - jitter, delay + jitter]
				d += time.Duration(t.Faults.roll()*float64(2*e.Jitter+1)) - e.Jitter
			}
			hit = a
			if err := t.Faults.wait(req.Context(), d); err != nil {
				return nil, hit, err
			}
		case chaos.Error:
			body := fmt.Sprintf("chaos: injected HTTP %d by experiment %s\n", e.Status, e.ID)
			return &http.Response{StatusCode: e.Status, Status: strconv.Itoa(e.Status) + " " + http.StatusText(e.Status),
				Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1, Request: req, ContentLength: int64(len(body)),
				Header: http.Header{HeaderExperiment: {e.ID}, "Content-Type": {"text/plain"}},
				Body:   io.NopCloser(strings.NewReader(body))}, a, nil
		case chaos.Abort:
			return nil, a, &AbortError{Experiment: e.ID}
		case chaos.Timeout:
			if err := t.Faults.wait(req.Context(), max(time.Until(e.End()), 0)); err != nil {
				return nil, a, err
			}
			return nil, a, ErrInjectedTimeout
		}
	}
	resp, err := base.RoundTrip(req)
	return resp, hit, err
}
