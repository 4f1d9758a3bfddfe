package faults

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/haderos/haderctl/internal/engine/chaos"
	"github.com/haderos/haderctl/internal/engine/store"
	"github.com/haderos/haderctl/internal/engine/transport"
)

func TestImpactCountsGoToTheExperimentAndItsTargetOrTheBaseline(t *testing.T) {
	f := New(nil, store.Keys{}, "test", nil, nil)
	now := time.Now()
	end := now.Add(time.Hour).UnixMilli()
	f.active.Store(f.arm(chaos.ActiveSet{Now: now, Experiments: []chaos.Experiment{
		{ID: "err", Kind: chaos.Error, Status: 503, Services: []string{"shopify"}, Probability: 0.5, StartMs: now.UnixMilli(), EndMs: end},
		{ID: "slow", Kind: chaos.Latency, Services: []string{"*"}, Probability: 0.5, PathPrefix: "/slow", StartMs: now.UnixMilli(), EndMs: end},
	}}))
	rolls := []float64{0.1, 0.9} // hit, miss, hit, miss...
	n := 0
	f.roll = func() float64 { n++; return rolls[(n-1)%2] }
	f.wait = func(context.Context, time.Duration) error { return nil }
	rt := &Transport{Base: stubTransport{}, Faults: f}
	call := func(svc, path string) {
		req, _ := http.NewRequestWithContext(transport.WithService(context.Background(), svc), "GET", "http://x.test"+path, nil)
		if _, err := rt.RoundTrip(req); err != nil {
			t.Fatal(err)
		}
	}
	call("shopify", "/")    // err hits: 503
	call("shopify", "/")    // err misses; slow does not match the path: baseline
	call("aramex", "/slow") // slow hits (roll 0.1)
	call("aramex", "/slow") // slow misses (roll 0.9): baseline of every service
	call("aramex", "/")     // nothing matches: baseline of every service
	got := f.counts.take()
	want := map[string]taken{
		"err":                                    {calls: 1, errors: 1},
		chaos.ServiceImpactKey("err", "shopify"): {calls: 1, errors: 1}, // its named target's own count
		"slow":                                   {calls: 1},            // on "*": the total alone
		chaos.BaselineKey("shopify"):             {calls: 1},
		chaos.BaselineKey("*"):                   {calls: 3},
	}
	for k, w := range want {
		if g := got[k]; g.calls != w.calls || g.errors != w.errors {
			t.Errorf("%s: %d calls, %d errors; want %d, %d", k, g.calls, g.errors, w.calls, w.errors)
		}
	}
	if len(got) != len(want) {
		t.Errorf("counted under %v, want only %v", got, want)
	}
	if again := f.counts.take(); len(again) != 0 {
		t.Fatalf("a second take found %v: the first did not move the counts out", again)
	}
}

func TestACounterNoSetArmsIsKeptForAnHourThenForgotten(t *testing.T) {
	var r registry
	c := r.get("gone")
	for range retainFlushes {
		r.take()
	}
	// a request holding an older set can still count into it
	c.add(true, 1500*time.Nanosecond)
	if got := r.take()["gone"]; got.calls != 1 || got.errors != 1 || got.latencyUs != 1 {
		t.Fatalf("a late count: %+v, want 1 call, 1 error, 1 µs", got)
	}
	for range retainFlushes + 1 {
		r.take()
	}
	if len(r.byKey) != 0 {
		t.Fatalf("after an hour idle the registry still holds %d counters", len(r.byKey))
	}
}

// cancelledTransport fails every call the way net/http does once the
// request's context is cancelled: with the context's cause.
type cancelledTransport struct{}

func (cancelledTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	return nil, context.Cause(req.Context())
}

// A call its caller cancelled says nothing about the service (the
// transport's rule for the breaker): it is counted neither under the
// experiment that delayed it nor under the baseline, so a user giving up
// does not raise an experiment's error rate.
func TestACallItsCallerCancelledIsNotCounted(t *testing.T) {
	f := New(nil, store.Keys{}, "test", nil, nil)
	now := time.Now()
	end := now.Add(time.Hour).UnixMilli()
	f.active.Store(f.arm(chaos.ActiveSet{Now: now, Experiments: []chaos.Experiment{
		{ID: "slow", Kind: chaos.Latency, Delay: time.Second, Services: []string{"shopify"}, Probability: 1, PathPrefix: "/slow", StartMs: now.UnixMilli(), EndMs: end},
	}}))
	f.roll = func() float64 { return 0 }
	f.wait = func(ctx context.Context, _ time.Duration) error { return context.Cause(ctx) }
	rt := &Transport{Base: cancelledTransport{}, Faults: f}
	ctx, cancel := context.WithCancelCause(context.Background())
	cancel(context.Canceled)
	for _, path := range []string{"/slow", "/"} { // cancelled in the delay; cancelled on the network
		req, _ := http.NewRequestWithContext(transport.WithService(ctx, "shopify"), "GET", "http://x.test"+path, nil)
		if _, err := rt.RoundTrip(req); err == nil {
			t.Fatalf("%s: a cancelled call succeeded", path)
		}
	}
	gone := errors.New("the client went away")
	ctx, cancel = context.WithCancelCause(context.Background())
	cancel(gone)
	req, _ := http.NewRequestWithContext(transport.WithService(ctx, "shopify"), "GET", "http://x.test/slow", nil)
	if _, err := rt.RoundTrip(req); !errors.Is(err, gone) {
		t.Fatalf("want the cancel cause, got %v", err)
	}
	if got := f.counts.take(); len(got) != 0 {
		t.Fatalf("cancelled calls were counted: %v", got)
	}
	// a call that ran out of time is the experiment's impact: counted
	ctx, stop := context.WithTimeout(context.Background(), -time.Second)
	defer stop()
	req, _ = http.NewRequestWithContext(transport.WithService(ctx, "shopify"), "GET", "http://x.test/slow", nil)
	if _, err := rt.RoundTrip(req); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("want context.DeadlineExceeded, got %v", err)
	}
	if got := f.counts.take()["slow"]; got.calls != 1 || got.errors != 1 {
		t.Fatalf("a timed-out call: %+v, want 1 call, 1 error", got)
	}
}
