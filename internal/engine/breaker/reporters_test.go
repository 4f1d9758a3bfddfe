package breaker

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/haderos/haderctl/internal/engine/store"
	"github.com/haderos/haderctl/internal/testredis"
)

// quorum are settings that need two processes' failures to open.
var quorum = Settings{FailureThreshold: 3, MinReporters: 2, ReporterWindow: time.Minute, RecoveryTimeout: 10 * time.Second}

// twoProcesses are two engines with distinct identities over one
// namespace, on one injected clock (the scripts' time).
func twoProcesses(t *testing.T, s Settings) (a, b *Engine, clock *fakeClock) {
	t.Helper()
	ns := store.Keys{Namespace: testredis.Namespace(t)}
	clock = newFakeClock()
	a = newTestEngine(t, Options{Keys: ns, Settings: fixed(s), Clock: clock.Now, Who: Who{Host: "gw-a", PID: 1}})
	b = newTestEngine(t, Options{Keys: ns, Settings: fixed(s), Clock: clock.Now, Who: Who{Host: "gw-b", PID: 2}})
	return a, b, clock
}

// failTracked makes n admitted calls through e that fail, as a gateway
// does, and returns the last result.
func failTracked(t *testing.T, e *Engine, name string, n int) Result {
	t.Helper()
	var r Result
	for i := 0; i < n; i++ {
		adm, err := e.Acquire(context.Background(), name)
		if err != nil {
			t.Fatalf("call %d: %v", i+1, err)
		}
		if r, err = e.Finish(context.Background(), adm, false); err != nil {
			t.Fatal(err)
		}
	}
	return r
}

func TestOneProcessFailingCannotOpenABreakerNeedingTwoReporters(t *testing.T) {
	a, b, _ := twoProcesses(t, quorum)
	r := failTracked(t, a, "svc", 5)
	if r.State != Closed || r.Failures != 5 || r.Reporters != 1 {
		t.Fatalf("after 5 failures from one process: %s, %d failures, %d reporters; want closed, 5, 1",
			r.State, r.Failures, r.Reporters)
	}
	r = failTracked(t, b, "svc", 1)
	if r.State != Open || r.Reporters != 2 {
		t.Fatalf("after a failure from a second process: %s with %d reporters, want open with 2", r.State, r.Reporters)
	}
	if r.Transition == nil || !strings.Contains(r.Transition.Reason, "from 2 processes") {
		t.Fatalf("transition %+v does not say how many processes reported", r.Transition)
	}
}

func TestReportersOutsideTheWindowDoNotCount(t *testing.T) {
	a, b, clock := twoProcesses(t, quorum)
	failTracked(t, a, "svc", 3)
	clock.Advance(quorum.ReporterWindow + time.Millisecond)
	if r := failTracked(t, b, "svc", 1); r.State != Closed || r.Reporters != 1 {
		t.Fatalf("a's failures are older than the window, yet b's made it %s with %d reporters", r.State, r.Reporters)
	}
	clock.Advance(quorum.ReporterWindow) // b's failure is now exactly at the window's edge: it counts
	if r := failTracked(t, a, "svc", 1); r.State != Open || r.Reporters != 2 {
		t.Fatalf("a failing again within b's window: %s with %d reporters, want open with 2", r.State, r.Reporters)
	}
}

// The set cannot outlive its use: every write sets its TTL to the window,
// so a breaker that stops failing leaves nothing behind.
func TestTheReportersSetExpiresWithTheWindow(t *testing.T) {
	a, _, _ := twoProcesses(t, quorum)
	failTracked(t, a, "svc", 1)
	ttl := a.rdb.PTTL(context.Background(), a.opts.Keys.BreakerReporters("svc")).Val()
	if ttl <= 0 || ttl > quorum.ReporterWindow {
		t.Fatalf("reporters set TTL %v, want within (0, %v]", ttl, quorum.ReporterWindow)
	}
}

func TestSuccessClearsTheReportersWithTheFailures(t *testing.T) {
	a, b, _ := twoProcesses(t, quorum)
	failTracked(t, a, "svc", 3)
	if r := mustRecord(t, b, "svc", true, 1); r.Failures != 0 {
		t.Fatalf("a success left %d failures", r.Failures)
	}
	if n := a.rdb.Exists(context.Background(), a.opts.Keys.BreakerReporters("svc")).Val(); n != 0 {
		t.Fatal("a success that cleared the failures left the reporters set")
	}
	// a's earlier failures are not part of this run: b alone cannot open it
	if r := failTracked(t, b, "svc", 3); r.State != Closed || r.Reporters != 1 {
		t.Fatalf("b's run after the success: %s with %d reporters, want closed with 1", r.State, r.Reporters)
	}
}

func TestWithoutMinReportersOneProcessOpensAsBefore(t *testing.T) {
	for _, min := range []int{0, 1} {
		s := quorum
		s.MinReporters = min
		a, _, _ := twoProcesses(t, s)
		if r := failTracked(t, a, "svc", 3); r.State != Open || r.Reporters != 0 {
			t.Fatalf("min_reporters %d: 3 failures from one process left it %s (%d reporters)", min, r.State, r.Reporters)
		}
		if n := a.rdb.Exists(context.Background(), a.opts.Keys.BreakerReporters("svc")).Val(); n != 0 {
			t.Fatalf("min_reporters %d: the reporters set was written", min)
		}
	}
}

func TestFailingProbeReopensWhateverTheReporters(t *testing.T) {
	a, b, clock := twoProcesses(t, quorum)
	failTracked(t, a, "svc", 3)
	failTracked(t, b, "svc", 1)
	clock.Advance(quorum.RecoveryTimeout)
	adm, err := a.Acquire(context.Background(), "svc")
	if err != nil || adm.Token == "" {
		t.Fatalf("past the recovery timeout: %+v, %v; want a probe", adm, err)
	}
	if r, err := a.Finish(context.Background(), adm, false); err != nil || r.State != Open {
		t.Fatalf("one process' failing probe left the breaker %s (%v), want open", r.State, err)
	}
}

func TestStatusShowsTheReportersWithinTheWindow(t *testing.T) {
	s := quorum
	s.MinReporters = 3
	a, b, clock := twoProcesses(t, s)
	failTracked(t, a, "svc", 1)
	failTracked(t, b, "svc", 1)
	reporters := func() int64 {
		sts, _, err := a.Snapshot(context.Background(), []string{"svc"})
		if err != nil {
			t.Fatal(err)
		}
		if sts[0].Settings.MinReporters != 3 {
			t.Fatalf("status settings %+v, want min_reporters 3", sts[0].Settings)
		}
		return sts[0].Reporters
	}
	if n := reporters(); n != 2 {
		t.Fatalf("status shows %d reporters, want 2", n)
	}
	// nothing has written since, so the set is untrimmed: status counts
	// against the clock itself
	clock.Advance(s.ReporterWindow + time.Millisecond)
	if n := reporters(); n != 0 {
		t.Fatalf("past the window status shows %d reporters, want 0", n)
	}
}

func TestResetClearsTheReporters(t *testing.T) {
	a, _, _ := twoProcesses(t, quorum)
	failTracked(t, a, "svc", 2)
	if _, err := a.Reset(context.Background(), "svc", "drill over"); err != nil {
		t.Fatal(err)
	}
	if n := a.rdb.Exists(context.Background(), a.opts.Keys.BreakerReporters("svc")).Val(); n != 0 {
		t.Fatal("reset left the reporters set")
	}
}

func TestCorruptReportersKeyIsReportedAndRepairedByReset(t *testing.T) {
	a, _, _ := twoProcesses(t, quorum)
	ctx := context.Background()
	a.rdb.Set(ctx, a.opts.Keys.BreakerReporters("svc"), "junk", 0)
	_, err := a.Record(ctx, "svc", false)
	var corrupt *CorruptError
	if !errors.As(err, &corrupt) || !strings.Contains(corrupt.Detail, "reporters") {
		t.Fatalf("a failure over a string reporters key: %v, want a CorruptError naming the reporters key", err)
	}
	sts, _, err := a.Snapshot(ctx, []string{"svc"})
	if err != nil || sts[0].State != Corrupt {
		t.Fatalf("status of it: %+v, %v; want corrupt", sts, err)
	}
	if _, err := a.Reset(ctx, "svc", "repair"); err != nil {
		t.Fatal(err)
	}
	if r := mustRecord(t, a, "svc", false, 1); r.Reporters != 1 {
		t.Fatalf("after the reset a failure counted %d reporters, want 1", r.Reporters)
	}
}

// With min_reporters off the scripts never read the reporters key, so a
// key of the wrong type there does not make status call the breaker
// corrupt (a cold snapshot reads it, the next ones do not).
func TestAJunkReportersKeyIsNotCorruptWithMinReportersOff(t *testing.T) {
	s := quorum
	s.MinReporters = 1
	a, _, _ := twoProcesses(t, s)
	ctx := context.Background()
	a.rdb.Set(ctx, a.opts.Keys.BreakerReporters("svc"), "junk", 0)
	if r := mustRecord(t, a, "svc", false, 1); r.State != Closed {
		t.Fatalf("a failure over a junk reporters key with min_reporters off: %s", r.State)
	}
	sts, _, err := a.Snapshot(ctx, []string{"svc"})
	if err != nil || sts[0].State != Closed || sts[0].Problem != "" {
		t.Fatalf("status of it: %+v, %v; want closed, no problem", sts, err)
	}
}

func TestMinReportersKeepsTheHappyPathFree(t *testing.T) {
	e := newTestEngine(t, Options{Settings: fixed(quorum)})
	counter := &commandCounter{}
	e.rdb.AddHook(counter)
	ctx := context.Background()
	for _, ok := range []bool{false, true} { // warm up, as in TestClosedHappyPathCostsNoRoundTrip
		done, err := e.Allow(ctx, "svc")
		if err != nil {
			t.Fatal(err)
		}
		done(ok)
	}
	before := counter.n.Load()
	for i := 0; i < 1000; i++ {
		done, err := e.Allow(ctx, "svc")
		if err != nil {
			t.Fatal(err)
		}
		done(true)
	}
	if sent := counter.n.Load() - before; sent > 4 {
		t.Fatalf("1000 successful calls with min_reporters 2 sent %d Redis commands", sent)
	}
}

func TestEveryEngineHasItsOwnReporterID(t *testing.T) {
	who := Who{Host: "h", PID: 7}
	a, b := New(nil, Options{Who: who}), New(nil, Options{Who: who})
	if a.opts.Reporter == b.opts.Reporter || !strings.HasPrefix(a.opts.Reporter, "h/7/") {
		t.Fatalf("reporter ids %q and %q: want distinct, starting h/7/", a.opts.Reporter, b.opts.Reporter)
	}
	if c := New(nil, Options{Reporter: "gw-1"}); c.opts.Reporter != "gw-1" {
		t.Fatalf("an explicit reporter id became %q", c.opts.Reporter)
	}
}

func TestMinReportersSettingsAreValidatedByName(t *testing.T) {
	for _, c := range []struct {
		s    Settings
		want string
	}{
		{Settings{MinReporters: -1}, "min_reporters must be at least 1, not -1"},
		{Settings{ReporterWindow: time.Microsecond}, "reporter_window must be at least 1ms"},
		{Settings{ReporterWindow: MaxDuration + time.Second}, "reporter_window must be at most"},
	} {
		if err := c.s.WithDefaults().Validate(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: Validate said %v, want %q", c.s, err, c.want)
		}
		if err := c.s.ValidateChange(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: ValidateChange said %v, want %q", c.s, err, c.want)
		}
	}
	if s := (Settings{}).WithDefaults(); s.MinReporters != 1 || s.ReporterWindow != DefaultReporterWindow {
		t.Fatalf("defaults %+v: want min_reporters 1 (off) and the default window", s)
	}
}

func TestConfigureChangesMinReportersForEveryProcess(t *testing.T) {
	a, b, _ := twoProcesses(t, Settings{FailureThreshold: 3})
	ctx := context.Background()
	res, err := a.Configure(ctx, "svc", Settings{MinReporters: 2, ReporterWindow: 30 * time.Second}, "one bad gateway", ActionConfigure)
	if err != nil {
		t.Fatal(err)
	}
	if res.Settings.MinReporters != 2 || res.Settings.ReporterWindow != 30*time.Second {
		t.Fatalf("configured settings %+v", res.Settings)
	}
	var fields []string
	for _, c := range res.Changes {
		fields = append(fields, c.String())
	}
	if got := strings.Join(fields, "; "); !strings.Contains(got, "min_reporters") || !strings.Contains(got, "reporter_window") {
		t.Fatalf("changes %q do not name the new fields", got)
	}
	// b's own config says nothing of reporters; it follows the stored ones
	if r := failTracked(t, b, "svc", 4); r.State != Closed || r.Settings.MinReporters != 2 {
		t.Fatalf("b alone: %s with settings %+v, want closed under min_reporters 2", r.State, r.Settings)
	}
}

// A caller written before min_reporters (another language's client on the
// schema 3 contract: three keys, who without reporter or seeds) still
// gets its replies, and its failures open on the threshold alone.
func TestACallerOfTheOlderContractStillWorks(t *testing.T) {
	a, _, _ := twoProcesses(t, quorum)
	ctx := context.Background()
	failTracked(t, a, "svc", 1) // stores min_reporters 2
	k := a.opts.Keys
	old := func() []string {
		raw, err := recordScript.Run(ctx, a.rdb, []string{k.Breaker("svc"), k.BreakerProbes("svc"), k.BreakerEvents("svc")},
			"", 3, 2, 10000, 2, 30000, `{"host":"py","pid":9,"user":"u"}`, k.BreakerChannel(), 1000, "svc",
			"failure", "", "").StringSlice()
		if err != nil {
			t.Fatal(err)
		}
		return raw
	}
	old()
	if raw := old(); raw[1] != "open" || raw[15] != "2" || !strings.Contains(raw[9], `"reason":"3 consecutive failures"`) {
		t.Fatalf("the older caller's third failure: state %s, min_reporters %s, events %s; want open on the threshold alone under the stored 2",
			raw[1], raw[15], raw[9])
	}
}

// A caller on the new keys that sends no reporter id is known by its host
// and pid.
func TestAReporterWithoutAnIDIsItsHostAndPID(t *testing.T) {
	a, _, _ := twoProcesses(t, quorum)
	ctx := context.Background()
	k := a.opts.Keys
	keys := []string{k.Breaker("svc"), k.BreakerProbes("svc"), k.BreakerEvents("svc"), k.BreakerReporters("svc")}
	_, err := recordScript.Run(ctx, a.rdb, keys, "", 3, 2, 10000, 2, 30000,
		`{"host":"py","pid":9,"user":"u","min_reporters":2,"reporter_window_ms":60000}`, k.BreakerChannel(), 1000, "svc",
		"failure", "", "").Result()
	if err != nil {
		t.Fatal(err)
	}
	if got := a.rdb.ZRange(ctx, k.BreakerReporters("svc"), 0, -1).Val(); len(got) != 1 || got[0] != "py/9" {
		t.Fatalf("reporters %v, want [py/9]", got)
	}
	if v := a.rdb.HGet(ctx, k.Breaker("svc"), "min_reporters").Val(); v != "2" {
		t.Fatalf("min_reporters seeded from who as %q, want 2", v)
	}
}

// A hash an older haderctl wrote has the first five settings but not the
// reporters ones: the dry-run plan lists those as unset, as Configure does.
func TestPlanOfAnOlderHashListsTheReportersSettingsAsUnset(t *testing.T) {
	want := Settings{MinReporters: 2}.WithDefaults()
	want.RedisUnavailable = ""
	e := newTestEngine(t, Options{Settings: fixed(want)})
	ctx := context.Background()
	e.rdb.HSet(ctx, e.opts.Keys.Breaker("svc"), "name", "svc", "state", "closed", "failures", "0", "successes", "0",
		"generation", "1", "opened_at", "0", "last_failure", "0", "last_success", "0", "changed_at", "1",
		"failure_threshold", "3", "success_threshold", "2", "recovery_timeout_ms", "120000", "max_probes", "2",
		"probe_lease_ms", "30000")
	sts, _, err := e.Snapshot(ctx, []string{"svc"})
	if err != nil {
		t.Fatal(err)
	}
	show := func(cs []Change) string {
		var out []string
		for _, c := range cs {
			out = append(out, c.String())
		}
		return strings.Join(out, ", ")
	}
	const unset = "min_reporters (unset) → 2, reporter_window (unset) → 1m0s"
	if got := show(sts[0].Plan(want)); !sts[0].SettingsStored || got != unset {
		t.Fatalf("plan %q (settings stored %v), want %q", got, sts[0].SettingsStored, unset)
	}
	res, err := e.Configure(ctx, "svc", want, "apply", ActionApply)
	if err != nil {
		t.Fatal(err)
	}
	if got := show(res.Changes); got != unset {
		t.Fatalf("configure changed %q, want what the plan said: %q", got, unset)
	}
}
