package commands

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/haderos/haderctl/internal/config"
	"github.com/haderos/haderctl/internal/iostreams"
	"github.com/haderos/haderctl/internal/testredis"
)

// lockedBuffer is an output stream read while a command writes to it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// A --follow drain started while Redis is down waits for it (up to the
// documented minute) instead of exiting 3 at once, then drains.
// startFollowDrain runs `queue drain orders --follow --exec true` in the
// background; stop cancels it, and its exit code arrives on exit.
func startFollowDrain(src config.Sources) (out, stderr *lockedBuffer, exit chan ExitCode, stop func()) {
	s, _, _, _ := iostreams.Test()
	out, stderr = &lockedBuffer{}, &lockedBuffer{}
	s.Out, s.ErrOut = out, stderr
	ctx, stop := context.WithCancel(context.Background())
	exit = make(chan ExitCode, 1)
	go func() { exit <- Run(ctx, s, []string{"queue", "drain", "orders", "--follow", "--exec", "true"}, src) }()
	return out, stderr, exit, stop
}

func TestFollowDrainStartedWhileRedisIsDownWaitsForIt(t *testing.T) {
	srv, err := testredis.StartServer(t.TempDir(), "--appendonly", "yes", "--appendfsync", "always")
	if err != nil {
		t.Skipf("needs a redis-server of its own: %v", err)
	}
	defer srv.Stop(true)
	ns := testredis.Namespace(t)
	env := map[string]string{"REDIS_URL": srv.URL(), "HADERCTL_NAMESPACE": ns}
	src := config.Sources{Dir: t.TempDir(), Getenv: func(k string) string { return env[k] }}
	s, _, _, errOut := iostreams.Test()
	if code := Run(context.Background(), s, []string{"queue", "push", "orders", "--operation", "x", "--service", "s", "--id", "o-1"}, src); code != 0 {
		t.Fatalf("push: exit %d: %s", code, errOut)
	}
	srv.Stop(false) // the append-only file keeps o-1

	out, stderr, exit, stop := startFollowDrain(src)
	defer stop()
	testredis.Eventually(t, 30*time.Second, "the drain says it is retrying", func() bool {
		select {
		case code := <-exit:
			t.Fatalf("the drain exited %d with Redis down: %s", code, stderr)
		default:
		}
		return strings.Contains(stderr.String(), "unreachable") && strings.Contains(stderr.String(), "retrying for up to 1m0s")
	})
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	testredis.Eventually(t, 30*time.Second, "o-1 is replayed once Redis is back", func() bool {
		return strings.Contains(out.String(), `"id":"o-1"`) && strings.Contains(out.String(), `"outcome":"completed"`)
	})
	stop()
	if code := <-exit; code != 0 {
		t.Fatalf("the drain exited %d after SIGINT: %s", code, stderr)
	}
}

// A --follow drain against a Redis that refuses its password exits 3 at
// once with the cause: a refusal does not go away by waiting.
func TestFollowDrainWithAWrongPasswordExits3AtOnce(t *testing.T) {
	srv, err := testredis.StartServer(t.TempDir(), "--requirepass", "right-one")
	if err != nil {
		t.Skipf("needs a redis-server of its own: %v", err)
	}
	defer srv.Stop(true)
	url := "redis://:wrong-one@" + srv.Addr + "/0"
	env := map[string]string{"REDIS_URL": url, "HADERCTL_NAMESPACE": testredis.Namespace(t)}
	src := config.Sources{Dir: t.TempDir(), Getenv: func(k string) string { return env[k] }}
	s, _, _, _ := iostreams.Test()
	stderr := &lockedBuffer{}
	s.ErrOut = stderr
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	start := time.Now()
	code := Run(ctx, s, []string{"queue", "drain", "orders", "--follow", "--exec", "true"}, src)
	if code != 3 || time.Since(start) > 10*time.Second {
		t.Fatalf("exit %d after %s, want 3 at once: %s", code, time.Since(start), stderr)
	}
	if !strings.Contains(stderr.String(), "authentication failed") || strings.Contains(stderr.String(), "retrying") {
		t.Fatalf("stderr %q, want the authentication failure and no retrying", stderr)
	}
	if strings.Contains(stderr.String(), "wrong-one") {
		t.Fatalf("the password leaked: %s", stderr)
	}
}

// A --follow drain reaches a TLS Redis with the config file's tls_ca_file,
// as every other command does.
func TestFollowDrainUsesTheConfigFilesTLSSettings(t *testing.T) {
	dir := t.TempDir()
	certs, err := testredis.NewCerts(dir)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := testredis.StartTLSServer(t.TempDir(), certs, false)
	if err != nil {
		t.Skipf("needs a redis-server with TLS: %v", err)
	}
	defer srv.Stop(true)
	cfgDir := t.TempDir()
	if err := os.WriteFile(filepath.Join(cfgDir, "haderctl.yaml"), []byte("redis:\n  tls_ca_file: "+certs.CAFile+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"REDIS_URL": srv.URL(), "HADERCTL_NAMESPACE": testredis.Namespace(t)}
	src := config.Sources{Dir: cfgDir, Getenv: func(k string) string { return env[k] }}
	s, _, _, errOut := iostreams.Test()
	if code := Run(context.Background(), s, []string{"queue", "push", "orders", "--operation", "x", "--service", "s", "--id", "o-1"}, src); code != 0 {
		t.Fatalf("push: exit %d: %s", code, errOut)
	}
	out, stderr, exit, stop := startFollowDrain(src)
	defer stop()
	testredis.Eventually(t, 30*time.Second, "o-1 is replayed", func() bool {
		select {
		case code := <-exit:
			t.Fatalf("the drain exited %d: %s", code, stderr)
		default:
		}
		return strings.Contains(out.String(), `"id":"o-1"`) && strings.Contains(out.String(), `"outcome":"completed"`)
	})
	stop()
	if code := <-exit; code != 0 {
		t.Fatalf("the drain exited %d after SIGINT: %s", code, stderr)
	}
}

// A --follow drain may start before the first failure: a queue it names
// that does not exist yet is waited for, not refused, and drained once an
// operation is pushed to it. Without --follow the same drain is refused.
func TestFollowDrainWaitsForAQueueThatDoesNotExistYet(t *testing.T) {
	env := map[string]string{"REDIS_URL": testredis.URL(t), "HADERCTL_NAMESPACE": testredis.Namespace(t)}
	src := config.Sources{Dir: t.TempDir(), Getenv: func(k string) string { return env[k] }}
	s, _, _, errOut := iostreams.Test()
	if code := Run(context.Background(), s, []string{"queue", "drain", "orders", "--exec", "true"}, src); code != 2 {
		t.Fatalf("a drain of a queue that does not exist: exit %d, want 2: %s", code, errOut)
	}
	out, stderr, exit, stop := startFollowDrain(src)
	defer stop()
	s, _, _, errOut = iostreams.Test()
	if code := Run(context.Background(), s, []string{"queue", "push", "orders", "--operation", "x", "--service", "s", "--id", "o-late"}, src); code != 0 {
		t.Fatalf("push: exit %d: %s", code, errOut)
	}
	testredis.Eventually(t, 30*time.Second, "o-late is replayed by the drain started before its queue existed", func() bool {
		select {
		case code := <-exit:
			t.Fatalf("the follow drain exited %d before the push: %s", code, stderr)
		default:
		}
		return strings.Contains(out.String(), `"id":"o-late"`) && strings.Contains(out.String(), `"outcome":"completed"`)
	})
	stop()
	if code := <-exit; code != 0 {
		t.Fatalf("the drain exited %d after SIGINT: %s", code, stderr)
	}
}
