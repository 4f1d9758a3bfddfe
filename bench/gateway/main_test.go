package gateway

import (
	"os"
	"testing"

	"github.com/haderos/haderctl/internal/testredis"
)

// TestMain stops the redis-server testredis starts for the gateway and
// removes the helper programs built for the run.
func TestMain(m *testing.M) {
	code := testredis.Main(m)
	removeTools()
	os.Exit(code)
}
