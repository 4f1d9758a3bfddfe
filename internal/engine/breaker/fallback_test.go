package breaker

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/haderos/haderctl/internal/engine/store"
	"github.com/haderos/haderctl/internal/testredis"
	"github.com/redis/go-redis/v9"
)

// cutter is a go-redis hook that makes Redis unreachable for one client
// while cut is set: dials are refused and commands fail as on a reset
// connection, so the engine takes its in-memory fallback; the Redis
// itself keeps serving everyone else (and works as well under miniredis
// as under a redis-server).
type cutter struct{ cut atomic.Bool }

func (c *cutter) err() error { return &net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET} }

func (c *cutter) DialHook(next redis.DialHook) redis.DialHook {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		if c.cut.Load() {
			return nil, &net.OpError{Op: "dial", Net: network, Err: syscall.ECONNREFUSED}
		}
		return next(ctx, network, addr)
	}
}

func (c *cutter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if c.cut.Load() {
			cmd.SetErr(c.err())
			return cmd.Err()
		}
		return next(ctx, cmd)
	}
}

func (c *cutter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if c.cut.Load() {
			for _, cmd := range cmds {
				cmd.SetErr(c.err())
			}
			return c.err()
		}
		return next(ctx, cmds)
	}
}

// cutEngine is an engine on a client of its own that a cutter can cut off.
func cutEngine(t *testing.T, ns store.Keys, reporter string) (*Engine, *cutter) {
	t.Helper()
	return cutEngineWith(t, Options{Keys: ns, Reporter: reporter})
}

// cutEngineWith is cutEngine with more options; it sets a short refresh
// and timeout.
func cutEngineWith(t *testing.T, o Options) (*Engine, *cutter) {
	t.Helper()
	return cutEngineOn(t, testredis.URL(t), o)
}

// cutEngineOn is cutEngineWith on the Redis at url.
func cutEngineOn(t *testing.T, url string, o Options) (*Engine, *cutter) {
	t.Helper()
	rdb, err := store.Open(store.Options{URL: url, Timeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rdb.Close() })
	c := &cutter{}
	rdb.AddHook(c)
	o.RefreshInterval, o.Timeout = 20*time.Millisecond, 300*time.Millisecond
	e := New(rdb, o)
	t.Cleanup(e.Close)
	return e, c
}

// outage cuts e off Redis, makes calls to name until e runs in memory
// and then some more (each a failure), restores Redis and waits until e
// is back on the shared state. It returns the calls made while cut and
// the outage's bounds as the test saw them.
func outage(t *testing.T, e *Engine, c *cutter, name string) (calls int64, cutAt, backAt time.Time) {
	t.Helper()
	ctx := context.Background()
	done, err := e.Allow(ctx, name) // registered, cached, background started
	if err != nil {
		t.Fatal(err)
	}
	done(true)
	cutAt = time.Now()
	c.cut.Store(true)
	call := func() {
		calls++
		if done, err := e.Allow(ctx, name); err == nil {
			done(false)
		}
	}
	testredis.Eventually(t, 5*time.Second, "the engine runs in memory", func() bool {
		call()
		return e.InMemory()
	})
	for range 3 {
		call()
	}
	c.cut.Store(false)
	testredis.Eventually(t, 5*time.Second, "the engine is back on the shared state", func() bool { return !e.InMemory() })
	return calls, cutAt, time.Now()
}

func fallbackReporters(t *testing.T, ns store.Keys, name string) int64 {
	t.Helper()
	sts, _, err := NewSnapshotPart(ns, nil, nil).Page(context.Background(), testredis.Client(t), []string{name},
		func(string) bool { return true })
	if err != nil {
		t.Fatal(err)
	}
	return sts[0].FallbackReporters
}

func TestFallbackIsReportedOnceRedisIsBack(t *testing.T) {
	ns := store.Keys{Namespace: testredis.Namespace(t)}
	rdb := testredis.Client(t)
	ctx := context.Background()
	// another process follows the breaker's events, as the dashboard does
	watcher := newTestEngine(t, Options{Keys: ns})
	followed := make(chan Event, 16)
	fctx, stop := context.WithCancel(ctx)
	defer stop()
	ready := make(chan struct{})
	go func() { _ = watcher.Follow(fctx, []string{"svc"}, ready, func(ev Event) { followed <- ev }) }()
	<-ready

	e, c := cutEngine(t, ns, "proc-a")
	calls, cutAt, backAt := outage(t, e, c, "svc")

	testredis.Eventually(t, 5*time.Second, "the fallbacks set holds the reporter", func() bool {
		return rdb.ZScore(ctx, ns.BreakerFallbacks("svc"), "proc-a").Err() == nil
	})
	if ttl := rdb.PTTL(ctx, ns.BreakerFallbacks("svc")).Val(); ttl <= 0 || ttl > FallbackWindow {
		t.Fatalf("fallbacks key TTL %v, want within (0, %v]", ttl, FallbackWindow)
	}
	evs, err := e.Events(ctx, []string{"svc"}, 100)
	if err != nil {
		t.Fatal(err)
	}
	var reports []Event
	for _, ev := range evs {
		if ev.Action == ActionFallback {
			reports = append(reports, ev)
		}
	}
	if len(reports) != 1 {
		t.Fatalf("want one fallback event in the stream, got %d of %+v", len(reports), evs)
	}
	ev := reports[0]
	ms := func(t time.Time) time.Time { return t.Truncate(time.Millisecond) }
	if ev.Reporter != "proc-a" || ev.Calls != calls || ev.From != Closed || ev.To != Closed {
		t.Fatalf("fallback event %+v: want reporter proc-a, %d calls, closed → closed", ev, calls)
	}
	if ev.Since.Before(ms(cutAt)) || ev.Until.Before(ev.Since) || ev.Until.After(backAt) {
		t.Fatalf("fallback event spans %v..%v, want within the outage %v..%v", ev.Since, ev.Until, cutAt, backAt)
	}
	if want := fallbackReason(ev.Since, ev.Until, calls, "proc-a"); ev.Reason != want {
		t.Fatalf("reason %q, want %q", ev.Reason, want)
	}
	select {
	case got := <-followed:
		if got.Action != ActionFallback || got.ID != ev.ID || got.Calls != calls || !got.Since.Equal(ev.Since) ||
			!got.Until.Equal(ev.Until) || got.Reporter != "proc-a" {
			t.Fatalf("published %+v, want the stream's %+v", got, ev)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the fallback event was not published")
	}
	if n := fallbackReporters(t, ns, "svc"); n != 1 {
		t.Fatalf("FallbackReporters = %d, want 1", n)
	}

	// reported once: later re-reads, with Redis up all along, add nothing
	e.refresh(ctx)
	e.refresh(ctx)
	e.reports.Wait()
	if n := rdb.XLen(ctx, ns.BreakerEvents("svc")).Val(); n != int64(len(evs)) {
		t.Fatalf("the stream grew from %d to %d events after the report", len(evs), n)
	}
}

func TestFallbackReportersCountsEachProcess(t *testing.T) {
	ns := store.Keys{Namespace: testredis.Namespace(t)}
	for _, reporter := range []string{"proc-a", "proc-b"} {
		e, c := cutEngine(t, ns, reporter)
		outage(t, e, c, "svc")
		testredis.Eventually(t, 5*time.Second, reporter+"'s report", func() bool {
			return testredis.Client(t).ZScore(context.Background(), ns.BreakerFallbacks("svc"), reporter).Err() == nil
		})
	}
	if n := fallbackReporters(t, ns, "svc"); n != 2 {
		t.Fatalf("FallbackReporters = %d, want 2", n)
	}
	if n := fallbackReporters(t, ns, "other"); n != 0 {
		t.Fatalf("a breaker nobody ran in memory has FallbackReporters %d", n)
	}
}

func TestFallbackReportsPastTheWindowDoNotCount(t *testing.T) {
	ns := store.Keys{Namespace: testredis.Namespace(t)}
	rdb := testredis.Client(t)
	ctx := context.Background()
	now, err := rdb.Time(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	key := ns.BreakerFallbacks("svc")
	rdb.ZAdd(ctx, key, redis.Z{Score: float64(now.Add(-FallbackWindow - time.Minute).UnixMilli()), Member: "old"},
		redis.Z{Score: float64(now.Add(-time.Minute).UnixMilli()), Member: "recent"})
	// read as it stands, before any report trims it: only the recent one
	if n := fallbackReporters(t, ns, "svc"); n != 1 {
		t.Fatalf("FallbackReporters = %d, want 1 (the old report is past the window)", n)
	}
	// a report trims the set to the window
	e, c := cutEngine(t, ns, "proc-a")
	outage(t, e, c, "svc")
	testredis.Eventually(t, 5*time.Second, "the report", func() bool { return rdb.ZScore(ctx, key, "proc-a").Err() == nil })
	if err := rdb.ZScore(ctx, key, "old").Err(); err != redis.Nil {
		t.Fatalf("the old report was not trimmed: %v", err)
	}
	if n := fallbackReporters(t, ns, "svc"); n != 2 {
		t.Fatalf("FallbackReporters = %d, want 2 (recent and proc-a)", n)
	}
}

// syncBuffer is a bytes.Buffer safe for the engine's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (w *syncBuffer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (w *syncBuffer) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}

// A report that Redis refuses (here the fallbacks key holds a string) is
// logged at debug, and the breaker goes on serving calls from the shared
// state: the report is never on the call path.
func TestAFailedFallbackReportIsLoggedAndCallsGoOn(t *testing.T) {
	ns := store.Keys{Namespace: testredis.Namespace(t)}
	rdb := testredis.Client(t)
	ctx := context.Background()
	rdb.Set(ctx, ns.BreakerFallbacks("svc"), "not a zset", 0)
	var logs syncBuffer
	e, c := cutEngineWith(t, Options{Keys: ns, Reporter: "proc-a",
		Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	outage(t, e, c, "svc")
	testredis.Eventually(t, 5*time.Second, "the failed report is logged", func() bool {
		return strings.Contains(logs.String(), "reporting the in-memory fallback failed")
	})
	for _, line := range strings.Split(logs.String(), "\n") {
		if strings.Contains(line, "reporting the in-memory fallback failed") && !strings.Contains(line, "level=DEBUG") {
			t.Fatalf("the failure is not logged at debug: %q", line)
		}
	}
	if _, err := e.Trip(ctx, "svc", "after the outage"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Allow(ctx, "svc"); !errors.Is(err, ErrOpen) {
		t.Fatalf("after the failed report the shared trip is not honoured: %v", err)
	}
	if v := rdb.Get(ctx, ns.BreakerFallbacks("svc")).Val(); v != "not a zset" {
		t.Fatalf("the fallbacks key was overwritten: %q", v)
	}
}

// On a Cluster the report's keys share the breaker's slot: the script
// runs, and a snapshot page counts the reporter.
func TestFallbackIsReportedOnACluster(t *testing.T) {
	url := testredis.ClusterURL(t)
	ns := store.Keys{Namespace: testredis.Namespace(t)}
	e, c := cutEngineOn(t, url, Options{Keys: ns, Reporter: "proc-a"})
	calls, _, _ := outage(t, e, c, "svc")
	rdb, err := store.Open(store.Options{URL: url})
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	ctx := context.Background()
	testredis.Eventually(t, 5*time.Second, "the report", func() bool {
		return rdb.ZScore(ctx, ns.BreakerFallbacks("svc"), "proc-a").Err() == nil
	})
	evs, err := e.Events(ctx, []string{"svc"}, 10)
	if err != nil || len(evs) != 1 || evs[0].Action != ActionFallback || evs[0].Calls != calls {
		t.Fatalf("events %+v (%v), want the one fallback report of %d calls", evs, err, calls)
	}
	sts, _, err := NewSnapshotPart(ns, nil, nil).Page(ctx, rdb, []string{"svc"}, func(string) bool { return true })
	if err != nil || sts[0].FallbackReporters != 1 {
		t.Fatalf("page %+v (%v), want FallbackReporters 1", sts, err)
	}
}
