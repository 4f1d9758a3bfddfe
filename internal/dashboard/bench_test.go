package dashboard

import (
	"fmt"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/haderos/haderctl/internal/benchutil"
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

// BenchmarkView renders one whole frame at 120×40 over 1,000 breakers,
// 1,000 services with 60 samples each, 50 queues and 5 experiments, every
// panel's grid drawn anew (its memo cleared), as after a refresh that
// changed every visible row: the worst frame (the issue: at most 5 ms).
func BenchmarkView(b *testing.B) {
	f := newFake()
	f.snap = bigSnapshot(1000, 1000, 50, 5)
	h := newHarness(b, f, Options{}, 120, 40)
	h.key("j", "j") // a cursor inside the list
	b.ReportAllocs()
	defer reportCPU(b)()
	for b.Loop() {
		h.m.grids = [numPanels]gridMemo{}
		_ = h.m.View()
	}
}

// BenchmarkViewAfterKey is the frame after a cursor move (j, then k, in
// turn) over the same snapshot: only the focused panel's grid changed.
func BenchmarkViewAfterKey(b *testing.B) {
	f := newFake()
	f.snap = bigSnapshot(1000, 1000, 50, 5)
	h := newHarness(b, f, Options{}, 120, 40)
	h.key("j", "j")
	_ = h.m.View()
	keys := []tea.KeyPressMsg{keyMsg("j"), keyMsg("k")}
	b.ReportAllocs()
	defer reportCPU(b)()
	i := 0
	for b.Loop() {
		h.m.Update(keys[i%2])
		i++
		_ = h.m.View()
	}
}

// reportCPU reports this process' CPU per op (cpu-ms/op) when the
// returned func runs after the loop: the cost of a frame on a loaded
// machine, where ns/op also counts the time other processes had the
// cores.
func reportCPU(b *testing.B) func() {
	cpu0, ok := benchutil.ProcessCPU()
	return func() {
		if cpu1, ok1 := benchutil.ProcessCPU(); ok && ok1 && b.N > 0 {
			b.ReportMetric(float64((cpu1-cpu0).Microseconds())/1000/float64(b.N), "cpu-ms/op")
		}
	}
}

// BenchmarkRefresh is the model's work for one refresh at 120×40 over
// the same snapshot: the result's Update (filter, summaries, depth
// history) and the frame after it, every grid drawn anew (the worst
// case, as in BenchmarkView). At a 1 s refresh, ns/op over 1e9 is the
// share of one core the model takes (the read itself is the Backend's).
func BenchmarkRefresh(b *testing.B) {
	f := newFake()
	snap := bigSnapshot(1000, 1000, 50, 5)
	f.snap = snap
	h := newHarness(b, f, Options{}, 120, 40)
	b.ReportAllocs()
	defer reportCPU(b)()
	for b.Loop() {
		h.m.Update(snapshotMsg{snap: snap, at: t0})
		h.m.grids = [numPanels]gridMemo{}
		_ = h.m.View()
	}
}
