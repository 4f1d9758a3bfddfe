package breaker

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/haderos/haderctl/internal/engine/store"
	"github.com/haderos/haderctl/internal/testredis"
	"github.com/redis/go-redis/v9"
)

// lockedBuffer is a log sink safe for the engine's goroutines.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func fixed(s Settings) func(string) Settings { return func(string) Settings { return s } }

func mustRecord(t *testing.T, e *Engine, name string, success bool, n int) Result {
	t.Helper()
	var r Result
	for i := 0; i < n; i++ {
		var err error
		if r, err = e.Record(context.Background(), name, success); err != nil {
			t.Fatal(err)
		}
	}
	return r
}

func TestMixedConfigProcessesFollowTheStoredRecoveryTimeout(t *testing.T) {
	ns := store.Keys{Namespace: testredis.Namespace(t)}
	clock := newFakeClock()
	quick := newTestEngine(t, Options{Keys: ns, Clock: clock.Now, Settings: fixed(Settings{RecoveryTimeout: time.Second})})
	slow := newTestEngine(t, Options{Keys: ns, Clock: clock.Now}) // the 120 s default
	ctx := context.Background()
	mustRecord(t, quick, "svc", false, 3) // quick creates and opens the breaker
	clock.Advance(2 * time.Second)

	st, _, err := slow.Snapshot(ctx, []string{"svc"})
	if err != nil {
		t.Fatal(err)
	}
	if !st[0].ShouldAttemptReset || st[0].Settings.RecoveryTimeout != time.Second || !st[0].SettingsStored {
		t.Fatalf("status from the 120 s process: %+v, want should_attempt_reset under the stored 1s", st[0])
	}
	a, err := slow.Acquire(ctx, "svc")
	if err != nil {
		t.Fatalf("the 120 s process refuses a breaker stored with 1 s, 2 s after it opened: %v", err)
	}
	if a.Token == "" {
		t.Fatalf("admission %+v is not a probe", a)
	}
}

func TestHalfOpenBreakerFollowsStoredThresholdsNotTheCallers(t *testing.T) {
	ns := store.Keys{Namespace: testredis.Namespace(t)}
	clock := newFakeClock()
	three := newTestEngine(t, Options{Keys: ns, Clock: clock.Now, Settings: fixed(Settings{SuccessThreshold: 3})})
	two := newTestEngine(t, Options{Keys: ns, Clock: clock.Now, Settings: fixed(Settings{SuccessThreshold: 2})})
	ctx := context.Background()
	mustRecord(t, three, "svc", false, 3)
	clock.Advance(DefaultRecoveryTimeout)
	for i := 0; i < 2; i++ {
		a, err := three.Acquire(ctx, "svc")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := three.Finish(ctx, a, true); err != nil {
			t.Fatal(err)
		}
	}
	// Half-open with 2 of 3 successes: the process configured for 2 must
	// still get the third probe (the cap is the stored 3, not its own 2).
	a, err := two.Acquire(ctx, "svc")
	if err != nil {
		t.Fatalf("a half-open breaker with 2/3 successes refuses the success_threshold 2 process: %v", err)
	}
	r, err := two.Finish(ctx, a, true)
	if err != nil {
		t.Fatal(err)
	}
	if r.State != Closed || r.Settings.SuccessThreshold != 3 {
		t.Fatalf("after the third success: %+v, want closed under success_threshold 3", r)
	}
}

func TestLoweringSettingsWhileHalfOpenNeverWedges(t *testing.T) {
	ctx := context.Background()
	setup := func(t *testing.T) (*Engine, *fakeClock) {
		clock := newFakeClock()
		e := newTestEngine(t, Options{Clock: clock.Now, Settings: fixed(Settings{SuccessThreshold: 3, MaxProbes: 4})})
		mustRecord(t, e, "svc", false, 3)
		clock.Advance(DefaultRecoveryTimeout)
		for i := 0; i < 2; i++ {
			a, err := e.Acquire(ctx, "svc")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := e.Finish(ctx, a, true); err != nil {
				t.Fatal(err)
			}
		}
		return e, clock
	}
	t.Run("success threshold", func(t *testing.T) {
		e, _ := setup(t)
		if _, err := e.Configure(ctx, "svc", Settings{SuccessThreshold: 2}, "test", ActionConfigure); err != nil {
			t.Fatal(err)
		}
		a, err := e.Acquire(ctx, "svc")
		if err != nil {
			t.Fatalf("next call after lowering success_threshold to the successes already counted: %v", err)
		}
		st, _, _ := e.Snapshot(ctx, []string{"svc"})
		if st[0].State != Closed || a.Token != "" {
			t.Fatalf("state %s, admission %+v: want closed at the next call", st[0].State, a)
		}
	})
	t.Run("max probes", func(t *testing.T) {
		e, _ := setup(t)
		held, err := e.Acquire(ctx, "svc") // a third probe: 2 successes + 1 in flight
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.Configure(ctx, "svc", Settings{MaxProbes: 3}, "test", ActionConfigure); err != nil {
			t.Fatal(err)
		}
		if _, err := e.Acquire(ctx, "svc"); !errors.Is(err, ErrOpen) {
			t.Fatalf("with 2 successes and a probe in flight under max_probes 3: %v, want refused", err)
		}
		if err := e.Release(ctx, held); err != nil {
			t.Fatal(err)
		}
		a, err := e.Acquire(ctx, "svc")
		if err != nil || a.Token == "" {
			t.Fatalf("after the probe in flight gave its slot back: %+v, %v; want a probe", a, err)
		}
	})
	t.Run("stored below the threshold", func(t *testing.T) {
		e, _ := setup(t)
		// As a hand edit (or a haderctl from before settings lived in
		// Redis) could leave it: max_probes under success_threshold.
		testredis.Client(t).HSet(ctx, e.opts.Keys.Breaker("svc"), "max_probes", "2")
		a, err := e.Acquire(ctx, "svc")
		if err != nil || a.Token == "" {
			t.Fatalf("max_probes 2 with 2/3 successes: %+v, %v; want the third probe admitted", a, err)
		}
	})
	t.Run("invalid combination refused", func(t *testing.T) {
		e, _ := setup(t)
		_, err := e.Configure(ctx, "svc", Settings{MaxProbes: 2}, "test", ActionConfigure)
		var se *SettingsError
		if !errors.As(err, &se) || !strings.Contains(err.Error(), "max_probes (2) must be at least success_threshold (3)") {
			t.Fatalf("max_probes below the stored success_threshold: %v, want a SettingsError naming both", err)
		}
	})
}

func TestConfigureIsAuditedAndOnlyWhenSomethingChanges(t *testing.T) {
	ns := store.Keys{Namespace: testredis.Namespace(t)}
	var made []Event
	e := newTestEngine(t, Options{Keys: ns, Who: Who{Host: "laptop", PID: 7, User: "oncall"},
		OnTransition: func(ev Event) { made = append(made, ev) }})
	ctx := context.Background()
	mustRecord(t, e, "svc", false, 1)
	r, err := e.Configure(ctx, "svc", Settings{RecoveryTimeout: 5 * time.Second, FailureThreshold: 4}, "slow vendor", ActionConfigure)
	if err != nil {
		t.Fatal(err)
	}
	want := []Change{{Field: "failure_threshold", From: "3", To: "4"}, {Field: "recovery_timeout", From: "2m0s", To: "5s"}}
	if r.Event == nil || len(r.Changes) != 2 || r.Changes[0] != want[0] || r.Changes[1] != want[1] {
		t.Fatalf("configure result %+v, want changes %v", r, want)
	}
	if r.Settings.RecoveryTimeout != 5*time.Second || r.Settings.FailureThreshold != 4 || r.Settings.SuccessThreshold != 2 {
		t.Fatalf("settings after configure %+v", r.Settings)
	}
	evs, err := e.Events(ctx, []string{"svc"}, 10)
	if err != nil {
		t.Fatal(err)
	}
	last := evs[len(evs)-1]
	if last.Action != ActionConfigure || last.Reason != "slow vendor" || last.User != "oncall" || last.From != Closed ||
		last.To != Closed || len(last.Changes) != 2 || last.Changes[1] != want[1] {
		t.Fatalf("stream event %+v", last)
	}
	if len(made) != 0 {
		t.Fatalf("a settings change was reported as a transition: %+v", made)
	}
	st, _, _ := e.Snapshot(ctx, []string{"svc"})
	if st[0].Failures != 1 || st[0].Generation != 0 {
		t.Fatalf("configure touched the state: %+v", st[0])
	}
	again, err := e.Configure(ctx, "svc", Settings{FailureThreshold: 4}, "again", ActionConfigure)
	if err != nil {
		t.Fatal(err)
	}
	if again.Event != nil || len(again.Changes) != 0 {
		t.Fatalf("configuring what is already stored: %+v, want no change and no event", again)
	}
	if n, _ := testredis.Client(t).XLen(ctx, ns.BreakerEvents("svc")).Result(); n != int64(len(evs)) {
		t.Fatalf("%d events after a no-op configure, want %d", n, len(evs))
	}
	// The next failure opens under the stored threshold 4, not the caller's 3.
	if r := mustRecord(t, e, "svc", false, 2); r.State != Closed || r.Failures != 3 {
		t.Fatalf("3 failures under failure_threshold 4: %+v", r)
	}
	if r := mustRecord(t, e, "svc", false, 1); r.State != Open {
		t.Fatalf("4 failures under failure_threshold 4: %+v", r)
	}
}

func TestOlderHashWithoutSettingsIsSeededByTheNextWrite(t *testing.T) {
	ns := store.Keys{Namespace: testredis.Namespace(t)}
	ctx := context.Background()
	rdb := testredis.Client(t)
	rdb.HSet(ctx, ns.Breaker("svc"), "name", "svc", "state", "closed", "failures", "1", "generation", "4")
	e := newTestEngine(t, Options{Keys: ns, Settings: fixed(Settings{FailureThreshold: 5})})
	st, _, _ := e.Snapshot(ctx, []string{"svc"})
	if st[0].SettingsStored || st[0].Settings.FailureThreshold != 5 {
		t.Fatalf("status of a hash without settings: %+v, want this process' own, not stored", st[0])
	}
	mustRecord(t, e, "svc", false, 1)
	got, _ := rdb.HGetAll(ctx, ns.Breaker("svc")).Result()
	if got["failure_threshold"] != "5" || got["success_threshold"] != "2" || got["recovery_timeout_ms"] != "120000" ||
		got["max_probes"] != "2" || got["probe_lease_ms"] != "30000" || got["failures"] != "2" {
		t.Fatalf("hash after the next write: %v, want the caller's settings stored", got)
	}
}

func TestDifferingConfigWarnsOncePerBreaker(t *testing.T) {
	ns := store.Keys{Namespace: testredis.Namespace(t)}
	ctx := context.Background()
	creator := newTestEngine(t, Options{Keys: ns, Settings: fixed(Settings{FailureThreshold: 5, RecoveryTimeout: time.Minute})})
	mustRecord(t, creator, "svc", false, 1)
	mustRecord(t, creator, "same", false, 1)
	var logs lockedBuffer
	other := newTestEngine(t, Options{Keys: ns, RefreshInterval: time.Hour,
		Settings: func(name string) Settings {
			if name == "same" {
				return Settings{FailureThreshold: 5, RecoveryTimeout: time.Minute}
			}
			return Settings{}
		},
		Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	for i := 0; i < 5; i++ {
		for _, n := range []string{"svc", "same"} {
			done, err := other.Allow(ctx, n)
			if err != nil {
				t.Fatal(err)
			}
			done(false)
			done, err = other.Allow(ctx, n)
			if err != nil {
				t.Fatal(err)
			}
			done(true)
		}
	}
	// The backstop re-read learns the settings too; it must not warn again.
	for i := 0; i < 3; i++ {
		other.refresh(ctx)
	}
	out := logs.String()
	if n := strings.Count(out, "level=WARN"); n != 1 {
		t.Fatalf("%d warnings, want exactly one (for svc):\n%s", n, out)
	}
	if !strings.Contains(out, "breaker=svc") || !strings.Contains(out, "failure_threshold 5 (config 3)") ||
		!strings.Contains(out, "recovery_timeout 1m0s (config 2m0s)") || strings.Contains(out, "success_threshold") {
		t.Fatalf("the warning does not name the breaker and exactly the differing fields:\n%s", out)
	}
	if s := other.SettingsFor("svc"); s.FailureThreshold != 5 || s.RecoveryTimeout != time.Minute {
		t.Fatalf("SettingsFor after learning: %+v, want the stored ones", s)
	}
}

func TestUntrackedSuccessPastRecoveryCountsAsAProbe(t *testing.T) {
	clock := newFakeClock()
	e := newTestEngine(t, Options{Clock: clock.Now})
	mustRecord(t, e, "svc", false, 3)
	if r := mustRecord(t, e, "svc", true, 1); r.State != Open {
		t.Fatalf("a success before the recovery time: %+v, want still open", r)
	}
	clock.Advance(DefaultRecoveryTimeout)
	r := mustRecord(t, e, "svc", true, 1)
	if r.State != HalfOpen || r.Successes != 1 || r.Transition == nil || r.Transition.To != HalfOpen {
		t.Fatalf("a success past the recovery time: %+v, want half_open with 1 success", r)
	}
	r = mustRecord(t, e, "svc", true, 1)
	if r.State != Closed {
		t.Fatalf("a second success: %+v, want closed", r)
	}
	evs, _ := e.Events(context.Background(), []string{"svc"}, 10)
	if len(evs) != 3 || evs[1].To != HalfOpen || evs[2].To != Closed {
		t.Fatalf("events %+v, want open, half_open, closed", evs)
	}

	// A failure past the recovery time is a failed probe: open again, with
	// the recovery time counted afresh.
	mustRecord(t, e, "svc", false, 3)
	clock.Advance(DefaultRecoveryTimeout)
	r = mustRecord(t, e, "svc", false, 1)
	if r.State != Open || r.Transition == nil || r.Transition.Reason != "probe failed" {
		t.Fatalf("a failure past the recovery time: %+v, want reopened by a failed probe", r)
	}
	clock.Advance(time.Second)
	if _, err := e.Acquire(context.Background(), "svc"); !errors.Is(err, ErrOpen) {
		t.Fatalf("1 s after the failed probe: %v, want open again", err)
	}
}

func TestImplausibleStoredValuesAreCorrupt(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct{ field, value string }{
		{"failures", "1e5"},
		{"failures", "0x10"},
		{"generation", " 5"},
		{"opened_at", "99999999999999"},
		{"success_threshold", "0"},
		{"recovery_timeout_ms", "9000000000000"},
	} {
		t.Run(tc.field+"="+tc.value, func(t *testing.T) {
			clock := newFakeClock()
			e := newTestEngine(t, Options{Clock: clock.Now})
			mustRecord(t, e, "svc", false, 3)
			testredis.Client(t).HSet(ctx, e.opts.Keys.Breaker("svc"), tc.field, tc.value)
			_, err := e.Acquire(ctx, "svc")
			var ce *CorruptError
			if !errors.As(err, &ce) || !strings.Contains(ce.Detail, tc.field) {
				t.Fatalf("acquire: %v, want corrupt naming %s", err, tc.field)
			}
			st, _, _ := e.Snapshot(ctx, []string{"svc"})
			if st[0].State != Corrupt || !strings.Contains(st[0].Problem, tc.field) {
				t.Fatalf("status %+v, want corrupt naming %s", st[0], tc.field)
			}
			if _, err := e.Reset(ctx, "svc", "repair"); err != nil {
				t.Fatal(err)
			}
			if _, err := e.Acquire(ctx, "svc"); err != nil {
				t.Fatalf("after reset: %v", err)
			}
		})
	}
}

func TestResetRepairsKeysOfTheWrongType(t *testing.T) {
	ctx := context.Background()
	e := newTestEngine(t, Options{Settings: fixed(Settings{FailureThreshold: 4})})
	k := e.opts.Keys
	rdb := testredis.Client(t)
	for _, key := range []string{k.Breaker("svc"), k.BreakerProbes("svc"), k.BreakerEvents("svc")} {
		mustRecord(t, e, "svc", false, 1)
		rdb.Del(ctx, key)
		rdb.Set(ctx, key, "oops", 0)
		if _, err := e.Record(ctx, "svc", false); err == nil {
			t.Fatalf("%s of the wrong type: record succeeded", key)
		} else {
			var ce *CorruptError
			if !errors.As(err, &ce) {
				t.Fatalf("%s of the wrong type: %v, want a CorruptError", key, err)
			}
		}
		r, err := e.Reset(ctx, "svc", "repair")
		if err != nil {
			t.Fatalf("reset with %s of the wrong type: %v", key, err)
		}
		if r.State != Closed || r.Settings.FailureThreshold != 4 {
			t.Fatalf("after reset: %+v", r)
		}
		if r := mustRecord(t, e, "svc", false, 1); r.Failures != 1 {
			t.Fatalf("after repair: %+v", r)
		}
	}
}

func TestRegistryOfTheWrongTypeIsUnreadable(t *testing.T) {
	ctx := context.Background()
	e := newTestEngine(t, Options{})
	testredis.Client(t).Set(ctx, e.opts.Keys.Breakers(), "oops", 0)
	_, err := e.Names(ctx)
	var re *RegistryError
	if !errors.As(err, &re) || !strings.Contains(err.Error(), "unreadable") || !strings.Contains(err.Error(), e.opts.Keys.Breakers()) {
		t.Fatalf("Names with a string registry: %v, want a RegistryError naming the key", err)
	}
}

func TestRefusalWaitIsBoundedByTheProbeLease(t *testing.T) {
	ctx := context.Background()
	clock := newFakeClock()
	e := newTestEngine(t, Options{Clock: clock.Now, Settings: fixed(Settings{SuccessThreshold: 1})})
	mustRecord(t, e, "svc", false, 3)
	clock.Advance(DefaultRecoveryTimeout)
	if _, err := e.Acquire(ctx, "svc"); err != nil {
		t.Fatal(err)
	}
	// The one slot is held by a lease deadline planted far in the future (by
	// hand or a buggy client) instead of the probe just admitted.
	testredis.Client(t).ZAdd(ctx, e.opts.Keys.BreakerProbes("svc"), redis.Z{Score: 1e300, Member: "planted"})
	testredis.Client(t).ZRemRangeByScore(ctx, e.opts.Keys.BreakerProbes("svc"), "-inf", "1e299")
	_, err := e.Acquire(ctx, "svc")
	var oe *OpenError
	if !errors.As(err, &oe) || oe.RetryAfter <= 0 || oe.RetryAfter > DefaultProbeLease {
		t.Fatalf("refusal %v (retry after %v), want a wait within the 30s probe lease", err, oe)
	}
}

// The backstop re-read applies the scripts' checks: a hash they call
// corrupt is not cached as an OPEN breaker that refuses for centuries.
func TestReReadDoesNotCacheACorruptOpenBreaker(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct{ name, field, value string }{
		{"far-future opened_at", "opened_at", "99999999999999"},
		{"huge recovery timeout", "recovery_timeout_ms", "9000000000000"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clock := newFakeClock()
			e := newTestEngine(t, Options{Clock: clock.Now})
			mustRecord(t, e, "svc", false, 1) // cached: closed
			testredis.Client(t).HSet(ctx, e.opts.Keys.Breaker("svc"), "state", "open", "generation", "7",
				"opened_at", itoa(clock.Now().UnixMilli()), tc.field, tc.value)
			e.refresh(ctx)
			_, err := e.Allow(ctx, "svc")
			var ce *CorruptError
			if !errors.As(err, &ce) || !strings.Contains(ce.Detail, tc.field) {
				t.Fatalf("allow after the re-read: %v, want corrupt naming %s", err, tc.field)
			}
		})
	}
}

// The in-memory fallback runs with the settings learnt from Redis, which
// may hold max_probes below success_threshold (set by hand): like the
// scripts, it never caps probes below the threshold, or a half-open
// breaker could never close while Redis is down.
func TestLocalFallbackWithStoredMaxProbesBelowThresholdCloses(t *testing.T) {
	ctx := context.Background()
	clock := newFakeClock()
	e := newTestEngine(t, Options{Clock: clock.Now})
	mustRecord(t, e, "svc", false, 1)
	testredis.Client(t).HSet(ctx, e.opts.Keys.Breaker("svc"), "success_threshold", "2", "max_probes", "1")
	if r := mustRecord(t, e, "svc", false, 1); r.Settings.MaxProbes != 1 || r.Settings.SuccessThreshold != 2 {
		t.Fatalf("stored settings %+v, want max_probes 1 below success_threshold 2", r.Settings)
	}
	b := e.localFor("svc") // what Allow uses while Redis is unreachable
	m := localMachine{b: b}
	failN(t, m, 3)
	clock.Advance(e.SettingsFor("svc").RecoveryTimeout)
	for i := 0; i < 2; i++ {
		verdict, gen, token := m.acquire(t)
		if verdict != "probe" {
			t.Fatalf("probe %d: %s (state %s), want a probe admitted", i+1, verdict, m.state(t))
		}
		m.record(t, gen, token, true)
	}
	if got := m.state(t); got != Closed {
		t.Fatalf("after 2 probe successes: %s, want closed", got)
	}
}

// A probe lease lowered mid-probe: the renewal replies the lease in force
// (the renewer then ticks by it, so the slot does not expire between
// ticks), and it never shortens the probes set's expiry below what
// another probe, admitted under the longer lease, still needs.
func TestRenewFollowsALeaseLoweredMidProbe(t *testing.T) {
	ctx := context.Background()
	clock := newFakeClock()
	e := newTestEngine(t, Options{Clock: clock.Now, Settings: fixed(Settings{SuccessThreshold: 2, MaxProbes: 2, ProbeLease: 30 * time.Second})})
	mustRecord(t, e, "svc", false, 3)
	clock.Advance(DefaultRecoveryTimeout)
	first, err := e.Acquire(ctx, "svc")
	if err != nil {
		t.Fatal(err)
	}
	defer first.stop()
	second, err := e.Acquire(ctx, "svc")
	if err != nil {
		t.Fatal(err)
	}
	defer second.stop()
	if _, err := e.Configure(ctx, "svc", Settings{ProbeLease: 3 * time.Second}, "test", ActionConfigure); err != nil {
		t.Fatal(err)
	}
	keys, args, err := e.scriptArgs(ctx, "svc", first.Token)
	if err != nil {
		t.Fatal(err)
	}
	inForce, err := renewScript.Run(ctx, e.rdb, keys, args...).Int64()
	if err != nil || inForce != 3000 {
		t.Fatalf("renew replied %d, %v; want the lease in force, 3000 ms", inForce, err)
	}
	if got := renewInterval(durationMs(inForce)); got != time.Second {
		t.Fatalf("renew interval for a 3s lease is %v, want a third of it", got)
	}
	ttl, err := testredis.Client(t).PTTL(ctx, e.opts.Keys.BreakerProbes("svc")).Result()
	if err != nil || ttl < 30*time.Second {
		t.Fatalf("probes set expires in %v (%v): shortened below the second probe's 30s lease", ttl, err)
	}
}
