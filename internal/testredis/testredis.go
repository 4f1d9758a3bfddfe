// Package testredis gives tests a real Redis: the one named by
// HADERCTL_TEST_REDIS_URL, else a redis-server it starts on a random
// loopback port, else (only when HADERCTL_TEST_REQUIRE_REDIS is not set)
// an embedded miniredis (package embedredis, what `haderctl demo` runs).
package testredis

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/haderos/haderctl/internal/embedredis"
	"github.com/redis/go-redis/v9"
)

// Server is a redis-server process this package started.
type Server struct {
	Addr string
	Dir  string
	Port int
	// TLS, when set, is how clients reach the server: Addr is its TLS port
	// and its plain port is closed (see StartTLSServer).
	TLS  *tls.Config
	args []string
	cmd  *exec.Cmd
}

// URL is the server's redis:// (or, over TLS, rediss://) URL.
func (s *Server) URL() string {
	if s.TLS != nil {
		return "rediss://" + s.Addr + "/0"
	}
	return "redis://" + s.Addr + "/0"
}

// StartServer starts a redis-server on a free loopback port with its data
// in dir; extra are more config arguments (e.g. "--appendonly", "yes").
func StartServer(dir string, extra ...string) (*Server, error) {
	return startServer(dir, freePort, nil, func(port int) []string {
		return append([]string{"--port", strconv.Itoa(port)}, extra...)
	})
}

// startServer starts a redis-server on a port from pick, with the arguments
// args gives for that port, retrying on another port when it does not come
// up (another process took the port meanwhile).
func startServer(dir string, pick func() (int, error), tc *tls.Config, args func(port int) []string) (*Server, error) {
	if _, err := exec.LookPath("redis-server"); err != nil {
		return nil, err
	}
	var lastErr error
	for attempt := 0; attempt < 5; attempt++ {
		port, err := pick()
		if err != nil {
			return nil, err
		}
		s := &Server{Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), Dir: dir, Port: port, TLS: tc}
		own := args(port)
		// A config file (sentinel.conf) must be redis-server's first argument.
		if len(own) > 0 && !strings.HasPrefix(own[0], "--") {
			s.args, own = own[:1], own[1:]
		}
		s.args = append(s.args, "--bind", "127.0.0.1", "--dir", dir,
			"--protected-mode", "no", "--daemonize", "no", "--logfile", filepath.Join(dir, "redis.log"))
		if !slices.Contains(own, "--sentinel") {
			s.args = append(s.args, "--save", "", "--appendonly", "no")
		}
		s.args = append(s.args, own...)
		if lastErr = s.Start(); lastErr == nil {
			return s, nil
		}
	}
	return nil, fmt.Errorf("redis-server did not start: %v (see %s)", lastErr, filepath.Join(dir, "redis.log"))
}

// Start (re)starts the server process on its port and waits for PING.
func (s *Server) Start() error {
	s.cmd = exec.Command("redis-server", s.args...)
	s.cmd.SysProcAttr = dieWithParent()
	if err := s.cmd.Start(); err != nil {
		return err
	}
	exited := make(chan struct{})
	go func(c *exec.Cmd) { _ = c.Wait(); close(exited) }(s.cmd)
	c := redis.NewClient(&redis.Options{Addr: s.Addr, MaxRetries: -1, TLSConfig: s.TLS})
	defer c.Close()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return fmt.Errorf("redis-server exited at start")
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		err := c.Ping(ctx).Err()
		cancel()
		var reply redis.Error
		if err == nil || errors.As(err, &reply) {
			return nil // it answers, if only to say NOAUTH
		}
		time.Sleep(10 * time.Millisecond) // poll interval while the server boots
	}
	_ = s.cmd.Process.Kill()
	return fmt.Errorf("redis-server did not answer PING within 10s")
}

// Stop kills the server (SIGKILL when hard, else SIGTERM) and waits.
func (s *Server) Stop(hard bool) {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	if hard {
		_ = s.cmd.Process.Kill()
	} else {
		_ = s.cmd.Process.Signal(os.Interrupt)
	}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if err := s.cmd.Process.Signal(syscallZero); err != nil {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	_ = s.cmd.Process.Kill()
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

var (
	shared struct {
		once   sync.Once
		url    string
		kind   string
		err    error
		server *Server
		mini   *embedredis.Server
		dir    string
	}
	counter atomic.Int64
)

// Required reports whether the embedded fallback is forbidden (CI).
func Required() bool {
	v := os.Getenv("HADERCTL_TEST_REQUIRE_REDIS")
	return v != "" && v != "0" && v != "false"
}

// URL returns the URL of the Redis shared by this test binary, starting it
// on first use. It fails the test when no real Redis can be had and the
// fallback is forbidden.
func URL(tb testing.TB) string {
	tb.Helper()
	shared.once.Do(func() {
		if u := os.Getenv("HADERCTL_TEST_REDIS_URL"); u != "" {
			shared.url, shared.kind = u, "external"
			return
		}
		if _, err := exec.LookPath("redis-server"); err == nil {
			dir, err := os.MkdirTemp("", "haderctl-redis-")
			if err != nil {
				shared.err = err
				return
			}
			shared.dir = dir
			s, err := StartServer(dir)
			if err != nil {
				shared.err = err
				return
			}
			shared.server, shared.url, shared.kind = s, s.URL(), "redis-server"
			return
		}
		if Required() {
			shared.err = fmt.Errorf("HADERCTL_TEST_REQUIRE_REDIS is set but there is no redis-server on PATH and no HADERCTL_TEST_REDIS_URL")
			return
		}
		// the demo's embedded server, so tests see the clock the demo has
		m, err := embedredis.Start()
		if err != nil {
			shared.err = err
			return
		}
		shared.mini, shared.url, shared.kind = m, m.URL(), "miniredis"
	})
	if shared.err != nil {
		tb.Fatalf("test Redis: %v", shared.err)
	}
	return shared.url
}

// Kind says what URL points at: external, redis-server or miniredis.
func Kind() string { return shared.kind }

// Real reports whether the shared Redis is a real redis-server.
func Real(tb testing.TB) bool { URL(tb); return shared.kind != "miniredis" }

// Namespace returns a namespace no other test in this run uses.
func Namespace(tb testing.TB) string {
	name := strings.NewReplacer("/", "-", " ", "_", "#", "_").Replace(tb.Name())
	if len(name) > 40 {
		name = name[:40]
	}
	return fmt.Sprintf("t%d-%d-%s", os.Getpid(), counter.Add(1), name)
}

// Client returns a client of the shared Redis, closed when the test ends.
func Client(tb testing.TB) *redis.Client {
	tb.Helper()
	opt, err := redis.ParseURL(URL(tb))
	if err != nil {
		tb.Fatal(err)
	}
	c := redis.NewClient(opt)
	tb.Cleanup(func() { c.Close() })
	return c
}

// Main runs the tests and stops the Redis this package started. Call it
// from TestMain: os.Exit(testredis.Main(m)).
func Main(m *testing.M) int {
	code := m.Run()
	stopSharedCluster()
	if shared.server != nil {
		shared.server.Stop(true)
	}
	if shared.mini != nil {
		shared.mini.Close()
	}
	if shared.dir != "" {
		os.RemoveAll(shared.dir)
	}
	return code
}

// StartSentinel starts a redis-server in Sentinel mode, with its
// sentinel.conf in dir; monitor are "NAME HOST PORT" masters it watches
// (none: it knows no master at all).
func StartSentinel(dir string, monitor ...string) (*Server, error) {
	conf := filepath.Join(dir, "sentinel.conf")
	var b strings.Builder
	for _, m := range monitor {
		fmt.Fprintf(&b, "sentinel monitor %s 1\n", m)
	}
	if err := os.WriteFile(conf, []byte(b.String()), 0o644); err != nil {
		return nil, err
	}
	return startServer(dir, freePort, nil, func(port int) []string {
		return []string{conf, "--sentinel", "--port", strconv.Itoa(port)}
	})
}
