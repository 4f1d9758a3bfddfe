package metrics_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"github.com/haderos/haderctl/internal/engine"
	"github.com/haderos/haderctl/internal/engine/breaker"
	"github.com/haderos/haderctl/internal/engine/chaos"
	"github.com/haderos/haderctl/internal/engine/health"
	"github.com/haderos/haderctl/internal/engine/metrics"
	"github.com/haderos/haderctl/internal/engine/queue"
	"github.com/haderos/haderctl/internal/engine/snapshot"
	"github.com/haderos/haderctl/internal/engine/store"
	"github.com/haderos/haderctl/internal/engine/transport"
	"github.com/haderos/haderctl/internal/testredis"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

func TestMain(m *testing.M) { os.Exit(testredis.Main(m)) }

// Metrics implements the gateway's hook (internal/engine/gateway's
// Metrics interface, restated here so this package does not import the
// proxy).
var _ interface {
	Request(route, provider string, code int, d time.Duration)
	Fallback(route, from, to string)
	Call(breaker, kind string, d time.Duration)
} = (*metrics.Metrics)(nil)

func open(t *testing.T, ns string, services ...string) *engine.System {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	sys, err := engine.Open(ctx, engine.Options{Redis: store.Options{URL: testredis.URL(t)}, Namespace: ns,
		Environment: "test", Services: services})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); sys.Close() })
	return sys
}

// scrape GETs /metrics and parses it as Prometheus would.
func scrape(t *testing.T, h http.Handler) map[string]*dto.MetricFamily {
	t.Helper()
	srv := httptest.NewServer(h)
	defer srv.Close()
	req, _ := http.NewRequest("GET", srv.URL, nil)
	req.Header.Set("Accept", "text/plain")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("/metrics: %d %s", resp.StatusCode, b)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return fams
}

// sample finds the family's sample with exactly these labels.
func sample(fams map[string]*dto.MetricFamily, name string, typ dto.MetricType, labels map[string]string) (*dto.Metric, error) {
	f := fams[name]
	if f == nil {
		return nil, errors.New(name + ": family absent")
	}
	if f.GetType() != typ {
		return nil, errors.New(name + ": type " + f.GetType().String() + ", want " + typ.String())
	}
next:
	for _, m := range f.Metric {
		if len(m.Label) != len(labels) {
			continue
		}
		for _, l := range m.Label {
			if v, ok := labels[l.GetName()]; !ok || v != l.GetValue() {
				continue next
			}
		}
		return m, nil
	}
	return nil, errors.New(name + ": no sample with labels " + labelString(labels))
}

func labelString(l map[string]string) string {
	s := "{"
	for k, v := range l {
		s += k + "=" + v + ","
	}
	return s + "}"
}

func value(t *testing.T, fams map[string]*dto.MetricFamily, name string, typ dto.MetricType, labels map[string]string) float64 {
	t.Helper()
	m, err := sample(fams, name, typ, labels)
	if err != nil {
		t.Fatal(err)
	}
	switch typ {
	case dto.MetricType_GAUGE:
		return m.GetGauge().GetValue()
	case dto.MetricType_COUNTER:
		return m.GetCounter().GetValue()
	case dto.MetricType_HISTOGRAM:
		return float64(m.GetHistogram().GetSampleCount())
	}
	t.Fatalf("%s: unexpected type", name)
	return 0
}

func want(t *testing.T, fams map[string]*dto.MetricFamily, name string, typ dto.MetricType, labels map[string]string, v float64) {
	t.Helper()
	if got := value(t, fams, name, typ, labels); got != v {
		t.Errorf("%s%s = %v, want %v", name, labelString(labels), got, v)
	}
}

type L = map[string]string

const (
	gauge     = dto.MetricType_GAUGE
	counter   = dto.MetricType_COUNTER
	histogram = dto.MetricType_HISTOGRAM
)

func TestEveryFamilyIsScrapedWithTheStateSetUpInRedis(t *testing.T) {
	ctx := context.Background()
	ns := testredis.Namespace(t)
	sys := open(t, ns, "aramex", "smsa")
	m := metrics.New(metrics.Options{Reader: sys.Reader(), Calls: true,
		Routes: []metrics.Route{{Name: "/api/v1/integrations/shipping", Providers: []string{"aramex", "smsa"}}}})
	ready := m.FollowTransitions(ctx, sys.Breakers)
	select {
	case <-ready:
	case <-time.After(10 * time.Second):
		t.Fatal("the transitions subscription never went live")
	}

	// another engine instance (another process' view of the namespace)
	// opens aramex: its transition counts here
	other := open(t, ns, "aramex")
	for range 3 {
		if _, err := other.Breakers.Record(ctx, "aramex", false); err != nil {
			t.Fatal(err)
		}
	}
	// a queue with two operations pending
	for _, id := range []string{"op-1", "op-2"} {
		op := &queue.Operation{ID: id, Queue: "shipping", Operation: "create_shipment", Service: "aramex", Data: []byte(`{}`)}
		if err := sys.Queues.Check(op); err != nil {
			t.Fatal(err)
		}
		if _, err := sys.Queues.Push(ctx, []*queue.Operation{op}); err != nil {
			t.Fatal(err)
		}
	}
	// a health check that succeeds
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok") }))
	defer up.Close()
	check := health.Check{Name: "smsa", URL: up.URL, Interval: 30 * time.Second, Timeout: 5 * time.Second}
	if err := sys.Health.Register(ctx, check); err != nil {
		t.Fatal(err)
	}
	if r, err := sys.Health.Check(ctx, check); err != nil || !r.Healthy {
		t.Fatalf("health check: %+v %v", r, err)
	}
	// an experiment, and a fault it injects through this process' transport
	if err := sys.Chaos.Enable(ctx); err != nil {
		t.Fatal(err)
	}
	exp, err := sys.Chaos.Start(ctx, chaos.Experiment{Kind: chaos.Error, Status: 503, Services: []string{"smsa"}, Probability: 1, Duration: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	sys.Faults().OnInject(m.FaultInjected)
	testredis.Eventually(t, 10*time.Second, "the data plane sees the experiment", func() bool {
		for _, a := range sys.Faults().Active() {
			if a.ID == exp.ID {
				return true
			}
		}
		return false
	})
	client := &http.Client{Transport: sys.Transport(false)}
	req, _ := http.NewRequestWithContext(transport.WithService(ctx, "smsa"), "GET", up.URL, nil)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 503 {
		t.Fatalf("the experiment did not act: %d", resp.StatusCode)
	}
	// the gateway's observations
	m.Request("/api/v1/integrations/shipping", "smsa", 200, 20*time.Millisecond)
	m.Fallback("/api/v1/integrations/shipping", "aramex", "smsa")
	m.Call("aramex", "not_permitted", 0)
	m.Call("smsa", "successful", 15*time.Millisecond)

	testredis.Eventually(t, 10*time.Second, "the other process' transition is counted", func() bool {
		v, err := sample(scrape(t, m.Handler()), "haderos_circuitbreaker_transitions_total", counter, L{"name": "aramex", "from": "closed", "to": "open"})
		return err == nil && v.GetCounter().GetValue() == 1
	})
	f := scrape(t, m.Handler())
	want(t, f, "haderos_redis_up", gauge, L{}, 1)
	want(t, f, "haderos_circuitbreaker_state", gauge, L{"name": "aramex", "state": "open"}, 1)
	for _, st := range []string{"closed", "half_open", "forced_open", "disabled", "corrupt"} {
		want(t, f, "haderos_circuitbreaker_state", gauge, L{"name": "aramex", "state": st}, 0)
	}
	want(t, f, "haderos_circuitbreaker_state", gauge, L{"name": "smsa", "state": "closed"}, 1)
	want(t, f, "haderos_circuitbreaker_transitions_total", counter, L{"name": "smsa", "from": "closed", "to": "open"}, 0)
	want(t, f, "haderos_circuitbreaker_calls_seconds", histogram, L{"name": "aramex", "kind": "not_permitted"}, 1)
	want(t, f, "haderos_circuitbreaker_calls_seconds", histogram, L{"name": "smsa", "kind": "successful"}, 1)
	want(t, f, "haderos_circuitbreaker_calls_seconds", histogram, L{"name": "smsa", "kind": "failed"}, 0)
	want(t, f, "haderos_gateway_requests_total", counter, L{"route": "/api/v1/integrations/shipping", "provider": "smsa", "code": "200"}, 1)
	want(t, f, "haderos_gateway_request_duration_seconds", histogram, L{"route": "/api/v1/integrations/shipping", "provider": "smsa"}, 1)
	want(t, f, "haderos_gateway_request_duration_seconds", histogram, L{"route": "/api/v1/integrations/shipping", "provider": "aramex"}, 0)
	want(t, f, "haderos_gateway_fallbacks_total", counter, L{"route": "/api/v1/integrations/shipping", "from": "aramex", "to": "smsa"}, 1)
	want(t, f, "haderos_queue_operations", gauge, L{"queue": "shipping", "state": "pending"}, 2)
	want(t, f, "haderos_queue_operations", gauge, L{"queue": "shipping", "state": "dead"}, 0)
	want(t, f, "haderos_queue_replays_total", counter, L{"queue": "shipping", "result": "completed"}, 0)
	want(t, f, "haderos_health_up", gauge, L{"service": "smsa"}, 1)
	if lat := value(t, f, "haderos_health_latency_seconds", gauge, L{"service": "smsa"}); lat <= 0 || lat > 10 {
		t.Errorf("health latency %v s: want the last check's latency in seconds", lat)
	}
	want(t, f, "haderos_chaos_active_experiments", gauge, L{}, 1)
	want(t, f, "haderos_chaos_faults_injected_total", counter, L{"service": "smsa", "kind": "error"}, 1)
	want(t, f, "haderos_chaos_faults_injected_total", counter, L{"service": "aramex", "kind": "latency"}, 0)
	if f["go_goroutines"] == nil || f["process_start_time_seconds"] == nil {
		t.Error("the Go and process collectors are not registered")
	}
}

// failing is a Redis that cannot be read.
type failing struct{}

func (failing) Snapshot(context.Context, snapshot.Filter) (*snapshot.Snapshot, error) {
	return nil, errors.New("dial tcp 127.0.0.1:1: connection refused")
}

func TestAScrapeWhileRedisIsDownServesTheInProcessFamilies(t *testing.T) {
	m := metrics.New(metrics.Options{Reader: failing{}})
	m.Request("/r", "a", 502, time.Millisecond)
	f := scrape(t, m.Handler())
	want(t, f, "haderos_redis_up", gauge, L{}, 0)
	want(t, f, "haderos_gateway_requests_total", counter, L{"route": "/r", "provider": "a", "code": "502"}, 1)
	if f["haderos_circuitbreaker_state"] != nil {
		t.Error("breaker states exported without a snapshot")
	}
}

func TestSettingsChangesAreNotTransitions(t *testing.T) {
	m := metrics.New(metrics.Options{})
	m.Transition(breakerEvent("aramex", "closed", "closed", "configure"))
	m.Transition(breakerEvent("aramex", "open", "half_open", ""))
	f := scrape(t, m.Handler())
	want(t, f, "haderos_circuitbreaker_transitions_total", counter, L{"name": "aramex", "from": "open", "to": "half_open"}, 1)
	if _, err := sample(f, "haderos_circuitbreaker_transitions_total", counter, L{"name": "aramex", "from": "closed", "to": "closed"}); err == nil {
		t.Error("a configure event was counted as a transition")
	}
}

func breakerEvent(name, from, to, action string) breaker.Event {
	return breaker.Event{Name: name, From: breaker.State(from), To: breaker.State(to), Action: action}
}
