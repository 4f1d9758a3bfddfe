package transport_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/haderos/haderctl/internal/engine/breaker"
	"github.com/haderos/haderctl/internal/engine/store"
	"github.com/haderos/haderctl/internal/engine/transport"
	"github.com/haderos/haderctl/internal/testredis"
	"github.com/redis/go-redis/v9"
)

func TestMain(m *testing.M) { testredis.Main(m) }

// hangingServer answers /ok at once and holds /hang until the request is
// cancelled; arrived gets a value when a /hang request has come in.
func hangingServer(t *testing.T) (url string, arrived <-chan struct{}) {
	t.Helper()
	in := make(chan struct{}, 8)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/hang" {
			in <- struct{}{}
			<-r.Context().Done()
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(srv.Close)
	return srv.URL, in
}

func newBreakers(t *testing.T, s breaker.Settings) *breaker.Engine {
	t.Helper()
	e := breaker.New(testredis.Client(t), breaker.Options{Keys: store.Keys{Namespace: testredis.Namespace(t)},
		Settings: func(string) breaker.Settings { return s }})
	t.Cleanup(e.Close)
	return e
}

func status(t *testing.T, e *breaker.Engine, name string) breaker.Status {
	t.Helper()
	st, _, err := e.Snapshot(context.Background(), []string{name})
	if err != nil || len(st) != 1 {
		t.Fatalf("snapshot of %s: %v %v", name, st, err)
	}
	return st[0]
}

// get sends GET url through the transport as a call to service; cancel,
// when non-nil, is run once the server holds the request.
func get(t *testing.T, ctx context.Context, rt http.RoundTripper, service, url string) error {
	t.Helper()
	req, err := http.NewRequestWithContext(transport.WithService(ctx, service), http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := (&http.Client{Transport: rt}).Do(req)
	if err == nil {
		resp.Body.Close()
	}
	return err
}

// cancelWhenArrived cancels once the server holds a request, or fails the
// test after a deadline.
func cancelWhenArrived(t *testing.T, arrived <-chan struct{}, cancel context.CancelFunc) {
	go func() {
		select {
		case <-arrived:
		case <-time.After(10 * time.Second):
			t.Error("the request never reached the server")
		}
		cancel()
	}()
}

func TestCallerCancelledRequestIsNeitherFailureNorSuccess(t *testing.T) {
	url, arrived := hangingServer(t)
	e := newBreakers(t, breaker.Settings{FailureThreshold: 2})
	rt := transport.New(nil, e)
	// one failure first: counted as a failure the call would open the
	// breaker, counted as a success it would clear the failure
	if _, err := e.Record(context.Background(), "shop", false); err != nil {
		t.Fatal(err)
	}
	before := status(t, e, "shop")

	ctx, cancel := context.WithCancel(context.Background())
	cancelWhenArrived(t, arrived, cancel)
	if err := get(t, ctx, rt, "shop", url+"/hang"); !errors.Is(err, context.Canceled) {
		t.Fatalf("want context.Canceled, got %v", err)
	}
	after := status(t, e, "shop")
	if after.State != breaker.Closed || after.Failures != 1 || after.Generation != before.Generation {
		t.Fatalf("a cancelled call was counted: before %+v, after %+v", before, after)
	}
}

// A caller that cancels with a cause (context.WithCancelCause, as a server
// does when its own client goes away) gets the cause back from net/http,
// not context.Canceled: it is still the caller's doing, not the service's.
func TestCallerCancelledWithACauseIsNeitherFailureNorSuccess(t *testing.T) {
	url, arrived := hangingServer(t)
	e := newBreakers(t, breaker.Settings{FailureThreshold: 1})
	rt := transport.New(nil, e)
	gone := errors.New("the client went away")
	ctx, cancel := context.WithCancelCause(context.Background())
	cancelWhenArrived(t, arrived, func() { cancel(gone) })
	if err := get(t, ctx, rt, "shop", url+"/hang"); !errors.Is(err, gone) {
		t.Fatalf("want the cancel cause, got %v", err)
	}
	if st := status(t, e, "shop"); st.State != breaker.Closed || st.Failures != 0 {
		t.Fatalf("a call its caller cancelled (with a cause) was counted as a failure: %+v", st)
	}
}

func TestCallerCancelledProbeFreesItsSlot(t *testing.T) {
	url, arrived := hangingServer(t)
	e := newBreakers(t, breaker.Settings{FailureThreshold: 1, SuccessThreshold: 1, MaxProbes: 1,
		RecoveryTimeout: time.Millisecond, ProbeLease: time.Hour})
	rt := transport.New(nil, e)
	if _, err := e.Record(context.Background(), "shop", false); err != nil {
		t.Fatal(err)
	}
	if st := status(t, e, "shop"); st.State != breaker.Open {
		t.Fatalf("want an open breaker to start from, got %+v", st)
	}
	deadline := time.Now().Add(5 * time.Second)
	for st := status(t, e, "shop"); !st.ShouldAttemptReset && st.State != breaker.HalfOpen; st = status(t, e, "shop") {
		if time.Now().After(deadline) {
			t.Fatalf("the breaker never became due for a probe: %+v", st)
		}
		time.Sleep(time.Millisecond) // poll: the 1ms recovery timeout runs on Redis time
	}

	ctx, cancel := context.WithCancel(context.Background())
	held := make(chan breaker.Status, 1)
	go func() {
		<-arrived
		held <- status(t, e, "shop")
		cancel()
	}()
	// poll: this process' cache may hold the breaker open a moment longer
	err := get(t, ctx, rt, "shop", url+"/hang")
	for errors.Is(err, breaker.ErrOpen) && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
		err = get(t, ctx, rt, "shop", url+"/hang")
	}
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("want context.Canceled, got %v", err)
	}
	if st := <-held; st.ProbesInFlight != 1 {
		t.Fatalf("while the probe hung it held a slot: want 1 in flight, got %+v", st)
	}
	if st := status(t, e, "shop"); st.State != breaker.HalfOpen || st.ProbesInFlight != 0 || st.Failures != 1 {
		t.Fatalf("after the caller cancelled the probe: want half-open, no probe in flight, failures unchanged; got %+v", st)
	}
	// the freed slot admits the next probe at once (the lease is an hour)
	if err := get(t, context.Background(), rt, "shop", url+"/ok"); err != nil {
		t.Fatalf("the next probe was refused: %v", err)
	}
	if st := status(t, e, "shop"); st.State != breaker.Closed {
		t.Fatalf("a successful probe closes the breaker: %+v", st)
	}
}

func TestDeadlineExceededCountsAsAFailure(t *testing.T) {
	url, _ := hangingServer(t)
	e := newBreakers(t, breaker.Settings{FailureThreshold: 1})
	rt := transport.New(nil, e)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := get(t, ctx, rt, "shop", url+"/hang"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("want context.DeadlineExceeded, got %v", err)
	}
	if st := status(t, e, "shop"); st.State != breaker.Open || st.Failures != 1 {
		t.Fatalf("a timed-out call is the service's failure: want open after 1 failure, got %+v", st)
	}
}

func TestConnectionErrorCountsAsAFailure(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close() // nothing listens there now
	e := newBreakers(t, breaker.Settings{FailureThreshold: 1})
	if err := get(t, context.Background(), transport.New(nil, e), "shop", url); err == nil {
		t.Fatal("a call to a closed port succeeded")
	}
	if st := status(t, e, "shop"); st.State != breaker.Open {
		t.Fatalf("a refused connection is the service's failure: %+v", st)
	}
}

// A per-service timeout (http.Client.Timeout, as the queue drain and the
// health checker set one) is the service being too slow: a failure.
func TestClientTimeoutCountsAsAFailure(t *testing.T) {
	url, _ := hangingServer(t)
	e := newBreakers(t, breaker.Settings{FailureThreshold: 1})
	req, err := http.NewRequestWithContext(transport.WithService(context.Background(), "shop"), http.MethodGet, url+"/hang", nil)
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Transport: transport.New(nil, e), Timeout: 50 * time.Millisecond}
	if resp, err := client.Do(req); err == nil {
		resp.Body.Close()
		t.Fatal("a call to a hanging server answered within the timeout")
	}
	if st := status(t, e, "shop"); st.State != breaker.Open {
		t.Fatalf("a call past the client's timeout is the service's failure: %+v", st)
	}
}

// cancelAfterRun lets the next script through to Redis, then cancels the
// caller's context and fails the command with context.Canceled: the
// caller gave up while Redis ran the script (its reply lost on the way).
type cancelAfterRun struct {
	cancel atomic.Pointer[context.CancelFunc]
}

func (h *cancelAfterRun) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *cancelAfterRun) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

func (h *cancelAfterRun) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := next(ctx, cmd)
		if name := cmd.Name(); name != "evalsha" && name != "eval" {
			return err
		}
		if c := h.cancel.Swap(nil); c != nil {
			(*c)()
			cmd.SetErr(context.Canceled)
			return context.Canceled
		}
		return err
	}
}

// A caller that gives up while Redis admits it as a half-open probe has
// taken a slot it will never use: Admit gives it back at once instead of
// leaving it to the lease (an hour here).
func TestACallerCancelledDuringAdmissionFreesTheProbeSlot(t *testing.T) {
	hook := &cancelAfterRun{}
	rdb := testredis.Client(t)
	rdb.AddHook(hook)
	e := breaker.New(rdb, breaker.Options{Keys: store.Keys{Namespace: testredis.Namespace(t)},
		Settings: func(string) breaker.Settings {
			return breaker.Settings{FailureThreshold: 1, SuccessThreshold: 1, MaxProbes: 1, RecoveryTimeout: time.Millisecond, ProbeLease: time.Hour}
		}})
	t.Cleanup(e.Close)
	// Allow (Execute's way in) is Admit without Release: the same holds
	for _, via := range []string{"Admit", "Allow"} {
		name := "shop-" + via
		admit := func(ctx context.Context) error {
			if via == "Allow" {
				_, err := e.Allow(ctx, name)
				return err
			}
			_, err := e.Admit(ctx, name)
			return err
		}
		if _, err := e.Record(context.Background(), name, false); err != nil {
			t.Fatal(err)
		}
		// poll until a probe is admitted (the 1ms recovery timeout runs on
		// Redis time, and this process' cache may hold the breaker open a
		// moment longer), and give it back: half-open, its one slot free
		deadline := time.Now().Add(5 * time.Second)
		for {
			call, err := e.Admit(context.Background(), name)
			if err == nil {
				call.Release()
				break
			}
			if !errors.Is(err, breaker.ErrOpen) || time.Now().After(deadline) {
				t.Fatalf("the breaker never admitted a probe: %v", err)
			}
			time.Sleep(time.Millisecond)
		}
		if st := status(t, e, name); st.State != breaker.HalfOpen || st.ProbesInFlight != 0 {
			t.Fatalf("want half-open with its slot free to start from, got %+v", st)
		}
		ctx, cancel := context.WithCancel(context.Background())
		hook.cancel.Store(&cancel)
		if err := admit(ctx); !errors.Is(err, context.Canceled) {
			t.Fatalf("want context.Canceled from an admission its caller gave up, got %v", err)
		}
		if hook.cancel.Load() != nil {
			t.Fatal("the admission never ran its script")
		}
		// poll: the slot is given back in the background, the caller is not
		// kept waiting for it
		deadline = time.Now().Add(5 * time.Second)
		for st := status(t, e, name); st.State != breaker.HalfOpen || st.ProbesInFlight != 0; st = status(t, e, name) {
			if time.Now().After(deadline) {
				t.Fatalf("after the caller gave up mid-admission: want half-open with no probe in flight, got %+v", st)
			}
			time.Sleep(time.Millisecond)
		}
		call, err := e.Admit(context.Background(), name)
		if err != nil {
			t.Fatalf("the slot was not freed: the next probe was refused: %v", err)
		}
		call.Done(true)
	}
}

// The outcome is taken at the response headers: a caller that cancels
// while reading the body has already had the service's answer counted (a
// 200 here clears the failure before it), and the cancel adds no failure.
func TestACancelWhileReadingTheBodyKeepsTheHeadersOutcome(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte("partial"))
		w.(http.Flusher).Flush()
		<-r.Context().Done() // the rest of the body never comes
	}))
	t.Cleanup(srv.Close)
	e := newBreakers(t, breaker.Settings{FailureThreshold: 2})
	if _, err := e.Record(context.Background(), "shop", false); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, err := http.NewRequestWithContext(transport.WithService(ctx, "shop"), http.MethodGet, srv.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := (&http.Client{Transport: transport.New(nil, e)}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	buf := make([]byte, len("partial"))
	if _, err := io.ReadFull(resp.Body, buf); err != nil {
		t.Fatal(err)
	}
	cancel()
	if _, err := io.ReadAll(resp.Body); !errors.Is(err, context.Canceled) {
		t.Fatalf("want the body read cancelled, got %v", err)
	}
	if st := status(t, e, "shop"); st.State != breaker.Closed || st.Failures != 0 {
		t.Fatalf("want the 200 counted (failures cleared) and no failure for the cancel, got %+v", st)
	}
}
