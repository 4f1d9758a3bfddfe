package snapshot

import (
	"context"
	"testing"

	"github.com/haderos/haderctl/internal/engine/breaker"
	"github.com/haderos/haderctl/internal/engine/store"
	"github.com/haderos/haderctl/internal/testredis"
	"github.com/redis/go-redis/v9"
)

// A breaker's reporters set is read only once it is seen with
// min_reporters on: turned on, it is read again at once with them, and
// from then on in the one round trip.
func TestABreakerWithMinReportersIsReadWithItsReporters(t *testing.T) {
	ctx := context.Background()
	rdb, cnt := hooked(t)
	k := store.Keys{Namespace: testredis.Namespace(t)}
	now := seed(t, rdb, k, fleet{breakers: 3}) // svc-00000 is closed
	r := NewReader(rdb, Options{Keys: k})
	for i := 0; i < 2; i++ {
		if _, err := r.Snapshot(ctx, Filter{Parts: Breakers}); err != nil {
			t.Fatal(err)
		}
	}
	ms := float64(now.UnixMilli())
	rdb.HSet(ctx, k.Breaker("svc-00000"), "min_reporters", "3", "reporter_window_ms", "60000")
	rdb.ZAdd(ctx, k.BreakerReporters("svc-00000"), redis.Z{Score: ms, Member: "gw-a"},
		redis.Z{Score: ms - 1000, Member: "gw-b"}, redis.Z{Score: ms - 120000, Member: "gw-old"})
	for i, want := range []int{2, 1} {
		cnt.reset()
		s, err := r.Snapshot(ctx, Filter{Parts: Breakers})
		if err != nil {
			t.Fatal(err)
		}
		b := s.Breakers[0]
		if b.State != breaker.Closed || b.Reporters != 2 || b.Settings.MinReporters != 3 {
			t.Fatalf("snapshot %d: %s is %s with %d reporters (settings %+v), want closed with 2 (gw-old is out of the window)",
				i, b.Name, b.State, b.Reporters, b.Settings)
		}
		if got := cnt.roundTrips(); got != want {
			t.Fatalf("snapshot %d after min_reporters was set: %d round trips, want %d", i, got, want)
		}
		if m, _ := MonitoringEntry(b, s.Time); m.Reporters != 2 || m.Settings.MinReporters != 3 || m.Settings.ReporterWindow != "1m0s" {
			t.Fatalf("monitoring entry %+v, want reporters 2 and min_reporters 3 in its settings", m)
		}
	}
}
