package source

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/haderos/haderctl/internal/dashboard"
	"github.com/haderos/haderctl/internal/engine/breaker"
	"github.com/haderos/haderctl/internal/engine/chaos"
	"github.com/haderos/haderctl/internal/engine/queue"
	"github.com/haderos/haderctl/internal/engine/store"
)

// lastEvent is a breaker's latest transition as another process reads it.
func lastEvent(t *testing.T, w *world, name string) breaker.Event {
	t.Helper()
	evs, err := w.other.Breakers.Events(context.Background(), []string{name}, 1)
	if err != nil || len(evs) != 1 {
		t.Fatalf("events of %s: %v %v", name, evs, err)
	}
	return evs[0]
}

func breakerState(t *testing.T, w *world, name string) breaker.State {
	t.Helper()
	st, _, err := w.other.Breakers.Snapshot(context.Background(), []string{name})
	if err != nil {
		t.Fatal(err)
	}
	return st[0].State
}

func TestBreakerActionsChangeRedisAndRecordTheReasonAndWho(t *testing.T) {
	w := newWorld(t, Options{})
	ctx := context.Background()
	me := breaker.ThisProcess()
	if _, err := w.backend.Snapshot(ctx); err != nil { // warm: the names are known
		t.Fatal(err)
	}
	for _, tc := range []struct {
		kind   dashboard.ActionKind
		reason string
		state  breaker.State
		result string
		// recorded is the reason in the event stream (the CLI's default
		// when none is given)
		recorded string
	}{
		{dashboard.TripBreaker, "game day: aramex down", breaker.ForcedOpen, "breaker aramex tripped (was closed)", "game day: aramex down"},
		{dashboard.ResetBreaker, "aramex is back", breaker.Closed, "breaker aramex reset (was forced open)", "aramex is back"},
		{dashboard.DisableBreaker, "", breaker.Disabled, "breaker aramex disabled (was closed)", disableReason},
		{dashboard.EnableBreaker, "flapping fixed", breaker.Closed, "breaker aramex enabled (was disabled)", "flapping fixed"},
	} {
		got, err := w.backend.Do(ctx, dashboard.Action{Kind: tc.kind, Target: "aramex", Reason: tc.reason})
		if err != nil {
			t.Fatalf("%s: %v", tc.kind, err)
		}
		if got != tc.result {
			t.Errorf("%s said %q, want %q", tc.kind, got, tc.result)
		}
		if s := breakerState(t, w, "aramex"); s != tc.state {
			t.Fatalf("after %s the breaker is %s in Redis, want %s", tc.kind, s, tc.state)
		}
		ev := lastEvent(t, w, "aramex")
		if ev.To != tc.state || ev.Reason != tc.recorded || ev.User != me.User || ev.Host != me.Host || ev.PID != me.PID {
			t.Fatalf("after %s the event stream's latest is %+v, want to %s with reason %q by %s@%s:%d", tc.kind, ev, tc.state, tc.recorded, me.User, me.Host, me.PID)
		}
		// an action leaves the refresh at one round trip
		s, err := w.backend.Snapshot(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if s.RoundTrips != 1 {
			t.Fatalf("the refresh after %s took %d round trips, want 1", tc.kind, s.RoundTrips)
		}
	}
}

func TestBreakerActionsRefuseBadTargetsAndMissingReasons(t *testing.T) {
	w := newWorld(t, Options{})
	ctx := context.Background()
	var ie *InputError
	if _, err := w.backend.Do(ctx, dashboard.Action{Kind: dashboard.ResetBreaker, Target: "aramex"}); !errors.As(err, &ie) || !strings.Contains(err.Error(), "needs a reason") {
		t.Fatalf("a reset without a reason: %v, want a refusal asking for one", err)
	}
	if _, err := w.backend.Do(ctx, dashboard.Action{Kind: dashboard.TripBreaker, Target: "nobody-knows", Reason: "typo"}); !errors.As(err, &ie) || !strings.Contains(err.Error(), `unknown breaker "nobody-knows"`) {
		t.Fatalf("a trip of an unknown breaker: %v, want it refused by name", err)
	}
	var ne *store.NameError
	if _, err := w.backend.Do(ctx, dashboard.Action{Kind: dashboard.TripBreaker, Target: "{bad}", Reason: "x"}); !errors.As(err, &ne) {
		t.Fatalf("a trip of an invalid name: %v, want the engine's name error", err)
	}
	names, err := w.other.Breakers.Names(ctx)
	if err != nil || len(names) != 0 {
		t.Fatalf("refused actions created breakers: %v %v", names, err)
	}
}

// push puts operations in a queue through the other process.
func push(t *testing.T, w *world, q string, ops ...*queue.Operation) {
	t.Helper()
	for _, o := range ops {
		if o.Queue == "" {
			o.Queue = q
		}
		if o.Operation == "" {
			o.Operation, o.Service = "create_shipment", "aramex"
		}
		if err := w.other.Queues.Check(o); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := w.other.Queues.Push(context.Background(), ops); err != nil {
		t.Fatal(err)
	}
}

// kill drains a queue with a handler that fails every operation for good.
func kill(t *testing.T, w *world, q string) {
	t.Helper()
	dead := func(context.Context, *queue.Operation) queue.Outcome {
		return queue.Outcome{Kind: queue.Dead, Err: "HTTP 400"}
	}
	if _, err := w.other.Queues.Drain(context.Background(), queue.DrainOptions{Queues: []string{q}, Concurrency: 2, Handler: dead}); err != nil {
		t.Fatal(err)
	}
}

func TestQueueActionsPauseResumeAndRetryOneDeadOperation(t *testing.T) {
	w := newWorld(t, Options{})
	ctx := context.Background()
	push(t, w, "shipping", &queue.Operation{ID: "ship-1"}, &queue.Operation{ID: "ship-2"})
	kill(t, w, "shipping")
	queueHash := store.Keys{Namespace: w.ns}.Queue("shipping")

	got, err := w.backend.Do(ctx, dashboard.Action{Kind: dashboard.PauseQueue, Target: "shipping"})
	if err != nil || got != "queue shipping paused" {
		t.Fatalf("pause: %q %v", got, err)
	}
	if by := w.other.Redis.HGet(ctx, queueHash, "paused_by").Val(); by != w.backend.who || !strings.Contains(by, breaker.ThisProcess().User+"@") {
		t.Fatalf("paused_by is %q, want this process as the CLI names it (%q)", by, w.backend.who)
	}
	st, _, err := w.other.Queues.Stats(ctx, []string{"shipping"})
	if err != nil || !st[0].Paused {
		t.Fatalf("after pause the queue is not paused in Redis: %+v %v", st, err)
	}
	if got, err = w.backend.Do(ctx, dashboard.Action{Kind: dashboard.ResumeQueue, Target: "shipping"}); err != nil || got != "queue shipping resumed" {
		t.Fatalf("resume: %q %v", got, err)
	}
	if st, _, _ = w.other.Queues.Stats(ctx, []string{"shipping"}); st[0].Paused {
		t.Fatal("after resume the queue is still paused in Redis")
	}

	got, err = w.backend.Do(ctx, dashboard.Action{Kind: dashboard.RetryDead, Target: "shipping", ID: "ship-2"})
	if err != nil || got != "operation ship-2 of shipping back to ready" {
		t.Fatalf("retry: %q %v", got, err)
	}
	op, err := w.other.Queues.Inspect(ctx, "shipping", "ship-2")
	if err != nil || op.State != "ready" || op.Attempts != 0 {
		t.Fatalf("after retry ship-2 is %+v (%v), want ready with its attempts reset", op, err)
	}
	if op, _ := w.other.Queues.Inspect(ctx, "shipping", "ship-1"); op.State != "dead" {
		t.Fatalf("retrying ship-2 moved ship-1 too: %s", op.State)
	}
	var ie *InputError
	if _, err := w.backend.Do(ctx, dashboard.Action{Kind: dashboard.RetryDead, Target: "shipping", ID: "ship-2"}); !errors.As(err, &ie) || !strings.Contains(err.Error(), "not dead") {
		t.Fatalf("retrying an operation that is not dead: %v, want a refusal", err)
	}
	var ue *queue.UnknownQueueError
	if _, err := w.backend.Do(ctx, dashboard.Action{Kind: dashboard.PauseQueue, Target: "nowhere"}); !errors.As(err, &ue) {
		t.Fatalf("pausing an unknown queue: %v, want the engine's unknown-queue error", err)
	}
}

// start starts a latency experiment on svc through the other process.
func start(t *testing.T, w *world, svc string) chaos.Experiment {
	t.Helper()
	ctx := context.Background()
	if err := w.other.Chaos.Enable(ctx); err != nil {
		t.Fatal(err)
	}
	x, err := w.other.Chaos.Start(ctx, chaos.Experiment{Kind: chaos.Latency, Delay: time.Millisecond, Services: []string{svc},
		Probability: 1, Duration: 10 * time.Minute, Reason: "drill"})
	if err != nil {
		t.Fatal(err)
	}
	return x
}

func auditOf(t *testing.T, w *world, id string) []chaos.AuditEntry {
	t.Helper()
	a, err := w.other.Chaos.AuditOf(context.Background(), id, 10)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestChaosStopAndStopAllEndExperimentsAndAreAuditedWithTheReason(t *testing.T) {
	w := newWorld(t, Options{})
	ctx := context.Background()
	x1, x2, x3 := start(t, w, "aramex"), start(t, w, "smsa"), start(t, w, "smsa")

	got, err := w.backend.Do(ctx, dashboard.Action{Kind: dashboard.StopExperiment, Target: x1.ID, Reason: "customers see it"})
	if err != nil || got != "experiment "+x1.ID+" stopped" {
		t.Fatalf("stop: %q %v", got, err)
	}
	a := auditOf(t, w, x1.ID)
	if last := a[len(a)-1]; last.Event != "stopped" || last.Detail != "customers see it" || last.By != w.sys.Chaos.Who {
		t.Fatalf("the audit's last entry for %s is %+v, want stopped by %s with the reason", x1.ID, last, w.sys.Chaos.Who)
	}
	var ie *InputError
	if _, err := w.backend.Do(ctx, dashboard.Action{Kind: dashboard.StopExperiment, Target: x1.ID}); !errors.As(err, &ie) {
		t.Fatalf("stopping it again: %v, want a refusal naming no running experiment", err)
	}

	got, err = w.backend.Do(ctx, dashboard.Action{Kind: dashboard.StopAllChaos})
	if err != nil || got != "stopped 2 experiments; chaos halted until `haderctl chaos resume`" {
		t.Fatalf("stop-all: %q %v", got, err)
	}
	active, err := w.other.Chaos.Active(ctx)
	if err != nil || len(active) != 0 {
		t.Fatalf("after stop-all %d experiments are active (%v)", len(active), err)
	}
	state, err := w.other.Chaos.State(ctx)
	if err != nil || !state.Halted || state.HaltReason != stopAllReason {
		t.Fatalf("after stop-all the chaos state is %+v (%v), want halted with the CLI's default reason", state, err)
	}
	for _, id := range []string{x2.ID, x3.ID} {
		if a := auditOf(t, w, id); a[len(a)-1].Event != "stopped" || a[len(a)-1].Detail != stopAllReason {
			t.Fatalf("the audit's last entry for %s is %+v, want stopped with the reason", id, a[len(a)-1])
		}
	}
}

func TestReadOnlyRefusesEveryActionAndChangesNothing(t *testing.T) {
	w := newWorld(t, Options{ReadOnly: true})
	ctx := context.Background()
	if _, err := w.other.Breakers.Trip(ctx, "aramex", "drill"); err != nil {
		t.Fatal(err)
	}
	push(t, w, "shipping", &queue.Operation{ID: "ship-1"})
	kill(t, w, "shipping")
	x := start(t, w, "smsa")
	for _, a := range []dashboard.Action{
		{Kind: dashboard.ResetBreaker, Target: "aramex", Reason: "r"},
		{Kind: dashboard.TripBreaker, Target: "smsa", Reason: "r"},
		{Kind: dashboard.DisableBreaker, Target: "aramex", Reason: "r"},
		{Kind: dashboard.EnableBreaker, Target: "aramex", Reason: "r"},
		{Kind: dashboard.PauseQueue, Target: "shipping"},
		{Kind: dashboard.ResumeQueue, Target: "shipping"},
		{Kind: dashboard.RetryDead, Target: "shipping", ID: "ship-1"},
		{Kind: dashboard.StopExperiment, Target: x.ID, Reason: "r"},
		{Kind: dashboard.StopAllChaos, Reason: "r"},
	} {
		if _, err := w.backend.Do(ctx, a); !errors.Is(err, ErrReadOnly) {
			t.Errorf("%s with --read-only: %v, want ErrReadOnly", a.Kind, err)
		}
	}
	if !w.backend.Info().ReadOnly {
		t.Error("Info does not say read-only")
	}
	if s := breakerState(t, w, "aramex"); s != breaker.ForcedOpen {
		t.Errorf("aramex is %s, want still forced open", s)
	}
	if s := breakerState(t, w, "smsa"); s == breaker.ForcedOpen {
		t.Error("smsa was tripped")
	}
	if st, _, _ := w.other.Queues.Stats(ctx, []string{"shipping"}); st[0].Paused || st[0].Dead != 1 {
		t.Errorf("the queue changed: %+v", st[0])
	}
	if active, _ := w.other.Chaos.Active(ctx); len(active) != 1 {
		t.Errorf("%d experiments active, want the one still running", len(active))
	}
	if state, _ := w.other.Chaos.State(ctx); state.Halted {
		t.Error("chaos was halted")
	}
}
