package breaker

// Speed benchmarks (docs/benchmarks.md has the figures and the commands):
//
//	go test ./internal/engine/breaker -run '^$' -bench . -benchtime 2s -count 3
//
// The CLOSED happy path against sony/gobreaker is in the benchmark module
// (bench/breaker_test.go), so gobreaker stays out of the main go.mod.
//
// They need a real redis-server (on PATH, or HADERCTL_TEST_REDIS_URL): the
// embedded miniredis fallback would measure something else.

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/haderos/haderctl/internal/engine/store"
	"github.com/haderos/haderctl/internal/testredis"
)

// benchCallers is the number of concurrent callers of BenchmarkRedisPath.
const benchCallers = 8

// newBenchEngine is newTestEngine for a benchmark: an engine on the shared
// real Redis, in a namespace of its own, with a command counter hooked in.
// It is made once per benchmark (not per b.N round), in the parent b.
func newBenchEngine(b *testing.B, o Options) (*Engine, *commandCounter) {
	b.Helper()
	if !testredis.Real(b) {
		b.Fatalf("benchmarks need a real Redis: put redis-server on PATH or set HADERCTL_TEST_REDIS_URL (got %s)", testredis.Kind())
	}
	rdb, err := store.Open(store.Options{URL: testredis.URL(b)})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { rdb.Close() })
	if o.Keys.Namespace == "" {
		o.Keys = store.Keys{Namespace: testredis.Namespace(b)}
	}
	e := New(rdb, o)
	b.Cleanup(e.Close)
	counter := &commandCounter{}
	e.rdb.AddHook(counter)
	return e, counter
}

// reportThroughput adds ops/s and the Redis commands sent per operation
// since before (the counter value when the timer was reset).
func reportThroughput(b *testing.B, counter *commandCounter, before int64) {
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
	b.ReportMetric(float64(counter.n.Load()-before)/float64(b.N), "redis-cmds/op")
}

// runCallers runs op b.N times in total across n goroutines (n concurrent
// callers whatever GOMAXPROCS is). The first error stops every caller.
func runCallers(b *testing.B, n int, op func() error) {
	b.Helper()
	var next atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	for w := 0; w < n; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(b.N) {
				if err := op(); err != nil {
					firstErr.CompareAndSwap(nil, err)
					next.Store(int64(b.N)) // stop the others
					return
				}
			}
		}()
	}
	wg.Wait()
	if err, _ := firstErr.Load().(error); err != nil {
		b.Fatal(err)
	}
}

// warmUp runs op a few times from n goroutines at once, before the timer
// is reset: the first calls register the name and load the scripts, and the
// concurrent ones fill the connection pool (each new connection's handshake
// would otherwise be counted as commands of the measured calls).
func warmUp(b *testing.B, n int, op func() error) {
	b.Helper()
	errs := make(chan error, n)
	if err := op(); err != nil {
		b.Fatal(err)
	}
	for w := 0; w < n; w++ {
		go func() {
			for i := 0; i < 4; i++ {
				if err := op(); err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for w := 0; w < n; w++ {
		if err := <-errs; err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRedisPath measures calls that must go to Redis, with
// benchCallers concurrent callers: recorded failures on a breaker that
// never opens, and half-open probes (Acquire then Finish) on a breaker that
// never closes. One op is one failure or one probe (two script calls).
// The backstop re-read is pushed out of the run (RefreshInterval 1 h) so
// redis-cmds/op counts only what the calls send.
func BenchmarkRedisPath(b *testing.B) {
	ctx := context.Background()

	b.Run("failure-Record", func(b *testing.B) {
		e, counter := newBenchEngine(b, Options{RefreshInterval: time.Hour,
			Settings: func(string) Settings { return Settings{FailureThreshold: 1 << 30} }})
		op := func() error { _, err := e.Record(ctx, "svc", false); return err }
		b.Run("callers=8", func(b *testing.B) {
			warmUp(b, benchCallers, op) // SADD, EVALSHA→EVAL, 8 pooled connections
			b.ResetTimer()
			before := counter.n.Load()
			runCallers(b, benchCallers, op)
			b.StopTimer()
			reportThroughput(b, counter, before)
		})
	})

	b.Run("failure-Allow", func(b *testing.B) {
		e, counter := newBenchEngine(b, Options{RefreshInterval: time.Hour,
			Settings: func(string) Settings { return Settings{FailureThreshold: 1 << 30} }})
		op := func() error {
			done, err := e.Allow(ctx, "svc")
			if err != nil {
				return err
			}
			done(false)
			return nil
		}
		b.Run("callers=8", func(b *testing.B) {
			warmUp(b, benchCallers, op) // acquire and record scripts, SADD, pool
			if c := e.fresh("svc"); c == nil || c.state != Closed {
				b.Fatal("warm-up left the breaker uncached or not closed")
			}
			b.ResetTimer()
			before := counter.n.Load()
			runCallers(b, benchCallers, op)
			b.StopTimer()
			reportThroughput(b, counter, before)
		})
	})

	b.Run("halfopen-probe", func(b *testing.B) {
		// One failure opens it; 1 ms later the first Acquire moves it to
		// HALF_OPEN, where it stays: the success threshold is never reached.
		s := Settings{FailureThreshold: 1, RecoveryTimeout: time.Millisecond,
			SuccessThreshold: 1 << 30, MaxProbes: 1 << 30, ProbeLease: time.Minute}
		e, counter := newBenchEngine(b, Options{RefreshInterval: time.Hour,
			Settings: func(string) Settings { return s }})
		if _, err := e.Record(ctx, "svc", false); err != nil {
			b.Fatal(err)
		}
		time.Sleep(5 * time.Millisecond) // past the 1 ms recovery timeout
		op := func() error {
			a, err := e.Acquire(ctx, "svc")
			if err != nil {
				return err
			}
			if a.Token == "" {
				return errors.New("admitted without a probe token: the breaker left HALF_OPEN")
			}
			r, err := e.Finish(ctx, a, true)
			if err != nil {
				return err
			}
			if r.State != HalfOpen || !r.Counted {
				return errors.New("probe result not counted in HALF_OPEN")
			}
			return nil
		}
		b.Run("callers=8", func(b *testing.B) {
			warmUp(b, benchCallers, op) // both scripts loaded, in HALF_OPEN, pool
			b.ResetTimer()
			before := counter.n.Load()
			runCallers(b, benchCallers, op)
			b.StopTimer()
			reportThroughput(b, counter, before)
		})
	})
}
