package queue

import (
	"os"
	"testing"

	"github.com/haderos/haderctl/internal/testredis"
)

// TestMain runs the package's tests (and benchmarks) against the shared
// test Redis, and re-enters as a drainer process when a crash test or the scale-out
// benchmark asks.
func TestMain(m *testing.M) {
	if os.Getenv(drainerEnv) != "" {
		os.Exit(runDrainerProcess())
	}
	if os.Getenv(BenchDrainerEnv) != "" {
		os.Exit(runBenchDrainer())
	}
	os.Exit(testredis.Main(m))
}
