package faults

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/haderos/haderctl/internal/engine/chaos"
	"github.com/haderos/haderctl/internal/engine/store"
	"github.com/haderos/haderctl/internal/engine/transport"
	"github.com/haderos/haderctl/internal/testredis"
)

// childEnv makes the test binary act as another haderctl process
// (TestMain): "start" starts an experiment and blocks until killed;
// "stop-all" runs the emergency stop and exits.
const childEnv = "HADERCTL_CHAOS_CHILD"

func TestMain(m *testing.M) {
	if what := os.Getenv(childEnv); what != "" {
		os.Exit(runChild(what))
	}
	os.Exit(testredis.Main(m))
}

func runChild(what string) int {
	rdb, err := store.Open(store.Options{URL: os.Getenv("HADERCTL_CHAOS_REDIS"), Timeout: 5 * time.Second})
	if err != nil {
		return 3
	}
	c := chaos.New(rdb, chaos.Options{Keys: store.Keys{Namespace: os.Getenv("HADERCTL_CHAOS_NS")}, Environment: "test"})
	ctx := context.Background()
	switch what {
	case "start":
		d, _ := time.ParseDuration(os.Getenv("HADERCTL_CHAOS_DURATION"))
		e, err := c.Start(ctx, chaos.Experiment{Kind: chaos.Error, Status: 503, Services: []string{"svc"}, Probability: 1, Duration: d})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		fmt.Println(e.ID)
		select {} // hold until SIGKILL
	case "stop-all":
		if _, err := c.StopAll(ctx, "from another process"); err != nil {
			return 1
		}
	case "data-plane":
		// print the number of active experiments whenever it changes,
		// until stdin closes (the propagation benchmark reads it)
		f := New(rdb, store.Keys{Namespace: os.Getenv("HADERCTL_CHAOS_NS")}, "test", nil, nil)
		ctx, cancel := context.WithCancel(ctx)
		go func() { _, _ = io.Copy(io.Discard, os.Stdin); cancel() }()
		f.Start(ctx)
		fmt.Println(len(f.Active()))
		last := len(f.Active())
		for ctx.Err() == nil {
			if n := len(f.Active()); n != last {
				fmt.Println(n)
				last = n
			}
			time.Sleep(50 * time.Microsecond) // polling the cache: the benchmark's resolution
		}
	}
	return 0
}

// seeded makes a data plane's probability and jitter rolls reproducible
// (behind a mutex: a rand.Rand is not safe for concurrent use).
func seeded(f *Faults, seed uint64) {
	var mu sync.Mutex
	r := rand.New(rand.NewPCG(seed, seed))
	f.roll = func() float64 { mu.Lock(); defer mu.Unlock(); return r.Float64() }
}

// delays records the delays a data plane was asked to wait, instead of
// waiting them.
type delays struct {
	mu sync.Mutex
	d  []time.Duration
}

func (w *delays) install(f *Faults) {
	f.wait = func(ctx context.Context, d time.Duration) error {
		w.mu.Lock()
		w.d = append(w.d, d)
		w.mu.Unlock()
		return ctx.Err()
	}
}

func (w *delays) taken() []time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := w.d
	w.d = nil
	return out
}

type env struct {
	c      *chaos.Client
	faults *Faults
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
	f := New(rdb, keys, "test", nil, nil)
	f.Start(ctx)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	t.Cleanup(srv.Close)
	return &env{c: c, faults: f, ns: ns, srv: srv,
		client: &http.Client{Transport: &Transport{Base: http.DefaultTransport, Faults: f}}}
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

// start starts an experiment and waits until the data plane has it.
func (e *env) start(t *testing.T, x chaos.Experiment) chaos.Experiment {
	t.Helper()
	got, err := e.c.Start(context.Background(), x)
	if err != nil {
		t.Fatal(err)
	}
	testredis.Eventually(t, 10*time.Second, "the data plane sees the experiment", func() bool {
		for _, a := range e.faults.Active() {
			if a.ID == got.ID {
				return true
			}
		}
		return false
	})
	return got
}

func TestErrorProbabilityIsTheShareOfRequestsAffected(t *testing.T) {
	e := setup(t)
	seeded(e.faults, 1)
	e.start(t, chaos.Experiment{Kind: chaos.Error, Status: 503, Services: []string{"shopify"}, Probability: 0.3, Duration: time.Minute})
	const n = 2000
	failed := 0
	for range n {
		code, _, err := e.call(t, "shopify", "/", 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if code == 503 {
			failed++
		}
	}
	// binomial(2000, 0.3): σ ≈ 20.5, so ±4σ ≈ ±82 requests (±4.1 %)
	share := float64(failed) / n
	if math.Abs(share-0.3) > 0.041 {
		t.Fatalf("%.1f%% of requests failed, want 30%% ± 4.1%%", share*100)
	}
	// other services are not targets
	for range 50 {
		if code, _, err := e.call(t, "aramex", "/", 5*time.Second); err != nil || code != 200 {
			t.Fatalf("a service not targeted was affected: %d %v", code, err)
		}
	}
}

func TestLatencyAbortTimeoutAndFilters(t *testing.T) {
	e := setup(t)
	seeded(e.faults, 1)
	w := &delays{}
	w.install(e.faults)
	e.start(t, chaos.Experiment{Kind: chaos.Latency, Delay: 200 * time.Millisecond, Jitter: 50 * time.Millisecond, Services: []string{"shopify"}, Probability: 1,
		Method: "GET", PathPrefix: "/slow", Duration: time.Minute})
	for range 5 {
		if _, _, err := e.call(t, "shopify", "/slow/x", 5*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	got := w.taken()
	if len(got) != 5 {
		t.Fatalf("%d of 5 matching requests were delayed", len(got))
	}
	for _, d := range got {
		if d < 150*time.Millisecond || d > 250*time.Millisecond {
			t.Fatalf("delays %v: want 200ms ± 50ms", got)
		}
	}
	if slices.Min(got) == slices.Max(got) {
		t.Fatalf("delays %v: the jitter spread none of them", got)
	}
	if _, _, err := e.call(t, "shopify", "/fast", 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.call(t, "aramex", "/slow/x", 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if got := w.taken(); len(got) != 0 {
		t.Fatalf("requests outside the path or service filter were delayed by %v", got)
	}

	// the real wait: on a timer, and given up with the caller
	e.faults.wait = sleepCtx
	_, d, err := e.call(t, "shopify", "/slow/x", 50*time.Millisecond)
	if !errors.Is(err, context.DeadlineExceeded) || d < 50*time.Millisecond {
		t.Fatalf("a delayed request with a 50ms deadline: %v after %s, want the caller's deadline", err, d)
	}
	e.start(t, chaos.Experiment{Kind: chaos.Abort, Services: []string{"aramex"}, Probability: 1, Duration: time.Minute})
	if _, _, err := e.call(t, "aramex", "/", 5*time.Second); !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("abort: %v, want a connection reset", err)
	}
	e.start(t, chaos.Experiment{Kind: chaos.Timeout, Services: []string{"smsa"}, Probability: 1, Duration: time.Minute})
	_, d, err = e.call(t, "smsa", "/", 150*time.Millisecond)
	if !errors.Is(err, context.DeadlineExceeded) || d < 150*time.Millisecond {
		t.Fatalf("timeout: %v after %s, want the caller's deadline", err, d)
	}
}

func TestAnExperimentEndsOnTimeAfterItsStarterIsKilled(t *testing.T) {
	e := setup(t)
	rdb := testredis.Client(t)
	const duration = 3 * time.Second
	child := exec.Command(os.Args[0], "-test.run=^$")
	child.Env = append(os.Environ(), childEnv+"=start", "HADERCTL_CHAOS_REDIS="+testredis.URL(t),
		"HADERCTL_CHAOS_NS="+e.ns, "HADERCTL_CHAOS_DURATION="+duration.String())
	out, _ := child.StdoutPipe()
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n') // the child prints the id once the experiment runs
	if err != nil {
		t.Fatalf("the child did not start an experiment: %v", err)
	}
	id := strings.TrimSpace(line)
	// its end is Redis' to keep: the key expires by itself, within its duration
	if ttl, err := rdb.PTTL(context.Background(), store.Keys{Namespace: e.ns}.ChaosExperiment(id)).Result(); err != nil || ttl <= 0 || ttl > duration {
		t.Fatalf("the experiment's key has TTL %s (%v), want at most its %s duration", ttl, err, duration)
	}
	_ = child.Process.Kill() // SIGKILL
	_ = child.Wait()
	testredis.Eventually(t, 10*time.Second, "the data plane has the experiment", func() bool { return len(e.faults.Active()) == 1 })
	end := e.faults.Active()[0].End()
	if code, _, _ := e.call(t, "svc", "/", time.Second); code != 503 && time.Now().Before(end) {
		t.Fatalf("while it runs: %d, want 503", code)
	}
	var stoppedAt time.Time
	testredis.Eventually(t, time.Until(end)+10*time.Second, "faults stop after the deadline", func() bool {
		code, _, _ := e.call(t, "svc", "/", time.Second)
		stoppedAt = time.Now()
		return code == 200
	})
	if stoppedAt.Before(end) {
		t.Fatalf("faults stopped at %s, before the experiment's end %s", stoppedAt.Format(time.StampMilli), end.Format(time.StampMilli))
	}
	entries, err := e.c.Audit(context.Background(), 10)
	if err != nil {
		t.Fatal(err)
	}
	if last := entries[len(entries)-1]; last.Event != "expired" || last.Target != id {
		t.Fatalf("the last audit entry is %+v, want the expiry of %s", last, id)
	}
}

func TestStopAllFromAnotherProcessReachesTheTransportOverPubSub(t *testing.T) {
	e := setup(t)
	rdb := testredis.Client(t)
	keys := store.Keys{Namespace: e.ns}
	// a data plane whose periodic re-read never comes: only the pub/sub
	// notice can tell it (how fast is BenchmarkPropagation's to measure)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	f := New(rdb, keys, "test", nil, nil)
	f.refresh = time.Hour
	f.Start(ctx)
	testredis.Eventually(t, 10*time.Second, "both data planes subscribe", func() bool {
		n, err := rdb.PubSubNumSub(ctx, keys.ChaosChannel()).Result()
		return err == nil && n[keys.ChaosChannel()] >= 2
	})
	e.start(t, chaos.Experiment{Kind: chaos.Error, Status: 500, Services: []string{"*"}, Probability: 1, Duration: 10 * time.Minute})
	e.start(t, chaos.Experiment{Kind: chaos.Latency, Delay: time.Millisecond, Services: []string{"svc"}, Probability: 1, Duration: 10 * time.Minute})
	testredis.Eventually(t, 10*time.Second, "the notice of the starts reaches it", func() bool { return len(f.Active()) == 2 })
	child := exec.Command(os.Args[0], "-test.run=^$")
	child.Env = append(os.Environ(), childEnv+"=stop-all", "HADERCTL_CHAOS_REDIS="+testredis.URL(t), "HADERCTL_CHAOS_NS="+e.ns)
	if out, err := child.CombinedOutput(); err != nil {
		t.Fatalf("stop-all: %v %s", err, out)
	}
	testredis.Eventually(t, 10*time.Second, "stop-all's notice reaches the data plane", func() bool { return len(f.Active()) == 0 })
	client := &http.Client{Transport: &Transport{Base: http.DefaultTransport, Faults: f}}
	req, _ := http.NewRequestWithContext(transport.WithService(ctx, "svc"), "GET", e.srv.URL, nil)
	resp, err := client.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("a call after stop-all: %v %v, want it untouched", resp, err)
	}
	resp.Body.Close()
	_, err = e.c.Start(context.Background(), chaos.Experiment{Kind: chaos.Abort, Services: []string{"svc"}, Probability: 1, Duration: time.Minute})
	var refused *chaos.RefusedError
	if !errors.As(err, &refused) {
		t.Fatalf("a start after stop-all: %v, want refused until resume", err)
	}
	if err := e.c.Resume(context.Background()); err != nil {
		t.Fatal(err)
	}
	e.start(t, chaos.Experiment{Kind: chaos.Abort, Services: []string{"svc"}, Probability: 1, Duration: time.Minute})
}

func TestSafetyGuardsRefuseAndAudit(t *testing.T) {
	rdb := testredis.Client(t)
	keys := store.Keys{Namespace: testredis.Namespace(t)}
	ctx := context.Background()
	x := chaos.Experiment{Kind: chaos.Abort, Services: []string{"svc"}, Probability: 1, Duration: time.Minute}
	var refused *chaos.RefusedError
	for _, envName := range []string{"", "production", "qa"} {
		c := chaos.New(rdb, chaos.Options{Keys: keys, Environment: envName})
		if err := c.Enable(ctx); !errors.As(err, &refused) {
			t.Fatalf("enable in %q: %v, want refused", envName, err)
		}
	}
	c := chaos.New(rdb, chaos.Options{Keys: keys, Environment: "staging", Limits: chaos.Limits{MaxConcurrent: 2, MaxPerHour: 3, MaxDuration: time.Minute}})
	if _, err := c.Start(ctx, x); !errors.As(err, &refused) {
		t.Fatalf("start while disabled: %v, want refused", err)
	}
	if err := c.Enable(ctx); err != nil {
		t.Fatal(err)
	}
	long := x
	long.Duration = 2 * time.Minute
	if _, err := c.Start(ctx, long); !errors.As(err, &refused) {
		t.Fatalf("over the duration limit: %v", err)
	}
	a, err := c.Start(ctx, x)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Start(ctx, x); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Start(ctx, x); !errors.As(err, &refused) {
		t.Fatalf("a third at once with max 2: %v", err)
	}
	if r, err := c.Stop(ctx, a.ID, "done"); err != nil || len(r.Stopped) != 1 || len(r.Warnings) != 0 {
		t.Fatalf("stop: %+v %v", r, err)
	}
	if _, err := c.Start(ctx, x); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Start(ctx, x); !errors.As(err, &refused) {
		t.Fatalf("a fourth start in the hour with max 3 per hour: %v", err)
	}
	entries, err := c.Audit(ctx, 100)
	if err != nil {
		t.Fatal(err)
	}
	count := map[string]int{}
	for _, en := range entries {
		count[en.Event]++
	}
	if count["refused"] != 7 || count["started"] != 3 || count["stopped"] != 1 || count["enabled"] != 1 {
		t.Fatalf("audit counts %v", count)
	}

	// a production data plane ignores experiments
	prod := New(rdb, keys, "production", nil, nil)
	pctx, cancel := context.WithCancel(ctx)
	defer cancel()
	prod.Start(pctx)
	if len(prod.Active()) != 0 || prod.Loads() != 0 {
		t.Fatalf("a production process loaded experiments: %v", prod.Active())
	}
}

func TestTheDataPlaneCountsTheImpactOfAnExperiment(t *testing.T) {
	e := setup(t)
	seeded(e.faults, 2)
	x := e.start(t, chaos.Experiment{Kind: chaos.Error, Status: 503, Services: []string{"shopify"}, Probability: 0.5, Duration: time.Minute})
	for range 200 {
		if _, _, err := e.call(t, "shopify", "/", 5*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	var im chaos.Impact
	testredis.Eventually(t, 10*time.Second, "the counts reach Redis (flushed every second)", func() bool {
		var err error
		im, err = e.c.Impact(context.Background(), x)
		return err == nil && im.Calls+im.BaselineCalls == 200
	})
	if im.Calls < 60 || im.Calls > 140 || *im.ErrorRate != 1 || *im.BaselineErrorRate != 0 {
		t.Fatalf("impact %+v (error rate %v, baseline %v): about half the calls affected, all of those failed, none of the others", im, *im.ErrorRate, *im.BaselineErrorRate)
	}
}

func TestWithRedisUnreachableTheDataPlaneInjectsNothing(t *testing.T) {
	e := setup(t)
	e.start(t, chaos.Experiment{Kind: chaos.Abort, Services: []string{"svc"}, Probability: 1, Duration: time.Minute})
	// a second data plane whose Redis is gone
	dead, err := store.Open(store.Options{URL: "redis://127.0.0.1:1/0", Timeout: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer dead.Close()
	f := New(dead, store.Keys{Namespace: e.ns}, "test", nil, nil)
	f.active.Store(f.arm(chaos.ActiveSet{Now: time.Now(), Experiments: []chaos.Experiment{
		{ID: "stale", Kind: chaos.Abort, Services: []string{"svc"}, Probability: 1, EndMs: time.Now().Add(time.Hour).UnixMilli()}}}))
	f.reload(context.Background())
	if len(f.Active()) != 0 {
		t.Fatalf("with Redis unreachable the cache holds %v, want nothing (fail safe)", f.Active())
	}
	client := &http.Client{Transport: &Transport{Base: http.DefaultTransport, Faults: f}}
	req, _ := http.NewRequestWithContext(transport.WithService(context.Background(), "svc"), "GET", e.srv.URL, nil)
	resp, err := client.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("call with Redis down: %v %v, want it to go through untouched", resp, err)
	}
	resp.Body.Close()
}
