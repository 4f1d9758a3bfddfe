package routestats_test

import (
	"context"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/haderos/haderctl/internal/engine/gateway/routestats"
	"github.com/haderos/haderctl/internal/engine/store"
	"github.com/haderos/haderctl/internal/testredis"
	"github.com/redis/go-redis/v9"
)

func TestMain(m *testing.M) { os.Exit(testredis.Main(m)) }

// window reads the Window's buckets at Redis' now, as the snapshot does.
func window(t *testing.T, rdb redis.UniversalClient, k store.Keys) []routestats.Stats {
	t.Helper()
	ctx := context.Background()
	now, err := rdb.Time(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	first, last, span := routestats.Window(now)
	var hs []map[string]string
	for b := first; b <= last; b++ {
		h, err := rdb.HGetAll(ctx, routestats.Key(k, b)).Result()
		if err != nil {
			t.Fatal(err)
		}
		hs = append(hs, h)
	}
	return routestats.Sum(hs, span)
}

func find(sts []routestats.Stats, route string) routestats.Stats {
	for _, s := range sts {
		if s.Route == route {
			return s
		}
	}
	return routestats.Stats{}
}

type counts struct{ req, err, fb, q int64 }

func countsOf(s routestats.Stats) counts { return counts{s.Requests, s.Errors, s.Fallbacks, s.Queued} }

// A flush adds each route's counts to the bucket of Redis' now with a
// TTL, even when the process' clock is an hour off.
func TestFlushAddsCountsToTheBucketOfRedisClock(t *testing.T) {
	ctx := context.Background()
	rdb := testredis.Client(t)
	k := store.Keys{Namespace: testredis.Namespace(t)}
	skewed := func() time.Time { return time.Now().Add(time.Hour) }
	r := routestats.NewRecorder(ctx, rdb, routestats.RecorderOptions{Keys: k, Interval: time.Hour, Now: skewed})
	defer r.Close()
	r.Record("/api/v1/integrations/shipping/", 200, false, false)
	r.Record("/api/v1/integrations/shipping/", 200, true, false)
	r.Record("/api/v1/integrations/shipping/", 503, false, false)
	r.Record("/api/v1/integrations/shipping/", 202, false, true)
	r.Record("/shop/", 500, false, false)
	if err := r.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	got := window(t, rdb, k)
	if len(got) != 2 || got[0].Route != "/api/v1/integrations/shipping/" || got[1].Route != "/shop/" {
		t.Fatalf("routes %+v, want shipping and shop sorted", got)
	}
	if c := countsOf(got[0]); c != (counts{4, 1, 1, 1}) {
		t.Errorf("shipping counts %+v, want 4 requests, 1 error, 1 fallback, 1 queued", c)
	}
	if c := countsOf(got[1]); c != (counts{1, 1, 0, 0}) {
		t.Errorf("shop counts %+v, want 1 request, 1 error", c)
	}
	if got[1].ErrorPercent != 100 || got[0].ErrorPercent != 25 {
		t.Errorf("error percents %v and %v, want 25 and 100", got[0].ErrorPercent, got[1].ErrorPercent)
	}
	// the key of Redis' current bucket holds them, expiring after the TTL
	now, _ := rdb.Time(ctx).Result()
	key := routestats.Key(k, routestats.Bucket(now))
	if v, _ := rdb.HGet(ctx, key, routestats.Field("/shop/", routestats.FieldErrors)).Result(); v != "1" {
		// a flush at the very end of a bucket: the previous one holds it
		key = routestats.Key(k, routestats.Bucket(now)-1)
		if v, _ = rdb.HGet(ctx, key, routestats.Field("/shop/", routestats.FieldErrors)).Result(); v != "1" {
			t.Fatalf("the bucket of Redis' now holds %q for /shop/ errors", v)
		}
	}
	ttl, err := rdb.TTL(ctx, key).Result()
	if err != nil || ttl <= 0 || ttl > routestats.DefaultTTL+routestats.BucketSeconds*time.Second {
		t.Fatalf("TTL of %s: %s (%v), want at most the bucket's end + %s", key, ttl, err, routestats.DefaultTTL)
	}
	// a flush with nothing recorded writes nothing
	before, _ := rdb.HGetAll(ctx, key).Result()
	if err := r.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if after, _ := rdb.HGetAll(ctx, key).Result(); len(after) != len(before) || after[routestats.Field("/shop/", routestats.FieldRequests)] != "1" {
		t.Fatalf("an empty flush changed the bucket: %v → %v", before, after)
	}
}

// Two recorders (two gateway processes) add to the same buckets.
func TestTwoRecordersSum(t *testing.T) {
	ctx := context.Background()
	rdb := testredis.Client(t)
	k := store.Keys{Namespace: testredis.Namespace(t)}
	a := routestats.NewRecorder(ctx, rdb, routestats.RecorderOptions{Keys: k, Interval: time.Hour})
	b := routestats.NewRecorder(ctx, testredis.Client(t), routestats.RecorderOptions{Keys: k, Interval: time.Hour,
		Now: func() time.Time { return time.Now().Add(-3 * time.Minute) }})
	for i := 0; i < 5; i++ {
		a.Record("/shop/", 200, false, false)
	}
	for i := 0; i < 7; i++ {
		b.Record("/shop/", 502, true, false)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if c := countsOf(find(window(t, rdb, k), "/shop/")); c != (counts{12, 7, 7, 0}) {
		t.Fatalf("summed counts %+v, want 12 requests, 7 errors, 7 fallbacks", c)
	}
}

// The flusher adds counts on its interval; Close adds the rest.
func TestFlusherRunsOnItsIntervalAndCloseFlushesTheRest(t *testing.T) {
	ctx := context.Background()
	rdb := testredis.Client(t)
	k := store.Keys{Namespace: testredis.Namespace(t)}
	r := routestats.NewRecorder(ctx, rdb, routestats.RecorderOptions{Keys: k, Interval: 20 * time.Millisecond})
	r.Record("/shop/", 200, false, false)
	testredis.Eventually(t, 10*time.Second, "the flusher adds the request", func() bool {
		return find(window(t, rdb, k), "/shop/").Requests == 1
	})
	r.Record("/shop/", 200, false, false)
	r.Record("/shop/", 200, false, true)
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if c := countsOf(find(window(t, rdb, k), "/shop/")); c != (counts{3, 0, 0, 1}) {
		t.Fatalf("after Close %+v, want 3 requests, 1 queued", c)
	}
	r.Record("/shop/", 200, false, false) // after Close: kept nowhere, no panic
}

// restartable is a Redis of a test's own that it can stop and start on
// the same address: a redis-server, else (no redis-server on PATH) a
// miniredis.
type restartable struct {
	url         string
	stop, start func()
}

func ownRedis(t *testing.T) restartable {
	t.Helper()
	if testredis.Real(t) {
		srv, err := testredis.StartServer(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { srv.Stop(true) })
		return restartable{url: srv.URL(), stop: func() { srv.Stop(true) }, start: func() {
			if err := srv.Start(); err != nil {
				t.Fatal(err)
			}
		}}
	}
	m, err := miniredis.Run()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	return restartable{url: "redis://" + m.Addr() + "/0", stop: m.Close, start: func() {
		if err := m.Restart(); err != nil {
			t.Fatal(err)
		}
	}}
}

// While Redis is down counts stay in memory; once it answers they are
// added, in the buckets they were counted in.
func TestCountsWaitInMemoryWhileRedisIsDown(t *testing.T) {
	ctx := context.Background()
	own := ownRedis(t)
	rdb, err := store.Open(store.Options{URL: own.url, Timeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	k := store.Keys{Namespace: "down"}
	r := routestats.NewRecorder(ctx, rdb, routestats.RecorderOptions{Keys: k, Interval: time.Hour})
	defer r.Close()
	r.Record("/shop/", 200, false, false)
	if err := r.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	own.stop()
	for i := 0; i < 4; i++ {
		r.Record("/orders/", 503, false, i%2 == 0)
	}
	if err := r.Flush(ctx); err == nil {
		t.Fatal("a flush with Redis down reported no error")
	}
	r.Record("/orders/", 200, true, false)
	if err := r.Flush(ctx); err == nil {
		t.Fatal("a second flush with Redis down reported no error")
	}
	own.start()
	testredis.Eventually(t, 10*time.Second, "a flush once Redis answers again", func() bool { return r.Flush(ctx) == nil })
	if c := countsOf(find(window(t, rdb, k), "/orders/")); c != (counts{5, 4, 1, 2}) {
		t.Fatalf("after Redis came back %+v, want 5 requests, 4 errors, 1 fallback, 2 queued", c)
	}
	if r.Dropped() != 0 {
		t.Fatalf("dropped %d", r.Dropped())
	}
}

// Counts held longer than a bucket lives are dropped and counted: the
// memory a long outage holds is bounded.
func TestCountsOlderThanTheTTLAreDroppedWhileRedisIsDown(t *testing.T) {
	ctx := context.Background()
	own := ownRedis(t)
	rdb, err := store.Open(store.Options{URL: own.url, Timeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	var skew atomic.Int64
	clock := func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }
	r := routestats.NewRecorder(ctx, rdb, routestats.RecorderOptions{Keys: store.Keys{Namespace: "drop"}, Interval: time.Hour,
		TTL: time.Minute, Now: clock})
	defer r.Close()
	if err := r.Flush(ctx); err != nil { // learns Redis' clock
		t.Fatal(err)
	}
	own.stop()
	for i := 0; i < 3; i++ {
		r.Record("/shop/", 200, false, false)
	}
	if err := r.Flush(ctx); err == nil {
		t.Fatal("flush with Redis down reported no error")
	}
	r.Record("/shop/", 200, false, false)
	skew.Store(int64(2 * time.Minute)) // past the bucket's end + TTL
	if err := r.Flush(ctx); err == nil {
		t.Fatal("flush with Redis down reported no error")
	}
	if got := r.Dropped(); got != 3 {
		t.Fatalf("dropped %d, want the 3 requests of the expired bucket", got)
	}
}

// Routes past MaxRoutes are not counted, only dropped.
func TestRoutesPastTheCapAreDropped(t *testing.T) {
	ctx := context.Background()
	rdb := testredis.Client(t)
	k := store.Keys{Namespace: testredis.Namespace(t)}
	r := routestats.NewRecorder(ctx, rdb, routestats.RecorderOptions{Keys: k, Interval: time.Hour, MaxRoutes: 2})
	for i := 0; i < 4; i++ {
		r.Record("/r"+strconv.Itoa(i)+"/", 200, false, false)
	}
	r.Record("/r0/", 200, false, false)
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	got := window(t, rdb, k)
	if len(got) != 2 || got[0].Requests != 2 || got[1].Requests != 1 || r.Dropped() != 2 {
		t.Fatalf("routes %+v dropped %d, want /r0/ ×2, /r1/ ×1, 2 dropped", got, r.Dropped())
	}
}

// Record allocates nothing once a route is known (the hot path).
func TestRecordAllocatesNothing(t *testing.T) {
	r := routestats.NewRecorder(context.Background(), testredis.Client(t),
		routestats.RecorderOptions{Keys: store.Keys{Namespace: testredis.Namespace(t)}, Interval: time.Hour})
	defer r.Close()
	route := "/api/v1/integrations/shipping/"
	r.Record(route, 200, false, false)
	if n := testing.AllocsPerRun(1000, func() { r.Record(route, 503, true, true) }); n != 0 {
		t.Fatalf("Record allocates %v times per call, want 0", n)
	}
}

// Records from many goroutines, with flushes in between, all arrive.
func TestConcurrentRecordsAllArrive(t *testing.T) {
	ctx := context.Background()
	rdb := testredis.Client(t)
	k := store.Keys{Namespace: testredis.Namespace(t)}
	r := routestats.NewRecorder(ctx, rdb, routestats.RecorderOptions{Keys: k, Interval: 5 * time.Millisecond})
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 500; i++ {
				r.Record("/r"+strconv.Itoa(g%2)+"/", 200+300*(i%2), false, false)
			}
		}(g)
	}
	wg.Wait()
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	got := window(t, rdb, k)
	if len(got) != 2 || countsOf(got[0]) != (counts{2000, 1000, 0, 0}) || countsOf(got[1]) != (counts{2000, 1000, 0, 0}) {
		t.Fatalf("routes %+v, want 2000 requests and 1000 errors each", got)
	}
}

func BenchmarkRecord(b *testing.B) {
	r := routestats.NewRecorder(context.Background(), testredis.Client(b),
		routestats.RecorderOptions{Keys: store.Keys{Namespace: testredis.Namespace(b)}, Interval: time.Hour})
	defer r.Close()
	route := "/api/v1/integrations/shipping/"
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			r.Record(route, 200, false, false)
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				r.Record(route, 200, false, false)
			}
		})
	})
}
