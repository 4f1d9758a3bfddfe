package health

import (
	"context"
	"encoding/json"
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
)

func TestMain(m *testing.M) {
	if os.Getenv(serverEnv) != "" {
		os.Exit(runHealthServer())
	}
	os.Exit(testredis.Main(m))
}

func eventually(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, within)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// service is a real loopback HTTP service whose answer the test sets.
type service struct {
	srv    *httptest.Server
	status atomic.Int32
	delay  atomic.Int64 // ns
	body   atomic.Value
	mu     sync.Mutex
	hits   []time.Time
}

func newService(t *testing.T) *service {
	s := &service{}
	s.status.Store(200)
	s.body.Store("ok")
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.hits = append(s.hits, time.Now())
		s.mu.Unlock()
		if d := time.Duration(s.delay.Load()); d > 0 {
			select {
			case <-time.After(d): // a slow service
			case <-r.Context().Done():
				return
			}
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
	return len(s.hits)
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
	rdb := testredis.Client(t)
	return New(rdb, Options{Keys: store.Keys{Namespace: ns}, Notifier: &Notifier{Providers: providers}})
}

func TestTwoWatchersProbeOncePerIntervalAndAlertOnce(t *testing.T) {
	ns := testredis.Namespace(t)
	svc := newService(t)
	svc.status.Store(503)
	hook := newReceiver(t)
	chk := Check{Name: "shopify", URL: svc.srv.URL, Interval: time.Second, Timeout: 500 * time.Millisecond,
		Alert: AlertPolicy{FailureThreshold: 2, SuccessThreshold: 2, RemindEvery: -1}}.WithDefaults()
	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var recorded atomic.Int32
	for range 2 {
		c := newChecker(t, ns, WebhookProvider{URL: hook.srv.URL})
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = c.Watch(ctx, func(context.Context) ([]Check, error) { return []Check{chk}, nil }, time.Minute,
				func(Result) { recorded.Add(1) })
		}()
	}
	eventually(t, 15*time.Second, "the alert fires", func() bool { return len(hook.kinds()) >= 1 })
	eventually(t, 15*time.Second, "two more probes", func() bool { return svc.count() >= 4 })
	svc.status.Store(200)
	eventually(t, 15*time.Second, "the alert resolves", func() bool { return len(hook.kinds()) >= 2 })
	stop()
	wg.Wait()

	if got := strings.Join(hook.kinds(), ","); got != "fired,resolved" {
		t.Fatalf("alerts sent: %s, want exactly one fired and one resolved", got)
	}
	// one probe per one-second slot between the two watchers
	svc.mu.Lock()
	defer svc.mu.Unlock()
	perSlot := map[int64]int{}
	for _, h := range svc.hits {
		perSlot[h.UnixMilli()/1000]++
	}
	for slot, n := range perSlot {
		if n > 1 {
			t.Fatalf("slot %d was probed %d times by the two watchers", slot, n)
		}
	}
	if int(recorded.Load()) != len(svc.hits) {
		t.Fatalf("%d results recorded for %d probes", recorded.Load(), len(svc.hits))
	}
}

func TestCheckJudgesStatusBodyTimeoutAndSlowness(t *testing.T) {
	svc := newService(t)
	c := newChecker(t, testredis.Namespace(t))
	ctx := context.Background()
	base := Check{Name: "svc", URL: svc.srv.URL, Interval: time.Second, Timeout: 200 * time.Millisecond}.WithDefaults()
	cases := []struct {
		name   string
		setup  func(*Check)
		status int
		delay  time.Duration
		body   string
		ok     bool
		err    string
	}{
		{"200 is healthy", nil, 200, 0, "ok", true, ""},
		{"503 is not", nil, 503, 0, "", false, "HTTP 503"},
		{"expected codes", func(c *Check) { c.ExpectStatus = []int{204} }, 200, 0, "", false, "HTTP 200"},
		{"body match", func(c *Check) { c.BodyMatch = "READY" }, 200, 0, "starting", false, `body does not contain "READY"`},
		{"timeout", nil, 200, time.Second, "", false, "timed out after 200ms"},
		{"too slow", func(c *Check) { c.MaxResponseTime = 20 * time.Millisecond }, 200, 60 * time.Millisecond, "", false, "slow: "},
	}
	for _, tc := range cases {
		chk := base
		if tc.setup != nil {
			tc.setup(&chk)
		}
		svc.status.Store(int32(tc.status))
		svc.delay.Store(int64(tc.delay))
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
	c := newChecker(t, testredis.Namespace(t))
	ctx := context.Background()
	now, err := c.rdb.Time(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	hour := now.UnixMilli() / 3600000
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

func TestAFailureStreakFeedsTheBreaker(t *testing.T) {
	ns := testredis.Namespace(t)
	rdb := testredis.Client(t)
	b := breaker.New(rdb, breaker.Options{Keys: store.Keys{Namespace: ns}, Settings: func(string) breaker.Settings {
		return breaker.Settings{FailureThreshold: 2}.WithDefaults()
	}})
	defer b.Close()
	c := New(rdb, Options{Keys: store.Keys{Namespace: ns}, Breakers: b})
	svc := newService(t)
	svc.status.Store(500)
	chk := Check{Name: "aramex", URL: svc.srv.URL, Interval: time.Second, Timeout: time.Second}.WithDefaults()
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
	c := newChecker(t, testredis.Namespace(t), WebhookProvider{URL: hook.srv.URL})
	chk := Check{Name: "erp", URL: svc.srv.URL, Interval: time.Second, Timeout: time.Second,
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
	if r := check(); r.Alert != "" {
		t.Fatalf("a failure right after: alert %q, want none (the reminder interval has not passed)", r.Alert)
	}
	eventually(t, 5*time.Second, "a reminder once the interval has passed", func() bool { return check().Alert == "reminder" })
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
