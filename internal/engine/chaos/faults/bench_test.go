package faults

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"slices"
	"testing"
	"time"

	"github.com/haderos/haderctl/internal/engine/chaos"
	"github.com/haderos/haderctl/internal/engine/store"
	"github.com/haderos/haderctl/internal/engine/transport"
	"github.com/haderos/haderctl/internal/testredis"
)

// stubTransport answers at once with one shared empty response (it
// allocates nothing), so the benchmarks measure only what the chaos
// transport adds.
type stubTransport struct{}

var stubResponse = &http.Response{StatusCode: 200, Body: http.NoBody}

func (stubTransport) RoundTrip(*http.Request) (*http.Response, error) { return stubResponse, nil }

func benchRoundTrip(b *testing.B, rt http.RoundTripper) {
	req, _ := http.NewRequestWithContext(transport.WithService(context.Background(), "shopify"), "GET", "http://shopify.test/orders", nil)
	b.ReportAllocs()
	for b.Loop() {
		resp, err := rt.RoundTrip(req)
		if err != nil {
			b.Fatal(err)
		}
		resp.Body.Close()
	}
}

// armedWith makes a data plane holding exps (running for an hour), whose
// probability roll is always 0.99 and whose injected delays take no time.
func armedWith(exps ...chaos.Experiment) *Faults {
	f := New(nil, store.Keys{}, "test", nil, nil)
	now := time.Now()
	for i := range exps {
		exps[i].StartMs, exps[i].EndMs = now.UnixMilli(), now.Add(time.Hour).UnixMilli()
	}
	f.active.Store(f.arm(chaos.ActiveSet{Now: now, Experiments: exps}))
	f.roll = func() float64 { return 0.99 }
	f.wait = func(context.Context, time.Duration) error { return nil }
	return f
}

// BenchmarkTransport/plain is the base transport alone; no-experiments is
// the chaos transport in front of it with nothing active; other-service
// has an experiment running against another service; one-experiment has
// one on the called service that leaves this call alone (probability 50 %,
// the roll misses: counted as the service's baseline), and
// one-experiment-affected one that acts on it (a zero delay: counted as
// the experiment's).
func BenchmarkTransport(b *testing.B) {
	b.Run("plain", func(b *testing.B) { benchRoundTrip(b, stubTransport{}) })
	idle := New(nil, store.Keys{}, "test", nil, nil)
	b.Run("no-experiments", func(b *testing.B) { benchRoundTrip(b, &Transport{Base: stubTransport{}, Faults: idle}) })
	other := armedWith(chaos.Experiment{ID: "x", Kind: chaos.Error, Status: 503, Services: []string{"aramex"}, Probability: 1})
	b.Run("other-service", func(b *testing.B) { benchRoundTrip(b, &Transport{Base: stubTransport{}, Faults: other}) })
	missed := armedWith(chaos.Experiment{ID: "x", Kind: chaos.Error, Status: 503, Services: []string{"shopify"}, Probability: 0.5})
	b.Run("one-experiment", func(b *testing.B) { benchRoundTrip(b, &Transport{Base: stubTransport{}, Faults: missed}) })
	hit := armedWith(chaos.Experiment{ID: "x", Kind: chaos.Latency, Services: []string{"shopify"}, Probability: 1})
	b.Run("one-experiment-affected", func(b *testing.B) { benchRoundTrip(b, &Transport{Base: stubTransport{}, Faults: hit}) })
	// the same over a real loopback server and http.Transport
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	loop := func(b *testing.B, rt http.RoundTripper) {
		req, _ := http.NewRequestWithContext(transport.WithService(context.Background(), "shopify"), "GET", srv.URL, nil)
		for b.Loop() {
			resp, err := rt.RoundTrip(req)
			if err != nil {
				b.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	}
	plain := http.DefaultTransport.(*http.Transport).Clone()
	b.Run("loopback-http.Transport", func(b *testing.B) { loop(b, plain) })
	b.Run("loopback-chaos-no-experiments", func(b *testing.B) { loop(b, &Transport{Base: plain, Faults: idle}) })
}

// BenchmarkPropagation measures how long an inject and a stop take to
// reach a data plane in another process (pub/sub, with the 1 s re-read as
// backstop): median and p99 over b.N inject/stop pairs. The other process
// prints its count of active experiments when it changes; the figures
// include that pipe (tens of µs).
func BenchmarkPropagation(b *testing.B) {
	keys := store.Keys{Namespace: testredis.Namespace(b)}
	rdb := testredis.Client(b)
	c := chaos.New(rdb, chaos.Options{Keys: keys, Environment: "test", Limits: chaos.Limits{MaxPerHour: 500, MaxConcurrent: 50}})
	ctx := context.Background()
	if err := c.Enable(ctx); err != nil {
		b.Fatal(err)
	}
	child := exec.Command(os.Args[0], "-test.run=^$")
	child.Env = append(os.Environ(), childEnv+"=data-plane", "HADERCTL_CHAOS_REDIS="+testredis.URL(b), "HADERCTL_CHAOS_NS="+keys.Namespace)
	stdin, _ := child.StdinPipe()
	stdout, _ := child.StdoutPipe()
	if err := child.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() { stdin.Close(); _ = child.Wait() }()
	lines := bufio.NewScanner(stdout)
	next := func() string {
		if !lines.Scan() {
			b.Fatal("the data-plane process stopped")
		}
		return lines.Text()
	}
	if got := next(); got != "0" {
		b.Fatalf("the data plane starts with %s experiments", got)
	}
	var inject, stop []time.Duration
	for i := 0; b.Loop(); i++ {
		if i > 0 && i%400 == 0 { // the hourly start limit
			_, _ = rdb.Del(ctx, keys.ChaosStarts()).Result()
		}
		t0 := time.Now()
		e, err := c.Start(ctx, chaos.Experiment{Kind: chaos.Abort, Services: []string{"svc"}, Probability: 1, Duration: time.Minute})
		if err != nil {
			b.Fatal(err)
		}
		if next() != "1" {
			b.Fatal("unexpected count")
		}
		inject = append(inject, time.Since(t0))
		t1 := time.Now()
		if _, err := c.Stop(ctx, e.ID, "bench"); err != nil {
			b.Fatal(err)
		}
		if next() != "0" {
			b.Fatal("unexpected count")
		}
		stop = append(stop, time.Since(t1))
	}
	pct := func(d []time.Duration, p float64) float64 {
		slices.Sort(d)
		return float64(d[int(float64(len(d)-1)*p)].Microseconds()) / 1000
	}
	b.ReportMetric(pct(inject, 0.5), "inject-p50-ms")
	b.ReportMetric(pct(inject, 0.99), "inject-p99-ms")
	b.ReportMetric(pct(stop, 0.5), "stop-p50-ms")
	b.ReportMetric(pct(stop, 0.99), "stop-p99-ms")
}
