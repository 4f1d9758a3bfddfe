package metrics_test

import (
	"testing"
	"time"

	"github.com/haderos/haderctl/internal/engine/metrics"
)

// BenchmarkRequestHook is what the gateway pays per request to count it
// (one counter and one histogram, found by their labels).
func BenchmarkRequestHook(b *testing.B) {
	m := metrics.New(metrics.Options{Routes: []metrics.Route{{Name: "/api/v1/integrations/shipping", Providers: []string{"aramex", "smsa"}}}})
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			m.Request("/api/v1/integrations/shipping", "aramex", 200, 300*time.Microsecond)
			m.Call("aramex", "successful", 280*time.Microsecond)
		}
	})
}
