package queue

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/haderos/haderctl/internal/engine/breaker"
	"github.com/haderos/haderctl/internal/engine/store"
	"github.com/haderos/haderctl/internal/engine/transport"
	"github.com/haderos/haderctl/internal/testredis"
	"github.com/redis/go-redis/v9"
)

func newTestClient(t *testing.T, s Settings) (*Client, *redis.Client) {
	t.Helper()
	rdb := testredis.Client(t)
	return New(rdb, store.Keys{Namespace: testredis.Namespace(t)}, s), rdb
}

// push enqueues n operations of service svc with ids prefix-0… and
// returns the ids.
func push(t *testing.T, c *Client, q, svc, prefix string, n int, mod func(*Operation)) []string {
	t.Helper()
	ops := make([]*Operation, n)
	ids := make([]string, n)
	for i := range ops {
		o := &Operation{ID: fmt.Sprintf("%s-%d", prefix, i), Queue: q, Operation: "op", Service: svc,
			Data: json.RawMessage(fmt.Sprintf(`{"n":%d}`, i))}
		if mod != nil {
			mod(o)
		}
		if err := c.Check(o); err != nil {
			t.Fatal(err)
		}
		ops[i], ids[i] = o, o.ID
	}
	res, err := c.Push(context.Background(), ops)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		if r.Status != "enqueued" {
			t.Fatalf("push %s: %s", r.ID, r.Status)
		}
	}
	return ids
}

func stats(t *testing.T, c *Client, q string) Stats {
	t.Helper()
	s, _, err := c.Stats(context.Background(), []string{q})
	if err != nil {
		t.Fatal(err)
	}
	return s[0]
}

func done(context.Context, *Operation) Outcome { return Outcome{Kind: Done} }

func TestPushDeduplicatesAndReadyOrderIsPriorityThenAge(t *testing.T) {
	c, _ := newTestClient(t, Settings{})
	ctx := context.Background()
	push(t, c, "orders", "shopify", "low", 1, func(o *Operation) { o.Priority = Low })
	push(t, c, "orders", "shopify", "norm", 2, nil)
	push(t, c, "orders", "shopify", "crit", 1, func(o *Operation) { o.Priority = Critical })
	dup := &Operation{ID: "norm-1", Queue: "orders", Operation: "op", Service: "shopify"}
	if err := c.Check(dup); err != nil {
		t.Fatal(err)
	}
	res, err := c.Push(ctx, []*Operation{dup})
	if err != nil {
		t.Fatal(err)
	}
	if res[0].Status != "duplicate" || res[0].State != "ready" {
		t.Fatalf("pushing an existing id: %+v, want duplicate of a ready operation", res[0])
	}
	ops, err := c.List(ctx, "orders", "ready", 10)
	if err != nil {
		t.Fatal(err)
	}
	var order []string
	for _, o := range ops {
		order = append(order, o.ID)
	}
	if got, want := strings.Join(order, " "), "crit-0 norm-0 norm-1 low-0"; got != want {
		t.Fatalf("ready order %q, want %q", got, want)
	}
	s := stats(t, c, "orders")
	if s.Enqueued != 4 || s.Duplicates != 1 || s.Pending[Normal] != 2 || s.PendingTotal != 4 {
		t.Fatalf("stats %+v", s)
	}
}

func TestCheckRefusesBadInput(t *testing.T) {
	c, _ := newTestClient(t, Settings{MaxDataBytes: 16})
	cases := map[string]*Operation{
		"data is not valid JSON":     {Queue: "q", Operation: "op", Service: "s", Data: json.RawMessage(`{nope`)},
		"over the 16-byte limit":     {Queue: "q", Operation: "op", Service: "s", Data: json.RawMessage(`{"a":"0123456789abcdef"}`)},
		`unknown priority "urgent"`:  {Queue: "q", Operation: "op", Service: "s", Priority: "urgent"},
		`invalid queue name "a b"`:   {Queue: "a b", Operation: "op", Service: "s"},
		"an operation name is req":   {Queue: "q", Service: "s"},
		`invalid operation id "x y"`: {ID: "x y", Queue: "q", Operation: "op", Service: "s"},
		"data is 17 bytes, over": {Queue: "q", Operation: "op", Service: "s",
			Request: &Request{Method: "POST", URL: "/f", Body: []byte("a=0123456789abcde")}},
		"a raw request body and data cannot both": {Queue: "q", Operation: "op", Service: "s", Data: json.RawMessage(`1`),
			Request: &Request{Method: "POST", URL: "/f", Body: []byte("a=1")}},
	}
	for want, o := range cases {
		err := c.Check(o)
		if err == nil || !strings.Contains(err.Error(), want) || !IsInput(err) {
			t.Errorf("Check: %v, want an input error containing %q", err, want)
		}
	}
}

// claimRaw runs the claim script directly: it returns the claimed ids,
// their tokens and the lease deadline.
func claimRaw(t *testing.T, c *Client, q string, n int, lease time.Duration) (ids, tokens []string, deadline int64) {
	t.Helper()
	res, err := claimScript.Run(context.Background(), c.rdb, c.queueKeys(q), n, lease.Milliseconds(), "", 100, "test", 3,
		c.set.MaxDataBytes+entryOverhead).Slice()
	if err != nil {
		t.Fatal(err)
	}
	claimed := res[7].([]any)
	for i := 0; i+1 < len(claimed); i += 2 {
		ids = append(ids, fmt.Sprint(claimed[i]))
		tokens = append(tokens, fmt.Sprint(res[3]))
	}
	return ids, tokens, res[2].(int64)
}

func settleRaw(t *testing.T, c *Client, q, id, token, kind string, x float64) string {
	t.Helper()
	s := c.set
	args := []any{s.Retention.Milliseconds(), s.BackoffBase.Milliseconds(), s.BackoffFactor, s.BackoffCap.Milliseconds()}
	if kind == "done" {
		args = append(args, 1, id, token, x)
	} else {
		args = append(args, 0, id, token, kind, x, "boom")
	}
	res, err := settleScript.Run(context.Background(), c.rdb, c.queueKeys(q), args...).StringSlice()
	if err != nil {
		t.Fatal(err)
	}
	return res[0]
}

func redisNowMs(t *testing.T, c *Client) int64 {
	t.Helper()
	tm, err := c.rdb.Time(context.Background()).Result()
	if err != nil {
		t.Fatal(err)
	}
	return tm.UnixMilli()
}

func TestAnExpiredLeaseCannotAcknowledgeWorkAnotherDrainerOwns(t *testing.T) {
	c, _ := newTestClient(t, Settings{})
	push(t, c, "orders", "shopify", "o", 1, nil)
	ids, oldTokens, deadline := claimRaw(t, c, "orders", 1, 100*time.Millisecond)
	if len(ids) != 1 {
		t.Fatalf("claimed %v", ids)
	}
	testredis.Eventually(t, 5*time.Second, "the lease expires on Redis' clock", func() bool { return redisNowMs(t, c) > deadline })
	again, newTokens, _ := claimRaw(t, c, "orders", 1, time.Minute)
	if len(again) != 1 || again[0] != ids[0] || newTokens[0] == oldTokens[0] {
		t.Fatalf("after expiry the operation must be claimable again with a new token: %v %v (old %v)", again, newTokens, oldTokens)
	}
	if got := settleRaw(t, c, "orders", ids[0], oldTokens[0], "done", 0); got != "stale" {
		t.Fatalf("ack with the expired token: %q, want stale", got)
	}
	if s := stats(t, c, "orders"); s.InFlight != 1 || s.Completed != 0 {
		t.Fatalf("a stale ack changed the operation: %+v", s)
	}
	o, err := c.Inspect(context.Background(), "orders", ids[0])
	if err != nil || o == nil || o.State != "leased" || o.Attempts != 0 || o.Stalls != 1 {
		t.Fatalf("inspect while leased again: %+v %v (the expired lease is a stall, not an attempt)", o, err)
	}
	if got := settleRaw(t, c, "orders", ids[0], newTokens[0], "done", 0); got != "done" {
		t.Fatalf("ack with the current token: %q", got)
	}
	o, err = c.Inspect(context.Background(), "orders", ids[0])
	if err != nil || o == nil || o.State != "completed" || o.CompletedAt == nil {
		t.Fatalf("inspect after completion: %+v %v", o, err)
	}
	if left, err := c.rdb.HExists(context.Background(), c.keys.QueueErrors("orders"), ids[0]).Result(); err != nil || left {
		t.Fatalf("the stall's message outlived the completion (%v)", err)
	}
}

func TestRetryBackoffIsFullJitterUnderTheCap(t *testing.T) {
	c, _ := newTestClient(t, Settings{BackoffBase: time.Second, BackoffFactor: 2, BackoffCap: 3 * time.Second})
	push(t, c, "q", "s", "o", 1, nil)
	// attempt 1 fails: the wait is x × base
	// The settle runs on Redis' clock between before and after: its due
	// time is that moment plus exactly x × the ceiling (in whole ms), so
	// the check holds however slow the machine.
	ids, tok, _ := claimRaw(t, c, "q", 1, time.Minute)
	before := redisNowMs(t, c)
	res := settleRaw(t, c, "q", ids[0], tok[0], "retry", 0.5)
	after := redisNowMs(t, c)
	var due int64
	if _, err := fmt.Sscanf(res, "retry:%d", &due); err != nil {
		t.Fatalf("settle: %q", res)
	}
	if due < before+500 || due > after+500 {
		t.Fatalf("first retry due at %d, want 500 ms (0.5 × 1s) after the settle, between %d and %d", due, before, after)
	}
	// attempts 2 and 3 with x near 1: 2 s, then capped at 3 s (not 4 s)
	for i, want := range []int64{1998, 2997} { // floor(0.999 × 2000), floor(0.999 × 3000)
		if err := c.rdb.ZAdd(context.Background(), c.keys.QueueDelayed("q"), redis.Z{Score: 0, Member: ids[0]}).Err(); err != nil {
			t.Fatal(err)
		}
		_, tok, _ = claimRaw(t, c, "q", 1, time.Minute)
		if len(tok) != 1 {
			t.Fatalf("round %d: nothing claimed", i)
		}
		before = redisNowMs(t, c)
		res = settleRaw(t, c, "q", ids[0], tok[0], "retry", 0.999)
		after = redisNowMs(t, c)
		if _, err := fmt.Sscanf(res, "retry:%d", &due); err != nil {
			t.Fatalf("settle: %q", res)
		}
		if due < before+want || due > after+want {
			t.Fatalf("retry %d due at %d, want %d ms after the settle, between %d and %d", i+2, due, want, before, after)
		}
	}
}

func TestRetriesThenDeadAfterMaxAttempts(t *testing.T) {
	c, _ := newTestClient(t, Settings{BackoffBase: time.Millisecond, BackoffCap: time.Millisecond})
	ids := push(t, c, "q", "s", "o", 20, func(o *Operation) { o.MaxAttempts = 3 })
	var calls sync.Map
	fail := func(_ context.Context, o *Operation) Outcome {
		n, _ := calls.LoadOrStore(o.ID, new(atomic.Int32))
		n.(*atomic.Int32).Add(1)
		return Outcome{Kind: Retry, Err: "HTTP 503"}
	}
	ctx := context.Background()
	var sum Summary
	testredis.Eventually(t, 20*time.Second, "every operation dies after 3 attempts", func() bool {
		s, err := c.Drain(ctx, DrainOptions{Queues: []string{"q"}, Concurrency: 4, Handler: fail})
		if err != nil {
			t.Fatal(err)
		}
		sum.Dead += s.Dead
		return stats(t, c, "q").Dead == 20
	})
	for _, id := range ids {
		n, _ := calls.Load(id)
		if n == nil || n.(*atomic.Int32).Load() != 3 {
			t.Fatalf("%s handled %v times, want 3", id, n)
		}
	}
	dead, err := c.List(ctx, "q", "dead", 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(dead) != 20 || dead[0].LastError != "HTTP 503 (attempt 3 of 3)" || dead[0].Attempts != 3 {
		t.Fatalf("dead: %d, first %+v", len(dead), dead[0])
	}
	if sum.Dead != 20 {
		t.Fatalf("the drains reported %d dead, want 20", sum.Dead)
	}
	// retry brings them back with attempts reset; a drain completes them
	r, err := c.Retry(ctx, "q", nil)
	if err != nil || r.Moved != 20 || len(r.NotDead) != 0 || len(r.Corrupt) != 0 {
		t.Fatalf("retry --all-dead: %+v %v", r, err)
	}
	if s, err := c.Drain(ctx, DrainOptions{Queues: []string{"q"}, Handler: done}); err != nil || s.Completed != 20 {
		t.Fatalf("drain after retry: %+v %v", s, err)
	}
	if s := stats(t, c, "q"); s.Dead != 0 || s.Completed != 20 || s.PendingTotal != 0 {
		t.Fatalf("stats %+v", s)
	}
}

func TestFourDrainersNeverHandleAnOperationTwiceWhileItsLeaseIsValid(t *testing.T) {
	c, _ := newTestClient(t, Settings{})
	const n = 3000
	push(t, c, "q", "s", "o", n, nil)
	var mu sync.Mutex
	seen := map[string]int{}
	handler := func(_ context.Context, o *Operation) Outcome {
		mu.Lock()
		seen[o.ID]++
		mu.Unlock()
		return Outcome{Kind: Done}
	}
	var wg sync.WaitGroup
	sums := make([]Summary, 4)
	for i := range sums {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := c.Drain(context.Background(), DrainOptions{Queues: []string{"q"}, Concurrency: 8, Lease: time.Minute, Handler: handler})
			if err != nil {
				t.Error(err)
			}
			sums[i] = s
		}()
	}
	wg.Wait()
	if len(seen) != n {
		t.Fatalf("%d distinct operations handled, want %d", len(seen), n)
	}
	for id, k := range seen {
		if k != 1 {
			t.Fatalf("%s handled %d times", id, k)
		}
	}
	total := 0
	for _, s := range sums {
		total += s.Completed
		if s.Lost != 0 {
			t.Fatalf("a drainer lost leases: %+v", s)
		}
	}
	if total != n || stats(t, c, "q").Completed != n {
		t.Fatalf("completed %d (stats %+v)", total, stats(t, c, "q"))
	}
}

func TestHTTPReplayIsExactlyAsStoredAndGoesThroughTheBreaker(t *testing.T) {
	type seen struct {
		method, uri, body string
		header            http.Header
	}
	got := make(chan seen, 10)
	status := atomic.Int32{}
	status.Store(200)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- seen{r.Method, r.RequestURI, string(b), r.Header.Clone()}
		w.WriteHeader(int(status.Load()))
	}))
	defer srv.Close()

	// retries wait 0.5 × 1 h (the jitter is fixed): none comes due again
	// during the test, however slow the machine
	c, rdb := newTestClient(t, Settings{BackoffBase: time.Hour, BackoffCap: time.Hour})
	jitter := func() float64 { return 0.5 }
	b := breaker.New(rdb, breaker.Options{Keys: c.keys, Settings: func(string) breaker.Settings {
		return breaker.Settings{FailureThreshold: 2, SuccessThreshold: 1, RecoveryTimeout: time.Hour}.WithDefaults()
	}})
	defer b.Close()
	services := func(name string) (Service, bool) {
		return Service{BaseURL: srv.URL + "/admin/", Headers: map[string]string{"X-Shop": "hader", "X-Op": "service"}}, name == "shopify"
	}
	h := NewHTTPReplayer(transport.New(nil, b), 5*time.Second, services).Handle
	push(t, c, "orders", "shopify", "order", 1, func(o *Operation) {
		o.Data = json.RawMessage(`{"order_id":7,"lines":[1,2]}`)
		o.Request = &Request{Method: "PUT", URL: "/api/orders/7.json?notify=1", Headers: map[string]string{"Authorization": "Bearer t0k", "X-Op": "own"}}
	})
	ctx := context.Background()
	if s, err := c.Drain(ctx, DrainOptions{Queues: []string{"orders"}, Handler: h}); err != nil || s.Completed != 1 {
		t.Fatalf("drain: %+v %v", s, err)
	}
	r := <-got
	if r.method != "PUT" || r.uri != "/admin/api/orders/7.json?notify=1" || r.body != `{"order_id":7,"lines":[1,2]}` {
		t.Fatalf("replayed %s %s %s", r.method, r.uri, r.body)
	}
	if r.header.Get("Authorization") != "Bearer t0k" || r.header.Get("X-Shop") != "hader" || r.header.Get("X-Op") != "own" ||
		r.header.Get("Content-Type") != "application/json" {
		t.Fatalf("headers %v: want the service's, then the operation's own on top", r.header)
	}

	// 503s: two failures open the breaker; the rest are deferred without
	// spending an attempt and without reaching the service.
	status.Store(503)
	ids := push(t, c, "orders", "shopify", "more", 5, func(o *Operation) {
		o.Request = &Request{Method: "POST", URL: "/api/orders.json"}
	})
	var retries []Report
	s, err := c.Drain(ctx, DrainOptions{Queues: []string{"orders"}, Concurrency: 1, Handler: h, Jitter: jitter,
		OnReport: func(r Report) {
			if r.Outcome == "retry" {
				retries = append(retries, r)
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	if s.Retried != 2 || s.Deferred != 3 || len(got) != 2 {
		t.Fatalf("drain against a failing service: %+v, %d requests reached it; want 2 retries, 3 deferred, 2 requests", s, len(got))
	}
	for _, r := range retries {
		// due at Redis' settle time + 30 min; the report's time is the
		// drainer's, read after the settle
		if r.NextAttemptAt == nil {
			t.Fatalf("retry %+v: no next attempt time", r)
		}
		if wait := r.NextAttemptAt.Sub(r.Time); wait > 30*time.Minute+time.Second || wait < 29*time.Minute {
			t.Fatalf("retry %+v: due in %s, want the injected jitter's 0.5 × 1 h", r, wait)
		}
	}
	attempts := 0
	for _, id := range ids {
		o, err := c.Inspect(ctx, "orders", id)
		if err != nil || o.State != "delayed" {
			t.Fatalf("%s: %+v %v", id, o, err)
		}
		attempts += o.Attempts
	}
	if attempts != 2 {
		t.Fatalf("%d attempts spent, want 2 (deferred operations spend none)", attempts)
	}
	// a 400 is the request's own fault: dead at once
	status.Store(400)
	if _, err := b.Reset(ctx, "shopify", "test"); err != nil {
		t.Fatal(err)
	}
	// (a queue of its own: a retry above may be due already)
	push(t, c, "bad", "shopify", "bad", 1, func(o *Operation) { o.Request = &Request{Method: "POST", URL: "/x"} })
	if s, err := c.Drain(ctx, DrainOptions{Queues: []string{"bad"}, Handler: h}); err != nil || s.Dead != 1 || s.Claimed != 1 {
		t.Fatalf("drain with a 400: %+v %v", s, err)
	}
}

func TestCorruptOperationGoesDeadWithTheReasonAndTheDrainGoesOn(t *testing.T) {
	c, rdb := newTestClient(t, Settings{})
	ctx := context.Background()
	push(t, c, "q", "s", "o", 4, nil)
	ops := c.keys.QueueOps("q")
	v, err := rdb.HGet(ctx, ops, "o-1").Result()
	if err != nil {
		t.Fatal(err)
	}
	head, _, _ := strings.Cut(v, "\n")
	// o-1: its data is not JSON; o-2: garbage; o-3: its entry is gone
	if err := rdb.HSet(ctx, ops, "o-1", head+"\n{\"operation\": \"o\"}\n{not json", "o-2", "garbage").Err(); err != nil {
		t.Fatal(err)
	}
	if err := rdb.HDel(ctx, ops, "o-3").Err(); err != nil {
		t.Fatal(err)
	}
	var reports []Report
	s, err := c.Drain(ctx, DrainOptions{Queues: []string{"q"}, Handler: done, OnReport: func(r Report) { reports = append(reports, r) }})
	if err != nil {
		t.Fatal(err)
	}
	if s.Completed != 1 || s.Dead != 3 || len(reports) != 4 {
		t.Fatalf("summary %+v with %d reports, want 1 completed and 3 dead reported", s, len(reports))
	}
	dead, err := c.List(ctx, "q", "dead", 10)
	if err != nil {
		t.Fatal(err)
	}
	reasons := map[string]string{}
	for _, o := range dead {
		reasons[o.ID] = o.LastError
	}
	if !strings.Contains(reasons["o-1"], "the data is not JSON") || !strings.Contains(reasons["o-2"], "no control line") ||
		!strings.Contains(reasons["o-3"], "missing") {
		t.Fatalf("dead reasons %v", reasons)
	}
}

func TestPausedQueueIsNotClaimed(t *testing.T) {
	c, _ := newTestClient(t, Settings{})
	ctx := context.Background()
	push(t, c, "q", "s", "o", 2, nil)
	if err := c.Pause(ctx, "q", "test"); err != nil {
		t.Fatal(err)
	}
	s, err := c.Drain(ctx, DrainOptions{Queues: []string{"q"}, Handler: done})
	if err != nil || s.Claimed != 0 || len(s.Paused) != 1 || !stats(t, c, "q").Paused {
		t.Fatalf("drain of a paused queue: %+v %v", s, err)
	}
	if err := c.Resume(ctx, "q"); err != nil {
		t.Fatal(err)
	}
	if s, err := c.Drain(ctx, DrainOptions{Queues: []string{"q"}, Handler: done}); err != nil || s.Completed != 2 {
		t.Fatalf("drain after resume: %+v %v", s, err)
	}
}

func TestDeadSetIsCappedAndTheTrimIsCounted(t *testing.T) {
	c, _ := newTestClient(t, Settings{DeadMax: 3})
	ctx := context.Background()
	push(t, c, "q", "s", "o", 5, func(o *Operation) { o.MaxAttempts = 1 })
	if _, err := c.Drain(ctx, DrainOptions{Queues: []string{"q"}, Handler: func(context.Context, *Operation) Outcome {
		return Outcome{Kind: Dead, Err: "HTTP 400"}
	}}); err != nil {
		t.Fatal(err)
	}
	// the drain applied the cap itself; nothing is left to trim
	if n, err := c.TrimDead(ctx, "q"); err != nil || n != 0 {
		t.Fatalf("trim after the drain: %d %v, want 0", n, err)
	}
	s := stats(t, c, "q")
	if s.Dead != 3 || s.DeadTrimmed != 2 || s.Failed != 5 {
		t.Fatalf("stats %+v", s)
	}
}

func TestStoppingFinishesInFlightWithinGraceAndReleasesTheRest(t *testing.T) {
	c, _ := newTestClient(t, Settings{})
	push(t, c, "q", "s", "o", 20, nil)
	ctx, stop := context.WithCancel(context.Background())
	started := make(chan struct{}, 20)
	unblock := make(chan struct{})
	handler := func(hctx context.Context, o *Operation) Outcome {
		started <- struct{}{}
		select {
		case <-unblock:
			return Outcome{Kind: Done}
		case <-hctx.Done(): // the grace period ran out
			return Outcome{Kind: Retry, Err: "cut short"}
		}
	}
	out := make(chan Summary, 1)
	go func() {
		s, err := c.Drain(ctx, DrainOptions{Queues: []string{"q"}, Concurrency: 2, Grace: time.Minute, Handler: handler})
		if err != nil {
			t.Error(err)
		}
		out <- s
	}()
	<-started
	<-started
	stop() // SIGINT: two replays in flight, more claimed and waiting
	close(unblock)
	s := <-out
	if s.Completed != 2 || s.Released != s.Claimed-2 || s.Retried != 0 {
		t.Fatalf("summary %+v: want the 2 in flight completed and every other claim released", s)
	}
	st := stats(t, c, "q")
	if st.Completed != 2 || st.PendingTotal != 18 || st.InFlight != 0 {
		t.Fatalf("stats %+v", st)
	}
	ops, err := c.List(context.Background(), "q", "ready", 100)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range ops {
		if o.Attempts != 0 {
			t.Fatalf("a released operation spent an attempt: %+v", o)
		}
	}

	// grace over: a replay still running is cut short and released, not failed
	ctx2, stop2 := context.WithCancel(context.Background())
	hang := func(hctx context.Context, o *Operation) Outcome {
		started <- struct{}{}
		<-hctx.Done()
		return Outcome{Kind: Retry, Err: "cut short"}
	}
	go func() {
		s, err := c.Drain(ctx2, DrainOptions{Queues: []string{"q"}, Concurrency: 1, Grace: 50 * time.Millisecond, Handler: hang})
		if err != nil {
			t.Error(err)
		}
		out <- s
	}()
	<-started
	stop2()
	s = <-out
	if s.Released != s.Claimed || s.Retried != 0 {
		t.Fatalf("after the grace period: %+v, want everything released", s)
	}
	if st := stats(t, c, "q"); st.PendingTotal != 18 || st.InFlight != 0 {
		t.Fatalf("stats %+v", st)
	}
}

func TestServiceFilterClaimsOnlyThatService(t *testing.T) {
	c, _ := newTestClient(t, Settings{})
	push(t, c, "q", "shopify", "a", 5, nil)
	push(t, c, "q", "aramex", "b", 5, nil)
	var wrong atomic.Int32
	s, err := c.Drain(context.Background(), DrainOptions{Queues: []string{"q"}, Service: "aramex", Handler: func(_ context.Context, o *Operation) Outcome {
		if o.Service != "aramex" {
			wrong.Add(1)
		}
		return Outcome{Kind: Done}
	}})
	if err != nil || s.Completed != 5 || wrong.Load() != 0 {
		t.Fatalf("drain --service aramex: %+v %v, %d of another service", s, err, wrong.Load())
	}
	if st := stats(t, c, "q"); st.PendingTotal != 5 {
		t.Fatalf("shopify's operations must still be pending: %+v", st)
	}
}

func TestMetaLineWrittenAndReadLikeEncodingJSON(t *testing.T) {
	for _, m := range []meta{
		{Operation: "create_order"},
		{Operation: "create_order", Error: "HTTP 503 from shopify"},
		{Operation: `quo"te`, Error: "line\nbreak"},
		{Operation: "x", Error: `back\slash`},
		{Operation: "x", Request: &Request{Method: "POST", URL: "/orders"}},
		{Operation: "<html>&", Error: "é"},
	} {
		js, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		if got := appendMeta(nil, m); string(got) != string(js) {
			t.Errorf("appendMeta wrote %s, encoding/json %s", got, js)
		}
		var want meta
		if err := json.Unmarshal(js, &want); err != nil {
			t.Fatal(err)
		}
		if got, ok := plainMeta(string(js)); ok && !reflect.DeepEqual(got, want) {
			t.Errorf("plainMeta(%s) = %+v, encoding/json reads %+v", js, got, want)
		}
	}
	for _, js := range []string{`{"operation":"a"}`, `{"operation":"a","error":"b"}`} {
		if _, ok := plainMeta(js); !ok {
			t.Errorf("plainMeta(%s) left the common case to encoding/json", js)
		}
	}
	for _, js := range []string{`{"operation":"a"`, `{"operation":"a","error":"b"`, `{"operation":"a","error":"b","x":"c"}`, `{"operation":"a"} `} {
		if _, ok := plainMeta(js); ok {
			t.Errorf("plainMeta(%s) accepted it", js)
		}
	}
}

// pushOne pushes one operation through the single-operation path and
// returns its result.
func pushOne(t *testing.T, c *Client, q, id string) PushResult {
	t.Helper()
	o := &Operation{ID: id, Queue: q, Operation: "op", Service: "s"}
	if err := c.Check(o); err != nil {
		t.Fatal(err)
	}
	res, err := c.Push(context.Background(), []*Operation{o})
	if err != nil {
		t.Fatal(err)
	}
	return res[0]
}

func TestACompletedIDIsADuplicateForTheRetentionThenForgotten(t *testing.T) {
	// a retention long enough that the checks right after the drain fall
	// inside it on a loaded machine too
	c, rdb := newTestClient(t, Settings{Retention: 2 * time.Second})
	ctx := context.Background()
	push(t, c, "q", "s", "o", 2, nil) // registers the queue; o-0, o-1
	if s, err := c.Drain(ctx, DrainOptions{Queues: []string{"q"}, Handler: done}); err != nil || s.Completed != 2 {
		t.Fatalf("drain: %+v %v", s, err)
	}
	if r := pushOne(t, c, "q", "o-0"); r.Status != "duplicate" || r.State != "completed" {
		t.Fatalf("push of a just-completed id: %+v, want a duplicate of a completed operation", r)
	}
	if o, err := c.Inspect(ctx, "q", "o-1"); err != nil || o == nil || o.State != "completed" || o.Attempts != 1 || o.CompletedAt == nil {
		t.Fatalf("inspect of a completed operation: %+v %v", o, err)
	}
	// once the retention has passed, the id is new again
	testredis.Eventually(t, 30*time.Second, "o-0 is accepted again after the retention", func() bool {
		r := pushOne(t, c, "q", "o-0")
		return r.Status == "enqueued"
	})
	// and the next completions delete o-1's marker from the ops hash, but
	// not o-0's new entry
	n := 0
	testredis.Eventually(t, 30*time.Second, "o-1's done marker is deleted", func() bool {
		n++
		pushOne(t, c, "q", fmt.Sprintf("p-%d", n))
		if _, err := c.Drain(ctx, DrainOptions{Queues: []string{"q"}, Handler: done, Max: 1}); err != nil {
			t.Fatal(err)
		}
		ok, err := rdb.HExists(ctx, c.keys.QueueOps("q"), "o-1").Result()
		return err == nil && !ok
	})
	o, err := c.Inspect(ctx, "q", "o-0")
	if err != nil || o == nil || (o.State != "ready" && o.State != "completed") {
		t.Fatalf("o-0 pushed again: %+v %v", o, err)
	}
	if o, err := c.Inspect(ctx, "q", "o-1"); err != nil || o != nil {
		t.Fatalf("o-1 after the retention: %+v %v, want nothing", o, err)
	}
	if log, err := rdb.LRange(ctx, c.keys.QueueDone("q"), 0, -1).Result(); err != nil || slices.Contains(log, "o-1") || !strings.HasPrefix(log[0], "@ ") {
		t.Fatalf("the done log %v (%v): want its head trimmed to a time marker after o-1", log, err)
	}
}

func TestUpgradeFromSchema1MovesEveryOperationOnceEvenWithTwoUpgraders(t *testing.T) {
	c, rdb := newTestClient(t, Settings{})
	ctx := context.Background()
	const n = 5000
	q := "orders"
	p := rdb.Pipeline()
	p.Set(ctx, c.keys.Schema(), "1", 0)
	p.SAdd(ctx, c.keys.Queues(), q)
	for i := range n {
		id := fmt.Sprintf("o-%d", i)
		score := 2*int64(band) + 1700000000000 + int64(i)
		p.ZAdd(ctx, c.keys.QueueReady(q), redis.Z{Score: float64(score), Member: id})
		p.HSet(ctx, c.keys.Queue(q)+":ctl", id, fmt.Sprintf("%d 0 10 shopify", score))
		p.HSet(ctx, c.keys.Queue(q)+":op:"+id, "id", id, "queue", q, "operation", "create_order", "service", "shopify",
			"data", fmt.Sprintf(`{"n":%d}`, i), "priority", "normal", "max_attempts", "10", "created_at", "1700000000000",
			"method", "POST", "url", "/orders", "headers", `{"X-Trace":"t"}`)
	}
	if _, err := p.Exec(ctx); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	moved := make([]int, 2)
	errs := make([]error, 2)
	for w := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			moved[w], errs[w] = New(testredis.Client(t), c.keys, Settings{}).Upgrade(ctx, 2)
		}()
	}
	wg.Wait()
	if errs[0] != nil || errs[1] != nil || moved[0]+moved[1] != n {
		t.Fatalf("upgraders moved %v (%v), want %d in all", moved, errs, n)
	}
	if v, _ := rdb.Get(ctx, c.keys.Schema()).Result(); v != "2" {
		t.Fatalf("schema %q after the upgrade, want 2", v)
	}
	if left, _ := rdb.Exists(ctx, c.keys.Queue(q)+":ctl", c.keys.Queue(q)+":op:o-0", c.keys.Queue(q)+":op:o-4999").Result(); left != 0 {
		t.Fatalf("%d schema-1 keys left", left)
	}
	vs, err := rdb.HGetAll(ctx, c.keys.QueueOps(q)).Result()
	if err != nil || len(vs) != n {
		t.Fatalf("%d entries (%v), want %d", len(vs), err, n)
	}
	for id, v := range vs {
		e, err := parseEntry(q, id, v)
		if err != nil || e.op.Request == nil || e.op.Request.Headers["X-Trace"] != "t" || e.op.Operation != "create_order" {
			t.Fatalf("%s: %q: %v", id, v, err)
		}
	}
	s, err := c.Drain(ctx, DrainOptions{Queues: []string{q}, Handler: done, Concurrency: 64})
	if err != nil || s.Completed != n || s.Dead != 0 {
		t.Fatalf("drain after the upgrade: %+v %v", s, err)
	}
}

func TestABatchWithAnIDTwiceEnqueuesItOnceAndSaysItIsReady(t *testing.T) {
	c, _ := newTestClient(t, Settings{})
	ops := []*Operation{{ID: "d-1", Queue: "q", Operation: "a", Service: "s"}, {ID: "d-1", Queue: "q", Operation: "a", Service: "s"}}
	for _, o := range ops {
		if err := c.Check(o); err != nil {
			t.Fatal(err)
		}
	}
	res, err := c.Push(context.Background(), ops)
	if err != nil || res[0].Status != "enqueued" || res[1].Status != "duplicate" || res[1].State != "ready" {
		t.Fatalf("push: %+v %v", res, err)
	}
	if s := stats(t, c, "q"); s.PendingTotal != 1 || s.Duplicates != 1 {
		t.Fatalf("stats %+v", s)
	}
}

func TestRetryOfAnIDNamedStarRetriesOnlyThatID(t *testing.T) {
	c, _ := newTestClient(t, Settings{MaxAttempts: 1})
	ctx := context.Background()
	push(t, c, "q", "s", "o", 3, nil)
	fail := func(context.Context, *Operation) Outcome { return Outcome{Kind: Dead, Err: "no"} }
	if s, err := c.Drain(ctx, DrainOptions{Queues: []string{"q"}, Handler: fail}); err != nil || s.Dead != 3 {
		t.Fatalf("drain: %+v %v", s, err)
	}
	r, err := c.Retry(ctx, "q", []string{"*"})
	if err != nil || r.Moved != 0 || !slices.Equal(r.NotDead, []string{"*"}) {
		t.Fatalf("retry of id *: %+v %v, want nothing moved", r, err)
	}
	if s := stats(t, c, "q"); s.Dead != 3 {
		t.Fatalf("after retrying id *: %d dead, want 3", s.Dead)
	}
	r, err = c.Retry(ctx, "q", []string{"o-1"})
	if err != nil || r.Moved != 1 {
		t.Fatalf("retry o-1: %+v %v", r, err)
	}
	if o, err := c.Inspect(ctx, "q", "o-1"); err != nil || o.State != "ready" || o.Attempts != 0 || o.LastError != "" {
		t.Fatalf("o-1 after retry: %+v %v, want ready, attempts and last error reset", o, err)
	}
}

func TestAClaimOfLargeOperationsStopsAtItsByteBudgetAndKeepsTheRestInOrder(t *testing.T) {
	c, rdb := newTestClient(t, Settings{})
	ctx := context.Background()
	big := json.RawMessage(`"` + strings.Repeat("x", 1000000) + `"`)
	ids := push(t, c, "q", "s", "o", 40, func(o *Operation) { o.Data = big })
	// one claim: about 32 MiB of the 40 MB, the rest back in ready
	claimed, _, _ := claimRaw(t, c, "q", 512, time.Minute)
	if len(claimed) < 30 || len(claimed) > 35 {
		t.Fatalf("one claim took %d of 40 operations of 1 MB, want its 32 MiB budget to stop it", len(claimed))
	}
	if s := stats(t, c, "q"); s.PendingTotal != int64(40-len(claimed)) || s.InFlight != int64(len(claimed)) {
		t.Fatalf("after the claim: %+v", s)
	}
	// the rest stay in claim order (one batch push: the same age, so
	// Redis orders them by id), after those claimed
	ids = slices.Sorted(slices.Values(ids))
	rest, err := rdb.ZRange(ctx, c.keys.QueueReady("q"), 0, -1).Result()
	if err != nil || !slices.Equal(rest, ids[len(claimed):]) || !slices.Equal(claimed, ids[:len(claimed)]) {
		t.Fatalf("claimed %v, left %v (%v): want the oldest claimed and the rest in order", claimed, rest, err)
	}
}

// lostReply lets the first settle script call run in Redis, then reports
// io.EOF as if the connection dropped before its reply arrived.
type lostReply struct {
	sha  string
	lost atomic.Bool
}

func (h *lostReply) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h *lostReply) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}
func (h *lostReply) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := next(ctx, cmd)
		if a := cmd.Args(); err == nil && len(a) > 1 && cmd.Name() == "evalsha" && a[1] == h.sha && h.lost.CompareAndSwap(false, true) {
			cmd.SetErr(io.EOF)
			return io.EOF
		}
		return err
	}
}

func TestASettleWhoseReplyWasLostReportsItsCompletionsAsCompleted(t *testing.T) {
	c, _ := newTestClient(t, Settings{})
	hook := &lostReply{sha: settleScript.Hash()}
	rdb := testredis.Client(t)
	rdb.AddHook(hook)
	lossy := New(rdb, c.keys, Settings{})
	if err := settleScript.Load(context.Background(), c.rdb).Err(); err != nil { // EVALSHA from the start
		t.Fatal(err)
	}
	push(t, c, "q", "s", "o", 5, nil)
	var reports []Report
	s, err := lossy.Drain(context.Background(), DrainOptions{Queues: []string{"q"}, Handler: done,
		OnReport: func(r Report) { reports = append(reports, r) }})
	if err != nil || !hook.lost.Load() {
		t.Fatalf("drain: %v (reply lost: %v)", err, hook.lost.Load())
	}
	if s.Completed != 5 || s.Lost != 0 {
		t.Fatalf("summary %+v: the retried settle must report the completions, not lost", s)
	}
	for _, r := range reports {
		if r.Outcome != "completed" {
			t.Fatalf("report %+v", r)
		}
	}
}

func TestAServiceFilterLooksPastOtherServicesLargeOperations(t *testing.T) {
	c, _ := newTestClient(t, Settings{})
	ctx := context.Background()
	big := json.RawMessage(`"` + strings.Repeat("x", 600000) + `"`)
	push(t, c, "q", "other", "b", 15, func(o *Operation) { o.Data = big })
	push(t, c, "q", "mine", "m", 3, nil)
	s, err := c.Drain(ctx, DrainOptions{Queues: []string{"q"}, Service: "mine", Handler: done})
	if err != nil || s.Completed != 3 {
		t.Fatalf("drain --service mine behind 9 MB of another service's operations: %+v %v", s, err)
	}
	if st := stats(t, c, "q"); st.PendingTotal != 15 {
		t.Fatalf("stats %+v: the other service's operations must stay ready", st)
	}
}
