package commands

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/haderos/haderctl/internal/config"
	"github.com/haderos/haderctl/internal/iostreams"
	"github.com/haderos/haderctl/internal/testredis"
)

func get(t *testing.T, url string) (int, string, http.Header) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		return 0, err.Error(), nil
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}

// The command serves the configured services, reloads on SIGHUP (a bad
// config refused, the old one kept) and stops cleanly on SIGTERM.
func TestGatewayServesReloadsAndStops(t *testing.T) {
	shop := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "shop:"+r.URL.Path) }))
	defer shop.Close()
	dir := t.TempDir()
	file := filepath.Join(dir, "haderctl.yaml")
	write := func(body string) {
		if err := os.WriteFile(file, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	services := fmt.Sprintf("environment: test\nservices:\n  - name: shop\n    base_url: %s\n", shop.URL)
	write(services)
	ns := testredis.Namespace(t)
	src := config.Sources{Dir: dir, Getenv: func(k string) string {
		return map[string]string{"REDIS_URL": testredis.URL(t), "HADERCTL_NAMESPACE": ns}[k]
	}}
	s, _, _, _ := iostreams.Test()
	stderr := &lockedBuffer{}
	s.ErrOut = stderr
	_, g := newRoot(s, src)
	sigs := make(chan os.Signal, 1)
	addrs := make(chan [2]string, 1)
	opts := &GatewayOptions{F: g.factory, Listen: "127.0.0.1:0", AdminListen: "127.0.0.1:0", Grace: 5 * time.Second,
		AccessLog: "stderr", Signals: sigs, Started: func(l, a string) { addrs <- [2]string{l, a} }}
	done := make(chan error, 1)
	go func() { done <- gatewayRun(context.Background(), opts) }()
	defer g.factory.Close()
	var listen, admin string
	select {
	case a := <-addrs:
		listen, admin = "http://"+a[0], "http://"+a[1]
	case err := <-done:
		t.Fatalf("gateway exited: %v\n%s", err, stderr.String())
	}
	if code, body, h := get(t, listen+"/shop/orders?secret=x"); code != 200 || body != "shop:/orders" || h.Get("X-Hader-Provider") != "shop" {
		t.Fatalf("%d %q", code, body)
	}
	if code, body, _ := get(t, admin+"/livez"); code != 200 {
		t.Fatalf("livez %d %q", code, body)
	}
	testredis.Eventually(t, 5*time.Second, "ready", func() bool { code, _, _ := get(t, admin+"/readyz"); return code == 200 })

	write(services + "gateway:\n  routes:\n    - name: orders\n      prefix: /api/orders\n      providers: [shop]\n")
	sigs <- syscall.SIGHUP
	testredis.Eventually(t, 5*time.Second, "the new route is served", func() bool {
		code, body, _ := get(t, listen+"/api/orders/7")
		return code == 200 && body == "shop:/api/orders/7"
	})
	write(services + "gateway:\n  routes:\n    - prefix: /api/orders\n      providers: [nobody]\n")
	sigs <- syscall.SIGHUP
	testredis.Eventually(t, 5*time.Second, "the bad reload is logged", func() bool {
		return strings.Contains(stderr.String(), "reload refused")
	})
	if code, _, _ := get(t, listen+"/api/orders/7"); code != 200 {
		t.Fatalf("the old config is kept: %d", code)
	}
	sigs <- syscall.SIGTERM
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("stop: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the gateway did not stop on SIGTERM")
	}
	logs := stderr.String()
	if !strings.Contains(logs, `"path":"/shop/orders"`) || strings.Contains(logs, "secret=x") {
		t.Fatalf("access log: %s", logs)
	}
}

func TestGatewayRefusesAnExposedAdminWithoutAToken(t *testing.T) {
	code, _, stderr := run(t, testredis.Namespace(t), "gateway", "--admin-listen", "0.0.0.0:8001")
	if code != 2 || !strings.Contains(stderr, "HADERCTL_ADMIN_TOKEN") {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	code, _, stderr = run(t, testredis.Namespace(t), "gateway", "--listen", "nope")
	if code != 2 || !strings.Contains(stderr, `--listen "nope" is not HOST:PORT`) {
		t.Fatalf("exit %d: %s", code, stderr)
	}
}
