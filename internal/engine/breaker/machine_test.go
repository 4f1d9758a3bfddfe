package breaker

import (
	"context"
	"errors"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/haderos/haderctl/internal/engine/store"
	"github.com/haderos/haderctl/internal/testredis"
)

// fakeClock is an injectable clock shared by the Lua scripts (through
// Options.Clock) and the local breaker.
type fakeClock struct{ ms atomic.Int64 }

func newFakeClock() *fakeClock {
	c := &fakeClock{}
	c.ms.Store(time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC).UnixMilli())
	return c
}
func (c *fakeClock) Now() time.Time          { return time.UnixMilli(c.ms.Load()) }
func (c *fakeClock) Advance(d time.Duration) { c.ms.Add(d.Milliseconds()) }

// machine is the breaker state machine seen through one implementation:
// the Lua scripts on Redis, or the in-memory fallback.
type machine interface {
	acquire(t *testing.T) (verdict string, gen int64, token string)
	record(t *testing.T, gen int64, token string, success bool)
	state(t *testing.T) State
	force(t *testing.T, to State)
}

type luaMachine struct {
	e    *Engine
	name string
}

func (m luaMachine) acquire(t *testing.T) (string, int64, string) {
	token := newToken()
	r, err := m.e.run(context.Background(), acquireScript, m.name, token)
	if err != nil {
		t.Fatal(err)
	}
	if r.verdict != "probe" {
		token = ""
	}
	return r.verdict, r.generation, token
}

func (m luaMachine) record(t *testing.T, gen int64, token string, success bool) {
	if _, err := m.e.run(context.Background(), recordScript, m.name, outcome(success), itoa(gen), token); err != nil {
		t.Fatal(err)
	}
}

func (m luaMachine) state(t *testing.T) State {
	st, _, err := m.e.Snapshot(context.Background(), []string{m.name})
	if err != nil {
		t.Fatal(err)
	}
	return st[0].State
}

func (m luaMachine) force(t *testing.T, to State) {
	if _, err := m.e.set(context.Background(), m.name, to, "test"); err != nil {
		t.Fatal(err)
	}
}

type localMachine struct{ b *localBreaker }

func (m localMachine) acquire(t *testing.T) (string, int64, string) {
	gen, probe, err := m.b.allow("svc")
	switch {
	case err != nil:
		return "reject", 0, ""
	case probe:
		return "probe", gen, "p"
	}
	return "allow", gen, ""
}

func (m localMachine) record(t *testing.T, gen int64, token string, success bool) {
	m.b.record(gen, token != "", success)
}

func (m localMachine) state(t *testing.T) State {
	m.b.mu.Lock()
	defer m.b.mu.Unlock()
	if m.b.state == Open && !m.b.now().Before(m.b.openedAt.Add(m.b.settings.RecoveryTimeout)) {
		return Open // the Lua side too reports OPEN until a caller asks
	}
	return m.b.state
}

func (m localMachine) force(t *testing.T, to State) {
	m.b.mu.Lock()
	defer m.b.mu.Unlock()
	m.b.moveTo(to)
}

var testSettings = Settings{FailureThreshold: 3, SuccessThreshold: 2, RecoveryTimeout: 120 * time.Second, ProbeLease: 30 * time.Second}

// bothMachines runs a state-machine test against the Lua scripts and the
// in-memory fallback, so the two keep the same rules.
func bothMachines(t *testing.T, s Settings, test func(t *testing.T, m machine, clock *fakeClock)) {
	t.Run("redis", func(t *testing.T) {
		clock := newFakeClock()
		e := newTestEngine(t, Options{Clock: clock.Now, Settings: func(string) Settings { return s }})
		test(t, luaMachine{e: e, name: "svc"}, clock)
	})
	t.Run("local", func(t *testing.T) {
		clock := newFakeClock()
		test(t, localMachine{b: newLocalBreaker(s.WithDefaults(), clock.Now)}, clock)
	})
}

func newTestEngine(t *testing.T, o Options) *Engine {
	t.Helper()
	rdb, err := store.Open(store.Options{URL: testredis.URL(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rdb.Close() })
	if o.Keys.Namespace == "" {
		o.Keys = store.Keys{Namespace: testredis.Namespace(t)}
	}
	e := New(rdb, o)
	t.Cleanup(e.Close)
	return e
}

func failN(t *testing.T, m machine, n int) {
	t.Helper()
	for i := 0; i < n; i++ {
		v, gen, tok := m.acquire(t)
		if v != "allow" {
			t.Fatalf("call %d: verdict %s, want allow", i+1, v)
		}
		m.record(t, gen, tok, false)
	}
}

func TestThresholdOpensAfterConsecutiveFailures(t *testing.T) {
	bothMachines(t, testSettings, func(t *testing.T, m machine, _ *fakeClock) {
		failN(t, m, 2)
		v, gen, tok := m.acquire(t)
		m.record(t, gen, tok, true) // a success clears the streak
		if v != "allow" {
			t.Fatalf("verdict %s", v)
		}
		failN(t, m, 2)
		if got := m.state(t); got != Closed {
			t.Fatalf("after 2 consecutive failures: %s, want closed", got)
		}
		failN(t, m, 1)
		if got := m.state(t); got != Open {
			t.Fatalf("after 3 consecutive failures: %s, want open", got)
		}
		if v, _, _ := m.acquire(t); v != "reject" {
			t.Fatalf("open breaker: verdict %s, want reject", v)
		}
	})
}

func TestRecoveryTimeoutAdmitsProbesUpToTheCap(t *testing.T) {
	bothMachines(t, testSettings, func(t *testing.T, m machine, clock *fakeClock) {
		failN(t, m, 3)
		clock.Advance(119 * time.Second)
		if v, _, _ := m.acquire(t); v != "reject" {
			t.Fatalf("before the recovery timeout: %s, want reject", v)
		}
		clock.Advance(time.Second)
		v1, g1, t1 := m.acquire(t)
		v2, g2, t2 := m.acquire(t)
		v3, _, _ := m.acquire(t)
		if v1 != "probe" || v2 != "probe" || v3 != "reject" {
			t.Fatalf("half-open verdicts %s %s %s, want probe probe reject", v1, v2, v3)
		}
		m.record(t, g1, t1, true)
		if got := m.state(t); got != HalfOpen {
			t.Fatalf("after one probe success: %s, want half_open", got)
		}
		if v, _, _ := m.acquire(t); v != "reject" {
			t.Fatalf("a succeeded probe keeps its slot: got %s, want reject", v)
		}
		m.record(t, g2, t2, true)
		if got := m.state(t); got != Closed {
			t.Fatalf("after two probe successes: %s, want closed", got)
		}
	})
}

func TestHalfOpenFailureReopens(t *testing.T) {
	bothMachines(t, testSettings, func(t *testing.T, m machine, clock *fakeClock) {
		failN(t, m, 3)
		clock.Advance(120 * time.Second)
		_, g, tok := m.acquire(t)
		m.record(t, g, tok, false)
		if got := m.state(t); got != Open {
			t.Fatalf("after a failed probe: %s, want open", got)
		}
		clock.Advance(60 * time.Second)
		if v, _, _ := m.acquire(t); v != "reject" {
			t.Fatalf("reopened breaker waits a full recovery timeout again: %s", v)
		}
	})
}

func TestStaleResultIsDiscarded(t *testing.T) {
	bothMachines(t, testSettings, func(t *testing.T, m machine, clock *fakeClock) {
		_, oldGen, _ := m.acquire(t) // admitted while closed, slow to finish
		failN(t, m, 3)
		clock.Advance(120 * time.Second)
		_, g, tok := m.acquire(t) // half-open probe
		m.record(t, oldGen, "", false)
		if got := m.state(t); got != HalfOpen {
			t.Fatalf("a failure from an older generation changed the state to %s", got)
		}
		m.record(t, g, tok, true)
		_, g2, tok2 := m.acquire(t)
		m.record(t, g2, tok2, true)
		if got := m.state(t); got != Closed {
			t.Fatalf("state %s, want closed", got)
		}
	})
}

func TestProbeLeaseFreesSlotOfVanishedProbe(t *testing.T) {
	bothMachinesLuaOnly(t, func(t *testing.T, m machine, clock *fakeClock) {
		failN(t, m, 3)
		clock.Advance(120 * time.Second)
		m.acquire(t)
		m.acquire(t) // both probes vanish without reporting
		clock.Advance(29 * time.Second)
		if v, _, _ := m.acquire(t); v != "reject" {
			t.Fatalf("within the probe lease: %s, want reject", v)
		}
		clock.Advance(time.Second)
		if v, _, _ := m.acquire(t); v != "probe" {
			t.Fatalf("after the probe lease: %s, want probe", v)
		}
	})
}

func bothMachinesLuaOnly(t *testing.T, test func(t *testing.T, m machine, clock *fakeClock)) {
	clock := newFakeClock()
	e := newTestEngine(t, Options{Clock: clock.Now, Settings: func(string) Settings { return testSettings }})
	test(t, luaMachine{e: e, name: "svc"}, clock)
}

func TestForcedOpenRefusesUntilReset(t *testing.T) {
	bothMachines(t, testSettings, func(t *testing.T, m machine, clock *fakeClock) {
		m.force(t, ForcedOpen)
		clock.Advance(time.Hour)
		if v, _, _ := m.acquire(t); v != "reject" {
			t.Fatalf("forced open after an hour: %s, want reject", v)
		}
		m.force(t, Closed)
		if v, _, _ := m.acquire(t); v != "allow" {
			t.Fatalf("after reset: %s, want allow", v)
		}
	})
}

func TestDisabledAdmitsAndCountsButNeverOpens(t *testing.T) {
	bothMachines(t, testSettings, func(t *testing.T, m machine, _ *fakeClock) {
		m.force(t, Disabled)
		failN(t, m, 10)
		if got := m.state(t); got != Disabled {
			t.Fatalf("state %s, want disabled", got)
		}
	})
	clock := newFakeClock()
	e := newTestEngine(t, Options{Clock: clock.Now})
	ctx := context.Background()
	if _, err := e.Disable(ctx, "svc", "drill"); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 5; i++ {
		if _, err := e.Record(ctx, "svc", false); err != nil {
			t.Fatal(err)
		}
	}
	st, _, err := e.Snapshot(ctx, []string{"svc"})
	if err != nil {
		t.Fatal(err)
	}
	if st[0].Failures != 5 || st[0].State != Disabled {
		t.Fatalf("disabled breaker: state %s failures %d, want disabled with 5 counted", st[0].State, st[0].Failures)
	}
}

func TestGenerationBumpsOnEveryTransition(t *testing.T) {
	clock := newFakeClock()
	e := newTestEngine(t, Options{Clock: clock.Now})
	m := luaMachine{e: e, name: "svc"}
	_, g0, _ := m.acquire(t)
	failN(t, m, 3)
	clock.Advance(120 * time.Second)
	_, g1, _ := m.acquire(t)
	if g1 != g0+2 {
		t.Fatalf("generation %d after closed→open→half_open from %d, want %d", g1, g0, g0+2)
	}
	r, err := e.Reset(context.Background(), "svc", "test")
	if err != nil {
		t.Fatal(err)
	}
	if r.Generation != g1+1 || r.State != Closed {
		t.Fatalf("reset: %+v, want closed generation %d", r, g1+1)
	}
}

func TestCorruptHashIsReportedAndRepairedByReset(t *testing.T) {
	e := newTestEngine(t, Options{})
	ctx := context.Background()
	rdb := testredis.Client(t)
	key := e.opts.Keys.Breaker("svc")
	rdb.HSet(ctx, key, "state", "banana", "failures", "x")
	_, err := e.Record(ctx, "svc", false)
	var ce *CorruptError
	if !errors.As(err, &ce) || ce.Detail != "field 'state' holds 'banana'" {
		t.Fatalf("record on a corrupt hash: %v, want CorruptError naming the state field", err)
	}
	st, _, err := e.Snapshot(ctx, []string{"svc"})
	if err != nil {
		t.Fatal(err)
	}
	if st[0].State != Corrupt || st[0].Problem == "" {
		t.Fatalf("snapshot of a corrupt hash: %+v", st[0])
	}
	if _, err := e.Reset(ctx, "svc", "repair"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Record(ctx, "svc", false); err != nil {
		t.Fatalf("after reset: %v", err)
	}
	rdb.Del(ctx, key)
	rdb.Set(ctx, key, "not a hash", 0)
	if _, err := e.Record(ctx, "svc", false); !errors.As(err, &ce) {
		t.Fatalf("record on a string key: %v, want CorruptError", err)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func TestEventCountsAreThoseBeforeTheTransition(t *testing.T) {
	clock := newFakeClock()
	s := Settings{SuccessThreshold: 3}
	e := newTestEngine(t, Options{Clock: clock.Now, Settings: func(string) Settings { return s }})
	m := luaMachine{e: e, name: "svc"}
	failN(t, m, 3)
	clock.Advance(120 * time.Second)
	_, g1, t1 := m.acquire(t)
	_, g2, t2 := m.acquire(t)
	_, g3, t3 := m.acquire(t)
	m.record(t, g1, t1, true)
	m.record(t, g2, t2, true)
	m.record(t, g3, t3, false)
	evs, err := e.Events(context.Background(), []string{"svc"}, 10)
	if err != nil {
		t.Fatal(err)
	}
	last := evs[len(evs)-1]
	if last.From != HalfOpen || last.To != Open || last.Successes != 2 || last.Reason != "probe failed" {
		t.Fatalf("half_open → open event %+v, want the 2 probe successes counted before the failure", last)
	}
	if first := evs[0]; first.Failures != 3 || first.To != Open {
		t.Fatalf("closed → open event %+v, want 3 failures", first)
	}
}
