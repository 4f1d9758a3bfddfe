package health

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/haderos/haderctl/internal/engine/breaker"
	"github.com/haderos/haderctl/internal/engine/store"
	"github.com/haderos/haderctl/internal/testredis"
	"github.com/redis/go-redis/v9"
)

func TestMain(m *testing.M) {
	if os.Getenv(serverEnv) != "" {
		os.Exit(runHealthServer())
	}
	os.Exit(testredis.Main(m))
}

// service is a real loopback HTTP service whose answer the test sets.
type service struct {
	srv    *httptest.Server
	status atomic.Int32
	// took is how long an answer takes, passed to onServe (which moves
	// the test's clock); negative: it never answers.
	took    atomic.Int64 // ns
	onServe func(time.Duration)
	body    atomic.Value
	mu      sync.Mutex
	hits    int
}

func newService(t *testing.T) *service {
	s := &service{}
	s.status.Store(200)
	s.body.Store("ok")
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.hits++
		s.mu.Unlock()
		switch d := time.Duration(s.took.Load()); {
		case d < 0: // hangs until the caller gives up
			<-r.Context().Done()
			return
		case d > 0 && s.onServe != nil:
			s.onServe(d)
		}
		w.WriteHeader(int(s.status.Load()))
		io.WriteString(w, s.body.Load().(string))
	}))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *service) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hits
}

// receiver is a real loopback webhook receiver.
type receiver struct {
	srv  *httptest.Server
	mu   sync.Mutex
	got  []map[string]any
	errs atomic.Int32
}

func newReceiver(t *testing.T) *receiver {
	r := &receiver{}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		var v map[string]any
		if err := json.NewDecoder(req.Body).Decode(&v); err != nil {
			r.errs.Add(1)
		}
		r.mu.Lock()
		r.got = append(r.got, v)
		r.mu.Unlock()
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) kinds() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, v := range r.got {
		k, _ := v["kind"].(string)
		out = append(out, k)
	}
	return out
}

func newChecker(t *testing.T, ns string, providers ...Provider) *Checker {
	return newCheckerAt(t, ns, nil, providers...)
}

// newCheckerAt runs on clk (nil: the real clocks).
func newCheckerAt(t *testing.T, ns string, clk *fakeClock, providers ...Provider) *Checker {
	rdb := testredis.Client(t)
	o := Options{Keys: store.Keys{Namespace: ns}, Notifier: &Notifier{Providers: providers}}
	if clk != nil {
		o.Clock = clk.Clock()
	}
	return New(rdb, o)
}

// fakeClock is a manual clock: time moves only when the test advances it,
// so what depends on time is asserted without depending on the machine's
// speed.
type fakeClock struct {
	mu      sync.Mutex
	now     time.Time
	waiters []fakeWaiter
}

type fakeWaiter struct {
	at time.Time
	ch chan time.Time
}

func newFakeClock(start time.Time) *fakeClock { return &fakeClock{now: start} }

// midHour is a start far from any hour boundary, so hourly counters do
// not roll over during a test.
var midHour = time.Date(2026, 3, 1, 10, 30, 0, 0, time.UTC)

// Clock is the checker's view of it, with no jitter.
func (c *fakeClock) Clock() Clock {
	return Clock{Now: c.Now, After: c.After, Jitter: func(time.Duration) time.Duration { return 0 }}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan time.Time, 1)
	if d <= 0 {
		ch <- c.now
		return ch
	}
	c.waiters = append(c.waiters, fakeWaiter{c.now.Add(d), ch})
	return ch
}

// Advance moves the clock and wakes whoever waited until then.
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	kept := c.waiters[:0]
	for _, w := range c.waiters {
		if w.at.After(c.now) {
			kept = append(kept, w)
		} else {
			w.ch <- c.now
		}
	}
	c.waiters = kept
}

func (c *fakeClock) Waiting() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.waiters)
}

func TestTwoWatchersProbeOncePerIntervalAndAlertOnce(t *testing.T) {
	ns := testredis.Namespace(t)
	svc := newService(t)
	svc.status.Store(503)
	hook := newReceiver(t)
	// A minute's interval on a manual clock: each slot is one Advance, and
	// the slot key's real expiry (two intervals) outlasts any slowness.
	interval := time.Minute
	clk := newFakeClock(midHour.Add(time.Second))
	chk := Check{Name: "shopify", URL: svc.srv.URL, Interval: interval, Timeout: 10 * time.Second,
		Alert: AlertPolicy{FailureThreshold: 2, SuccessThreshold: 2, RemindEvery: -1}}.WithDefaults()
	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var recorded atomic.Int32
	for range 2 {
		c := newCheckerAt(t, ns, clk, WebhookProvider{URL: hook.srv.URL})
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = c.Watch(ctx, func(context.Context) ([]Check, error) { return []Check{chk}, nil }, time.Hour,
				func(Result) { recorded.Add(1) })
		}()
	}
	defer func() {
		stop()
		wg.Wait()
	}()
	// settle returns once both watchers wait for the next slot: by then
	// whichever won the current one has probed and recorded.
	slots := 1 // the watchers start in a slot and probe it
	settle := func() {
		t.Helper()
		testredis.Eventually(t, 30*time.Second, "both watchers waiting for the next slot", func() bool { return clk.Waiting() == 2 })
		if n := svc.count(); n != slots {
			t.Fatalf("after %d slots the service was probed %d times, want once per slot between the two watchers", slots, n)
		}
	}
	next := func() {
		t.Helper()
		clk.Advance(interval)
		slots++
		settle()
	}
	settle()
	next()
	if got := strings.Join(hook.kinds(), ","); got != "fired" {
		t.Fatalf("after 2 failed slots with threshold 2 the alerts sent are %q, want fired", got)
	}
	next()
	svc.status.Store(200)
	next()
	next()
	if got := strings.Join(hook.kinds(), ","); got != "fired,resolved" {
		t.Fatalf("alerts sent: %s, want exactly one fired and one resolved", got)
	}
	if n := svc.count(); int(recorded.Load()) != n {
		t.Fatalf("%d results recorded for %d probes", recorded.Load(), n)
	}
}

func TestCheckJudgesStatusBodyTimeoutAndSlowness(t *testing.T) {
	svc := newService(t)
	// the service "takes" its answer time on the checker's clock, so
	// slowness is judged from the latency, whatever the machine's speed
	clk := newFakeClock(midHour)
	svc.onServe = func(d time.Duration) { clk.Advance(d) }
	c := newCheckerAt(t, testredis.Namespace(t), clk)
	ctx := context.Background()
	base := Check{Name: "svc", URL: svc.srv.URL, Interval: time.Second, Timeout: 10 * time.Second}.WithDefaults()
	cases := []struct {
		name   string
		setup  func(*Check)
		status int
		took   time.Duration
		body   string
		ok     bool
		err    string
	}{
		{"200 is healthy", nil, 200, 0, "ok", true, ""},
		{"503 is not", nil, 503, 0, "", false, "HTTP 503"},
		{"expected codes", func(c *Check) { c.ExpectStatus = []int{204} }, 200, 0, "", false, "HTTP 200"},
		{"body match", func(c *Check) { c.BodyMatch = "READY" }, 200, 0, "starting", false, `body does not contain "READY"`},
		// the service never answers: only the probe's timeout ends it
		{"timeout", func(c *Check) { c.Timeout = 50 * time.Millisecond }, 200, -1, "", false, "timed out after 50ms"},
		{"too slow", func(c *Check) { c.MaxResponseTime = 20 * time.Millisecond }, 200, 60 * time.Millisecond, "", false, "slow: 60ms > 20ms"},
	}
	for _, tc := range cases {
		chk := base
		if tc.setup != nil {
			tc.setup(&chk)
		}
		svc.status.Store(int32(tc.status))
		svc.took.Store(int64(tc.took))
		svc.body.Store(tc.body)
		r, err := c.Check(ctx, chk)
		if err != nil {
			t.Fatal(err)
		}
		if r.Healthy != tc.ok || !strings.Contains(r.Error, tc.err) {
			t.Errorf("%s: healthy=%v error=%q, want %v %q", tc.name, r.Healthy, r.Error, tc.ok, tc.err)
		}
	}
	// the stored state follows: 5 failures in a row after the success
	sts, _, err := c.Statuses(ctx, []string{"svc"})
	if err != nil {
		t.Fatal(err)
	}
	s := sts[0]
	if s.Healthy || s.ConsecutiveFailures != 5 || s.Windows["1h"].Checks != 6 || *s.Windows["24h"].Uptime < 16 || *s.Windows["24h"].Uptime > 17 || len(s.Recent) != 6 {
		t.Fatalf("status %+v (24h %+v)", s, s.Windows["24h"])
	}
}

func TestOldHourlyCountersArePrunedAndWindowsCountTheirHours(t *testing.T) {
	clk := newFakeClock(midHour)
	c := newCheckerAt(t, testredis.Namespace(t), clk)
	ctx := context.Background()
	hour := midHour.UnixMilli() / 3600000
	old := func(h int64, f string) string { return strings.Join([]string{itoa(h), f}, ":") }
	if err := c.rdb.HSet(ctx, c.keys.HealthHours("svc"),
		old(hour-800, "n"), 9, // beyond 30 days: pruned
		old(hour-30, "n"), 10, old(hour-30, "ok"), 5, old(hour-30, "us"), 1000, // in 7d and 30d only
	).Err(); err != nil {
		t.Fatal(err)
	}
	svc := newService(t)
	if _, err := c.Check(ctx, Check{Name: "svc", URL: svc.srv.URL, Interval: time.Second, Timeout: time.Second}.WithDefaults()); err != nil {
		t.Fatal(err)
	}
	if exists, _ := c.rdb.HExists(ctx, c.keys.HealthHours("svc"), old(hour-800, "n")).Result(); exists {
		t.Fatal("a counter older than 30 days was kept")
	}
	sts, _, err := c.Statuses(ctx, []string{"svc"})
	if err != nil {
		t.Fatal(err)
	}
	w := sts[0].Windows
	if w["24h"].Checks != 1 || w["7d"].Checks != 11 || w["30d"].Checks != 11 || *w["7d"].Uptime < 54 || *w["7d"].Uptime > 55 {
		t.Fatalf("windows %+v 7d uptime %v", w, *w["7d"].Uptime)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// fedChecker is a checker feeding a breaker engine with settings, and a
// check of "aramex" on a local service answering 500 until told otherwise.
func fedChecker(t *testing.T, settings breaker.Settings) (*Checker, *breaker.Engine, *service, Check) {
	t.Helper()
	ns := testredis.Namespace(t)
	rdb := testredis.Client(t)
	b := breaker.New(rdb, breaker.Options{Keys: store.Keys{Namespace: ns}, Settings: func(string) breaker.Settings {
		return settings.WithDefaults()
	}})
	t.Cleanup(b.Close)
	c := New(rdb, Options{Keys: store.Keys{Namespace: ns}, Breakers: b})
	svc := newService(t)
	svc.status.Store(500)
	return c, b, svc, Check{Name: "aramex", URL: svc.srv.URL, Interval: time.Second, Timeout: time.Second}.WithDefaults()
}

func TestAFailureStreakFeedsTheBreaker(t *testing.T) {
	c, b, _, chk := fedChecker(t, breaker.Settings{FailureThreshold: 2})
	ctx := context.Background()
	for range 2 {
		if _, err := c.Check(ctx, chk); err != nil {
			t.Fatal(err)
		}
	}
	snap, _, err := b.Snapshot(ctx, []string{"aramex"})
	if err != nil {
		t.Fatal(err)
	}
	if snap[0].State != breaker.Open {
		t.Fatalf("after 2 failed checks the breaker is %s, want open", snap[0].State)
	}
}

func TestChecksAloneCloseTheBreakerTheyOpened(t *testing.T) {
	// with no traffic, the health checks are the breaker's only reports:
	// once the service is back they must close it, success_threshold
	// successes after the recovery timeout, not stop after the first
	c, b, svc, chk := fedChecker(t, breaker.Settings{FailureThreshold: 2, SuccessThreshold: 3, MaxProbes: 3, RecoveryTimeout: time.Millisecond})
	ctx := context.Background()
	state := func() breaker.State {
		t.Helper()
		snap, _, err := b.Snapshot(ctx, []string{"aramex"})
		if err != nil {
			t.Fatal(err)
		}
		return snap[0].State
	}
	for range 2 {
		if _, err := c.Check(ctx, chk); err != nil {
			t.Fatal(err)
		}
	}
	if got := state(); got != breaker.Open {
		t.Fatalf("after 2 failed checks the breaker is %s, want open", got)
	}
	svc.status.Store(200)
	// the first success may land inside the 1 ms recovery timeout (then
	// it changes nothing); every later one counts in half-open
	checks := 0
	for deadline := time.Now().Add(10 * time.Second); state() != breaker.Closed; checks++ {
		if time.Now().After(deadline) {
			t.Fatalf("after %d successful checks the breaker is still %s", checks, state())
		}
		if _, err := c.Check(ctx, chk); err != nil {
			t.Fatal(err)
		}
	}
	if checks < 3 {
		t.Fatalf("closed after %d successful checks, want success_threshold (3)", checks)
	}
	// closed: further successes cost no breaker write
	if _, unsettled := c.unsettled.Load("aramex"); unsettled {
		t.Fatal("a closed breaker is still fed")
	}
}

func TestSlackAndLogProvidersDeliver(t *testing.T) {
	var got atomic.Value
	slack := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got.Store(string(b))
	}))
	defer slack.Close()
	a := Alert{Service: "shopify", Kind: "fired", Message: "shopify is unhealthy: 3 consecutive failures: HTTP 503"}
	if err := (SlackProvider{WebhookURL: slack.URL}).Send(context.Background(), a); err != nil {
		t.Fatal(err)
	}
	var body map[string]string
	if err := json.Unmarshal([]byte(got.Load().(string)), &body); err != nil || !strings.Contains(body["text"], a.Message) {
		t.Fatalf("slack got %v (%v)", got.Load(), err)
	}
	// a failing receiver is reported without its URL
	bad := SlackProvider{WebhookURL: "http://127.0.0.1:1/services/T000/B000/secret-path"}
	err := bad.Send(context.Background(), a)
	if err == nil || strings.Contains(err.Error(), "secret-path") {
		t.Fatalf("error %v: must say it failed without the webhook URL", err)
	}
}

func TestRemindersRepeatAnOpenAlertAtTheMinimumInterval(t *testing.T) {
	svc := newService(t)
	svc.status.Store(500)
	hook := newReceiver(t)
	clk := newFakeClock(midHour)
	c := newCheckerAt(t, testredis.Namespace(t), clk, WebhookProvider{URL: hook.srv.URL})
	chk := Check{Name: "erp", URL: svc.srv.URL, Interval: time.Second, Timeout: 10 * time.Second,
		Alert: AlertPolicy{FailureThreshold: 1, SuccessThreshold: 1, RemindEvery: 200 * time.Millisecond}}.WithDefaults()
	ctx := context.Background()
	check := func() Result {
		r, err := c.Check(ctx, chk)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	if r := check(); r.Alert != "fired" {
		t.Fatalf("first failure with threshold 1: alert %q, want fired", r.Alert)
	}
	clk.Advance(199 * time.Millisecond)
	if r := check(); r.Alert != "" {
		t.Fatalf("a failure 199ms later: alert %q, want none (the reminder interval has not passed)", r.Alert)
	}
	clk.Advance(time.Millisecond)
	if r := check(); r.Alert != "reminder" {
		t.Fatalf("a failure once the 200ms reminder interval has passed: alert %q, want reminder", r.Alert)
	}
	clk.Advance(100 * time.Millisecond)
	if r := check(); r.Alert != "" {
		t.Fatalf("a failure 100ms after the reminder: alert %q, want none", r.Alert)
	}
	svc.status.Store(200)
	if r := check(); r.Alert != "resolved" {
		t.Fatalf("after a success: alert %q, want resolved", r.Alert)
	}
	kinds := hook.kinds()
	if len(kinds) != 3 || kinds[0] != "fired" || kinds[1] != "reminder" || kinds[2] != "resolved" {
		t.Fatalf("sent %v, want fired, reminder, resolved", kinds)
	}
	events, err := c.Alerts(ctx, "erp", 10)
	if err != nil || len(events) != 3 || events[2].Kind != "resolved" {
		t.Fatalf("alert history %+v %v", events, err)
	}
}

// A probe its caller cancelled (Ctrl-C on `health watch`) is not a failed
// check: nothing is recorded and the breaker is not fed.
func TestAProbeTheCallerCancelledIsNotRecorded(t *testing.T) {
	arrived := make(chan struct{}, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		<-r.Context().Done() // hold the request until the client gives up
	}))
	t.Cleanup(srv.Close)
	rdb := testredis.Client(t)
	keys := store.Keys{Namespace: testredis.Namespace(t)}
	// the checker's own client counts what it is asked to send: a
	// cancelled probe must not even try to record (a record script run
	// on a dead context fails before the wire, which hid the difference)
	crdb := testredis.Client(t)
	var sent atomic.Int64
	crdb.AddHook(sendCounter{&sent})
	c := New(crdb, Options{Keys: keys})
	chk := Check{Name: "svc", URL: srv.URL, Interval: time.Second, Timeout: time.Minute}.WithDefaults()
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-arrived
		cancel()
	}()
	if _, err := c.Check(ctx, chk); !errors.Is(err, context.Canceled) {
		t.Fatalf("Check after the caller cancelled: err %v, want context.Canceled", err)
	}
	if n := sent.Load(); n != 0 {
		t.Fatalf("a probe its caller cancelled still sent %d commands to record it", n)
	}
	n, err := rdb.Exists(context.Background(), keys.Health("svc"), keys.HealthRecent("svc"), keys.HealthHours("svc")).Result()
	if err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Fatalf("%d health keys written for a probe the caller cancelled", n)
	}
	// the same hang ended by the check's own timeout is a failure
	chk.Timeout = 50 * time.Millisecond
	go func() { <-arrived }()
	r, err := c.Check(context.Background(), chk)
	if err != nil || r.Healthy || !strings.Contains(r.Error, "timed out") {
		t.Fatalf("a probe that timed out: %+v, %v", r, err)
	}
}

// sendCounter counts the commands a client is asked to send.
type sendCounter struct{ n *atomic.Int64 }

func (h sendCounter) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h sendCounter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		h.n.Add(1)
		return next(ctx, cmd)
	}
}
func (h sendCounter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		h.n.Add(int64(len(cmds)))
		return next(ctx, cmds)
	}
}
