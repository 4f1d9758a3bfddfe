package writes

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/haderos/haderctl/internal/engine/chaos/faults"
	"github.com/haderos/haderctl/internal/engine/queue"
	"github.com/haderos/haderctl/internal/engine/store"
	"github.com/haderos/haderctl/internal/testredis"
	"github.com/redis/go-redis/v9"
)

func TestIdempotencyKeyTakesTheQuotedAndTheBareForm(t *testing.T) {
	for header, want := range map[string]string{
		`"order-7"`:     "order-7",
		`order-7`:       "order-7",
		` "a\"b\\c" `:   `a"b\c`,
		`"tok:2026/12"`: "tok:2026/12",
	} {
		got, has, err := IdempotencyKey(http.Header{HeaderIdempotencyKey: {header}})
		if err != nil || !has || got != want {
			t.Errorf("Idempotency-Key %s: %q %v %v, want %q", header, got, has, err, want)
		}
	}
	if _, has, err := IdempotencyKey(http.Header{}); has || err != nil {
		t.Errorf("no header: has %v, err %v", has, err)
	}
}

func TestABadIdempotencyKeyIsRefusedWith400(t *testing.T) {
	e := newEnv(t)
	g := &gateway{wr: e.writer(t, Options{})}
	g.down.Store(true)
	gw := serve(t, g)
	for header, want := range map[string]string{
		`""`:                     "empty",
		` `:                      "empty",
		`"abc`:                   "not a structured-field string",
		`"a\nb"`:                 "not a structured-field string",
		`"a b"`:                  "cannot be an operation id",
		`{tag}`:                  "cannot be an operation id",
		strings.Repeat("k", 256): "at most 255",
		strings.Repeat("k", 201): "cannot be an operation id",
		"\"caf\u00e9\"":          "not a structured-field string",
		"both,twice":             "", // one field holding a comma is one bare key
		"plain-key":              "",
	} {
		a := send(t, "POST", gw.URL+"/rates", header, []byte(`{}`), nil)
		if want == "" {
			if a.code != http.StatusAccepted {
				t.Errorf("Idempotency-Key %q: %d %s, want 202", header, a.code, a.body)
			}
			continue
		}
		if a.code != http.StatusBadRequest || !strings.Contains(a.json(t)["error"].(string), want) {
			t.Errorf("Idempotency-Key %q: %d %s, want 400 saying %q", header, a.code, a.body, want)
		}
	}
	a := send(t, "POST", gw.URL+"/rates", "", []byte(`{}`), http.Header{HeaderIdempotencyKey: {"a", "b"}})
	if a.code != http.StatusBadRequest || !strings.Contains(a.json(t)["error"].(string), "more than once") {
		t.Errorf("two Idempotency-Keys: %d %s, want 400", a.code, a.body)
	}
	if s := stats(t, e, "shipping"); s.PendingTotal != 2 {
		t.Errorf("%d operations queued, want the 2 with good keys", s.PendingTotal)
	}
}

func TestAnAnswerIsKeptForItsKeyAndGivenToARetry(t *testing.T) {
	e := newEnv(t)
	var calls atomic.Int32
	upstream := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Rate-Id", "r-1")
		w.Header().Set("Set-Cookie", "session=upstream-secret")
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write([]byte(`{"rate":12.5}`))
	}))
	gw := serve(t, &gateway{wr: e.writer(t, Options{}), upstream: upstream.URL})

	first := send(t, "POST", gw.URL+"/rates?to=RUH", `"rate-1"`, []byte(`{"w":1}`), nil)
	again := send(t, "POST", gw.URL+"/rates?to=RUH", `rate-1`, []byte(`{"w":1}`), nil)
	if first.code != http.StatusCreated || first.header.Get(HeaderReplayed) != "" {
		t.Fatalf("first answer %d %v", first.code, first.header)
	}
	if again.code != http.StatusCreated || !bytes.Equal(again.body, first.body) || again.header.Get("X-Rate-Id") != "r-1" ||
		again.header.Get(HeaderReplayed) != "true" || again.header.Get("Content-Type") != "application/json" {
		t.Fatalf("retry got %d %v %s, want the first answer replayed", again.code, again.header, again.body)
	}
	if c := again.header.Values("Set-Cookie"); len(c) != 0 {
		t.Fatalf("a replay handed out the first client's cookie %v", c)
	}
	if n := calls.Load(); n != 1 {
		t.Fatalf("the upstream was called %d times, want once", n)
	}
	// the same key with another body, query or method is another request
	for _, r := range []struct{ method, path, body string }{
		{"POST", "/rates?to=RUH", `{"w":2}`}, {"POST", "/rates?to=JED", `{"w":1}`}, {"PUT", "/rates?to=RUH", `{"w":1}`}} {
		a := send(t, r.method, gw.URL+r.path, "rate-1", []byte(r.body), nil)
		if a.code != http.StatusUnprocessableEntity || a.json(t)["id"] != "rate-1" {
			t.Errorf("%s %s %s under a used key: %d %s, want 422", r.method, r.path, r.body, a.code, a.body)
		}
	}
	if n := calls.Load(); n != 1 {
		t.Fatalf("the upstream was called %d times, want once", n)
	}
}

func TestARetryOfAQueuedWriteGetsTheSame202AndQueuesNothing(t *testing.T) {
	e := newEnv(t)
	g := &gateway{wr: e.writer(t, Options{}), lastErr: "aramex: dial tcp: connection refused"}
	g.down.Store(true)
	gw := serve(t, g)
	body := []byte(`{"awb":"123"}`)
	first := send(t, "POST", gw.URL+"/rates", `"ship-9"`, body, nil)
	again := send(t, "POST", gw.URL+"/rates", `"ship-9"`, body, nil)
	if first.code != http.StatusAccepted || again.code != http.StatusAccepted || !bytes.Equal(first.body, again.body) ||
		again.header.Get("Location") != OperationsPath+"ship-9" || again.header.Get(HeaderOperationID) != "ship-9" {
		t.Fatalf("first %d %s, retry %d %v %s: want the same 202", first.code, first.body, again.code, again.header, again.body)
	}
	doc := first.json(t)
	if doc["status"] != "queued" || doc["operation_id"] != "ship-9" || doc["queue"] != "shipping" ||
		doc["location"] != OperationsPath+"ship-9" || doc["error"] != "aramex: dial tcp: connection refused" {
		t.Fatalf("202 body %s", first.body)
	}
	// the key's record gone (expired), the queue still knows the id
	if err := e.rdb.Del(context.Background(), e.keys.GatewayIdempotency("ship-9")).Err(); err != nil {
		t.Fatal(err)
	}
	late := send(t, "POST", gw.URL+"/rates", `"ship-9"`, body, nil)
	if late.code != http.StatusAccepted || late.json(t)["operation_id"] != "ship-9" || late.json(t)["duplicate"] != true {
		t.Fatalf("a retry after the key's record expired: %d %s, want 202 naming the queued duplicate", late.code, late.body)
	}
	if s := stats(t, e, "shipping"); s.PendingTotal != 1 || s.Duplicates != 1 {
		t.Fatalf("queue %+v: want one operation, one duplicate push refused", s)
	}
}

// TestTwoGatewaysShareAKey runs two Writers on their own connections (two
// gateway processes): while one proxies a key's request the other answers
// 409, and after it answered, the kept answer.
func TestTwoGatewaysShareAKey(t *testing.T) {
	e := newEnv(t)
	arrived, release := make(chan struct{}), make(chan struct{})
	var calls atomic.Int32
	upstream := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			close(arrived)
			<-release
		}
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte("booked"))
	}))
	a := serve(t, &gateway{wr: e.writer(t, Options{}), upstream: upstream.URL})
	b := serve(t, &gateway{wr: e.writer(t, Options{}), upstream: upstream.URL})

	done := make(chan answer, 1)
	go func() {
		req, _ := http.NewRequest("POST", a.URL+"/book", strings.NewReader("x=1"))
		req.Header.Set(HeaderIdempotencyKey, "book-1")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			done <- answer{code: -1}
			return
		}
		resp.Body.Close()
		done <- answer{code: resp.StatusCode}
	}()
	select {
	case <-arrived:
	case <-time.After(10 * time.Second):
		t.Fatal("the first request did not reach the upstream")
	}
	busy := send(t, "POST", b.URL+"/book", "book-1", []byte("x=1"), nil)
	if busy.code != http.StatusConflict || busy.header.Get("Retry-After") == "" {
		t.Fatalf("while in flight through the other gateway: %d %s, want 409 with Retry-After", busy.code, busy.body)
	}
	close(release)
	if r := <-done; r.code != http.StatusOK {
		t.Fatalf("first request: %d", r.code)
	}
	replayed := send(t, "POST", b.URL+"/book", "book-1", []byte("x=1"), nil)
	if replayed.code != http.StatusOK || string(replayed.body) != "booked" || replayed.header.Get(HeaderReplayed) != "true" {
		t.Fatalf("after the first answered: %d %v %q, want its answer replayed", replayed.code, replayed.header, replayed.body)
	}
	if n := calls.Load(); n != 1 {
		t.Fatalf("the upstream was called %d times, want once", n)
	}
}

// TestAKeyWithoutAnAnswerIsFreed: a client gone before any answer, or a
// 5xx the gateway gave itself, leaves the key free for a retry.
func TestAKeyWithoutAnAnswerIsFreed(t *testing.T) {
	e := newEnv(t)
	wr := e.writer(t, Options{})
	ctx := context.Background()
	begin := func() (*Ticket, bool) {
		r := httptest.NewRequest("POST", "/book", nil).WithContext(ctx)
		r.Header.Set(HeaderIdempotencyKey, "gone-1")
		return wr.Begin(httptest.NewRecorder(), r, []byte("x"), "book")
	}
	t1, done := begin()
	if done {
		t.Fatal("the first request did not claim the key")
	}
	t1.Wrap(httptest.NewRecorder())
	t1.Finish() // nothing answered
	if n := e.rdb.Exists(ctx, e.keys.GatewayIdempotency("gone-1")).Val(); n != 0 {
		t.Fatal("the key is still held after a request that got no answer")
	}
	t2, done := begin()
	if done {
		t.Fatal("a retry could not claim the freed key")
	}
	writeError(t2.Wrap(httptest.NewRecorder()), http.StatusServiceUnavailable, "not queued", "")
	t2.Finish()
	if _, done := begin(); done {
		t.Fatal("a key answered with the gateway's own 503 was kept")
	}
}

func TestOnlyTheStatusOfALargeAnswerIsKept(t *testing.T) {
	e := newEnv(t)
	big := bytes.Repeat([]byte("z"), 100)
	upstream := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write(big)
	}))
	gw := serve(t, &gateway{wr: e.writer(t, Options{MaxKeptBody: 64}), upstream: upstream.URL})
	if a := send(t, "POST", gw.URL+"/x", "big-1", nil, nil); a.code != http.StatusCreated || !bytes.Equal(a.body, big) {
		t.Fatalf("first: %d %d bytes", a.code, len(a.body))
	}
	a := send(t, "POST", gw.URL+"/x", "big-1", nil, nil)
	if a.code != http.StatusCreated || len(a.body) != 0 || a.header.Get(HeaderReplayed) != "true" {
		t.Fatalf("retry: %d %q, want the status alone", a.code, a.body)
	}
}

func TestAReadIsNeverQueued(t *testing.T) {
	e := newEnv(t)
	g := &gateway{wr: e.writer(t, Options{})}
	g.down.Store(true)
	gw := serve(t, g)
	if a := send(t, "GET", gw.URL+"/rates", "", nil, nil); a.code != http.StatusServiceUnavailable {
		t.Fatalf("GET while down: %d %s, want the gateway's 503", a.code, a.body)
	}
	if n := e.rdb.SCard(context.Background(), e.keys.Queues()).Val(); n != 0 {
		t.Fatalf("%d queues used after a read", n)
	}
}

// TestAKeyThatCannotBeCheckedIs503: with Redis unreachable a keyed write
// is not proxied unclaimed (it could then run twice); a write without a
// key goes on.
func TestAKeyThatCannotBeCheckedIs503(t *testing.T) {
	down := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1})
	t.Cleanup(func() { down.Close() })
	keys := store.Keys{Namespace: testredis.Namespace(t)}
	wr := New(down, queue.New(down, keys, queue.Settings{}), Options{Keys: keys})
	w := httptest.NewRecorder()
	r := httptest.NewRequest("POST", "/book", nil)
	r.Header.Set(HeaderIdempotencyKey, "k-1")
	if _, done := wr.Begin(w, r, nil, "orders"); !done || w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") == "" {
		t.Fatalf("Begin with Redis down: done %v, %d %v %s", done, w.Code, w.Header(), w.Body)
	}
	if _, done := wr.Begin(httptest.NewRecorder(), httptest.NewRequest("POST", "/book", nil), nil, "orders"); done {
		t.Fatal("a write without a key was stopped while Redis is down")
	}
}

// TestAReusedKeyWhoseOperationIsStillQueuedIs422: once the key's record
// has expired, the key may be used again; a different write under it,
// while the queue still holds the first one's operation, would be
// dropped as a duplicate push. It is refused, and the queued one stays.
func TestAReusedKeyWhoseOperationIsStillQueuedIs422(t *testing.T) {
	e := newEnv(t)
	g := &gateway{wr: e.writer(t, Options{}), lastErr: "HTTP 503"}
	g.down.Store(true)
	gw := serve(t, g)
	if a := send(t, "POST", gw.URL+"/rates", "ship-10", []byte(`{"awb":"1"}`), nil); a.code != http.StatusAccepted {
		t.Fatalf("first: %d %s", a.code, a.body)
	}
	if err := e.rdb.Del(context.Background(), e.keys.GatewayIdempotency("ship-10")).Err(); err != nil {
		t.Fatal(err)
	}
	for _, r := range []struct{ path, body string }{{"/rates", `{"awb":"2"}`}, {"/rates?to=JED", `{"awb":"1"}`}} {
		a := send(t, "POST", gw.URL+r.path, "ship-10", []byte(r.body), nil)
		if a.code != http.StatusUnprocessableEntity || a.json(t)["id"] != "ship-10" {
			t.Fatalf("another write %s %s under the reused key: %d %s, want 422", r.path, r.body, a.code, a.body)
		}
		if err := e.rdb.Del(context.Background(), e.keys.GatewayIdempotency("ship-10")).Err(); err != nil {
			t.Fatal(err)
		}
	}
	op, err := e.qc.Inspect(context.Background(), "shipping", "ship-10")
	if err != nil || op == nil || string(op.Data) != `{"awb":"1"}` {
		t.Fatalf("the queued operation: %+v %v, want the first write's", op, err)
	}
}

// TestARetryLaterAnswerIsNotKept: a provider's 429 (or 408, 425) asks the
// client to retry; kept for the key, it would answer every retry for a
// day. The key is freed and the retry reaches the provider.
func TestARetryLaterAnswerIsNotKept(t *testing.T) {
	e := newEnv(t)
	var calls atomic.Int32
	upstream := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write([]byte("booked"))
	}))
	gw := serve(t, &gateway{wr: e.writer(t, Options{}), upstream: upstream.URL})
	if a := send(t, "POST", gw.URL+"/book", "slow-1", []byte("x=1"), nil); a.code != http.StatusTooManyRequests {
		t.Fatalf("first: %d %s, want the provider's 429", a.code, a.body)
	}
	a := send(t, "POST", gw.URL+"/book", "slow-1", []byte("x=1"), nil)
	if a.code != http.StatusCreated || a.header.Get(HeaderReplayed) != "" || calls.Load() != 2 {
		t.Fatalf("retry: %d %v %q after %d calls, want the provider's 201", a.code, a.header, a.body, calls.Load())
	}
	if a := send(t, "POST", gw.URL+"/book", "slow-1", []byte("x=1"), nil); a.code != http.StatusCreated || a.header.Get(HeaderReplayed) != "true" {
		t.Fatalf("second retry: %d %v, want the 201 replayed", a.code, a.header)
	}
	for code, kept := range map[int]bool{200: true, 302: true, 400: true, 404: true, 408: false, 425: false, 429: false, 500: false, 503: false} {
		if keptStatus(code) != kept {
			t.Errorf("keptStatus(%d) = %v, want %v", code, !kept, kept)
		}
	}
}

// TestAnAnswerAChaosExperimentMadeUpIsNotKept: an error experiment's
// answer (say a 400 injected on a game day) never reached the service;
// kept for the key, it would stand for the write after the experiment.
func TestAnAnswerAChaosExperimentMadeUpIsNotKept(t *testing.T) {
	e := newEnv(t)
	var calls atomic.Int32
	upstream := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			w.Header().Set(faults.HeaderExperiment, "exp-1")
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		w.WriteHeader(http.StatusCreated)
	}))
	gw := serve(t, &gateway{wr: e.writer(t, Options{}), upstream: upstream.URL})
	if a := send(t, "POST", gw.URL+"/book", "chaos-1", []byte("x=1"), nil); a.code != http.StatusBadRequest {
		t.Fatalf("first: %d %s, want the injected 400", a.code, a.body)
	}
	if a := send(t, "POST", gw.URL+"/book", "chaos-1", []byte("x=1"), nil); a.code != http.StatusCreated || a.header.Get(HeaderReplayed) != "" {
		t.Fatalf("retry: %d %v, want the provider's own 201", a.code, a.header)
	}
}
