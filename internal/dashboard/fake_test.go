package dashboard

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"
	"github.com/haderos/haderctl/internal/engine/breaker"
	"github.com/haderos/haderctl/internal/engine/chaos"
	"github.com/haderos/haderctl/internal/engine/gateway/routestats"
	"github.com/haderos/haderctl/internal/engine/health"
	"github.com/haderos/haderctl/internal/engine/queue"
	"github.com/haderos/haderctl/internal/engine/snapshot"
	"github.com/haderos/haderctl/internal/tui"
)

// t0 is the fixed clock of every test: Redis' time of the fixture
// snapshot, and Options.Now.
var t0 = time.Date(2026, 12, 2, 9, 41, 0, 0, time.UTC)

// opsCall is one recorded QueueOps call.
type opsCall struct {
	Queue, State, Cursor string
	N                    int64
}

// fakeBackend records every call and answers from its fields.
type fakeBackend struct {
	mu           sync.Mutex
	info         Info
	snap         *snapshot.Snapshot
	snapErr      error
	snapCalls    int
	recent       []Event
	follow       []Event // sent by Follow, which then returns followErr
	followErr    error
	followN      int
	followHook   func(n int) // called by Follow number n before it returns
	done         []Action
	doText       string
	doErr        error
	opsCalls     []opsCall
	ops          map[string][]*queue.Operation // by state
	pageSize     int                           // the fake's own page: cursors are offsets
	breakerD     BreakerDetail
	breakerCalls []string
	serviceD     ServiceDetail
	audit        []chaos.AuditEntry
}

func (f *fakeBackend) Info() Info { return f.info }

func (f *fakeBackend) Snapshot(ctx context.Context) (*snapshot.Snapshot, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.snapCalls++
	return f.snap, f.snapErr
}

func (f *fakeBackend) Follow(ctx context.Context, fn func(Event)) error {
	f.mu.Lock()
	f.followN++
	evs, err, hook, n := f.follow, f.followErr, f.followHook, f.followN
	f.follow = nil
	f.mu.Unlock()
	for _, e := range evs {
		fn(e)
	}
	if hook != nil {
		hook(n)
	}
	if err == nil {
		err = errors.New("follow ended")
	}
	return err
}

func (f *fakeBackend) Recent(ctx context.Context, n int64) ([]Event, error) { return f.recent, nil }

func (f *fakeBackend) BreakerDetail(ctx context.Context, name string, n int64) (BreakerDetail, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.breakerCalls = append(f.breakerCalls, name)
	return f.breakerD, nil
}

func (f *fakeBackend) QueueOps(ctx context.Context, q, state, cursor string, n int64) ([]*queue.Operation, string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.opsCalls = append(f.opsCalls, opsCall{q, state, cursor, n})
	all := f.ops[state]
	start := 0
	if cursor != "" {
		fmt.Sscanf(cursor, "c%d", &start)
	}
	end := min(start+f.pageSize, len(all))
	next := ""
	if end < len(all) {
		next = fmt.Sprintf("c%d", end)
	}
	if start > len(all) {
		start = len(all)
	}
	return all[start:end], next, nil
}

func (f *fakeBackend) ServiceChecks(ctx context.Context, name string, n int64) (ServiceDetail, error) {
	return f.serviceD, nil
}

func (f *fakeBackend) ExperimentAudit(ctx context.Context, id string, n int64) ([]chaos.AuditEntry, error) {
	return f.audit, nil
}

func (f *fakeBackend) Do(ctx context.Context, a Action) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.done = append(f.done, a)
	return f.doText, f.doErr
}

func (f *fakeBackend) actions() []Action {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Action(nil), f.done...)
}

func ptr[T any](v T) *T { return &v }

// fixture is a fixed snapshot with something in every panel.
func fixture() *snapshot.Snapshot {
	st := func(name string, s breaker.State, fail, succ int64) breaker.Status {
		return breaker.Status{Name: name, Known: true, State: s, Failures: fail, Successes: succ,
			ChangedAt: t0.Add(-90 * time.Second), Settings: breaker.Settings{}, SettingsStored: true}
	}
	open := st("aramex", breaker.Open, 3, 0)
	open.UntilHalfOpen = 95 * time.Second
	open.OpenedAt = t0.Add(-25 * time.Second)
	open.FallbackReporters = 2
	half := st("smsa", breaker.HalfOpen, 0, 1)
	half.ProbesInFlight = 1
	forced := st("shopify", breaker.ForcedOpen, 0, 0)
	disabled := st("zid", breaker.Disabled, 0, 0)
	mem := st("moyasar", breaker.Closed, 1, 0)
	mem.InMemory = true
	quorum := st("tap", breaker.Closed, 2, 0)
	quorum.Settings.MinReporters = 3
	quorum.Reporters = 2
	var recent []health.Sample
	for i := range 20 {
		recent = append(recent, health.Sample{OK: i%7 != 0, Latency: float64(40 + (i*37)%90), Code: 200, At: t0.Add(-time.Duration(i) * 30 * time.Second)})
	}
	checked := t0.Add(-12 * time.Second)
	return &snapshot.Snapshot{
		Time:     t0,
		Parts:    snapshot.All,
		Breakers: []breaker.Status{open, mem, forced, half, quorum, disabled},
		Queues: []queue.Stats{
			{Queue: "notifications", Pending: map[queue.Priority]int64{queue.Normal: 4}, PendingTotal: 4, Completed: 120, ThroughputPerSecond: 0.5, RetrySuccessRate: 0.98},
			{Queue: "orders", Pending: map[queue.Priority]int64{queue.Critical: 2, queue.High: 5, queue.Normal: 30, queue.Low: 1}, PendingTotal: 38,
				Delayed: 7, InFlight: 3, Dead: 2, Completed: 450, Failed: 50, ThroughputPerSecond: 2.25, RetrySuccessRate: 0.9, OldestPendingSeconds: 312},
			{Queue: "shipping", Paused: true, PendingTotal: 0, Dead: 0},
		},
		Services: []health.Status{
			{Service: "aramex", Healthy: false, Status: "unhealthy", Code: 503, Latency: 812, CheckedAt: &checked, ConsecutiveFailures: 4,
				AlertOpen: true, Windows: map[string]health.Window{"1h": {Checks: 120, Uptime: ptr(91.5)}, "24h": {Checks: 2880, Uptime: ptr(99.2)}}, Recent: recent},
			{Service: "shopify", Healthy: true, Status: "healthy", Code: 200, Latency: 41, CheckedAt: &checked,
				Windows: map[string]health.Window{"1h": {Checks: 120, Uptime: ptr(100.0)}, "24h": {Checks: 2880, Uptime: ptr(99.9)}}, Recent: recent[:10]},
			{Service: "smsa", Status: "unknown"},
		},
		Chaos: &chaos.Snapshot{
			State: chaos.State{Enabled: true, Environment: "staging", EnvironmentOK: true},
			Active: []chaos.ExperimentStatus{{
				Experiment: chaos.Experiment{ID: "exp-7f3a", Kind: "latency", Services: []string{"aramex"}, Probability: 0.5,
					Delay: 300 * time.Millisecond, Duration: 5 * time.Minute, StartMs: t0.Add(-time.Minute).UnixMilli(), By: "alice", Reason: "game day"},
				TimeLeft: 4 * time.Minute,
				Impact:   chaos.Impact{Calls: 120, ErrorRate: ptr(0.125), AvgLatencyMs: ptr(340.0), BaselineErrorRate: ptr(0.01), BaselineLatencyMs: ptr(42.0)},
			}},
			Scheduled: []chaos.ExperimentStatus{{
				Experiment: chaos.Experiment{ID: "exp-9b21", Kind: "error", Services: []string{"*"}, Probability: 1, Status: 503, Duration: time.Minute, By: "gameday"},
				Scheduled:  true, StartsIn: 2 * time.Minute, TimeLeft: 3 * time.Minute,
			}},
		},
		Routes: []routestats.Stats{
			{Route: "/shipping/", Window: time.Minute, Requests: 600, Errors: 12, Fallbacks: 40, Queued: 3, PerSecond: 10, ErrorPercent: 2},
			{Route: "/orders/", Window: time.Minute, Requests: 120, PerSecond: 2},
		},
	}
}

func fixtureEvents() []Event {
	return []Event{
		{At: t0.Add(-5 * time.Minute), Kind: ChaosEvent, Subject: "exp-7f3a", Text: "started by alice: game day"},
		{At: t0.Add(-90 * time.Second), Kind: BreakerEvent, Subject: "smsa", Text: "open → half_open"},
		{At: t0.Add(-25 * time.Second), Kind: BreakerEvent, Subject: "aramex", Text: "closed → open (3 failures)"},
		{At: t0.Add(-20 * time.Second), Kind: AlertEvent, Subject: "aramex", Text: "down alert fired"},
	}
}

func newFake() *fakeBackend {
	dead := []*queue.Operation{}
	for i := range 7 {
		died := t0.Add(-time.Duration(i+1) * time.Minute)
		dead = append(dead, &queue.Operation{ID: fmt.Sprintf("op-%02d", i), Queue: "orders", Operation: "create_shipment", Service: "aramex",
			Priority: queue.High, MaxAttempts: 5, Attempts: 5, State: "dead", CreatedAt: t0.Add(-time.Hour), DiedAt: &died, LastError: "503 Service Unavailable"})
	}
	ready := []*queue.Operation{{ID: "op-r1", Queue: "orders", Operation: "create_order", Service: "shopify", Priority: queue.Critical,
		MaxAttempts: 5, State: "ready", CreatedAt: t0.Add(-312 * time.Second)}}
	return &fakeBackend{
		info:     Info{Address: "redis://redis.internal:6379/0", Namespace: "hader", Environment: "staging"},
		snap:     fixture(),
		recent:   fixtureEvents(),
		ops:      map[string][]*queue.Operation{"dead": dead, "ready": ready},
		pageSize: 3,
		doText:   "done",
		breakerD: BreakerDetail{Status: fixture().Breakers[0], Events: []breaker.Event{
			{Name: "aramex", From: breaker.Closed, To: breaker.Open, Failures: 3, At: t0.Add(-25 * time.Second), User: "gateway", Host: "gw-1", Reason: "3 consecutive failures"},
		}},
		serviceD: ServiceDetail{Status: fixture().Services[0], Checks: fixture().Services[0].Recent[:5],
			Alerts: []health.AlertEvent{{Service: "aramex", Kind: "fired", At: t0.Add(-20 * time.Second), ConsecutiveFailures: 3, By: "watch-1", Error: "503"}}},
		audit: []chaos.AuditEntry{{At: t0.Add(-time.Minute), Event: "started", Target: "exp-7f3a", By: "alice", Detail: "game day"}},
	}
}

// harness drives a Model synchronously: it runs the commands Update
// returns and feeds their messages back. Scheduled messages (ticks) are
// recorded, not waited for; a test delivers them itself.
type harness struct {
	t         testing.TB
	m         *Model
	f         *fakeBackend
	scheduled []scheduled
	quit      bool
}

type scheduled struct {
	d   time.Duration
	msg tea.Msg
}

func newHarness(t testing.TB, f *fakeBackend, o Options, w, h int) *harness {
	t.Helper()
	if o.Now == nil {
		o.Now = func() time.Time { return t0 }
	}
	if o.Profile == 0 {
		o.Profile = colorprofile.Ascii
	}
	m := New(f, o)
	hs := &harness{t: t, m: m, f: f}
	m.after = func(d time.Duration, msg tea.Msg) tea.Cmd {
		hs.scheduled = append(hs.scheduled, scheduled{d, msg})
		return nil
	}
	t.Cleanup(m.cancel)
	hs.send(tea.WindowSizeMsg{Width: w, Height: h})
	hs.run(m.Init())
	return hs
}

// run executes cmd and everything it leads to.
func (h *harness) run(cmd tea.Cmd) {
	h.t.Helper()
	queue := []tea.Cmd{cmd}
	for steps := 0; len(queue) > 0; steps++ {
		if steps > 10000 {
			h.t.Fatal("commands never settle")
		}
		c := queue[0]
		queue = queue[1:]
		if c == nil {
			continue
		}
		msg := c()
		switch msg := msg.(type) {
		case nil:
		case tea.BatchMsg:
			queue = append(queue, msg...)
		case tea.QuitMsg:
			h.quit = true
		default:
			_, next := h.m.Update(msg)
			queue = append(queue, next)
		}
	}
}

func (h *harness) send(msg tea.Msg) {
	h.t.Helper()
	_, cmd := h.m.Update(msg)
	h.run(cmd)
}

// key presses one key by its name ("tab", "enter", "R", "x").
func (h *harness) key(names ...string) {
	h.t.Helper()
	for _, n := range names {
		h.send(keyMsg(n))
	}
}

// typeText types s into whatever has the focus.
func (h *harness) typeText(s string) {
	h.t.Helper()
	for _, r := range s {
		h.send(tea.KeyPressMsg{Code: r, Text: string(r)})
	}
}

func keyMsg(n string) tea.KeyPressMsg {
	special := map[string]tea.Key{
		"tab": {Code: tea.KeyTab}, "shift+tab": {Code: tea.KeyTab, Mod: tea.ModShift},
		"enter": {Code: tea.KeyEnter}, "esc": {Code: tea.KeyEscape},
		"up": {Code: tea.KeyUp}, "down": {Code: tea.KeyDown},
		"pgup": {Code: tea.KeyPgUp}, "pgdown": {Code: tea.KeyPgDown},
		"ctrl+c": {Code: 'c', Mod: tea.ModCtrl}, "backspace": {Code: tea.KeyBackspace},
	}
	if k, ok := special[n]; ok {
		return tea.KeyPressMsg(k)
	}
	r := []rune(n)[0]
	return tea.KeyPressMsg{Code: r, Text: n}
}

// screen is the current frame as the terminal shows it in Ascii.
func (h *harness) screen() string {
	return renderAs(h.m, colorprofile.Ascii)
}

func renderAs(m *Model, p colorprofile.Profile) string {
	var b strings.Builder
	w := tui.Writer(&b, p)
	_, _ = w.Write([]byte(m.View().Content))
	return b.String()
}

// plain is the frame with every escape removed (for Contains checks).
func (h *harness) plain() string { return renderAs(h.m, colorprofile.NoTTY) }
