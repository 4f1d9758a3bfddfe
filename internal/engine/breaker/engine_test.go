package breaker

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/haderos/haderctl/internal/engine/store"
	"github.com/haderos/haderctl/internal/testredis"
	"github.com/redis/go-redis/v9"
)

// commandCounter is a go-redis hook counting the commands sent.
type commandCounter struct{ n atomic.Int64 }

func (c *commandCounter) DialHook(next redis.DialHook) redis.DialHook { return next }
func (c *commandCounter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error { c.n.Add(1); return next(ctx, cmd) }
}
func (c *commandCounter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error { c.n.Add(int64(len(cmds))); return next(ctx, cmds) }
}

func TestClosedHappyPathCostsNoRoundTrip(t *testing.T) {
	e := newTestEngine(t, Options{})
	counter := &commandCounter{}
	e.rdb.AddHook(counter)
	ctx := context.Background()
	// Warm up: the first calls read the state, register the name and load
	// the scripts into Redis (EVALSHA, then EVAL once).
	for _, ok := range []bool{false, true} {
		done, err := e.Allow(ctx, "svc")
		if err != nil {
			t.Fatal(err)
		}
		done(ok)
	}
	before := counter.n.Load()
	for i := 0; i < 1000; i++ {
		done, err := e.Allow(ctx, "svc")
		if err != nil {
			t.Fatal(err)
		}
		done(true)
	}
	// The backstop re-read may run meanwhile (a TIME and an HMGET per second).
	if sent := counter.n.Load() - before; sent > 4 {
		t.Fatalf("1000 successful calls on a closed breaker sent %d Redis commands", sent)
	}
	done, _ := e.Allow(ctx, "svc")
	before = counter.n.Load()
	done(false)
	if sent := counter.n.Load() - before; sent != 1 {
		t.Fatalf("a failure sent %d commands, want exactly one script call", sent)
	}
	done, _ = e.Allow(ctx, "svc")
	before = counter.n.Load()
	done(true)
	if sent := counter.n.Load() - before; sent != 1 {
		t.Fatalf("a success that clears a failure count sent %d commands, want 1", sent)
	}
}

func TestTransitionReachesOtherProcessesThroughPubSub(t *testing.T) {
	ns := store.Keys{Namespace: testredis.Namespace(t)}
	a := newTestEngine(t, Options{Keys: ns, RefreshInterval: time.Hour}) // no backstop: only pub/sub can tell
	b := newTestEngine(t, Options{Keys: ns})
	ctx := context.Background()
	done, err := a.Allow(ctx, "svc")
	if err != nil {
		t.Fatal(err)
	}
	done(true)
	waitSubscribed(t, a)
	if _, err := b.Trip(ctx, "svc", "drill"); err != nil {
		t.Fatal(err)
	}
	testredis.Eventually(t, 2*time.Second, "engine a sees the trip", func() bool {
		_, err := a.Allow(ctx, "svc")
		return errors.Is(err, ErrOpen)
	})
}

// waitSubscribed polls until the engine's background subscription is live.
func waitSubscribed(t *testing.T, e *Engine) {
	t.Helper()
	testredis.Eventually(t, 2*time.Second, "subscription", func() bool {
		n, _ := e.rdb.PubSubNumSub(context.Background(), e.opts.Keys.BreakerChannel()).Result()
		return n[e.opts.Keys.BreakerChannel()] > 0
	})
}

func TestBackstopReReadCatchesMissedChanges(t *testing.T) {
	ns := store.Keys{Namespace: testredis.Namespace(t)}
	a := newTestEngine(t, Options{Keys: ns, RefreshInterval: 50 * time.Millisecond})
	ctx := context.Background()
	done, _ := a.Allow(ctx, "svc")
	done(true)
	// A change written without a publish (as a careless other-language
	// service might) reaches the cache through the re-read alone: nothing
	// here calls Allow, which could ask Redis itself.
	testredis.Client(t).HSet(ctx, ns.Breaker("svc"), "state", "forced_open", "generation", "99")
	testredis.Eventually(t, 2*time.Second, "re-read puts forced_open in the cache", func() bool {
		a.mu.RLock()
		defer a.mu.RUnlock()
		c := a.cache["svc"]
		return c != nil && c.state == ForcedOpen && c.generation == 99
	})
}

func TestOpenErrorGivesTimeUntilNextProbe(t *testing.T) {
	clock := newFakeClock()
	e := newTestEngine(t, Options{Clock: clock.Now})
	ctx := context.Background()
	for i := 0; i < 3; i++ {
		if _, err := e.Record(ctx, "svc", false); err != nil {
			t.Fatal(err)
		}
	}
	clock.Advance(20 * time.Second)
	_, err := e.Acquire(ctx, "svc")
	var oe *OpenError
	if !errors.As(err, &oe) || oe.RetryAfter != 100*time.Second {
		t.Fatalf("got %v, want OpenError with 100s until the next probe", err)
	}
	if !strings.Contains(oe.Error(), "next probe in 1m40s") {
		t.Fatalf("message %q does not give the time until the next probe", oe.Error())
	}
}

func TestEventsRecordWhoAndCountsAndOnlyTheMakerReports(t *testing.T) {
	ns := store.Keys{Namespace: testredis.Namespace(t)}
	var madeByA, madeByB []Event
	var mu sync.Mutex
	a := newTestEngine(t, Options{Keys: ns, Who: Who{Host: "gw-1", PID: 11, User: "svc"},
		OnTransition: func(ev Event) { mu.Lock(); madeByA = append(madeByA, ev); mu.Unlock() }})
	b := newTestEngine(t, Options{Keys: ns, Who: Who{Host: "laptop", PID: 22, User: "oncall"},
		OnTransition: func(ev Event) { mu.Lock(); madeByB = append(madeByB, ev); mu.Unlock() }})
	ctx := context.Background()
	for i := 0; i < 3; i++ {
		if _, err := a.Record(ctx, "svc", false); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := b.Reset(ctx, "svc", "deploy fixed it"); err != nil {
		t.Fatal(err)
	}
	evs, err := b.Events(ctx, []string{"svc"}, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 2 {
		t.Fatalf("%d events, want 2: %+v", len(evs), evs)
	}
	open, reset := evs[0], evs[1]
	if open.From != Closed || open.To != Open || open.Failures != 3 || open.Host != "gw-1" || open.PID != 11 || open.Reason != "3 consecutive failures" {
		t.Fatalf("open event %+v", open)
	}
	if reset.From != Open || reset.To != Closed || reset.Reason != "deploy fixed it" || reset.User != "oncall" || reset.Failures != 3 {
		t.Fatalf("reset event %+v", reset)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(madeByA) != 1 || madeByA[0].To != Open || len(madeByB) != 1 || madeByB[0].To != Closed {
		t.Fatalf("each transition must be reported by the process that made it: a=%+v b=%+v", madeByA, madeByB)
	}
}

func TestCallerDeadlineIsNotMistakenForRedisDown(t *testing.T) {
	ns := store.Keys{Namespace: testredis.Namespace(t)}
	a := newTestEngine(t, Options{Keys: ns})
	b := newTestEngine(t, Options{Keys: ns})
	ctx := context.Background()
	if _, err := a.Trip(ctx, "shopify", "drill"); err != nil {
		t.Fatal(err)
	}
	expired, cancel := context.WithTimeout(ctx, time.Nanosecond)
	defer cancel()
	<-expired.Done()
	if _, err := b.Allow(expired, "aramex"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Allow with an expired context: %v, want the context's error", err)
	}
	if b.InMemory() {
		t.Fatal("one caller's deadline switched the engine to in-memory breakers")
	}
	if _, err := b.Allow(ctx, "shopify"); !errors.Is(err, ErrOpen) {
		t.Fatalf("the shared trip is not honoured after a caller's deadline: %v", err)
	}
}

func TestLongProbeKeepsItsSlotPastTheLease(t *testing.T) {
	ns := store.Keys{Namespace: testredis.Namespace(t)}
	s := Settings{RecoveryTimeout: time.Millisecond, ProbeLease: 150 * time.Millisecond}
	e := newTestEngine(t, Options{Keys: ns, Settings: func(string) Settings { return s }})
	ctx := context.Background()
	for i := 0; i < 3; i++ {
		e.Record(ctx, "svc", false)
	}
	var dones []func(bool)
	testredis.Eventually(t, 2*time.Second, "two probes admitted", func() bool {
		if done, err := e.Allow(ctx, "svc"); err == nil {
			dones = append(dones, done)
		}
		return len(dones) == 2
	})
	// Over four leases, the running probes keep renewing: no third probe.
	until := time.Now().Add(4 * s.ProbeLease)
	for time.Now().Before(until) {
		if a, err := e.Acquire(ctx, "svc"); err == nil {
			t.Fatalf("a third probe (%+v) was admitted while two were still running", a)
		}
		time.Sleep(10 * time.Millisecond) // sampling interval of the invariant, not synchronisation
	}
	for _, done := range dones {
		done(true)
	}
	st, _, _ := e.Snapshot(ctx, []string{"svc"})
	if st[0].State != Closed {
		t.Fatalf("after both long probes succeeded: %s, want closed", st[0].State)
	}
}

func TestUnreachableRedisFallsBackToLocalBreaker(t *testing.T) {
	rdb, err := store.Open(store.Options{URL: "redis://127.0.0.1:1/0", Timeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	e := New(rdb, Options{Keys: store.Keys{Namespace: "x"}, Timeout: 200 * time.Millisecond})
	defer e.Close()
	ctx := context.Background()
	for i := 0; i < 3; i++ {
		done, err := e.Allow(ctx, "svc")
		if err != nil {
			t.Fatalf("call %d while Redis is down: %v (want fail-open)", i+1, err)
		}
		done(false)
	}
	if !e.InMemory() {
		t.Fatal("engine does not say it runs in memory")
	}
	if _, err := e.Allow(ctx, "svc"); !errors.Is(err, ErrOpen) {
		t.Fatalf("the local breaker did not open after 3 failures: %v", err)
	}

	deny := New(rdb, Options{Keys: store.Keys{Namespace: "x"}, Timeout: 200 * time.Millisecond,
		Settings: func(string) Settings { return Settings{RedisUnavailable: "deny"} }})
	defer deny.Close()
	_, err = deny.Allow(ctx, "svc")
	var oe *OpenError
	if !errors.As(err, &oe) || !oe.RedisDown {
		t.Fatalf("deny policy with Redis down: %v, want a refusal saying Redis is down", err)
	}
}

func TestHalfOpenCapHoldsAcrossConcurrentClients(t *testing.T) {
	ns := store.Keys{Namespace: testredis.Namespace(t)}
	s := Settings{RecoveryTimeout: 50 * time.Millisecond, SuccessThreshold: 3}
	setup := newTestEngine(t, Options{Keys: ns, Settings: func(string) Settings { return s }})
	ctx := context.Background()
	for i := 0; i < 3; i++ {
		setup.Record(ctx, "svc", false)
	}
	testredis.Eventually(t, 2*time.Second, "recovery timeout", func() bool {
		st, _, _ := setup.Snapshot(ctx, []string{"svc"})
		return st[0].ShouldAttemptReset
	})
	var admitted atomic.Int64
	var wg sync.WaitGroup
	for i := 0; i < 20; i++ {
		e := newTestEngine(t, Options{Keys: ns, Settings: func(string) Settings { return s }}) // own client each
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 10; j++ {
				if a, err := e.Acquire(ctx, "svc"); err == nil && a.Token != "" {
					admitted.Add(1) // held: never reported
				}
			}
		}()
	}
	wg.Wait()
	if got := admitted.Load(); got != 3 {
		t.Fatalf("%d probes admitted across 20 clients, want exactly the cap 3", got)
	}
}

const childEnv = "HADERCTL_BREAKER_TEST_CHILD"

// childSettings: half-open almost at once, two probes, a 2 s probe lease.
var childSettings = Settings{RecoveryTimeout: time.Millisecond, SuccessThreshold: 2, ProbeLease: 2 * time.Second}

// childMain is a test helper process: it acquires the breaker named in the
// environment, prints the verdict, then holds the admission until stdin
// closes (or it is killed).
func childMain() int {
	rdb, err := store.Open(store.Options{URL: os.Getenv("CHILD_REDIS_URL")})
	if err != nil {
		fmt.Println("error", err)
		return 1
	}
	e := New(rdb, Options{Keys: store.Keys{Namespace: os.Getenv("CHILD_NS")}, Settings: func(string) Settings { return childSettings }})
	_, err = e.Acquire(context.Background(), "svc")
	switch {
	case err == nil:
		fmt.Println("probe")
	case errors.Is(err, ErrOpen):
		fmt.Println("reject")
	default:
		fmt.Println("error", err)
	}
	io.Copy(io.Discard, os.Stdin)
	return 0
}

type child struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	out   *bufio.Reader
}

func startChild(t *testing.T, ns string) *child {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"=1", "CHILD_REDIS_URL="+testredis.URL(t), "CHILD_NS="+ns)
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stdin.Close(); cmd.Process.Kill(); cmd.Wait() })
	return &child{cmd: cmd, stdin: stdin, out: bufio.NewReader(stdout)}
}

func (c *child) verdict(t *testing.T) string {
	line, err := c.out.ReadString('\n')
	if err != nil {
		t.Fatalf("child: %v", err)
	}
	return strings.TrimSpace(line)
}

func TestHalfOpenCapHoldsAcrossProcesses(t *testing.T) {
	ns := testredis.Namespace(t)
	e := newTestEngine(t, Options{Keys: store.Keys{Namespace: ns},
		Settings: func(string) Settings {
			return Settings{RecoveryTimeout: time.Millisecond, ProbeLease: 400 * time.Millisecond}
		}})
	ctx := context.Background()
	for i := 0; i < 3; i++ {
		e.Record(ctx, "svc", false)
	}
	children := make([]*child, 20)
	for i := range children {
		children[i] = startChild(t, ns)
	}
	probes := 0
	for _, c := range children {
		switch v := c.verdict(t); v {
		case "probe":
			probes++
		case "reject":
		default:
			t.Fatalf("child said %q", v)
		}
	}
	if probes != 2 {
		t.Fatalf("%d of 20 processes were admitted as probes, want the cap 2", probes)
	}
}

func TestKilledProbeFreesItsSlotAfterTheLease(t *testing.T) {
	ns := testredis.Namespace(t)
	e := newTestEngine(t, Options{Keys: store.Keys{Namespace: ns},
		Settings: func(string) Settings { return childSettings }})
	ctx := context.Background()
	for i := 0; i < 3; i++ {
		e.Record(ctx, "svc", false)
	}
	a, b := startChild(t, ns), startChild(t, ns)
	if va, vb := a.verdict(t), b.verdict(t); va != "probe" || vb != "probe" {
		t.Fatalf("verdicts %s %s, want two probes", va, vb)
	}
	a.cmd.Process.Kill()
	b.cmd.Process.Kill()
	a.cmd.Wait()
	b.cmd.Wait()
	// The dead processes' slots stay taken until their leases run out...
	if _, err := e.Acquire(ctx, "svc"); !errors.Is(err, ErrOpen) {
		t.Fatalf("right after the kill: %v, want the slots still held", err)
	}
	// ...and then come free without anyone reporting.
	testredis.Eventually(t, 10*time.Second, "a probe slot comes free after the lease", func() bool {
		_, err := e.Acquire(ctx, "svc")
		return err == nil
	})
}

func TestRedisRestartFallsBackAndReturnsToSharedState(t *testing.T) {
	if !testredis.Real(t) {
		t.Skip("needs a redis-server process to stop and start")
	}
	srv, err := testredis.StartServer(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop(true)
	rdb, err := store.Open(store.Options{URL: srv.URL(), Timeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	e := New(rdb, Options{Keys: store.Keys{Namespace: "restart"}, RefreshInterval: 50 * time.Millisecond, Timeout: 300 * time.Millisecond})
	defer e.Close()
	ctx := context.Background()
	done, err := e.Allow(ctx, "svc")
	if err != nil {
		t.Fatal(err)
	}
	done(true)

	srv.Stop(true)
	testredis.Eventually(t, 5*time.Second, "the engine notices Redis is gone", func() bool {
		done, err := e.Allow(ctx, "svc")
		if err == nil {
			done(false) // counted by the local breaker
		}
		return e.InMemory()
	})
	if _, err := e.Allow(ctx, "svc"); err != nil && !errors.Is(err, ErrOpen) {
		t.Fatalf("with Redis down a call must be admitted or refused by the local breaker: %v", err)
	}

	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	testredis.Eventually(t, 10*time.Second, "the engine returns to the shared state", func() bool { return !e.InMemory() })
	if _, err := e.Trip(ctx, "svc", "after restart"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Allow(ctx, "svc"); !errors.Is(err, ErrOpen) {
		t.Fatalf("after Redis came back, the shared trip is not honoured: %v", err)
	}
}
