package gameday

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/haderos/haderctl/internal/engine/breaker"
	"github.com/haderos/haderctl/internal/engine/chaos"
	"github.com/haderos/haderctl/internal/engine/chaos/faults"
	"github.com/haderos/haderctl/internal/engine/health"
	"github.com/haderos/haderctl/internal/engine/snapshot"
	"github.com/haderos/haderctl/internal/engine/store"
	"github.com/haderos/haderctl/internal/engine/transport"
	"github.com/haderos/haderctl/internal/testredis"
	"github.com/redis/go-redis/v9"
)

func TestMain(m *testing.M) { os.Exit(testredis.Main(m)) }

// env is a namespace with chaos enabled, a data plane and a test service
// called through it.
type env struct {
	c      *chaos.Client
	faults *faults.Faults
	client *http.Client
	srv    *httptest.Server
	ns     string
}

func setup(t *testing.T) *env {
	t.Helper()
	rdb := testredis.Client(t)
	ns := testredis.Namespace(t)
	keys := store.Keys{Namespace: ns}
	c := chaos.New(rdb, chaos.Options{Keys: keys, Environment: "test"})
	if err := c.Enable(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	f := faults.New(rdb, keys, "test", nil, nil)
	f.Start(ctx)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	t.Cleanup(srv.Close)
	return &env{c: c, faults: f, ns: ns, srv: srv, client: &http.Client{Transport: &faults.Transport{Base: http.DefaultTransport, Faults: f}}}
}

// reader reads the namespace's state as the game day's probes do; b
// (may be nil) gives the breakers' own settings.
func (e *env) reader(t *testing.T, b *breaker.Engine, configuredServices ...string) *snapshot.Reader {
	o := snapshot.Options{Keys: store.Keys{Namespace: e.ns}, ConfiguredServices: configuredServices}
	if b != nil {
		o.Breaker = b.SnapshotPart(nil)
	}
	return snapshot.NewReader(testredis.Client(t), o)
}

// call makes one request to the test service as service svc.
func (e *env) call(t *testing.T, svc, path string, timeout time.Duration) (int, time.Duration, error) {
	// the clock starts before the deadline is set, so a call the deadline
	// ends is never measured shorter than it
	start := time.Now()
	ctx, cancel := context.WithTimeout(transport.WithService(context.Background(), svc), timeout)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", e.srv.URL+path, nil)
	resp, err := e.client.Do(req)
	if err != nil {
		return 0, time.Since(start), err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, time.Since(start), nil
}

// junitReport is what a JUnit consumer reads.
type junitReport struct {
	Suites []struct {
		Name     string `xml:"name,attr"`
		Tests    int    `xml:"tests,attr"`
		Failures int    `xml:"failures,attr"`
		Cases    []struct {
			Name      string `xml:"name,attr"`
			Classname string `xml:"classname,attr"`
			Failure   *struct {
				Message string `xml:"message,attr"`
			} `xml:"failure"`
		} `xml:"testcase"`
	} `xml:"testsuite"`
}

func TestBuiltinScenariosParseAndPlan(t *testing.T) {
	all, err := Builtins()
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, s := range all {
		names[s.Name] = true
		if _, err := s.Plan([]string{"shopify", "aramex"}, 0.1); err != nil {
			t.Errorf("%s: %v", s.Name, err)
		}
	}
	for _, want := range []string{"network_storm", "service_cascade", "resource_crunch", "blackout"} {
		if !names[want] {
			t.Errorf("built-in %s missing", want)
		}
	}
	s, err := FindScenario("total_blackout")
	if err != nil || s.Name != "blackout" {
		t.Fatalf("alias: %v %v", s.Name, err)
	}
	// the cascade spreads: the i-th service starts i steps later
	c, _ := FindScenario("service_cascade")
	plan, err := c.Plan([]string{"a", "b", "c"}, 0.1)
	if err != nil || len(plan) != 3 || plan[1].Offset != 6*time.Second || plan[2].Experiment.Services[0] != "c" || plan[2].Experiment.Duration != 24*time.Second {
		t.Fatalf("cascade plan %+v %v", plan, err)
	}
	// network_storm: delays for 5 minutes, failures for 3
	n, _ := FindScenario("network_storm")
	plan, _ = n.Plan(nil, 1)
	if plan[0].Experiment.Kind != chaos.Latency || plan[0].Experiment.Duration != 5*time.Minute || plan[1].Experiment.Duration != 3*time.Minute {
		t.Fatalf("network_storm plan %+v", plan)
	}
	if _, err := ParseScenario([]byte("name: x\nphases: [{name: p, duration: 1s, experiments: [{kind: sneeze}]}]")); err == nil {
		t.Fatal("an unknown kind must be refused")
	}
	// "never" and negative values read as Never; no phase time means that
	for _, bad := range []string{
		"name: x\nphases: [{name: p, at: never, duration: 1s, experiments: [{kind: error}]}]",
		"name: x\nphases: [{name: p, at: -1s, duration: 1s, experiments: [{kind: error}]}]",
		"name: x\nphases: [{name: p, cascade_step: never, duration: 1s, experiments: [{kind: error}]}]",
		"name: x\nphases: [{name: p, duration: 1s, experiments: [{kind: latency, delay: never}]}]",
		"name: x\nphases: [{name: p, duration: 1s, experiments: [{kind: latency, delay: 1s, jitter: -2s}]}]",
		"name: x\nrecovery_deadline: never\nphases: [{name: p, duration: 1s, experiments: [{kind: error}]}]",
	} {
		_, err := ParseScenario([]byte(bad))
		var ie *chaos.InputError
		if !errors.As(err, &ie) || !strings.Contains(err.Error(), "never or negative") {
			t.Errorf("%q: err %v, want an input error naming never or negative", bad, err)
		}
	}
	if _, err := ParseScenario([]byte("name: x\nphases: [{name: p, at: 0s, duration: 1s, experiments: [{kind: latency, delay: 90, jitter: 0.5}]}]")); err != nil {
		t.Fatalf("seconds as numbers and a zero start are fine: %v", err)
	}
}

func TestGameDayPassesThenFailsWhenRecoveryDoesNotHappen(t *testing.T) {
	e := setup(t)
	rdb := testredis.Client(t)
	b := breaker.New(rdb, breaker.Options{Keys: store.Keys{Namespace: e.ns}})
	defer b.Close()
	// the blackout lasts long enough for a loaded machine to make the
	// few calls that open the breaker; the recovery deadline is a bound,
	// not a wait (the check ends as soon as it holds)
	s, err := ParseScenario([]byte(`
name: short_blackout
phases:
  - {name: out, at: 0s, duration: 2s, experiments: [{kind: error, status: 503}]}
probes:
  before: [{type: breakers_closed}]
  during: [{type: breakers_open, name: the breaker opens}]
  after: [{type: breakers_closed}]
recovery_deadline: 30s
`))
	if err != nil {
		t.Fatal(err)
	}
	gd := &GameDay{Chaos: e.c, State: e.reader(t, b), Targets: []string{"svc"}, Scale: 1, Poll: 20 * time.Millisecond}
	ctx, stopTraffic := context.WithCancel(context.Background())
	defer stopTraffic()

	// during the blackout calls fail and the breaker opens
	go func() {
		for ctx.Err() == nil {
			code, _, _ := e.call(t, "svc", "/", time.Second)
			if code == 503 {
				_, _ = b.Record(ctx, "svc", false)
			}
			time.Sleep(5 * time.Millisecond) // traffic, not synchronisation
		}
	}()
	// the service "recovers" once the game day has stopped the blackout:
	// its breaker is reset
	reset := make(chan error, 1)
	go func() {
		opened := false
		for ctx.Err() == nil {
			if !opened {
				snap, _, _ := b.Snapshot(ctx, []string{"svc"})
				opened = len(snap) == 1 && snap[0].State == breaker.Open
			} else if active, err := e.c.Active(ctx); err == nil && len(active) == 0 && len(e.faults.Active()) == 0 {
				_, err := b.Reset(ctx, "svc", "recovered")
				reset <- err
				return
			}
			time.Sleep(10 * time.Millisecond) // polling
		}
		reset <- ctx.Err()
	}()
	j, err := gd.Run(context.Background(), s)
	stopTraffic()
	if rerr := <-reset; rerr != nil && rerr != context.Canceled {
		t.Fatal(rerr)
	}
	if err != nil || j.Verdict != "passed" {
		t.Fatalf("game day: %v %+v", err, j)
	}
	if len(j.Steps) != 1 || j.Steps[0].Recovery == nil || j.Steps[0].Impact == nil || j.Steps[0].Impact.Calls == 0 {
		t.Fatalf("journal step %+v: want its recovery time and counted impact", j.Steps)
	}
	if len(e.faults.Active()) != 0 {
		testredis.Eventually(t, 10*time.Second, "the game day's experiments are gone", func() bool { return len(e.faults.Active()) == 0 })
	}

	// now the breaker is forced open and stays so: recovery fails, exit 1
	if _, err := b.Trip(context.Background(), "svc", "stuck"); err != nil {
		t.Fatal(err)
	}
	s.Probes.Before, s.Probes.During = nil, nil
	s.Phases[0].Duration = Dur(100 * time.Millisecond)
	s.RecoveryDeadline = Dur(time.Second) // it never recovers: a short bound
	j, err = gd.Run(context.Background(), s)
	if err != nil || j.Verdict != "failed" {
		t.Fatalf("game day with a stuck breaker: %v %+v", err, j)
	}
	var buf bytes.Buffer
	if err := WriteJUnit(&buf, j); err != nil {
		t.Fatal(err)
	}
	var r junitReport
	if err := xml.Unmarshal(buf.Bytes(), &r); err != nil {
		t.Fatalf("the JUnit report does not parse: %v\n%s", err, buf.String())
	}
	if len(r.Suites) != 1 || r.Suites[0].Failures != 1 || r.Suites[0].Tests != 1 ||
		r.Suites[0].Cases[0].Classname != "chaos.short_blackout.after" || r.Suites[0].Cases[0].Failure == nil {
		t.Fatalf("JUnit %+v\n%s", r, buf.String())
	}
}

func TestDefaultDuringProbeWantsBreakersOpenWhereCallsFailed(t *testing.T) {
	e := setup(t)
	b := breaker.New(testredis.Client(t), breaker.Options{Keys: store.Keys{Namespace: e.ns}})
	defer b.Close()
	// long enough for the data plane's 1 s flushes to count the failures
	// on a loaded machine
	s, err := ParseScenario([]byte("name: quiet_breaker\nphases: [{name: out, at: 0s, duration: 4s, experiments: [{kind: error, status: 503}]}]\nrecovery_deadline: 1s\n"))
	if err != nil {
		t.Fatal(err)
	}
	// calls fail, but nothing reports them to the breaker: it stays closed
	ctx, stopTraffic := context.WithCancel(context.Background())
	defer stopTraffic()
	go func() {
		for ctx.Err() == nil {
			e.call(t, "svc", "/", time.Second)
			time.Sleep(10 * time.Millisecond) // traffic, not synchronisation
		}
	}()
	gd := &GameDay{Chaos: e.c, State: e.reader(t, b), Targets: []string{"svc"}, Scale: 1, Poll: 50 * time.Millisecond}
	j, err := gd.Run(context.Background(), s)
	if err != nil {
		t.Fatal(err)
	}
	if j.Verdict != "failed" || !strings.Contains(j.Reason, "during") {
		t.Fatalf("verdict %s (%s), want failed during: the breaker of a failing service did not open; probes %+v", j.Verdict, j.Reason, j.Probes)
	}
	var during *ProbeResult
	for i := range j.Probes {
		if j.Probes[i].Stage == "during" {
			during = &j.Probes[i]
		}
	}
	if during == nil || during.OK || !strings.Contains(during.Detail, "svc closed after") {
		t.Fatalf("during probe %+v", during)
	}
}

func TestHealthyProbeJudgesOnlyServicesWithACheckNow(t *testing.T) {
	e := setup(t)
	rdb := testredis.Client(t)
	hc := health.New(rdb, health.Options{Keys: store.Keys{Namespace: e.ns}})
	ctx := context.Background()
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(503) }))
	defer down.Close()
	for _, chk := range []health.Check{{Name: "up", URL: e.srv.URL}, {Name: "gone", URL: down.URL}} {
		if err := hc.Register(ctx, chk); err != nil {
			t.Fatal(err)
		}
		if _, err := hc.Check(ctx, chk.WithDefaults()); err != nil {
			t.Fatal(err)
		}
	}
	healthy := Probe{Type: "healthy"}
	for _, targets := range [][]string{{"up", "gone"}, {"*"}} {
		gd := &GameDay{Chaos: e.c, State: e.reader(t, nil), Targets: targets}
		// while "gone" has a check, its failure counts
		if ok, detail := gd.probe(ctx, healthy); ok || !strings.Contains(detail, "gone") {
			t.Fatalf("targets %v, gone registered and failing: %v %q, want it judged unhealthy", targets, ok, detail)
		}
	}
	if _, err := hc.Unregister(ctx, "gone"); err != nil {
		t.Fatal(err)
	}
	for _, targets := range [][]string{{"up", "gone"}, {"*"}} {
		gd := &GameDay{Chaos: e.c, State: e.reader(t, nil), Targets: targets}
		if ok, detail := gd.probe(ctx, healthy); !ok || detail != "1 services healthy" {
			t.Fatalf("targets %v, gone unregistered: %v %q, want only up judged", targets, ok, detail)
		}
	}
	// the checks the command lists (configured ones too) are the ones judged
	gd := &GameDay{Chaos: e.c, State: e.reader(t, nil, "up", "gone"), Targets: []string{"*"}}
	if ok, _ := gd.probe(ctx, healthy); ok {
		t.Fatal("a service the checks list (from the config) was not judged")
	}
}

// pipelineCounter counts what a client sends: pipelines and lone commands.
type pipelineCounter struct{ pipelines, commands atomic.Int64 }

func (c *pipelineCounter) DialHook(next redis.DialHook) redis.DialHook { return next }
func (c *pipelineCounter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		c.commands.Add(1)
		return next(ctx, cmd)
	}
}
func (c *pipelineCounter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		c.pipelines.Add(1)
		return next(ctx, cmds)
	}
}

// One evaluation round of any number of probes reads one snapshot: one
// pipelined round trip once the reader knows the names, and no writes.
func TestProbesOfOneRoundShareOneSnapshot(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	keys := store.Keys{Namespace: e.ns}
	hc := health.New(testredis.Client(t), health.Options{Keys: keys})
	chk := health.Check{Name: "svc", URL: e.srv.URL}
	if err := hc.Register(ctx, chk); err != nil {
		t.Fatal(err)
	}
	if _, err := hc.Check(ctx, chk.WithDefaults()); err != nil {
		t.Fatal(err)
	}
	rdb := testredis.Client(t) // a client of its own, so only the reader's traffic is counted
	var n pipelineCounter
	rdb.AddHook(&n)
	gd := &GameDay{Chaos: e.c, State: snapshot.NewReader(rdb, snapshot.Options{Keys: keys}), Targets: []string{"svc"}}
	probes := []Probe{{Type: "breakers_closed"}, {Type: "healthy"}, {Type: "queue_drained", Queue: "orders"}}
	j := &Journal{}
	if !gd.check(ctx, j, "before", probes, 0) { // the cold read learns the names
		t.Fatalf("steady state did not hold: %+v", j.Probes)
	}
	n.pipelines.Store(0)
	n.commands.Store(0)
	if !gd.check(ctx, j, "before", probes, 0) {
		t.Fatalf("steady state did not hold: %+v", j.Probes)
	}
	if p, c := n.pipelines.Load(), n.commands.Load(); p != 1 || c != 0 {
		t.Fatalf("one round of %d probes sent %d pipelines and %d lone commands, want 1 and 0", len(probes), p, c)
	}
}

// With every service as the target, the breaker probes judge the breakers
// Redis knows, as they did before they read a snapshot: a service of the
// config whose breaker no call has used yet is not judged (it is not
// "closed" against breakers_open).
func TestBreakerProbesOnEveryServiceSkipBreakersRedisNeverHeardOf(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	b := breaker.New(testredis.Client(t), breaker.Options{Keys: store.Keys{Namespace: e.ns},
		Settings: func(string) breaker.Settings {
			return breaker.Settings{FailureThreshold: 1, RecoveryTimeout: time.Hour}
		}})
	defer b.Close()
	if _, err := b.Record(ctx, "svc", false); err != nil {
		t.Fatal(err)
	}
	o := snapshot.Options{Keys: store.Keys{Namespace: e.ns}, Breaker: b.SnapshotPart([]string{"idle"})}
	gd := &GameDay{Chaos: e.c, State: snapshot.NewReader(testredis.Client(t), o), Targets: []string{"*"}}
	if ok, detail := gd.probe(ctx, Probe{Type: "breakers_open"}); !ok || detail != "1 breakers" {
		t.Fatalf("breakers_open on every service, svc open and idle never used: %v %q, want held on 1 breaker", ok, detail)
	}
	if ok, detail := gd.probe(ctx, Probe{Type: "breakers_closed"}); ok || detail != "svc open" {
		t.Fatalf("breakers_closed on every service: %v %q, want svc alone judged open", ok, detail)
	}
	// named, a breaker Redis never heard of is closed
	if ok, detail := gd.probe(ctx, Probe{Type: "breakers_open", Services: []string{"svc", "idle"}}); ok || detail != "idle closed" {
		t.Fatalf("breakers_open on svc and idle: %v %q, want idle judged closed", ok, detail)
	}
}

// breakers_open_where_failing compares a service's failed calls with the
// failure threshold in force: for a breaker Redis never heard of, the one
// it would start with (this process' own settings), not the defaults.
func TestOpenWhereFailingUsesOwnThresholdForABreakerRedisNeverHeardOf(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	rdb := testredis.Client(t)
	keys := store.Keys{Namespace: e.ns}
	if err := rdb.HSet(ctx, keys.ChaosImpact(chaos.ServiceImpactKey("x1", "svc")), "errors", 7).Err(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		threshold int
		ok        bool
		detail    string
	}{{10, true, notJudged}, {6, false, "svc closed after 7 failed calls"}} {
		b := breaker.New(rdb, breaker.Options{Keys: keys,
			Settings: func(string) breaker.Settings { return breaker.Settings{FailureThreshold: tc.threshold} }})
		gd := &GameDay{Chaos: e.c, State: e.reader(t, b), Targets: []string{"svc"}, started: map[string][]string{"x1": {"svc"}}}
		ok, detail := gd.probe(ctx, Probe{Type: "breakers_open_where_failing"})
		b.Close()
		if ok != tc.ok || detail != tc.detail {
			t.Errorf("7 failed calls, own threshold %d, svc unknown to Redis: %v %q, want %v %q", tc.threshold, ok, detail, tc.ok, tc.detail)
		}
	}
}

// A game day whose context ends while a check waits to hold (Ctrl-C, the
// demo's q) is interrupted, not failed: the check was cut short, not
// judged; the experiments it started are stopped.
func TestGameDayCutShortDuringItsChecksIsInterrupted(t *testing.T) {
	e := setup(t)
	rdb := testredis.Client(t)
	b := breaker.New(rdb, breaker.Options{Keys: store.Keys{Namespace: e.ns}})
	defer b.Close()
	s, err := ParseScenario([]byte(`
name: never_opens
phases:
  - {name: out, at: 0s, duration: 1m, experiments: [{kind: error, status: 503}]}
probes:
  during: [{type: breakers_open, name: a breaker no call opens}]
`))
	if err != nil {
		t.Fatal(err)
	}
	gd := &GameDay{Chaos: e.c, State: e.reader(t, b), Targets: []string{"svc"}, Scale: 1, Poll: 20 * time.Millisecond}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	gd.OnEvent = func(line string) {
		if strings.HasPrefix(line, "scheduled ") {
			cancel() // the user ends it while the during check waits
		}
	}
	j, err := gd.Run(ctx, s)
	if err != nil || j.Verdict != "interrupted" {
		t.Fatalf("game day cut short: %v %+v", err, j)
	}
	testredis.Eventually(t, 10*time.Second, "the experiment it started is stopped", func() bool {
		active, err := e.c.Active(context.Background())
		return err == nil && len(active) == 0
	})
}

// An experiment on two services fails each one's calls at its own pace,
// so their breakers may open at different moments: the during probe
// holds once each has been seen open in the stage, not only when both
// are open at once. A breaker never seen open still fails it.
func TestOpenWhereFailingCountsABreakerSeenOpenEarlierInTheStage(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	x := startErrorsOnAB(t, e)
	failCalls(t, e, x.ID, map[string]int{"a": 3, "b": 3})
	gd := &GameDay{Chaos: e.c, started: map[string][]string{x.ID: {"a", "b"}}}
	names := []string{"a", "b"}
	if ok, detail := gd.openWhereFailing(ctx, snapAB(breaker.Open, breaker.Closed), names); ok || !strings.Contains(detail, "b closed") {
		t.Fatalf("a open, b never open: %v %q, want b named", ok, detail)
	}
	if ok, detail := gd.openWhereFailing(ctx, snapAB(breaker.Closed, breaker.Open), names); !ok || detail != "open: a, b" {
		t.Fatalf("a seen open before, b open now: %v %q, want it to hold", ok, detail)
	}
	gd.seenOpen = map[string]bool{} // a new stage forgets
	if ok, _ := gd.openWhereFailing(ctx, snapAB(breaker.Closed, breaker.Open), names); ok {
		t.Fatal("a new stage: a never seen open, yet the probe held")
	}
}

// An experiment on two services that fails only one's calls judges that
// one: the other's breaker staying closed is no deviation (the demo's
// game day once failed on "shopify closed after 62 failed calls", the
// calls failed being its neighbours').
func TestOpenWhereFailingJudgesEachServiceByItsOwnCalls(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	x := startErrorsOnAB(t, e)
	failCalls(t, e, x.ID, map[string]int{"a": 4, "b": 1})
	gd := &GameDay{Chaos: e.c, started: map[string][]string{x.ID: {"a", "b"}}}
	if ok, detail := gd.openWhereFailing(ctx, snapAB(breaker.Closed, breaker.Closed), []string{"a", "b"}); ok || detail != "a closed after 4 failed calls" {
		t.Fatalf("a failed 4 calls and stayed closed: %v %q, want a named, b not", ok, detail)
	}
	if ok, detail := gd.openWhereFailing(ctx, snapAB(breaker.Open, breaker.Closed), []string{"a", "b"}); !ok || detail != "open: a" {
		t.Fatalf("a failed 4 calls and is open, b failed 1: %v %q, want it to hold judging a only", ok, detail)
	}
}

// startErrorsOnAB starts an experiment answering 503 to every call to a
// and b, stopped when the test ends, and waits until the data plane runs it.
func startErrorsOnAB(t *testing.T, e *env) chaos.Experiment {
	t.Helper()
	x, err := e.c.Start(context.Background(), chaos.Experiment{Kind: "error", Status: 503, Services: []string{"a", "b"}, Probability: 1, Duration: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = e.c.Stop(context.Background(), x.ID, "test over") })
	testredis.Eventually(t, 10*time.Second, "the data plane runs the experiment", func() bool { return len(e.faults.Active()) == 1 })
	return x
}

// failCalls makes each service's calls under experiment id fail the given
// number of times and waits until the data plane has flushed them.
func failCalls(t *testing.T, e *env, id string, calls map[string]int) {
	t.Helper()
	for svc, n := range calls {
		for range n {
			if code, _, err := e.call(t, svc, "/", time.Second); err != nil || code != 503 {
				t.Fatalf("a call to %s under the experiment: %d %v", svc, code, err)
			}
		}
	}
	for svc, n := range calls {
		testredis.Eventually(t, 10*time.Second, "the failed calls to "+svc+" are counted", func() bool {
			got, err := e.c.FailedCallsOn(context.Background(), id, svc)
			return err == nil && got == int64(n)
		})
	}
}

// snapAB is a snapshot of breakers a and b (failure threshold 3).
func snapAB(a, b breaker.State) *snapshot.Snapshot {
	st := breaker.Settings{FailureThreshold: 3}
	return &snapshot.Snapshot{Breakers: []breaker.Status{{Name: "a", State: a, Known: true, Settings: st}, {Name: "b", State: b, Known: true, Settings: st}}}
}
