package snapshot

import (
	"context"
	"io"
	"testing"
	"time"

	"github.com/haderos/haderctl/internal/engine/breaker"
	"github.com/haderos/haderctl/internal/engine/store"
	"github.com/haderos/haderctl/internal/testredis"
)

// BenchmarkStreamBreakers is `breaker status -o json`'s read and write of
// 10,000 breakers (EachBreaker into a MonitoringStream), reporting the
// bytes allocated per breaker: what the garbage collector must keep up
// with, so what sets the streamed command's peak heap.
//
//	go test ./internal/engine/snapshot -run '^$' -bench StreamBreakers -count 6
func BenchmarkStreamBreakers(b *testing.B) {
	if !testredis.Real(b) {
		b.Fatalf("benchmarks need a real Redis (got %s)", testredis.Kind())
	}
	rdb, _ := hooked(b)
	k := store.Keys{Namespace: testredis.Namespace(b)}
	const breakers = 10_000
	seed(b, rdb, k, fleet{breakers: breakers})
	r := NewReader(rdb, Options{Keys: k})
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		m := NewMonitoringStream(io.Discard)
		n := 0
		first, err := r.EachBreaker(ctx, Filter{}, DefaultPage, func(s breaker.Status, now time.Time) error {
			n++
			return m.Add(s, now)
		})
		if err != nil || n != breakers {
			b.Fatalf("%d breakers, %v", n, err)
		}
		if err := m.Close(first); err != nil {
			b.Fatal(err)
		}
	}
}
