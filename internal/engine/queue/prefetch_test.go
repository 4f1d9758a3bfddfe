package queue

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/haderos/haderctl/internal/testredis"
)

func TestHeldLimitFollowsTheMeasuredHandlerTime(t *testing.T) {
	for _, tc := range []struct {
		name                string
		concurrency         int
		handler             time.Duration
		prev, ceiling, want int
	}{
		{"nothing measured yet: a prefetch of the concurrency", 10, 0, 0, 1024, 20},
		{"20 ms replays: what 10 workers start in the window", 10, 20 * time.Millisecond, 40, 1024,
			10 + int(10*PrefetchWindow/(20*time.Millisecond))},
		{"replays longer than the window: one prefetched", 10, 2 * time.Second, 40, 1024, 11},
		{"a no-op handler: the ceiling", 8, time.Microsecond, 1024, 1024, 1024},
		{"growth is at most twofold per pass", 8, time.Microsecond, 16, 1024, 32},
		{"shrinking is at once", 10, 20 * time.Millisecond, 1024, 1024,
			10 + int(10*PrefetchWindow/(20*time.Millisecond))},
		{"the ceiling bounds a fresh drainer too", 1000, 0, 0, 1500, 1500},
	} {
		if got := heldLimit(tc.concurrency, tc.handler, tc.prev, tc.ceiling); got != tc.want {
			t.Errorf("%s: heldLimit(%d, %s, %d, %d) = %d, want %d", tc.name, tc.concurrency, tc.handler, tc.prev, tc.ceiling, got, tc.want)
		}
	}
}

// A drainer whose replays have not finished holds its workers' operations
// and a prefetch of as many again: the rest of the backlog is left to
// other drainers (before, it leased 512 at once and a second drainer found
// nothing).
func TestAFreshDrainerLeavesTheBacklogToOtherDrainers(t *testing.T) {
	c, _ := newTestClient(t, Settings{})
	const n, conc = 200, 5
	push(t, c, "q", "s", "o", n, nil)
	release := make(chan struct{})
	var running atomic.Int32
	blocked := func(ctx context.Context, _ *Operation) Outcome {
		running.Add(1)
		<-release
		return Outcome{Kind: Done}
	}
	first := make(chan Summary, 1)
	go func() {
		s, err := c.Drain(context.Background(), DrainOptions{Queues: []string{"q"}, Concurrency: conc, Handler: blocked})
		if err != nil {
			t.Error(err)
		}
		first <- s
	}()
	testredis.Eventually(t, 20*time.Second, "the first drainer's workers are all replaying", func() bool { return running.Load() == conc })
	held := stats(t, c, "q").InFlight
	if held > 2*conc {
		t.Fatalf("the first drainer holds %d operations with %d replaying, want at most %d", held, conc, 2*conc)
	}
	second, err := c.Drain(context.Background(), DrainOptions{Queues: []string{"q"}, Concurrency: conc, Handler: done})
	if err != nil {
		t.Fatal(err)
	}
	if second.Completed != n-int(held) {
		t.Fatalf("the second drainer completed %d, want the %d the first does not hold", second.Completed, n-int(held))
	}
	close(release)
	s := <-first
	if s.Completed != int(held) || s.Lost != 0 {
		t.Fatalf("the first drainer: %+v, want %d completed", s, held)
	}
	if st := stats(t, c, "q"); st.Completed != n || st.PendingTotal != 0 {
		t.Fatalf("stats %+v", st)
	}
}
