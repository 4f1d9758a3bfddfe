package snapshot

// The snapshot's speed (docs/benchmarks.md has the figures and commands):
//
//	go test ./internal/engine/snapshot -run '^$' -bench Snapshot -count 6
//
// It needs a real redis-server (the harness starts one): miniredis would
// measure something else.

import (
	"context"
	"testing"

	"github.com/haderos/haderctl/internal/engine/store"
	"github.com/haderos/haderctl/internal/testredis"
)

// BenchmarkSnapshot reads 1,000 breakers, 1,000 services, 50 queues and 20
// experiments with a warm Reader (steady state, as a dashboard or the
// gateway polls). It reports the round trips per snapshot (counted by a
// go-redis hook; must be 1) and the allocations per breaker of a
// breakers-only snapshot.
func BenchmarkSnapshot(b *testing.B) {
	if !testredis.Real(b) {
		b.Fatalf("benchmarks need a real Redis (got %s)", testredis.Kind())
	}
	rdb, cnt := hooked(b)
	k := store.Keys{Namespace: testredis.Namespace(b)}
	const breakers = 1000
	seed(b, rdb, k, fleet{breakers: breakers, services: 1000, queues: 50, experiments: 20, events: 2})
	ctx := context.Background()
	for _, bc := range []struct {
		name   string
		filter Filter
	}{{"all", Filter{}}, {"all+events5", Filter{Events: 5}}} {
		b.Run(bc.name, func(b *testing.B) {
			r := NewReader(rdb, Options{Keys: k})
			for range 2 { // warm the name cache
				if _, err := r.Snapshot(ctx, bc.filter); err != nil {
					b.Fatal(err)
				}
			}
			cnt.reset()
			b.ReportAllocs()
			b.ResetTimer()
			n := 0
			for b.Loop() {
				s, err := r.Snapshot(ctx, bc.filter)
				if err != nil {
					b.Fatal(err)
				}
				if len(s.Breakers) != breakers {
					b.Fatalf("read %d breakers", len(s.Breakers))
				}
				n++
			}
			b.StopTimer()
			b.ReportMetric(float64(cnt.roundTrips())/float64(n), "round-trips/op")
			only := NewReader(rdb, Options{Keys: k})
			only.Snapshot(ctx, Filter{Parts: Breakers})
			allocs := testing.AllocsPerRun(5, func() {
				if _, err := only.Snapshot(ctx, Filter{Parts: Breakers, Events: bc.filter.Events}); err != nil {
					b.Fatal(err)
				}
			})
			b.ReportMetric(allocs/breakers, "allocs/breaker")
		})
	}
}
