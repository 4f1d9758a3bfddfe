package dashboard

import (
	"fmt"
	"testing"
	"time"

	"github.com/haderos/haderctl/internal/engine/breaker"
	"github.com/haderos/haderctl/internal/engine/chaos"
	"github.com/haderos/haderctl/internal/engine/health"
	"github.com/haderos/haderctl/internal/engine/queue"
	"github.com/haderos/haderctl/internal/engine/snapshot"
)

// bigSnapshot has nb breakers, ns services (60 recent samples each), nq
// queues and ne experiments.
func bigSnapshot(nb, ns, nq, ne int) *snapshot.Snapshot {
	s := fixture()
	s.Breakers, s.Services, s.Queues = nil, nil, nil
	states := []breaker.State{breaker.Closed, breaker.Closed, breaker.Open, breaker.HalfOpen}
	for i := range nb {
		b := breaker.Status{Name: fmt.Sprintf("svc-%04d", i), Known: true, State: states[i%len(states)], Failures: int64(i % 3),
			UntilHalfOpen: time.Duration(i%120) * time.Second, ChangedAt: t0.Add(-time.Minute)}
		s.Breakers = append(s.Breakers, b)
	}
	for i := range ns {
		recent := make([]health.Sample, 60)
		for j := range recent {
			recent[j] = health.Sample{OK: (i+j)%9 != 0, Latency: float64(20 + (i*7+j*13)%200), Code: 200, At: t0.Add(-time.Duration(j) * 30 * time.Second)}
		}
		checked := t0.Add(-5 * time.Second)
		s.Services = append(s.Services, health.Status{Service: fmt.Sprintf("svc-%04d", i), Healthy: i%5 != 0, Status: "healthy", CheckedAt: &checked,
			Latency: 50, Recent: recent, Windows: map[string]health.Window{"24h": {Checks: 100, Uptime: ptr(99.5)}}})
	}
	for i := range nq {
		s.Queues = append(s.Queues, queue.Stats{Queue: fmt.Sprintf("queue-%02d", i), PendingTotal: int64(i * 10),
			Pending: map[queue.Priority]int64{queue.Normal: int64(i * 10)}, Delayed: int64(i), Dead: int64(i % 4)})
	}
	s.Chaos.Active = nil
	for i := range ne {
		s.Chaos.Active = append(s.Chaos.Active, chaos.ExperimentStatus{Experiment: chaos.Experiment{ID: fmt.Sprintf("exp-%02d", i),
			Kind: "latency", Services: []string{"svc-0001"}, Probability: 0.2}, TimeLeft: time.Minute})
	}
	return s
}

// BenchmarkView renders one frame at 120×40 over 1,000 breakers, 1,000
// services with 60 samples each, 50 queues and 5 experiments (the issue:
// at most 5 ms a frame).
func BenchmarkView(b *testing.B) {
	f := newFake()
	f.snap = bigSnapshot(1000, 1000, 50, 5)
	h := newHarness(b, f, Options{}, 120, 40)
	h.key("j", "j") // a cursor inside the list
	b.ReportAllocs()
	for b.Loop() {
		_ = h.m.View()
	}
}

// BenchmarkRefresh is the model's work for one refresh at 120×40 over
// the same snapshot: the result's Update (filter, summaries, depth
// history) and the frame after it. At a 1 s refresh, ns/op over 1e9 is
// the share of one core the model takes (the read itself is the
// Backend's).
func BenchmarkRefresh(b *testing.B) {
	f := newFake()
	snap := bigSnapshot(1000, 1000, 50, 5)
	f.snap = snap
	h := newHarness(b, f, Options{}, 120, 40)
	b.ReportAllocs()
	for b.Loop() {
		h.m.Update(snapshotMsg{snap: snap, at: t0})
		_ = h.m.View()
	}
}
