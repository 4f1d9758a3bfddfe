package gateway

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/haderos/haderctl/internal/testredis"
)

// haderctl runs the binary under test with the benchmark's config.
type haderctl struct {
	bin string
	env []string
}

// findHaderctl returns the binary to measure: HADERCTL_BIN, else
// ../../cmd/haderctl built into the benchmark's temporary directory. ok
// is false, with a note, when that binary has no gateway command.
func findHaderctl(b *testing.B) (bin string, ok bool) {
	b.Helper()
	bin = os.Getenv("HADERCTL_BIN")
	if bin == "" {
		bin = filepath.Join(b.TempDir(), "haderctl")
		build := exec.Command("go", "build", "-o", bin, "./cmd/haderctl")
		build.Dir = "../.."
		if out, err := build.CombinedOutput(); err != nil {
			b.Fatalf("go build ./cmd/haderctl: %v\n%s", err, out)
		}
	}
	if err := exec.Command(bin, "gateway", "--help").Run(); err != nil {
		b.Logf("gateway: left out: %s has no gateway command (%v); set HADERCTL_BIN to a build that has", bin, err)
		return bin, false
	}
	return bin, true
}

// gatewayConfig is the config file of the measured gateway: environment
// "test" so that chaos may act, and one service per upstream, each
// behind its breaker with the default settings.
func gatewayConfig(redisURL, namespace string, services map[string]string) string {
	cfg := fmt.Sprintf(`environment: test
redis:
  url: %s
  namespace: %s
chaos:
  allowed_environments: [test]
services:
`, redisURL, namespace)
	for _, name := range []string{"upstream", "slow"} {
		if u, ok := services[name]; ok {
			cfg += fmt.Sprintf("  - name: %s\n    base_url: %s\n", name, u)
		}
	}
	return cfg
}

// startGateway writes the config, turns chaos on (no experiment runs, so
// the chaos check runs on every request and changes none), starts
// `haderctl gateway` with flags and waits until it proxies to the
// upstream. Each gateway gets a namespace of its own.
func startGateway(b *testing.B, name, bin string, services map[string]string, flags ...string) (h haderctl, addr string) {
	b.Helper()
	dir := b.TempDir()
	path := filepath.Join(dir, "haderctl.yaml")
	redisURL, namespace := testredis.URL(b), testredis.Namespace(b)
	if err := os.WriteFile(path, []byte(gatewayConfig(redisURL, namespace, services)), 0o600); err != nil {
		b.Fatal(err)
	}
	// The environment outranks the file: the caller's REDIS_URL or
	// HADERCTL_ENV must not send the gateway elsewhere.
	h = haderctl{bin: bin, env: []string{"HADERCTL_CONFIG=" + path, "HOME=" + dir, "XDG_CONFIG_HOME=" + dir, "NO_COLOR=1",
		"REDIS_URL=" + redisURL, "HADERCTL_NAMESPACE=" + namespace, "HADERCTL_ENV=test"}}
	h.run(b, "chaos", "enable")
	addr, admin := freeAddr(b), freeAddr(b)
	client := &http.Client{Timeout: 2 * time.Second}
	args := append([]string{"gateway", "--listen", addr, "--admin-listen", admin}, flags...)
	startServing(b, name, bin, h.env, func() bool {
		return status(client, "http://"+addr+"/upstream/") == http.StatusOK
	}, args...)
	return h, addr
}

// run runs one haderctl command to its end and fails on a non-zero exit.
func (h haderctl) run(b *testing.B, args ...string) {
	b.Helper()
	cmd := exec.Command(h.bin, args...)
	cmd.Env = append(os.Environ(), h.env...)
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("haderctl %v: %v\n%s", args, err, out)
	}
}

// waitStatus polls url until it answers want, for a breaker change made
// by another process to reach the gateway.
func waitStatus(b *testing.B, url string, want int) {
	b.Helper()
	client := &http.Client{Timeout: 2 * time.Second}
	testredis.Eventually(b, 10*time.Second, fmt.Sprintf("%s answers %d", url, want), func() bool {
		return status(client, url) == want
	})
}
