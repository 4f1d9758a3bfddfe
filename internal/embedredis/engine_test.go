package embedredis_test

// The engine over the embedded server, through its public APIs: what has
// a TTL or a deadline on Redis' clock ends by itself, as on a
// redis-server, and nothing the engine sends is refused.

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/haderos/haderctl/internal/embedredis"
	"github.com/haderos/haderctl/internal/engine"
	"github.com/haderos/haderctl/internal/engine/breaker"
	"github.com/haderos/haderctl/internal/engine/chaos"
	"github.com/haderos/haderctl/internal/engine/health"
	"github.com/haderos/haderctl/internal/engine/queue"
	"github.com/haderos/haderctl/internal/engine/snapshot"
	"github.com/haderos/haderctl/internal/engine/store"
	"github.com/haderos/haderctl/internal/testredis"
	"github.com/redis/go-redis/v9"
)

// drainerEnv makes the test binary a drainer that holds what it claims
// and never reports (TestMain): a process to kill while it holds a lease.
const drainerEnv = "HADERCTL_EMBEDREDIS_DRAINER"

func TestMain(m *testing.M) {
	if os.Getenv(drainerEnv) != "" {
		os.Exit(holdingDrainer(os.Getenv("HADERCTL_EMBEDREDIS_URL"), os.Getenv("HADERCTL_EMBEDREDIS_NS")))
	}
	os.Exit(m.Run())
}

// leaseOfTheKilled is the drainer process' lease: short, so the test
// waits little for it to run out.
const leaseOfTheKilled = 300 * time.Millisecond

func holdingDrainer(url, ns string) int {
	rdb, err := store.Open(store.Options{URL: url})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 3
	}
	c := queue.New(rdb, store.Keys{Namespace: ns}, queue.Settings{})
	_, err = c.Drain(context.Background(), queue.DrainOptions{Queues: []string{"orders"}, Lease: leaseOfTheKilled,
		Handler: func(ctx context.Context, op *queue.Operation) queue.Outcome {
			fmt.Println("claimed", op.ID)
			<-ctx.Done() // holds it (renewing the lease) until killed
			return queue.Outcome{Kind: queue.Retry, Err: "stopped"}
		}})
	fmt.Fprintln(os.Stderr, "drain returned:", err)
	return 1
}

// system opens the engine over an embedded server of the test's own, and
// fails the test at its end if the server was sent anything it refuses.
func system(t *testing.T) (*engine.System, *embedredis.Server) {
	t.Helper()
	s, err := embedredis.Start()
	if err != nil {
		t.Fatal(err)
	}
	rejected := s.Rejections()
	t.Cleanup(func() {
		s.Close()
		if r := rejected(); len(r) > 0 {
			t.Errorf("the engine sent the embedded server commands it refuses: %q", r)
		}
	})
	sys, err := engine.Open(context.Background(), engine.Options{Redis: store.Options{URL: s.URL()}, Environment: "development",
		BreakerSettings: func(string) breaker.Settings {
			return breaker.Settings{FailureThreshold: 2, RecoveryTimeout: 300 * time.Millisecond}
		}})
	if err != nil {
		t.Fatalf("engine.Open on %s: %v", s.URL(), err)
	}
	t.Cleanup(func() { sys.Close() })
	return sys, s
}

func TestChaosExperimentEndsByItself(t *testing.T) {
	sys, _ := system(t)
	ctx := context.Background()
	if err := sys.Chaos.Enable(ctx); err != nil {
		t.Fatal(err)
	}
	x, err := sys.Chaos.Start(ctx, chaos.Experiment{Kind: chaos.Latency, Services: []string{"shop"}, Probability: 1,
		Delay: 100 * time.Millisecond, Duration: 500 * time.Millisecond, Reason: "embedded demo"})
	if err != nil {
		t.Fatal(err)
	}
	if x.EndMs-x.StartMs != 500 {
		t.Fatalf("stored experiment %+v: want it to end 500 ms after it starts", x)
	}
	active, err := sys.Chaos.Active(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// listed unless the machine stalled past its end since the start
	if now := sys.Redis.Time(ctx).Val().UnixMilli(); now < x.EndMs && (len(active) != 1 || active[0].ID != x.ID) {
		t.Fatalf("active %+v at %d, before the end %d: want %s listed", active, now, x.EndMs, x.ID)
	}
	testredis.Eventually(t, 10*time.Second, "the experiment ends and its key expires", func() bool {
		active, err := sys.Chaos.Active(ctx)
		if err != nil {
			t.Fatal(err)
		}
		n, err := sys.Redis.Exists(ctx, sys.Keys.ChaosExperiment(x.ID)).Result()
		if err != nil {
			t.Fatal(err)
		}
		return len(active) == 0 && n == 0
	})
	if now := sys.Redis.Time(ctx).Val().UnixMilli(); now < x.EndMs {
		t.Fatalf("the experiment was gone at %d, before its end %d", now, x.EndMs)
	}
	// and the sweep books the expiry, as with a redis-server
	if _, err := sys.Chaos.Audit(ctx, 100); err != nil {
		t.Fatal(err)
	}
	audit, err := sys.Chaos.AuditOf(ctx, x.ID, 10)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(audit, func(a chaos.AuditEntry) bool { return a.Event == "expired" }) {
		t.Fatalf("audit of %s: %+v, want its expiry", x.ID, audit)
	}
}

func TestBreakerGoesHalfOpenAfterItsRecoveryTimeout(t *testing.T) {
	sys, _ := system(t)
	ctx := context.Background()
	const name = "payments"
	var r breaker.Result
	for range 2 {
		var err error
		if r, err = sys.Breakers.Record(ctx, name, false); err != nil {
			t.Fatal(err)
		}
	}
	if r.State != breaker.Open {
		t.Fatalf("after two failures with failure_threshold 2: %+v, want open", r)
	}
	var probe *breaker.Admission
	testredis.Eventually(t, 10*time.Second, "the open breaker admits a probe", func() bool {
		a, err := sys.Breakers.Acquire(ctx, name)
		var open *breaker.OpenError
		switch {
		case err == nil:
			probe = a
			return true
		case !errors.As(err, &open) || open.State != breaker.Open || open.RetryAfter <= 0 || open.RetryAfter > 300*time.Millisecond:
			t.Fatalf("acquire on the open breaker: %v, want open with 0 < retry after <= 300ms", err)
		}
		return false
	})
	if probe.Token == "" {
		t.Fatalf("admission %+v after the recovery timeout is not a probe", probe)
	}
	sts, _, err := sys.Breakers.Snapshot(ctx, []string{name})
	if err != nil {
		t.Fatal(err)
	}
	if st := sts[0]; st.State != breaker.HalfOpen || st.ProbesInFlight != 1 || st.Settings.RecoveryTimeout != 300*time.Millisecond {
		t.Fatalf("status %+v, want half_open with the probe in flight and recovery_timeout 300ms", st)
	}
	if r, err := sys.Breakers.Finish(ctx, probe, true); err != nil || r.State != breaker.HalfOpen {
		t.Fatalf("the probe's success: %+v, %v; want half_open (success_threshold 2)", r, err)
	}
}

func TestQueueLeaseOfAKilledDrainerExpires(t *testing.T) {
	sys, s := system(t)
	ctx := context.Background()
	op := &queue.Operation{ID: "op-1", Queue: "orders", Operation: "create_order", Service: "shop", Data: []byte(`{"order":1}`)}
	if err := sys.Queues.Check(op); err != nil {
		t.Fatal(err)
	}
	if _, err := sys.Queues.Push(ctx, []*queue.Operation{op}); err != nil {
		t.Fatal(err)
	}

	// another process claims it and dies holding it
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), drainerEnv+"=1", "HADERCTL_EMBEDREDIS_URL="+s.URL(), "HADERCTL_EMBEDREDIS_NS="+sys.Keys.Namespace)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	killed := false
	t.Cleanup(func() {
		if !killed {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})
	claimed := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(out).ReadString('\n')
		claimed <- strings.TrimSpace(line)
	}()
	select {
	case line := <-claimed:
		if line != "claimed op-1" {
			t.Fatalf("the drainer process said %q, want claimed op-1 (stderr: %s)", line, stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("the drainer process claimed nothing within 30s (stderr: %s)", stderr.String())
	}
	held, err := sys.Queues.Inspect(ctx, "orders", "op-1")
	if err != nil || held.State != "leased" || held.LeaseDeadline == nil {
		t.Fatalf("op-1 while the drainer holds it: %+v, %v; want leased with a deadline", held, err)
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	killed = true

	// once its lease runs out on Redis' clock, a drain here gets it
	var got []string
	testredis.Eventually(t, 10*time.Second, "the dead drainer's lease expires and op-1 is claimed again", func() bool {
		sum, err := sys.Queues.Drain(ctx, queue.DrainOptions{Queues: []string{"orders"}, Max: 1,
			Handler: func(_ context.Context, o *queue.Operation) queue.Outcome {
				got = append(got, fmt.Sprintf("%s stalls=%d", o.ID, o.Stalls))
				return queue.Outcome{Kind: queue.Done}
			}})
		if err != nil {
			t.Fatal(err)
		}
		return sum.Claimed == 1
	})
	if !slices.Equal(got, []string{"op-1 stalls=1"}) {
		t.Fatalf("the second drain replayed %q, want op-1 once, after one expired lease", got)
	}
	stats, _, err := sys.Queues.Stats(ctx, []string{"orders"})
	if err != nil {
		t.Fatal(err)
	}
	if st := stats[0]; st.Completed != 1 || st.InFlight != 0 || st.PendingTotal != 0 {
		t.Fatalf("stats %+v, want op-1 completed and nothing held or pending", st)
	}
}

// What a dashboard and a gateway do over the demo's server: a health
// check records through its scripts, the data plane (pub/sub and its
// sweeping tick) follows an experiment in and out, and one snapshot reads
// it all.
func TestDataPlaneHealthAndSnapshotOverTheEmbeddedServer(t *testing.T) {
	sys, _ := system(t)
	ctx := context.Background()
	svc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) }))
	defer svc.Close()
	chk := health.Check{Name: "shop", URL: svc.URL, Interval: time.Second, Timeout: 5 * time.Second}
	if err := sys.Health.Register(ctx, chk); err != nil {
		t.Fatal(err)
	}
	res, err := sys.Health.Check(ctx, chk)
	if err != nil || !res.Healthy || res.Code != http.StatusNoContent || res.ConsecutiveSuccesses != 1 {
		t.Fatalf("health check of a service answering 204: %+v, %v; want healthy, 204, one success", res, err)
	}

	// a long-running caller: the breakers' listener subscribes
	done, err := sys.Breakers.Allow(ctx, "shop")
	if err != nil {
		t.Fatalf("a call through the closed breaker: %v", err)
	}
	done(true)
	faults := sys.Faults()
	if err := sys.Chaos.Enable(ctx); err != nil {
		t.Fatal(err)
	}
	x, err := sys.Chaos.Start(ctx, chaos.Experiment{Kind: chaos.Error, Services: []string{"shop"}, Probability: 1,
		Status: http.StatusServiceUnavailable, Duration: time.Minute, Reason: "embedded demo"})
	if err != nil {
		t.Fatal(err)
	}
	testredis.Eventually(t, 10*time.Second, "the data plane arms the experiment", func() bool {
		active := faults.Active()
		return len(active) == 1 && active[0].ID == x.ID
	})
	snap, err := sys.Reader().Snapshot(ctx, snapshot.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(snap.Services) != 1 || snap.Services[0].Service != "shop" || !snap.Services[0].Healthy {
		t.Fatalf("snapshot services %+v: want shop, healthy", snap.Services)
	}
	if c := snap.Chaos; c == nil || !c.Enabled || len(c.Active) != 1 || c.Active[0].ID != x.ID {
		t.Fatalf("snapshot chaos %+v: want enabled with %s active", c, x.ID)
	}
	if _, err := sys.Chaos.StopAll(ctx, "demo over"); err != nil {
		t.Fatal(err)
	}
	testredis.Eventually(t, 10*time.Second, "the data plane drops the stopped experiment", func() bool { return len(faults.Active()) == 0 })
}

// The check above is not vacuous: a go-redis client left with its
// defaults announces itself with CLIENT SETINFO, which miniredis refuses
// (store.Open sets DisableIdentity for that).
func TestRejectionsSeeAClientWithDefaults(t *testing.T) {
	s, err := embedredis.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	rejected := s.Rejections()
	c := redis.NewClient(&redis.Options{Addr: s.Addr()})
	defer c.Close()
	if err := c.Ping(context.Background()).Err(); err != nil {
		t.Fatal(err)
	}
	if r := rejected(); !slices.Contains(r, "CLIENT SETINFO") {
		t.Fatalf("refused commands %q, want CLIENT SETINFO among them", r)
	}
}
