package snapshot

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/haderos/haderctl/internal/engine/breaker"
	"github.com/haderos/haderctl/internal/engine/store"
	"github.com/haderos/haderctl/internal/testredis"
	"github.com/redis/go-redis/v9"
)

// The processes that reported running a breaker in memory are counted in
// the snapshot's one round trip, within the fallback window, and shown in
// the monitoring shape.
func TestABreakerIsReadWithItsFallbackReporters(t *testing.T) {
	ctx := context.Background()
	rdb, cnt := hooked(t)
	k := store.Keys{Namespace: testredis.Namespace(t)}
	now := seed(t, rdb, k, fleet{breakers: 2})
	r := NewReader(rdb, Options{Keys: k})
	if _, err := r.Snapshot(ctx, Filter{Parts: Breakers}); err != nil {
		t.Fatal(err)
	}
	ms := float64(now.UnixMilli())
	rdb.ZAdd(ctx, k.BreakerFallbacks("svc-00000"), redis.Z{Score: ms, Member: "gw-a"},
		redis.Z{Score: ms - 60000, Member: "gw-b"},
		redis.Z{Score: ms - float64(breaker.FallbackWindow.Milliseconds()) - 1000, Member: "gw-old"})
	cnt.reset()
	s, err := r.Snapshot(ctx, Filter{Parts: Breakers})
	if err != nil {
		t.Fatal(err)
	}
	if got := cnt.roundTrips(); got != 1 {
		t.Fatalf("%d round trips, want 1", got)
	}
	got := map[string]int64{}
	var svc0 breaker.Status
	for _, b := range s.Breakers {
		got[b.Name] = b.FallbackReporters
		if b.Name == "svc-00000" {
			svc0 = b
		}
	}
	if got["svc-00000"] != 2 || got["svc-00001"] != 0 {
		t.Fatalf("fallback reporters %v, want svc-00000: 2 (gw-old is out of the window), svc-00001: 0", got)
	}
	m, _ := MonitoringEntry(svc0, s.Time)
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), `"fallback_reporters":2`) {
		t.Fatalf("monitoring entry %s lacks fallback_reporters 2", out)
	}
}
