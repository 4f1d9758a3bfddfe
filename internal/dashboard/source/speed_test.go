package source

// The refresh's cost with issue 13's population (docs/benchmarks.md):
//
//	go test ./internal/dashboard/source -run '^$' -bench Snapshot1000 -count 6

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/haderos/haderctl/internal/benchutil"
	"github.com/haderos/haderctl/internal/dashboard/source/sourcetest"
	"github.com/haderos/haderctl/internal/engine"
	"github.com/haderos/haderctl/internal/testredis"
	"github.com/redis/go-redis/v9"
)

// measured marks the contexts whose Redis round trips a tripCounter
// counts, so the engine's own background reads are left out.
type measured struct{}

// tripCounter is a go-redis hook counting round trips (a pipeline's Exec,
// or one command outside a pipeline) made under a measured context.
type tripCounter struct{ n atomic.Int64 }

func (c *tripCounter) DialHook(next redis.DialHook) redis.DialHook { return next }

func (c *tripCounter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if ctx.Value(measured{}) != nil {
			c.n.Add(1)
		}
		return next(ctx, cmd)
	}
}

func (c *tripCounter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if ctx.Value(measured{}) != nil {
			c.n.Add(1)
		}
		return next(ctx, cmds)
	}
}

// populated opens the dashboard's engine over a namespace holding issue
// 13's population, built by another engine (whose background work is
// not the dashboard's), with a round-trip counter on the dashboard's.
func populated(tb testing.TB, p sourcetest.Population) (*engine.System, *tripCounter) {
	tb.Helper()
	ns := testredis.Namespace(tb)
	o := options(tb, ns)
	o.Services = nil // only what Redis holds: 1,000 breakers exactly
	builder := open(tb, o)
	if err := sourcetest.Populate(context.Background(), builder, p); err != nil {
		tb.Fatal(err)
	}
	builder.Close() // its background work (the chaos data plane) is not the dashboard's
	sys := open(tb, o)
	cnt := &tripCounter{}
	sys.Redis.AddHook(cnt)
	return sys, cnt
}

func TestARefreshOf1000Breakers1000Services50QueuesIsOneRoundTrip(t *testing.T) {
	sys, cnt := populated(t, sourcetest.Issue13)
	b := New(sys, Options{})
	ctx := context.WithValue(context.Background(), measured{}, true)
	if _, err := b.Snapshot(ctx); err != nil { // warm-up: learns the names
		t.Fatal(err)
	}
	p := sourcetest.Issue13
	for refresh := range 3 {
		cnt.n.Store(0)
		s, err := b.Snapshot(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if got := cnt.n.Load(); got != 1 || s.RoundTrips != 1 {
			t.Fatalf("refresh %d took %d round trips (the snapshot counts %d), want 1", refresh, got, s.RoundTrips)
		}
		if len(s.Breakers) != p.Breakers || len(s.Services) != p.Services || len(s.Queues) != p.Queues || len(s.Chaos.Active) != p.Experiments {
			t.Fatalf("refresh %d read %d breakers, %d services, %d queues, %d experiments; want %d, %d, %d, %d", refresh,
				len(s.Breakers), len(s.Services), len(s.Queues), len(s.Chaos.Active), p.Breakers, p.Services, p.Queues, p.Experiments)
		}
		open, alerts := 0, 0
		for _, st := range s.Breakers {
			if st.State == "open" {
				open++
			}
		}
		for _, st := range s.Services {
			if len(st.Recent) != p.Checks {
				t.Fatalf("service %s has %d recent samples for its sparkline, want %d", st.Service, len(st.Recent), p.Checks)
			}
			if st.AlertOpen {
				alerts++
			}
		}
		if open < p.Breakers/10 || alerts != p.Services/10 {
			t.Fatalf("%d open breakers and %d open alerts, want at least %d and exactly %d", open, alerts, p.Breakers/10, p.Services/10)
		}
	}
}

// BenchmarkSnapshot1000 is one dashboard refresh (Backend.Snapshot with
// the sparklines' samples) of 1,000 breakers, 1,000 services, 50 queues
// and 3 experiments, warm: ns/op, and round trips per refresh (must be
// 1), and this process' CPU per refresh (cpu-ms/op: at a 1 s refresh,
// that many ms is that many tenths of a percent of one core). samples3
// checks each service 3 times; samples30 30 times, so each refresh reads
// and decodes the 30 samples the sparklines ask for.
func BenchmarkSnapshot1000(b *testing.B) {
	if !testredis.Real(b) {
		b.Fatalf("benchmarks need a real Redis (got %s)", testredis.Kind())
	}
	full := sourcetest.Issue13
	full.Checks = DefaultSamples
	for _, bc := range []struct {
		name string
		p    sourcetest.Population
	}{{"samples3", sourcetest.Issue13}, {"samples30", full}} {
		b.Run(bc.name, func(b *testing.B) {
			sys, cnt := populated(b, bc.p)
			be := New(sys, Options{})
			ctx := context.WithValue(context.Background(), measured{}, true)
			for range 2 {
				if _, err := be.Snapshot(ctx); err != nil {
					b.Fatal(err)
				}
			}
			cnt.n.Store(0)
			b.ReportAllocs()
			cpu0, measuredCPU := benchutil.ProcessCPU()
			b.ResetTimer()
			n := 0
			for b.Loop() {
				if _, err := be.Snapshot(ctx); err != nil {
					b.Fatal(err)
				}
				n++
			}
			b.StopTimer()
			b.ReportMetric(float64(cnt.n.Load())/float64(n), "round-trips/op")
			if cpu1, ok := benchutil.ProcessCPU(); ok && measuredCPU {
				// this process' CPU only: Redis' own work is in its process
				b.ReportMetric(float64((cpu1-cpu0).Microseconds())/1000/float64(n), "cpu-ms/op")
			}
		})
	}
}
