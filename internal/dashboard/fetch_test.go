package dashboard

import (
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
)

// clock is a settable Options.Now.
type testClock struct{ now time.Time }

func (c *testClock) Now() time.Time { return c.now }

// takeScheduled removes and returns the scheduled messages of type T.
func takeScheduled[T tea.Msg](h *harness) (out []scheduled) {
	kept := h.scheduled[:0]
	for _, s := range h.scheduled {
		if _, ok := s.msg.(T); ok {
			out = append(out, s)
		} else {
			kept = append(kept, s)
		}
	}
	h.scheduled = kept
	return out
}

func TestRefreshScheduledAfterEachResult(t *testing.T) {
	f := newFake()
	h := newHarness(t, f, Options{Refresh: 3 * time.Second}, 80, 24)
	if f.snapCalls != 1 {
		t.Fatalf("Init read %d snapshots, want 1", f.snapCalls)
	}
	ticks := takeScheduled[refreshMsg](h)
	if len(ticks) != 1 || ticks[0].d != 3*time.Second {
		t.Fatalf("after the first result: scheduled %+v, want one refresh in 3s", ticks)
	}
	h.send(ticks[0].msg)
	if f.snapCalls != 2 {
		t.Fatalf("the refresh read %d snapshots in all, want 2", f.snapCalls)
	}
	next := takeScheduled[refreshMsg](h)
	if len(next) != 1 {
		t.Fatalf("scheduled %+v after the second result", next)
	}
	h.send(ticks[0].msg) // a superseded tick reads nothing
	if f.snapCalls != 2 {
		t.Fatalf("a stale tick read a snapshot (%d reads)", f.snapCalls)
	}
}

func TestDefaultRefreshIsOneSecond(t *testing.T) {
	h := newHarness(t, newFake(), Options{}, 80, 24)
	if ticks := takeScheduled[refreshMsg](h); len(ticks) != 1 || ticks[0].d != time.Second {
		t.Fatalf("scheduled %+v, want a refresh in 1s", ticks)
	}
}

func TestNeverTwoReadsInFlight(t *testing.T) {
	f := newFake()
	m := New(f, Options{Now: func() time.Time { return t0 }})
	var scheduledN int
	m.after = func(time.Duration, tea.Msg) tea.Cmd { scheduledN++; return nil }
	m.Update(tea.WindowSizeMsg{Width: 80, Height: 24})
	_ = m.Init() // a read is in flight (its command not run)
	if _, cmd := m.Update(refreshMsg{seq: m.tickSeq}); cmd != nil {
		t.Fatal("a refresh while a read is in flight started another")
	}
	if _, cmd := m.Update(earlyRefreshMsg{}); cmd != nil {
		t.Fatal("an early refresh while a read is in flight started another")
	}
	_, cmd := m.Update(snapshotMsg{snap: fixture(), at: t0})
	if cmd == nil || scheduledN != 0 {
		t.Fatalf("the asked-for read did not start right after the result (cmd %v, scheduled %d)", cmd != nil, scheduledN)
	}
	if msg, ok := cmd().(snapshotMsg); !ok || msg.snap == nil {
		t.Fatalf("the command is not a snapshot read: %T", msg)
	}
	if f.snapCalls != 1 {
		t.Fatalf("reads %d", f.snapCalls)
	}
}

func TestUnreachableBannerKeepsOldDataAndClears(t *testing.T) {
	f := newFake()
	clk := &testClock{now: t0}
	h := newHarness(t, f, Options{Now: clk.Now}, 80, 24)
	if strings.Contains(h.plain(), "unreachable") {
		t.Fatal("banner with a good snapshot")
	}
	f.snapErr = errors.New("dial tcp 10.0.0.5:6379: connect: connection refused")
	clk.now = t0.Add(12 * time.Second)
	h.send(takeScheduled[refreshMsg](h)[0].msg)
	s := h.plain()
	if !strings.Contains(s, "Redis unreachable: dial tcp 10.0.0.5:… — showing data from 12s ago, reconnecting") {
		t.Fatalf("banner at 80 columns missing or cut in the wrong place:\n%s", s)
	}
	h.send(tea.WindowSizeMsg{Width: 120, Height: 40})
	if !strings.Contains(h.plain(), "Redis unreachable: dial tcp 10.0.0.5:6379: connect: connection refused — showing data from 12s ago, reconnecting") {
		t.Fatalf("banner at 120 columns:\n%s", h.plain())
	}
	if !strings.Contains(s, "aramex") || !strings.Contains(s, "orders") {
		t.Fatalf("old data gone:\n%s", s)
	}
	ticks := takeScheduled[refreshMsg](h)
	if len(ticks) != 1 {
		t.Fatalf("no refresh scheduled after a failure: %+v", ticks)
	}
	clk.now = t0.Add(20 * time.Second)
	h.send(ticks[0].msg)
	if !strings.Contains(h.m.banner(), "20s ago") {
		t.Fatalf("age not counting: %q", h.m.banner())
	}
	f.snapErr = nil
	h.send(takeScheduled[refreshMsg](h)[0].msg)
	if strings.Contains(h.plain(), "unreachable") {
		t.Fatalf("banner after a good read:\n%s", h.plain())
	}
}

func TestUnreachableBeforeAnyData(t *testing.T) {
	f := newFake()
	f.snapErr = errors.New("redis: connection refused")
	h := newHarness(t, f, Options{}, 80, 24)
	if b := h.m.banner(); !strings.Contains(b, "Redis unreachable: redis: connection refused — no data yet, reconnecting") {
		t.Fatalf("banner %q", b)
	}
	if !strings.Contains(h.plain(), "loading…") {
		t.Errorf("panels not waiting:\n%s", h.plain())
	}
}

func TestCountdownsRunBetweenRefreshes(t *testing.T) {
	clk := &testClock{now: t0}
	h := newHarness(t, newFake(), Options{Now: clk.Now}, 80, 24)
	if !strings.Contains(h.plain(), "in 1m35s") {
		t.Fatalf("next probe:\n%s", h.plain())
	}
	clk.now = t0.Add(10 * time.Second)
	if !strings.Contains(h.plain(), "in 1m25s") || !strings.Contains(h.plain(), "3m50s") {
		t.Fatalf("countdowns did not move 10s:\n%s", h.plain())
	}
	clk.now = t0.Add(2 * time.Minute)
	if !strings.Contains(h.plain(), "due") {
		t.Fatalf("an elapsed probe wait is not due:\n%s", h.plain())
	}
}

func TestFollowEventsTailAndEarlyRefresh(t *testing.T) {
	f := newFake()
	f.follow = []Event{
		fixtureEvents()[3], // also in Recent: shown once
		{At: t0.Add(time.Second), Kind: BreakerEvent, Subject: "zid", Text: "disabled → closed"},
		{At: t0.Add(2 * time.Second), Kind: ChaosEvent, Subject: "exp-7f3a", Text: "stopped by bob: done"},
	}
	h := newHarness(t, f, Options{}, 80, 24)
	s := h.plain()
	if !strings.Contains(s, "zid disabled → closed") || !strings.Contains(s, "exp-7f3a stopped by bob: done") {
		t.Fatalf("followed events not in the tail:\n%s", s)
	}
	if n := strings.Count(s, "aramex down alert fired"); n != 1 {
		t.Fatalf("an event in Recent and Follow shown %d times:\n%s", n, s)
	}
	early := takeScheduled[earlyRefreshMsg](h)
	if len(early) != 1 || early[0].d != eventDebounce {
		t.Fatalf("two events scheduled %+v, want one debounced early refresh", early)
	}
	before := f.snapCalls
	h.send(early[0].msg)
	if f.snapCalls != before+1 {
		t.Fatalf("the early refresh read nothing")
	}
	// the fake's Follow returned: re-follow after a growing wait
	retries := takeScheduled[followRetryMsg](h)
	if len(retries) != 1 || retries[0].d != followMinWait {
		t.Fatalf("after Follow ended: %+v, want a retry in %s", retries, followMinWait)
	}
	h.send(retries[0].msg)
	if f.followN != 2 {
		t.Fatalf("Follow called %d times, want 2", f.followN)
	}
	again := takeScheduled[followRetryMsg](h)
	if len(again) != 1 || again[0].d != 2*followMinWait {
		t.Fatalf("second retry %+v, want a doubled wait", again)
	}
}

func TestFollowEndsWithQuit(t *testing.T) {
	f := newFake()
	h := newHarness(t, f, Options{}, 80, 24)
	retry := takeScheduled[followRetryMsg](h)
	h.key("q")
	h.send(retry[0].msg)
	if f.followN != 1 {
		t.Fatalf("followed again after quitting (%d)", f.followN)
	}
}

func TestMessagesMaskURLSecrets(t *testing.T) {
	f := newFake()
	f.snapErr = errors.New(`dial "redis://ops:hunter2@10.0.0.5:6379/0": connection refused`)
	h := newHarness(t, f, Options{}, 120, 40)
	f.doErr = errors.New("webhook https://hooks.example/x?token=s3cr3t-value failed")
	h.key("tab", "p", "y")
	s := h.plain()
	for _, secret := range []string{"hunter2", "s3cr3t-value"} {
		if strings.Contains(s, secret) {
			t.Errorf("%s on screen:\n%s", secret, s)
		}
	}
	if !strings.Contains(s, `"redis://ops:***@10.0.0.5:6379/0": connection refused`) {
		t.Errorf("masked address missing:\n%s", s)
	}
}

// An open experiment drill-down follows the refreshes: its countdown is
// Redis' latest, and an experiment gone from the snapshot (stopped
// elsewhere, or over) reads as ended, not as still running.
func TestExperimentDetailFollowsRefreshes(t *testing.T) {
	f := newFake()
	clk := &testClock{now: t0}
	h := newHarness(t, f, Options{Now: clk.Now}, 120, 40)
	h.key("tab", "tab", "tab", "enter")
	if !strings.Contains(h.plain(), "EXPERIMENT exp-7f3a") || !strings.Contains(h.plain(), "left 4m00s") {
		t.Fatalf("the drill-down at the start:\n%s", h.plain())
	}

	later := fixture()
	later.Time = t0.Add(time.Minute)
	later.Chaos.Active[0].TimeLeft = 3 * time.Minute
	f.mu.Lock()
	f.snap = later
	f.mu.Unlock()
	clk.now = t0.Add(time.Minute)
	h.send(refreshMsg{seq: h.m.tickSeq})
	if !strings.Contains(h.plain(), "left 3m00s") {
		t.Fatalf("a minute later the drill-down does not say 3m00s left:\n%s", h.plain())
	}

	gone := fixture()
	gone.Time = t0.Add(2 * time.Minute)
	gone.Chaos.Active = nil
	f.mu.Lock()
	f.snap = gone
	f.mu.Unlock()
	clk.now = t0.Add(2 * time.Minute)
	h.send(refreshMsg{seq: h.m.tickSeq})
	if s := h.plain(); !strings.Contains(s, "ended: no longer running") || strings.Contains(s, "left ") {
		t.Fatalf("a stopped experiment still reads as running:\n%s", s)
	}
}

// When Redis answers again after an outage, the follow restarts at once
// (not after the backoff the outage grew), and the events that happened
// while none ran come into the tail from Recent, each once, in order;
// what the tail had already (an alert seen live, which the alert stream
// words otherwise) is not added again.
func TestFollowResumesWhenRedisAnswersAgain(t *testing.T) {
	f := newFake()
	f.follow = []Event{{At: t0.Add(-5 * time.Second), Kind: AlertEvent, Subject: "aramex", Text: "alert resolved"}}
	h := newHarness(t, f, Options{}, 120, 40)
	// the fake's Follow ended at once: a retry is scheduled, not delivered
	if len(takeScheduled[followRetryMsg](h)) != 1 || f.followN != 1 {
		t.Fatalf("Follow called %d times, want 1 and a retry scheduled", f.followN)
	}
	f.mu.Lock()
	f.snapErr = errors.New("dial tcp 10.0.0.5:6379: connect: connection refused")
	f.mu.Unlock()
	h.send(refreshMsg{seq: h.m.tickSeq})
	if f.followN != 1 {
		t.Fatalf("a failing read restarted Follow (%d calls)", f.followN)
	}

	missed := Event{At: t0.Add(10 * time.Second), Kind: BreakerEvent, Subject: "zid", Text: "closed → disabled"}
	streamed := Event{At: t0.Add(-6 * time.Second), Kind: AlertEvent, Subject: "aramex", Text: "alert resolved (down for 14s)"}
	f.mu.Lock()
	f.snapErr = nil
	f.recent = append(fixtureEvents(), streamed, missed)
	f.mu.Unlock()
	h.send(refreshMsg{seq: h.m.tickSeq})
	if f.followN != 2 {
		t.Fatalf("Redis answers again, yet Follow was called %d times, want 2 (at once)", f.followN)
	}
	s := h.plain()
	if n := strings.Count(s, "zid closed → disabled"); n != 1 {
		t.Fatalf("the event missed while no Follow ran is in the tail %d times, want 1:\n%s", n, s)
	}
	if n := strings.Count(s, "aramex down alert fired"); n != 1 {
		t.Fatalf("an event already in the tail is shown %d times after the re-read:\n%s", n, s)
	}
	if strings.Contains(s, "down for 14s") || !strings.Contains(s, "aramex alert resolved") {
		t.Fatalf("the alert seen live is shown again, as its stream words it:\n%s", s)
	}
	var got []time.Time
	for _, e := range h.m.events {
		got = append(got, e.At)
	}
	if !slices.IsSortedFunc(got, time.Time.Compare) {
		t.Fatalf("the tail is out of time order: %v", got)
	}
}

// The re-follow wait grows while Follow keeps failing, and starts again
// from the minimum after a Follow that ran well for a while: a pub/sub
// connection dropped after an hour is retried in 500 ms, not in the 30 s
// an outage long ago grew the wait to.
func TestFollowWaitResetsAfterALongFollow(t *testing.T) {
	f := newFake()
	clk := &lockedClock{now: t0} // Follow's goroutine moves it
	f.followHook = func(n int) {
		if n == 3 {
			clk.add(time.Hour) // the third Follow runs an hour
		}
	}
	h := newHarness(t, f, Options{Now: clk.Now}, 80, 24)
	var waits []time.Duration
	for range 3 {
		r := takeScheduled[followRetryMsg](h)
		if len(r) != 1 {
			t.Fatalf("retries scheduled %+v, want one", r)
		}
		waits = append(waits, r[0].d)
		h.send(r[0].msg)
	}
	want := []time.Duration{followMinWait, 2 * followMinWait, followMinWait}
	if !slices.Equal(waits, want) {
		t.Fatalf("re-follow waits %v, want %v (reset after the hour-long Follow)", waits, want)
	}
}

// lockedClock is a testClock that another goroutine may move.
type lockedClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *lockedClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *lockedClock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}
