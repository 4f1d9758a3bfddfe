package bench

import (
	"os"
	"testing"

	"github.com/haderos/haderctl/internal/testredis"
)

// TestMain runs the benchmarks against the shared test Redis that
// testredis starts (and stops afterwards).
func TestMain(m *testing.M) { os.Exit(testredis.Main(m)) }

// requireRealRedis fails a benchmark whose Redis is the embedded
// miniredis: that would measure something else.
func requireRealRedis(b *testing.B) {
	b.Helper()
	if !testredis.Real(b) {
		b.Fatalf("benchmarks need a real Redis: put redis-server on PATH or set HADERCTL_TEST_REDIS_URL (got %s)", testredis.Kind())
	}
}
