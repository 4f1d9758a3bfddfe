package health

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/haderos/haderctl/internal/engine/breaker"
	"github.com/haderos/haderctl/internal/engine/store"
	"github.com/haderos/haderctl/internal/engine/transport"
	"github.com/redis/go-redis/v9"
)

// Checker probes services and records the results in Redis.
type Checker struct {
	rdb  redis.UniversalClient
	keys store.Keys
	http *http.Client
	// Breakers, when set, are fed by failure streaks: every failed check
	// is recorded as a breaker failure, and a success after failures as a
	// success, so a down service fails fast everywhere; successes go on
	// being fed while the breaker they fed is open or half-open, so the
	// checks alone close it again (success_threshold of them).
	Breakers *breaker.Engine
	Notifier *Notifier
	Logger   *slog.Logger
	who      string
	clock    Clock
	// unsettled holds the services whose breaker this checker last fed
	// and left open or half-open.
	unsettled sync.Map
}

// Clock is the time a checker runs on. The zero value is the real one:
// Redis' clock in the scripts, the process' for latencies and waits.
// Tests set it to assert behaviour rather than timing.
type Clock struct {
	// Now replaces Redis TIME in the slot and record scripts, and the
	// process' clock in probe latencies.
	Now func() time.Time
	// After is the watcher's wait until its next slot (default time.After,
	// stopped early when the watch ends).
	After func(time.Duration) <-chan time.Time
	// Jitter is the spread added to a watcher's wake-up, in [0, max]
	// (default uniform random), so many services do not fire at once.
	Jitter func(max time.Duration) time.Duration
}

// Options configure a Checker.
type Options struct {
	Keys store.Keys
	// Transport is the engine's HTTP transport (nil: a plain one).
	Transport http.RoundTripper
	Breakers  *breaker.Engine
	Notifier  *Notifier
	Logger    *slog.Logger
	Clock     Clock
}

// New makes a checker.
func New(rdb redis.UniversalClient, o Options) *Checker {
	rt := o.Transport
	if rt == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.MaxIdleConnsPerHost = 64
		rt = t
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	host, _ := os.Hostname()
	return &Checker{rdb: rdb, keys: o.Keys, Breakers: o.Breakers, Notifier: o.Notifier, Logger: o.Logger, clock: o.Clock,
		http: &http.Client{Transport: rt, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }},
		who:  host + "/" + strconv.Itoa(os.Getpid())}
}

func (c *Checker) now() time.Time {
	if c.clock.Now != nil {
		return c.clock.Now()
	}
	return time.Now()
}

// scriptNow is the scripts' clock argument: ” for Redis TIME.
func (c *Checker) scriptNow() string {
	if c.clock.Now == nil {
		return ""
	}
	return strconv.FormatInt(c.clock.Now().UnixMilli(), 10)
}

// probe makes one request and judges it; it does not touch Redis.
func (c *Checker) probe(ctx context.Context, chk Check) (ok bool, code int, latency time.Duration, why string) {
	ctx, cancel := context.WithTimeout(transport.WithService(ctx, chk.Name), chk.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, chk.Method, chk.URL, nil)
	if err != nil {
		return false, 0, 0, "invalid request: " + err.Error()
	}
	for k, v := range chk.Headers {
		req.Header.Set(k, v)
	}
	req.Header.Set("User-Agent", "haderctl-health")
	start := c.now()
	resp, err := c.http.Do(req)
	if err != nil {
		latency = c.now().Sub(start)
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return false, 0, latency, "timed out after " + chk.Timeout.String()
		}
		return false, 0, latency, transportError(err)
	}
	defer resp.Body.Close()
	var body []byte
	if chk.BodyMatch != "" {
		body, _ = io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	} else {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	}
	latency = c.now().Sub(start)
	code = resp.StatusCode
	switch {
	case !chk.healthyStatus(code):
		return false, code, latency, "HTTP " + strconv.Itoa(code)
	case chk.BodyMatch != "" && !strings.Contains(string(body), chk.BodyMatch):
		return false, code, latency, fmt.Sprintf("body does not contain %q", chk.BodyMatch)
	case chk.MaxResponseTime > 0 && latency > chk.MaxResponseTime:
		return false, code, latency, fmt.Sprintf("slow: %s > %s", latency.Round(time.Millisecond), chk.MaxResponseTime)
	}
	return true, code, latency, ""
}

// transportError keeps the cause of a failed request without its URL
// (which may carry a token).
func transportError(err error) string {
	var ue interface{ Unwrap() error }
	if errors.As(err, &ue) {
		if inner := ue.Unwrap(); inner != nil {
			return inner.Error()
		}
	}
	return err.Error()
}

// Check probes one service now and records the result. A probe cut short
// because ctx ended is not recorded: Check returns ctx's error.
func (c *Checker) Check(ctx context.Context, chk Check) (Result, error) {
	ok, code, latency, why := c.probe(ctx, chk)
	if err := ctx.Err(); err != nil {
		// the caller gave up (Ctrl-C on a watch): that says nothing about
		// the service, so nothing is recorded and no breaker is fed
		return Result{}, err
	}
	return c.record(ctx, chk, ok, code, latency, why)
}

func (c *Checker) record(ctx context.Context, chk Check, ok bool, code int, latency time.Duration, why string) (Result, error) {
	okArg := "0"
	if ok {
		okArg = "1"
	}
	n := chk.Name
	remind := chk.Alert.RemindEvery.Milliseconds()
	if chk.Alert.RemindEvery < 0 {
		remind = -1
	}
	res, err := recordScript.Run(ctx, c.rdb, []string{c.keys.Health(n), c.keys.HealthHours(n), c.keys.HealthRecent(n), c.keys.HealthAlerts(n)},
		okArg, code, latency.Microseconds(), why, chk.Alert.FailureThreshold, chk.Alert.SuccessThreshold, remind,
		60, 30*24, c.who, n, c.scriptNow()).Slice()
	if err != nil {
		return Result{}, err
	}
	r := Result{Service: n, Healthy: ok, Status: "unhealthy", Code: code, Latency: float64(latency.Microseconds()) / 1000,
		Error: why, Alert: res[0].(string)}
	if ok {
		r.Status = "healthy"
	}
	cf, _ := res[1].(int64)
	cs, _ := res[2].(int64)
	now, _ := res[3].(int64)
	since, _ := res[4].(int64)
	r.ConsecutiveFailures, r.ConsecutiveSuccesses, r.At = int(cf), int(cs), time.UnixMilli(now)
	c.feedBreaker(ctx, n, ok, int(cf), int(cs))
	if r.Alert != "" && c.Notifier != nil {
		a := Alert{Service: n, Kind: r.Alert, At: r.At, Since: time.UnixMilli(since), ConsecutiveFailures: int(cf), LastError: why}
		a.Message = alertMessage(a)
		c.Notifier.Send(ctx, a)
	}
	return r, nil
}

func (c *Checker) feedBreaker(ctx context.Context, name string, ok bool, cf, cs int) {
	if c.Breakers == nil {
		return
	}
	if _, unsettled := c.unsettled.Load(name); ok && cs != 1 && !unsettled {
		return // a success matters right after failures, or until the breaker closes
	}
	res, err := c.Breakers.Record(ctx, name, ok)
	if err != nil {
		c.Logger.Warn("could not feed the breaker", "service", name, "err", err)
		return
	}
	if res.State == breaker.Open || res.State == breaker.HalfOpen {
		c.unsettled.Store(name, struct{}{})
	} else {
		c.unsettled.Delete(name) // closed, or an operator's forced_open/disabled
	}
}

func alertMessage(a Alert) string {
	switch a.Kind {
	case "resolved":
		return fmt.Sprintf("%s is healthy again (down for %s)", a.Service, a.At.Sub(a.Since).Round(time.Second))
	case "reminder":
		return fmt.Sprintf("%s is still unhealthy (since %s, %d consecutive failures): %s", a.Service, a.Since.UTC().Format(time.RFC3339), a.ConsecutiveFailures, a.LastError)
	}
	return fmt.Sprintf("%s is unhealthy: %d consecutive failures: %s", a.Service, a.ConsecutiveFailures, a.LastError)
}

// Acquire takes the service's probe slot for the current interval; it
// returns whether this caller should probe, and Redis' time.
func (c *Checker) Acquire(ctx context.Context, chk Check) (bool, time.Time, error) {
	res, err := slotScript.Run(ctx, c.rdb, []string{c.keys.HealthSlot(chk.Name)}, chk.Interval.Milliseconds(), c.scriptNow()).Slice()
	if err != nil {
		return false, time.Time{}, err
	}
	got, _ := res[0].(int64)
	now, _ := res[1].(int64)
	return got == 1, time.UnixMilli(now), nil
}

// Registered reads the checks registered at run time.
func (c *Checker) Registered(ctx context.Context) (map[string]Check, error) {
	all, err := c.rdb.HGetAll(ctx, c.keys.HealthServices()).Result()
	if err != nil {
		return nil, err
	}
	out := map[string]Check{}
	for name, js := range all {
		var chk Check
		if err := json.Unmarshal([]byte(js), &chk); err != nil {
			c.Logger.Warn("ignoring a registered health check that does not parse", "service", name)
			continue
		}
		chk.Name, chk.Source = name, "registered"
		out[name] = chk.WithDefaults()
	}
	return out, nil
}

// Register stores a check so every watcher runs it.
func (c *Checker) Register(ctx context.Context, chk Check) error {
	chk.Source = "registered"
	js, err := json.Marshal(chk)
	if err != nil {
		return err
	}
	// A plain pipeline, not MULTI: the registry and the schema key live in
	// different Cluster slots, and claiming the schema is idempotent.
	p := c.rdb.Pipeline()
	p.HSet(ctx, c.keys.HealthServices(), chk.Name, js)
	p.SetNX(ctx, c.keys.Schema(), store.SchemaVersion, 0)
	_, err = p.Exec(ctx)
	return err
}

// Unregister removes a registered check (its history stays until it
// ages out); it reports whether there was one.
func (c *Checker) Unregister(ctx context.Context, name string) (bool, error) {
	n, err := c.rdb.HDel(ctx, c.keys.HealthServices(), name).Result()
	return n == 1, err
}
