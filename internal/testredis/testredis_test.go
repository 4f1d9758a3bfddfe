package testredis

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
)

func TestMain(m *testing.M) { os.Exit(Main(m)) }

func TestURLServesARealRedisWhenOneIsAvailable(t *testing.T) {
	c := Client(t)
	if Kind() == "miniredis" {
		if Required() {
			t.Fatal("HADERCTL_TEST_REQUIRE_REDIS is set but the tests run on miniredis")
		}
		return
	}
	info, err := c.Info(context.Background(), "server").Result()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(info, "redis_version:") {
		t.Fatalf("INFO server from %s does not look like a redis-server: %q", Kind(), info)
	}
}

// TestRequireForbidsTheEmbeddedFallback runs this test binary again with no
// redis-server on PATH: with the requirement on, getting a Redis fails the
// test instead of falling back to miniredis; with it off, miniredis serves.
func TestRequireForbidsTheEmbeddedFallback(t *testing.T) {
	if os.Getenv("TESTREDIS_CHILD") != "" {
		URL(t)
		t.Logf("kind=%s", Kind())
		return
	}
	for _, require := range []string{"1", ""} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestRequireForbidsTheEmbeddedFallback$", "-test.v")
		cmd.Env = append(os.Environ(), "TESTREDIS_CHILD=1", "PATH="+t.TempDir(), "HADERCTL_TEST_REDIS_URL=", "HADERCTL_TEST_REQUIRE_REDIS="+require)
		out, err := cmd.CombinedOutput()
		if require == "1" {
			if err == nil || !strings.Contains(string(out), "HADERCTL_TEST_REQUIRE_REDIS is set but there is no redis-server") {
				t.Fatalf("with the requirement on: err=%v\n%s", err, out)
			}
			continue
		}
		if err != nil || !strings.Contains(string(out), "kind=miniredis") {
			t.Fatalf("with the requirement off, expected the miniredis fallback: err=%v\n%s", err, out)
		}
	}
}
