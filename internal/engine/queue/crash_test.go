package queue

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/haderos/haderctl/internal/engine/store"
	"github.com/haderos/haderctl/internal/testredis"
)

// drainerEnv makes the test binary run as a drainer process (TestMain):
// it drains the queue named in HADERCTL_CRASH_QUEUE of the namespace in
// HADERCTL_CRASH_NS at HADERCTL_CRASH_REDIS, replaying each operation as a
// POST of its id to HADERCTL_CRASH_TARGET.
const drainerEnv = "HADERCTL_CRASH_DRAINER"

func runDrainerProcess() int {
	rdb, err := store.Open(store.Options{URL: os.Getenv("HADERCTL_CRASH_REDIS"), Timeout: 5 * time.Second})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 3
	}
	c := New(rdb, store.Keys{Namespace: os.Getenv("HADERCTL_CRASH_NS")}, Settings{})
	_, err = c.Drain(context.Background(), DrainOptions{Queues: []string{os.Getenv("HADERCTL_CRASH_QUEUE")},
		Concurrency: 16, Lease: 2 * time.Second, Handler: postID(os.Getenv("HADERCTL_CRASH_TARGET"))})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// postID replays an operation as a POST of its id to target.
func postID(target string) Handler {
	client := &http.Client{Timeout: 10 * time.Second}
	return func(ctx context.Context, o *Operation) Outcome {
		req, _ := http.NewRequestWithContext(ctx, "POST", target, strings.NewReader(o.ID))
		resp, err := client.Do(req)
		if err != nil {
			return Outcome{Kind: Retry, Err: err.Error()}
		}
		resp.Body.Close()
		return Outcome{Kind: Done}
	}
}

// idCounter is a real loopback HTTP service counting requests per id.
type idCounter struct {
	mu    sync.Mutex
	seen  map[string]int
	total atomic.Int64
	srv   *httptest.Server
}

func newIDCounter(t *testing.T) *idCounter {
	c := &idCounter{seen: map[string]int{}}
	c.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var b strings.Builder
		_, _ = fmt.Fprint(&b, readAll(r))
		c.mu.Lock()
		c.seen[b.String()]++
		c.mu.Unlock()
		c.total.Add(1)
	}))
	t.Cleanup(c.srv.Close)
	return c
}

func readAll(r *http.Request) string {
	var sb strings.Builder
	buf := make([]byte, 256)
	for {
		n, err := r.Body.Read(buf)
		sb.Write(buf[:n])
		if err != nil {
			return sb.String()
		}
	}
}

func TestDrainerKilledMidDrainLosesNothing(t *testing.T) {
	if !testredis.Real(t) {
		t.Skip("the crash test needs a real redis-server")
	}
	c, rdb := newTestClient(t, Settings{})
	const n = 10000
	push(t, c, "orders", "shopify", "op", n, nil)
	target := newIDCounter(t)

	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), drainerEnv+"=1", "HADERCTL_CRASH_REDIS="+testredis.URL(t),
		"HADERCTL_CRASH_NS="+c.keys.Namespace, "HADERCTL_CRASH_QUEUE=orders", "HADERCTL_CRASH_TARGET="+target.srv.URL)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	testredis.Eventually(t, 60*time.Second, "the drainer gets a third of the way", func() bool { return target.total.Load() >= n/3 })
	if err := cmd.Process.Kill(); err != nil { // SIGKILL
		t.Fatal(err)
	}
	_ = cmd.Wait()
	ctx := context.Background()
	inFlight, err := rdb.ZCard(ctx, c.keys.QueueLeased("orders")).Result()
	if err != nil {
		t.Fatal(err)
	}
	if inFlight == 0 {
		t.Fatal("the drainer held no leases when killed: the test did not catch it mid-drain")
	}
	// after one lease (on Redis' clock) its operations are claimable again
	last, err := rdb.ZRangeWithScores(ctx, c.keys.QueueLeased("orders"), -1, -1).Result()
	if err != nil {
		t.Fatal(err)
	}
	testredis.Eventually(t, 10*time.Second, "the dead drainer's leases expire", func() bool { return float64(redisNowMs(t, c)) > last[0].Score })

	s, err := c.Drain(ctx, DrainOptions{Queues: []string{"orders"}, Concurrency: 16, Handler: postID(target.srv.URL)})
	if err != nil {
		t.Fatal(err)
	}
	st := stats(t, c, "orders")
	if st.Completed+st.Failed != n || st.PendingTotal+st.Delayed+st.InFlight != 0 {
		t.Fatalf("after the second drain: completed %d + dead %d, %d still pending/delayed/leased; want %d done (second drain %+v)",
			st.Completed, st.Failed, st.PendingTotal+st.Delayed+st.InFlight, n, s)
	}
	target.mu.Lock()
	distinct := len(target.seen)
	target.mu.Unlock()
	reexec := target.total.Load() - n
	if distinct != n {
		t.Fatalf("%d distinct operations reached the service, want %d", distinct, n)
	}
	if reexec > inFlight {
		t.Fatalf("%d re-executions, more than the %d operations in flight when the drainer died", reexec, inFlight)
	}
	t.Logf("killed with %d in flight; %d re-executed", inFlight, reexec)
}

func TestRedisRestartMidDrainLosesNothing(t *testing.T) {
	if !testredis.Real(t) {
		t.Skip("needs a redis-server process to stop and start")
	}
	srv, err := testredis.StartServer(t.TempDir(), "--appendonly", "yes", "--appendfsync", "always")
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop(true)
	rdb, err := store.Open(store.Options{URL: srv.URL(), Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	c := New(rdb, store.Keys{Namespace: "restart"}, Settings{})
	const n = 4000
	push(t, c, "q", "s", "o", n, nil)
	var handled sync.Map
	var count atomic.Int64
	restarted := make(chan struct{})
	handler := func(ctx context.Context, o *Operation) Outcome {
		handled.Store(o.ID, true)
		if count.Add(1) == n/4 {
			close(restarted)
		}
		time.Sleep(time.Millisecond) // a replay takes a little while
		return Outcome{Kind: Done}
	}
	type result struct {
		s   Summary
		err error
	}
	out := make(chan result, 1)
	go func() {
		s, err := c.Drain(context.Background(), DrainOptions{Queues: []string{"q"}, Concurrency: 4, Handler: handler})
		out <- result{s, err}
	}()
	<-restarted
	srv.Stop(true) // SIGKILL: only the append-only file survives
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	r := <-out
	if r.err != nil {
		t.Fatalf("the drain did not survive the restart: %v", r.err)
	}
	st := stats(t, c, "q")
	if st.Completed != n || st.PendingTotal+st.Delayed+st.InFlight+st.Dead != 0 {
		t.Fatalf("after the restart: %+v (drain %+v); want all %d completed", st, r.s, n)
	}
	missing := 0
	for i := range n {
		if _, ok := handled.Load(fmt.Sprintf("o-%d", i)); !ok {
			missing++
		}
	}
	if missing > 0 {
		t.Fatalf("%d operations were never replayed", missing)
	}
}
