package source

import (
	"context"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/haderos/haderctl/internal/dashboard"
	"github.com/haderos/haderctl/internal/engine"
	"github.com/haderos/haderctl/internal/engine/store"
	"github.com/haderos/haderctl/internal/testredis"
	"github.com/redis/go-redis/v9"
)

func TestMain(m *testing.M) { os.Exit(testredis.Main(m)) }

// world is one namespace seen by two processes: the dashboard's engine
// (under its Backend) and another's, which acts as the CLI, a gateway or
// a drainer would.
type world struct {
	ns      string
	sys     *engine.System // the dashboard's
	other   *engine.System
	backend *Backend
}

// options are an engine's options over the test Redis in namespace ns;
// aramex and smsa are configured services.
func options(t testing.TB, ns string) engine.Options {
	return engine.Options{Redis: store.Options{URL: testredis.URL(t)}, Namespace: ns, Environment: "test",
		Services: []string{"aramex", "smsa"}}
}

func open(t testing.TB, o engine.Options) *engine.System {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	sys, err := engine.Open(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); sys.Close() })
	return sys
}

func newWorld(t testing.TB, bo Options) *world {
	t.Helper()
	ns := testredis.Namespace(t)
	w := &world{ns: ns, sys: open(t, options(t, ns)), other: open(t, options(t, ns))}
	w.backend = New(w.sys, bo)
	return w
}

// follower runs Backend.Follow and keeps what it delivers.
type follower struct {
	mu     sync.Mutex
	events []dashboard.Event
	done   chan error
	cancel context.CancelFunc
}

// follow starts Follow and waits until its breaker subscription is live
// (by then its audit position is pinned and its alert feed registered).
func (w *world) follow(t *testing.T) *follower {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	f := &follower{done: make(chan error, 1), cancel: cancel}
	go func() {
		f.done <- w.backend.Follow(ctx, func(ev dashboard.Event) {
			f.mu.Lock()
			f.events = append(f.events, ev)
			f.mu.Unlock()
		})
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-f.done:
			if err != nil {
				t.Errorf("Follow ended with %v, want nil once its context ended", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("Follow did not return within 10 s of its context ending")
		}
	})
	channel := store.Keys{Namespace: w.ns}.BreakerChannel()
	testredis.Eventually(t, 10*time.Second, "Follow subscribes to the breaker transitions", func() bool {
		return subscribers(t, w.other.Redis, channel) >= 1
	})
	return f
}

// subscribers counts a channel's subscribers on every node (a Cluster
// node answers PUBSUB NUMSUB for its own clients only).
func subscribers(t *testing.T, rdb redis.UniversalClient, channel string) int64 {
	t.Helper()
	ctx := context.Background()
	if cc, ok := rdb.(*redis.ClusterClient); ok {
		var n atomic.Int64
		err := cc.ForEachShard(ctx, func(ctx context.Context, c *redis.Client) error {
			m, err := c.PubSubNumSub(ctx, channel).Result()
			n.Add(m[channel])
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return n.Load()
	}
	m, err := rdb.PubSubNumSub(ctx, channel).Result()
	if err != nil {
		t.Fatal(err)
	}
	return m[channel]
}

// waitFor polls until an event of kind about subject whose text contains
// want has been delivered, and returns it.
func (f *follower) waitFor(t *testing.T, kind dashboard.EventKind, subject, want string) dashboard.Event {
	t.Helper()
	var got dashboard.Event
	testredis.Eventually(t, 10*time.Second, "Follow delivers a "+string(kind)+" event about "+subject+" saying "+want, func() bool {
		f.mu.Lock()
		defer f.mu.Unlock()
		for _, ev := range f.events {
			if ev.Kind == kind && ev.Subject == subject && strings.Contains(ev.Text, want) {
				got = ev
				return true
			}
		}
		return false
	})
	return got
}

func (f *follower) all() []dashboard.Event {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]dashboard.Event(nil), f.events...)
}
