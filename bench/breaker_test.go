package bench

// The shared circuit breaker's CLOSED happy path against sony/gobreaker
// (docs/benchmarks.md, "CLOSED happy path"):
//
//	cd bench && go test -run '^$' -bench ClosedHappyPath -benchtime 2s -count 6
//
// The breaker's benchmarks that have no peer (calls that must go to Redis)
// stay in internal/engine/breaker.

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/haderos/haderctl/internal/engine/breaker"
	"github.com/haderos/haderctl/internal/engine/store"
	"github.com/haderos/haderctl/internal/testredis"
	"github.com/redis/go-redis/v9"
	"github.com/sony/gobreaker/v2"
)

// commandCounter is a go-redis hook counting the commands sent.
type commandCounter struct{ n atomic.Int64 }

func (c *commandCounter) DialHook(next redis.DialHook) redis.DialHook { return next }
func (c *commandCounter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error { c.n.Add(1); return next(ctx, cmd) }
}
func (c *commandCounter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error { c.n.Add(int64(len(cmds))); return next(ctx, cmds) }
}

// newBreakerEngine is a breaker engine on the shared real Redis, in a
// namespace of its own, with a command counter hooked into its client. It
// is made once per benchmark (not per b.N round), in the parent b.
func newBreakerEngine(b *testing.B, o breaker.Options) (*breaker.Engine, *commandCounter) {
	b.Helper()
	requireRealRedis(b)
	rdb, err := store.Open(store.Options{URL: testredis.URL(b)})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { rdb.Close() })
	counter := &commandCounter{}
	rdb.AddHook(counter)
	if o.Keys.Namespace == "" {
		o.Keys = store.Keys{Namespace: testredis.Namespace(b)}
	}
	e := breaker.New(rdb, o)
	b.Cleanup(e.Close)
	return e, counter
}

// BenchmarkClosedHappyPath measures a successful call on a CLOSED breaker
// (shared state on a real Redis) against sony/gobreaker's in-memory
// Execute, serially and with b.RunParallel. Ours and gobreaker's are
// sub-benchmarks of this one, so every run measures both.
func BenchmarkClosedHappyPath(b *testing.B) {
	ctx := context.Background()
	e, counter := newBreakerEngine(b, breaker.Options{})
	// Warm up: read the state into the cache, register the name, load the
	// record script (EVALSHA, then EVAL once) by a failure and clear it.
	for _, ok := range []bool{false, true} {
		done, err := e.Allow(ctx, "svc")
		if err != nil {
			b.Fatal(err)
		}
		done(ok)
	}
	ok := func(context.Context) error { return nil }
	cb := gobreaker.NewCircuitBreaker[struct{}](gobreaker.Settings{Name: "svc"})
	okG := func() (struct{}, error) { return struct{}{}, nil }

	cases := []struct {
		name string
		op   func() error
	}{
		{"haderctl-Allow", func() error {
			done, err := e.Allow(ctx, "svc")
			if err != nil {
				return err
			}
			done(true)
			return nil
		}},
		{"haderctl-Execute", func() error { return e.Execute(ctx, "svc", ok) }},
		{"gobreaker-Execute", func() error { _, err := cb.Execute(okG); return err }},
	}
	for _, c := range cases {
		b.Run("serial/"+c.name, func(b *testing.B) {
			b.ReportAllocs()
			b.ResetTimer()
			before := counter.n.Load()
			for i := 0; i < b.N; i++ {
				if err := c.op(); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(counter.n.Load()-before)/float64(b.N), "redis-cmds/op")
		})
	}
	for _, c := range cases {
		b.Run("parallel/"+c.name, func(b *testing.B) {
			b.ReportAllocs()
			b.ResetTimer()
			before := counter.n.Load()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if err := c.op(); err != nil {
						b.Error(err) // Fatal may not be called from these goroutines
						return
					}
				}
			})
			b.StopTimer()
			b.ReportMetric(float64(counter.n.Load()-before)/float64(b.N), "redis-cmds/op")
		})
	}
}
