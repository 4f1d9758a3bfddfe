package source

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/haderos/haderctl/internal/dashboard"
	"github.com/haderos/haderctl/internal/engine/breaker"
	"github.com/haderos/haderctl/internal/engine/health"
	"github.com/haderos/haderctl/internal/engine/queue"
	"github.com/haderos/haderctl/internal/engine/store"
	"github.com/haderos/haderctl/internal/testredis"
	"github.com/redis/go-redis/v9"
)

func TestInfoShowsTheAddressWithoutThePassword(t *testing.T) {
	const pw = "s3cret-pw-1234"
	url := testredis.URL(t)
	if !testredis.Real(t) {
		// the fallback: a miniredis of this test's own that wants the password
		m := miniredis.RunT(t)
		m.RequireUserAuth("default", pw)
		url = "redis://" + m.Addr() + "/0"
	}
	// a real redis-server whose default user has no password takes any
	url = strings.Replace(url, "redis://", "redis://default:"+pw+"@", 1)
	o := options(t, testredis.Namespace(t))
	o.Redis.URL = url
	b := New(open(t, o), Options{})
	info := b.Info()
	if strings.Contains(info.Address, pw) || !strings.Contains(info.Address, "default:***@") {
		t.Fatalf("the header's address is %q: want the URL with its password masked", info.Address)
	}
	if info.Namespace != o.Namespace || info.Environment != "test" || info.ReadOnly {
		t.Fatalf("info %+v, want namespace %s, the engine's environment, not read-only", info, o.Namespace)
	}
	if got := New(open(t, o), Options{Environment: "staging-eu"}).Info().Environment; got != "staging-eu" {
		t.Fatalf("Options.Environment gives %q in the header", got)
	}
}

func TestFollowDeliversATripByAnotherProcessAndAChaosStop(t *testing.T) {
	w := newWorld(t, Options{})
	ctx := context.Background()
	x := start(t, w, "smsa")
	f := w.follow(t)
	if _, err := w.other.Breakers.Trip(ctx, "aramex", "drill from another process"); err != nil {
		t.Fatal(err)
	}
	if _, err := w.other.Chaos.Stop(ctx, x.ID, "done with the drill"); err != nil {
		t.Fatal(err)
	}
	me := breaker.ThisProcess()
	ev := f.waitFor(t, dashboard.BreakerEvent, "aramex", "closed → forced open: drill from another process ("+me.User+"@"+me.Host+")")
	if ev.At.IsZero() {
		t.Errorf("the breaker event has no time: %+v", ev)
	}
	f.waitFor(t, dashboard.ChaosEvent, x.ID, "stopped by "+w.other.Chaos.Who+": done with the drill")
	for _, ev := range f.all() {
		if ev.Kind == dashboard.ChaosEvent && strings.HasPrefix(ev.Text, "started") {
			t.Errorf("Follow replayed an audit entry from before it began: %+v", ev)
		}
	}
}

// flaky is a health endpoint whose answer the test sets.
func flaky(t *testing.T) (*atomic.Bool, string) {
	var healthy atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if !healthy.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	t.Cleanup(srv.Close)
	return &healthy, srv.URL
}

func check(t *testing.T, w *world, chk health.Check, times int) {
	t.Helper()
	for range times {
		if _, err := w.other.Health.Check(context.Background(), chk); err != nil {
			t.Fatal(err)
		}
	}
}

func TestFollowDerivesAlertEventsFromConsecutiveSnapshots(t *testing.T) {
	w := newWorld(t, Options{})
	ctx := context.Background()
	healthy, url := flaky(t)
	chk := health.Check{Name: "smsa", URL: url, Alert: health.AlertPolicy{FailureThreshold: 2, SuccessThreshold: 1}}.WithDefaults()
	if err := w.other.Health.Register(ctx, chk); err != nil {
		t.Fatal(err)
	}
	f := w.follow(t)
	if _, err := w.backend.Snapshot(ctx); err != nil { // the baseline
		t.Fatal(err)
	}
	check(t, w, chk, 2)
	if _, err := w.backend.Snapshot(ctx); err != nil {
		t.Fatal(err)
	}
	f.waitFor(t, dashboard.AlertEvent, "smsa", "down alert: 2 consecutive failures")
	healthy.Store(true)
	check(t, w, chk, 1)
	if _, err := w.backend.Snapshot(ctx); err != nil {
		t.Fatal(err)
	}
	f.waitFor(t, dashboard.AlertEvent, "smsa", "alert resolved")
	n := 0
	for _, ev := range f.all() {
		if ev.Kind == dashboard.AlertEvent {
			n++
		}
	}
	if n != 2 {
		t.Fatalf("%d alert events, want one fired and one resolved: %+v", n, f.all())
	}
}

func TestRecentMergesTheLatestOfEachKindOldestFirst(t *testing.T) {
	w := newWorld(t, Options{})
	ctx := context.Background()
	for i := range 3 {
		if _, err := w.other.Breakers.Trip(ctx, "aramex", fmt.Sprintf("trip %d", i)); err != nil {
			t.Fatal(err)
		}
		if _, err := w.other.Breakers.Reset(ctx, "aramex", fmt.Sprintf("reset %d", i)); err != nil {
			t.Fatal(err)
		}
	}
	healthy, url := flaky(t)
	chk := health.Check{Name: "smsa", URL: url, Alert: health.AlertPolicy{FailureThreshold: 1, SuccessThreshold: 1}}.WithDefaults()
	if err := w.other.Health.Register(ctx, chk); err != nil {
		t.Fatal(err)
	}
	check(t, w, chk, 1) // fired
	healthy.Store(true)
	check(t, w, chk, 1) // resolved
	healthy.Store(false)
	check(t, w, chk, 1) // fired again
	x := start(t, w, "smsa")
	if _, err := w.other.Chaos.Stop(ctx, x.ID, "enough"); err != nil {
		t.Fatal(err)
	}

	evs, err := w.backend.Recent(ctx, 2)
	if err != nil {
		t.Fatal(err)
	}
	byKind := map[dashboard.EventKind][]string{}
	for i, ev := range evs {
		if i > 0 && ev.At.Before(evs[i-1].At) {
			t.Fatalf("event %d (%v) is older than the one before it (%v): %+v", i, ev.At, evs[i-1].At, evs)
		}
		byKind[ev.Kind] = append(byKind[ev.Kind], ev.Subject+": "+ev.Text)
	}
	me := breaker.ThisProcess()
	who := " (" + me.User + "@" + me.Host + ")"
	want := map[dashboard.EventKind][]string{
		dashboard.BreakerEvent: {"aramex: closed → forced open: trip 2" + who, "aramex: forced open → closed: reset 2" + who},
		dashboard.AlertEvent:   {"smsa: alert resolved (down for", "smsa: down alert: 1 consecutive failures: HTTP 503"},
		dashboard.ChaosEvent:   {x.ID + ": started by " + w.other.Chaos.Who + ": latency 1ms on smsa for 10m0s (drill)", x.ID + ": stopped by " + w.other.Chaos.Who + ": enough"},
	}
	for kind, lines := range want {
		got := byKind[kind]
		if len(got) != len(lines) {
			t.Fatalf("%s events %q, want the latest %d: %q", kind, got, len(lines), lines)
		}
		for i := range lines {
			if !strings.HasPrefix(got[i], lines[i]) {
				t.Errorf("%s event %d is %q, want %q…", kind, i, got[i], lines[i])
			}
		}
	}
}

func TestQueueOpsPagesEveryDeadOperationOnceAndRedactsSecrets(t *testing.T) {
	w := newWorld(t, Options{})
	ctx := context.Background()
	var ops []*queue.Operation
	var ids []string
	for i := range 25 {
		id := fmt.Sprintf("order-%02d", i)
		ids = append(ids, id)
		ops = append(ops, &queue.Operation{ID: id, Data: json.RawMessage(fmt.Sprintf(`{"n":%d,"api_key":"s3cret-key-%d"}`, i, i)),
			Request: &queue.Request{Method: "POST", URL: "https://api.example.test/orders?token=s3cret-url-token",
				Headers: map[string]string{"Authorization": "Bearer s3cret-header-token", "X-Trace": "t-1"}}})
	}
	push(t, w, "orders", ops...)
	kill(t, w, "orders")
	var paged []string
	cursor, pages := "", 0
	for {
		got, next, err := w.backend.QueueOps(ctx, "orders", "dead", cursor, 10)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		if len(got) > 10 {
			t.Fatalf("page %d has %d operations, asked for 10", pages, len(got))
		}
		raw, _ := json.Marshal(got)
		if strings.Contains(string(raw), "s3cret") {
			t.Fatalf("page %d shows a secret: %s", pages, raw)
		}
		for _, o := range got {
			paged = append(paged, o.ID)
			if o.Request.Headers["Authorization"] != "***" || o.Request.Headers["X-Trace"] != "t-1" || !strings.Contains(string(o.Data), `"api_key":"***"`) {
				t.Fatalf("%s is not redacted as queue inspect redacts: %+v %s", o.ID, o.Request, o.Data)
			}
		}
		if next == "" {
			break
		}
		if pages > 5 {
			t.Fatal("no end after 5 pages of 10 for 25 operations")
		}
		cursor = next
	}
	slices.Sort(paged)
	if pages != 3 || !slices.Equal(paged, ids) {
		t.Fatalf("%d pages giving %v, want 3 pages with each of the 25 ids once", pages, paged)
	}
	if got, next, err := w.backend.QueueOps(ctx, "orders", "inflight", "", 10); err != nil || len(got) != 0 || next != "" {
		t.Fatalf("in flight: %v %q %v, want none", got, next, err)
	}
	if _, _, err := w.backend.QueueOps(ctx, "orders", "archived", "", 10); !queue.IsInput(err) {
		t.Fatalf("an unknown state: %v, want the engine's input error", err)
	}
}

func TestDrillDownsShowABreakerAServiceAndAnExperiment(t *testing.T) {
	w := newWorld(t, Options{})
	ctx := context.Background()
	if _, err := w.other.Breakers.Trip(ctx, "aramex", "maintenance window"); err != nil {
		t.Fatal(err)
	}
	bd, err := w.backend.BreakerDetail(ctx, "aramex", 10)
	if err != nil {
		t.Fatal(err)
	}
	if bd.Status.State != breaker.ForcedOpen || bd.Status.Settings.FailureThreshold != 3 || len(bd.Events) != 1 || bd.Events[0].Reason != "maintenance window" {
		t.Fatalf("breaker detail %+v, want forced open with its settings and the trip event", bd)
	}

	_, url := flaky(t)
	chk := health.Check{Name: "smsa", URL: url + "/health", Alert: health.AlertPolicy{FailureThreshold: 2, SuccessThreshold: 1}}.WithDefaults()
	check(t, w, chk, 3)
	sd, err := w.backend.ServiceChecks(ctx, "smsa", 2)
	if err != nil {
		t.Fatal(err)
	}
	if sd.Status.Status != "unhealthy" || sd.Status.ConsecutiveFailures != 3 || len(sd.Checks) != 2 || sd.Checks[0].OK || sd.Checks[0].Code != 503 ||
		!sd.Checks[0].At.After(sd.Checks[1].At) && !sd.Checks[0].At.Equal(sd.Checks[1].At) {
		t.Fatalf("service detail %+v, want unhealthy with its 2 latest checks, newest first", sd)
	}
	if len(sd.Alerts) != 1 || sd.Alerts[0].Kind != "fired" || sd.Alerts[0].ConsecutiveFailures != 2 {
		t.Fatalf("service alerts %+v, want the one that fired at 2 failures", sd.Alerts)
	}

	x := start(t, w, "smsa")
	if _, err := w.other.Chaos.Stop(ctx, x.ID, "seen enough"); err != nil {
		t.Fatal(err)
	}
	a, err := w.backend.ExperimentAudit(ctx, x.ID, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(a) != 2 || a[0].Event != "started" || a[1].Event != "stopped" || a[1].Detail != "seen enough" {
		t.Fatalf("experiment audit %+v, want started then stopped with the reason", a)
	}
	if _, err := w.backend.BreakerDetail(ctx, "{bad}", 1); err == nil {
		t.Fatal("an invalid breaker name was read")
	}
}

// When Redis goes away, Follow ends with an error (the dashboard then
// shows the outage and follows again), rather than hanging.
func TestFollowEndsWithAnErrorWhenRedisGoesAway(t *testing.T) {
	var url string
	var stop func()
	if testredis.Real(t) {
		s, err := testredis.StartServer(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Stop(true) })
		url, stop = s.URL(), func() { s.Stop(true) }
	} else {
		m := miniredis.RunT(t)
		url, stop = "redis://"+m.Addr()+"/0", m.Close
	}
	o := options(t, testredis.Namespace(t))
	o.Redis.URL = url
	b := New(open(t, o), Options{})
	done := make(chan error, 1)
	go func() { done <- b.Follow(context.Background(), func(dashboard.Event) {}) }()
	testredis.Eventually(t, 10*time.Second, "Follow subscribes", func() bool {
		c := redis.NewClient(&redis.Options{Addr: strings.TrimSuffix(strings.TrimPrefix(url, "redis://"), "/0")})
		defer c.Close()
		n, _ := c.PubSubNumSub(context.Background(), store.Keys{Namespace: o.Namespace}.BreakerChannel()).Result()
		return n[store.Keys{Namespace: o.Namespace}.BreakerChannel()] >= 1
	})
	stop()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("Follow ended without an error when Redis went away")
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Follow still runs 20 s after Redis went away")
	}
}

// A stored probe error that quotes a URL with a token (a library's
// message, another language's checker) is masked in the refresh.
func TestSnapshotMasksTokensInProbeErrors(t *testing.T) {
	w := newWorld(t, Options{})
	ctx := context.Background()
	_, url := flaky(t)
	chk := health.Check{Name: "smsa", URL: url}.WithDefaults()
	if err := w.other.Health.Register(ctx, chk); err != nil {
		t.Fatal(err)
	}
	check(t, w, chk, 1)
	// as a checker that quotes its URL would have stored it
	key := store.Keys{Namespace: w.ns}.Health("smsa")
	if err := w.other.Redis.HSet(ctx, key, "error", `Get "https://smsa.example/health?token=s3cret-probe-token": EOF`).Err(); err != nil {
		t.Fatal(err)
	}
	s, err := w.backend.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(s.Services, func(st health.Status) bool { return st.Service == "smsa" })
	if i < 0 {
		t.Fatal("smsa is not in the snapshot")
	}
	if e := s.Services[i].Error; strings.Contains(e, "s3cret") || !strings.Contains(e, "smsa.example/health") {
		t.Fatalf("the refresh shows the probe error %q: want the URL with its token masked", e)
	}
}
