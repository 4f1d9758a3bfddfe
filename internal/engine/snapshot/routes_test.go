package snapshot

import (
	"context"
	"testing"
	"time"

	"github.com/haderos/haderctl/internal/engine/gateway/routestats"
	"github.com/haderos/haderctl/internal/engine/store"
	"github.com/haderos/haderctl/internal/testredis"
	"github.com/redis/go-redis/v9"
)

// seedTraffic gives route 2^i requests (and as many errors for odd i) in
// the bucket Redis' now falls in, minus i, for i in 0..9: a bucket's
// share of a sum says which buckets were summed.
func seedTraffic(t *testing.T, rdb redis.UniversalClient, k store.Keys, route string) {
	t.Helper()
	ctx := context.Background()
	now, err := rdb.Time(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	p := rdb.Pipeline()
	for i := int64(0); i < 10; i++ {
		key := routestats.Key(k, routestats.Bucket(now)-i)
		p.HIncrBy(ctx, key, routestats.Field(route, routestats.FieldRequests), 1<<i)
		if i%2 == 1 {
			p.HIncrBy(ctx, key, routestats.Field(route, routestats.FieldErrors), 1<<i)
		}
		p.Expire(ctx, key, time.Minute)
	}
	if _, err := p.Exec(ctx); err != nil {
		t.Fatal(err)
	}
}

// wantTraffic is what seedTraffic's buckets of the Window at now sum to.
func wantTraffic(seeded, now time.Time) (req, errs int64) {
	first, last, _ := routestats.Window(now)
	for i := int64(0); i < 10; i++ {
		if b := routestats.Bucket(seeded) - i; b >= first && b <= last {
			req += 1 << i
			if i%2 == 1 {
				errs += 1 << i
			}
		}
	}
	return req, errs
}

// The snapshot sums the Window's buckets (six full ones and the current
// one, by its TIME reply) and leaves the older ones out.
func TestRoutesSumTheWindowOnRedisClock(t *testing.T) {
	ctx := context.Background()
	rdb, cnt := hooked(t)
	k := store.Keys{Namespace: testredis.Namespace(t)}
	seeded, err := rdb.Time(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	seedTraffic(t, rdb, k, "/api/v1/integrations/shipping/")
	seedTraffic(t, rdb, k, "/a/")
	r := NewReader(rdb, Options{Keys: k})
	cnt.reset()
	s, err := r.Snapshot(ctx, Filter{Parts: Routes})
	if err != nil {
		t.Fatal(err)
	}
	if s.RoundTrips != 1 || cnt.roundTrips() != 1 {
		t.Fatalf("a snapshot of routes took %d round trips (counted %d), want 1", s.RoundTrips, cnt.roundTrips())
	}
	if len(s.Routes) != 2 || s.Routes[0].Route != "/a/" || s.Routes[1].Route != "/api/v1/integrations/shipping/" {
		t.Fatalf("routes %+v, want /a/ and shipping, sorted", s.Routes)
	}
	req, errs := wantTraffic(seeded, s.Time)
	first, _, span := routestats.Window(s.Time)
	for _, st := range s.Routes {
		if st.Requests != req || st.Errors != errs {
			t.Errorf("%s: %d requests, %d errors; want %d and %d (buckets %d.. of the snapshot's time)", st.Route, st.Requests, st.Errors, req, errs, first)
		}
		if st.Window != span || st.Window < 60*time.Second || st.Window > 70*time.Second {
			t.Errorf("%s: window %s, want %s (60 to 70 s)", st.Route, st.Window, span)
		}
		if want := float64(req) / span.Seconds(); st.PerSecond != want {
			t.Errorf("%s: %v per second, want %v", st.Route, st.PerSecond, want)
		}
	}
	if w := cnt.writes(); len(w) > 0 {
		t.Fatalf("a snapshot of routes sent commands that are not reads: %v", w)
	}
	// parts not asking for routes leave them out
	if s, err = r.Snapshot(ctx, Filter{Parts: Breakers}); err != nil || s.Routes != nil {
		t.Fatalf("a breakers snapshot read routes %+v (%v)", s.Routes, err)
	}
}

// A snapshot with routes is still one round trip in steady state, routes
// read beside every other part.
func TestSteadyStateWithRoutesIsOneRoundTrip(t *testing.T) {
	ctx := context.Background()
	rdb, cnt := hooked(t)
	k := store.Keys{Namespace: testredis.Namespace(t)}
	seed(t, rdb, k, fleet{breakers: 5, services: 5, queues: 2, experiments: 2})
	seedTraffic(t, rdb, k, "/shop/")
	r := NewReader(rdb, Options{Keys: k})
	if _, err := r.Snapshot(ctx, Filter{}); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		cnt.reset()
		s, err := r.Snapshot(ctx, Filter{})
		if err != nil {
			t.Fatal(err)
		}
		if got := cnt.roundTrips(); got != 1 || cnt.execs != 1 || s.RoundTrips != 1 {
			t.Fatalf("steady-state snapshot %d: %d round trips (%d pipelines), want one Exec", i, got, cnt.execs)
		}
		if len(s.Routes) != 1 || s.Routes[0].Requests == 0 || len(s.Breakers) != 5 {
			t.Fatalf("snapshot %d: routes %+v, %d breakers", i, s.Routes, len(s.Breakers))
		}
	}
}

// A reader whose clock is a minute off misses the Window's buckets the
// first time and reads them in a follow-up; from then on it knows the
// offset and reads them in the first round trip.
func TestRoutesReaderLearnsRedisClockOffset(t *testing.T) {
	ctx := context.Background()
	rdb, cnt := hooked(t)
	k := store.Keys{Namespace: testredis.Namespace(t)}
	seeded, _ := rdb.Time(ctx).Result()
	seedTraffic(t, rdb, k, "/shop/")
	r := NewReader(rdb, Options{Keys: k, Now: func() time.Time { return time.Now().Add(time.Minute) }})
	for i, want := range []int{2, 1, 1} {
		cnt.reset()
		s, err := r.Snapshot(ctx, Filter{Parts: Routes})
		if err != nil {
			t.Fatal(err)
		}
		if s.RoundTrips != want || cnt.roundTrips() != want {
			t.Fatalf("snapshot %d with a clock a minute ahead: %d round trips, want %d", i, s.RoundTrips, want)
		}
		req, _ := wantTraffic(seeded, s.Time)
		if len(s.Routes) != 1 || s.Routes[0].Requests != req {
			t.Fatalf("snapshot %d: routes %+v, want %d requests", i, s.Routes, req)
		}
	}
}

// A bucket holding another type is left out; the other buckets count.
func TestRoutesSkipABucketOfAnotherType(t *testing.T) {
	ctx := context.Background()
	rdb, _ := hooked(t)
	k := store.Keys{Namespace: testredis.Namespace(t)}
	now, _ := rdb.Time(ctx).Result()
	seedTraffic(t, rdb, k, "/shop/")
	bad := routestats.Key(k, routestats.Bucket(now)-1)
	rdb.Del(ctx, bad)
	rdb.Set(ctx, bad, "not a hash", time.Minute)
	s, err := NewReader(rdb, Options{Keys: k}).Snapshot(ctx, Filter{Parts: Routes})
	if err != nil {
		t.Fatal(err)
	}
	req, _ := wantTraffic(now, s.Time)
	if first, last, _ := routestats.Window(s.Time); routestats.Bucket(now)-1 >= first && routestats.Bucket(now)-1 <= last {
		req -= 2 // the bad bucket had been given 2 requests
	}
	if len(s.Routes) != 1 || s.Routes[0].Requests != req {
		t.Fatalf("routes %+v, want %d requests (the bad bucket left out)", s.Routes, req)
	}
}

// On a Cluster the buckets spread over the nodes: a recorder's flush
// reaches them, and a steady snapshot still reads them in one Exec.
func TestRoutesOnACluster(t *testing.T) {
	url := testredis.ClusterURL(t)
	rdb, err := store.Open(store.Options{URL: url, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rdb.Close() })
	ctx := context.Background()
	k := store.Keys{Namespace: testredis.Namespace(t)}
	rec := routestats.NewRecorder(ctx, rdb, routestats.RecorderOptions{Keys: k, Interval: time.Hour})
	for i := 0; i < 4; i++ {
		rec.Record("/shop/", 200+300*(i%2), i == 0, false)
	}
	if err := rec.Close(); err != nil {
		t.Fatal(err)
	}
	cnt := newCounter()
	rdb.AddHook(cnt)
	r := NewReader(rdb, Options{Keys: k})
	if _, err := r.Snapshot(ctx, Filter{}); err != nil {
		t.Fatal(err)
	}
	cnt.reset()
	s, err := r.Snapshot(ctx, Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if cnt.execs != 1 || cnt.singles != 0 {
		t.Fatalf("steady snapshot on a cluster: %d pipelines, %d single commands; want one Exec", cnt.execs, cnt.singles)
	}
	if len(s.Routes) != 1 || s.Routes[0].Requests != 4 || s.Routes[0].Errors != 2 || s.Routes[0].Fallbacks != 1 {
		t.Fatalf("routes on a cluster %+v, want 4 requests, 2 errors, 1 fallback", s.Routes)
	}
}
