package gateway_test

import (
	"context"
	"math"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/haderos/haderctl/internal/engine"
	"github.com/haderos/haderctl/internal/engine/gateway"
	"github.com/haderos/haderctl/internal/engine/gateway/routestats"
	"github.com/haderos/haderctl/internal/engine/gateway/writes"
	"github.com/haderos/haderctl/internal/engine/snapshot"
	"github.com/haderos/haderctl/internal/engine/store"
	"github.com/haderos/haderctl/internal/testredis"
)

// realWrites is the gateway's queued writes as the command wires them.
type realWrites struct{ w *writes.Writer }

func (q realWrites) Begin(w http.ResponseWriter, r *http.Request, body []byte, queue string) (gateway.WriteTicket, bool) {
	t, done := q.w.Begin(w, r, body, queue)
	if done {
		return nil, true
	}
	return t, false
}

// routeTraffic reads one route's traffic from a snapshot of sys.
func routeTraffic(t *testing.T, sys *engine.System, route string) (routestats.Stats, *snapshot.Snapshot) {
	t.Helper()
	s, err := sys.Reader().Snapshot(context.Background(), snapshot.Filter{Parts: snapshot.Routes | snapshot.Queues})
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range s.Routes {
		if st.Route == route {
			return st, s
		}
	}
	return routestats.Stats{Route: route}, s
}

type traffic struct{ req, err, fb, q int64 }

func trafficOf(s routestats.Stats) traffic {
	return traffic{s.Requests, s.Errors, s.Fallbacks, s.Queued}
}

// Requests through a gateway whose first provider fails show up in a
// snapshot's Routes: every answer a request, the 5xx answers (the
// gateway's own 503 included) errors, the answers of the second provider
// fallbacks, the write stored for replay queued.
func TestRouteTrafficReachesTheSnapshot(t *testing.T) {
	aramex, smsa := newUpstream(t, "a"), newUpstream(t, "s")
	aramex.set(500)
	f := &fixture{t: t, sys: openSystem(t, "development"), metrics: &fakeMetrics{}}
	w := writes.New(f.sys.Redis, f.sys.Queues, writes.Options{Keys: f.sys.Keys})
	gw, err := gateway.New(f.sys, shipping(aramex.URL, smsa.URL), gateway.Options{Environment: "development",
		Metrics: f.metrics, Writes: realWrites{w}, TrafficInterval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(gw.Close)
	f.gw, f.srv = gw, httptest.NewServer(gw)
	t.Cleanup(f.srv.Close)
	const route = "/api/v1/integrations/shipping/"

	// aramex fails (its breaker opens after one failure): smsa answers
	for i := 0; i < 3; i++ {
		if resp, _ := f.do("GET", route+"rates", ""); resp.StatusCode != 200 || resp.Header.Get(gateway.HeaderFallback) != "true" {
			t.Fatalf("GET %d: %d %v, want smsa's 200 as a fallback", i, resp.StatusCode, resp.Header)
		}
	}
	// smsa fails too, as the last provider: its 500 is passed on
	smsa.set(500)
	if resp, _ := f.do("GET", route+"rates", ""); resp.StatusCode != 500 || resp.Header.Get(gateway.HeaderProvider) != "smsa" {
		t.Fatalf("GET with smsa failing: %d %v", resp.StatusCode, resp.Header)
	}
	// both breakers open: a read fails fast, a write is queued
	if resp, _ := f.do("GET", route+"rates", ""); resp.StatusCode != 503 {
		t.Fatalf("GET with both open: %d, want 503", resp.StatusCode)
	}
	if resp, _ := f.do("POST", route+"orders", `{"kg":2}`); resp.StatusCode != 202 {
		t.Fatalf("POST with both open: %d, want 202", resp.StatusCode)
	}
	// a request no route takes counts nowhere
	if resp, _ := f.do("GET", "/nowhere", ""); resp.StatusCode != 404 {
		t.Fatalf("GET /nowhere: %d", resp.StatusCode)
	}
	want := traffic{req: 6, err: 2, fb: 4, q: 1}
	var st routestats.Stats
	var s *snapshot.Snapshot
	testredis.Eventually(t, 10*time.Second, "the route's traffic in the snapshot", func() bool {
		st, s = routeTraffic(t, f.sys, route)
		return trafficOf(st) == want
	})
	if len(s.Routes) != 1 {
		t.Fatalf("routes %+v, want only the shipping route (no traffic on the services' own)", s.Routes)
	}
	if math.Abs(st.ErrorPercent-100*2.0/6) > 1e-9 || st.Window < time.Minute || math.Abs(st.PerSecond-6/st.Window.Seconds()) > 1e-9 {
		t.Fatalf("rates %+v", st)
	}
	if len(s.Queues) != 1 || s.Queues[0].PendingTotal != 1 {
		t.Fatalf("queues %+v, want the one queued write", s.Queues)
	}
	// a service's own route has its own name
	aramex.set(200)
	if _, err := f.sys.Breakers.Reset(context.Background(), "aramex", "test: aramex answers again"); err != nil {
		t.Fatal(err)
	}
	if resp, _ := f.do("GET", "/aramex/x", ""); resp.StatusCode != 200 {
		t.Fatalf("GET /aramex/x: %d", resp.StatusCode)
	}
	testredis.Eventually(t, 10*time.Second, "the service route's traffic", func() bool {
		st, _ := routeTraffic(t, f.sys, "/aramex/")
		return trafficOf(st) == traffic{req: 1}
	})
}

// Two gateway processes of one namespace add up; Close adds what the
// flusher has not yet.
func TestTwoGatewaysTrafficSumsAndCloseFlushesTheRest(t *testing.T) {
	ns := testredis.Namespace(t)
	open := func() *engine.System {
		sys, err := engine.Open(context.Background(), engine.Options{Redis: store.Options{URL: testredis.URL(t)},
			Namespace: ns, Environment: "development"})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { sys.Close() })
		return sys
	}
	shop := newUpstream(t, "ok")
	c := gateway.Config{Services: []gateway.Service{{Name: "shop", BaseURL: shop.URL}}}
	var fronts []*httptest.Server
	var gws []*gateway.Gateway
	for _, interval := range []time.Duration{20 * time.Millisecond, time.Hour} {
		gw, err := gateway.New(open(), c, gateway.Options{Environment: "development", TrafficInterval: interval})
		if err != nil {
			t.Fatal(err)
		}
		gws = append(gws, gw)
		fronts = append(fronts, httptest.NewServer(gw))
		t.Cleanup(fronts[len(fronts)-1].Close)
	}
	get := func(front *httptest.Server) {
		resp, err := http.Get(front.URL + "/shop/x")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("GET: %d", resp.StatusCode)
		}
	}
	for i := 0; i < 2; i++ {
		get(fronts[0])
	}
	for i := 0; i < 3; i++ {
		get(fronts[1])
	}
	reader := open()
	testredis.Eventually(t, 10*time.Second, "the first gateway's flush", func() bool {
		st, _ := routeTraffic(t, reader, "/shop/")
		return st.Requests == 2
	})
	// the second flushes only when it closes (its interval is an hour)
	gws[1].Close()
	if st, _ := routeTraffic(t, reader, "/shop/"); st.Requests != 5 {
		t.Fatalf("after the second gateway closed: %d requests, want 2 + 3", st.Requests)
	}
	gws[0].Close()
}
