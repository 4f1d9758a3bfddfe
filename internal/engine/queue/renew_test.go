package queue

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/haderos/haderctl/internal/testredis"
)

// syncBuffer is a log sink read while a drain writes to it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// drainInBackground runs the drain in a goroutine; its summary arrives on
// the channel when it ends.
func drainInBackground(t *testing.T, c *Client, o DrainOptions) <-chan Summary {
	res := make(chan Summary, 1)
	go func() {
		s, err := c.Drain(context.Background(), o)
		if err != nil {
			t.Error(err)
		}
		res <- s
	}()
	return res
}

// An operation settled between the renewer's snapshot and its renewal
// call gave its lease up: no "leases lost" warning (a long drain used to
// warn about such operations, though nothing was lost).
func TestARenewalRacingASettleWarnsOfNoLostLease(t *testing.T) {
	c, _ := newTestClient(t, Settings{})
	ids := push(t, c, "q", "s", "o", 2, nil)
	var logs syncBuffer
	// o-0 completes between the first snapshot and its renewal; o-1 keeps
	// the drain going until that renewal's reply has been read
	finish := map[string]chan struct{}{ids[0]: make(chan struct{}), ids[1]: make(chan struct{})}
	renewed := make(chan struct{})
	var calls atomic.Int32
	o := DrainOptions{Queues: []string{"q"}, Concurrency: 2, Lease: 3 * time.Second,
		Logger:  slog.New(slog.NewTextHandler(&logs, nil)),
		Handler: func(_ context.Context, op *Operation) Outcome { <-finish[op.ID]; return Outcome{Kind: Done} }}
	o.beforeRenew = func(string) {
		switch calls.Add(1) {
		case 1: // the snapshot holds both: o-0 completes in Redis first
			close(finish[ids[0]])
			testredis.Eventually(t, 20*time.Second, "o-0 completes", func() bool { return stats(t, c, "q").Completed == 1 })
		case 2: // the first renewal's reply has been read
			close(renewed)
		}
	}
	res := drainInBackground(t, c, o)
	<-renewed
	close(finish[ids[1]])
	if s := <-res; s.Completed != 2 || s.Lost != 0 {
		t.Fatalf("drain: %+v", s)
	}
	if strings.Contains(logs.String(), "leases lost") {
		t.Fatalf("warned of a lost lease though the operation completed:\n%s", logs.String())
	}
}

// A lease another drainer took over is lost: the renewer warns about it,
// and the outcome is reported lost.
func TestALeaseTakenOverIsWarnedAboutAndReportedLost(t *testing.T) {
	c, rdb := newTestClient(t, Settings{})
	ids := push(t, c, "q", "s", "o", 1, nil)
	var logs syncBuffer
	finish := make(chan struct{})
	started := make(chan struct{})
	o := DrainOptions{Queues: []string{"q"}, Lease: 300 * time.Millisecond,
		Logger:  slog.New(slog.NewTextHandler(&logs, nil)),
		Handler: func(context.Context, *Operation) Outcome { close(started); <-finish; return Outcome{Kind: Done} }}
	res := drainInBackground(t, c, o)
	<-started
	if err := rdb.HSet(context.Background(), c.keys.QueueLeases("q"), ids[0], "1@another").Err(); err != nil {
		t.Fatal(err)
	}
	testredis.Eventually(t, 20*time.Second, "the renewer warns of the lost lease", func() bool {
		return strings.Contains(logs.String(), "leases lost")
	})
	close(finish)
	if s := <-res; s.Lost != 1 || s.Completed != 0 {
		t.Fatalf("drain: %+v, want the outcome reported lost", s)
	}
}
