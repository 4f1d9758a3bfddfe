package breaker

import (
	"os"
	"testing"

	"github.com/haderos/haderctl/internal/testredis"
)

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		os.Exit(childMain())
	}
	os.Exit(testredis.Main(m))
}
