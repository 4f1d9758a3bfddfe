package dashboard

import (
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/haderos/haderctl/internal/engine/breaker"
	"github.com/haderos/haderctl/internal/engine/queue"
)

// actionCase reaches an action: keys to get there, the action key, and
// what the Backend must be asked to do.
type actionCase struct {
	name   string
	reach  []string
	key    string
	want   Action
	dialog string // what the dialog must name
}

var actionCases = []actionCase{
	{"reset", nil, "r", Action{Kind: ResetBreaker, Target: "aramex"}, "reset breaker aramex"},
	{"trip", []string{"j"}, "t", Action{Kind: TripBreaker, Target: "smsa"}, "trip breaker smsa"},
	{"disable", []string{"j", "j", "j"}, "d", Action{Kind: DisableBreaker, Target: "moyasar"}, "disable breaker moyasar"},
	{"enable", []string{"down", "down", "down", "down", "down"}, "e", Action{Kind: EnableBreaker, Target: "zid"}, "enable breaker zid"},
	{"pause", []string{"tab", "j"}, "p", Action{Kind: PauseQueue, Target: "orders"}, "pause queue orders"},
	{"resume", []string{"tab", "j", "j"}, "u", Action{Kind: ResumeQueue, Target: "shipping"}, "resume queue shipping"},
	{"retry dead", []string{"tab", "j", "enter", "4", "j"}, "R", Action{Kind: RetryDead, Target: "orders", ID: "op-01"}, "retry dead operation op-01 of queue orders"},
	{"stop experiment", []string{"tab", "tab", "tab"}, "x", Action{Kind: StopExperiment, Target: "exp-7f3a"}, "stop experiment exp-7f3a"},
	{"stop scheduled experiment", []string{"shift+tab", "shift+tab", "j"}, "x", Action{Kind: StopExperiment, Target: "exp-9b21"}, "stop experiment exp-9b21"},
	{"stop all", nil, "S", Action{Kind: StopAllChaos}, "stop all chaos experiments"},
	{"stop all from a drill-down", []string{"tab", "enter"}, "S", Action{Kind: StopAllChaos}, "stop all chaos experiments"},
	{"reset in the breaker drill-down", []string{"j", "j", "enter"}, "r", Action{Kind: ResetBreaker, Target: "shopify"}, "reset breaker shopify"},
	{"pause in the queue drill-down", []string{"tab", "enter"}, "p", Action{Kind: PauseQueue, Target: "notifications"}, "pause queue notifications"},
	{"stop in the experiment drill-down", []string{"tab", "tab", "tab", "enter"}, "x", Action{Kind: StopExperiment, Target: "exp-7f3a"}, "stop experiment exp-7f3a"},
}

func TestActionConfirmedCallsBackendOnce(t *testing.T) {
	for _, c := range actionCases {
		t.Run(c.name, func(t *testing.T) {
			f := newFake()
			f.doText = "done: " + c.name
			h := newHarness(t, f, Options{}, 120, 40)
			h.key(c.reach...)
			h.key(c.key)
			if h.m.dialog == nil {
				t.Fatalf("no dialog after %q; notice %q", c.key, h.m.notice)
			}
			if s := h.plain(); !strings.Contains(s, "Confirm: "+c.dialog) {
				t.Fatalf("dialog does not name %q:\n%s", c.dialog, s)
			}
			want := c.want
			if c.want.Kind.TakesReason() {
				if !strings.Contains(h.plain(), "reason:") {
					t.Fatalf("dialog for %s asks for no reason:\n%s", c.want.Kind, h.plain())
				}
				want.Reason = "on-call " + c.name
				h.typeText("  " + want.Reason + " ")
				h.key("enter")
			} else {
				h.key("y")
			}
			if got := f.actions(); !reflect.DeepEqual(got, []Action{want}) {
				t.Fatalf("Do calls = %+v, want exactly %+v", got, want)
			}
			if h.m.dialog != nil {
				t.Error("dialog still open after confirming")
			}
			if !strings.Contains(h.plain(), "done: "+c.name) {
				t.Errorf("result line missing:\n%s", h.plain())
			}
		})
	}
}

func TestActionRefreshesImmediately(t *testing.T) {
	f := newFake()
	h := newHarness(t, f, Options{}, 80, 24)
	before := f.snapCalls
	h.key("tab", "p", "enter") // enter confirms a dialog without a reason
	if got := f.actions(); len(got) != 1 || got[0].Kind != PauseQueue {
		t.Fatalf("Do calls = %+v", got)
	}
	if f.snapCalls != before+1 {
		t.Errorf("snapshot reads after the action: %d, want %d (an immediate refresh)", f.snapCalls, before+1)
	}
}

func TestActionErrorShownAsError(t *testing.T) {
	f := newFake()
	f.doErr = errors.New("breaker aramex: redis: connection refused")
	h := newHarness(t, f, Options{}, 80, 24)
	h.key("r")
	h.typeText("x")
	h.key("enter")
	if !h.m.noticeBad || !strings.Contains(h.plain(), "reset breaker aramex failed: breaker aramex: redis: connection refused") {
		t.Fatalf("error line missing (bad=%v):\n%s", h.m.noticeBad, h.plain())
	}
}

func TestActionCancelCallsNothing(t *testing.T) {
	for _, c := range actionCases {
		cancels := []string{"esc"}
		if !c.want.Kind.TakesReason() {
			cancels = append(cancels, "n")
		}
		for _, cancel := range cancels {
			t.Run(c.name+" "+cancel, func(t *testing.T) {
				f := newFake()
				h := newHarness(t, f, Options{}, 80, 24)
				h.key(c.reach...)
				h.key(c.key)
				if h.m.dialog == nil {
					t.Fatal("no dialog")
				}
				if c.want.Kind.TakesReason() {
					h.typeText("a reason")
				}
				h.key(cancel)
				if h.m.dialog != nil {
					t.Error("dialog still open")
				}
				if got := f.actions(); len(got) != 0 {
					t.Errorf("cancelled, yet Do was called: %+v", got)
				}
				if !strings.Contains(h.plain(), "cancelled") {
					t.Errorf("no cancelled line:\n%s", h.plain())
				}
			})
		}
	}
}

func TestEmptyReasonRefused(t *testing.T) {
	f := newFake()
	h := newHarness(t, f, Options{}, 80, 24)
	h.key("r", "enter")
	if h.m.dialog == nil || len(f.actions()) != 0 {
		t.Fatalf("empty reason accepted: dialog %v, calls %+v", h.m.dialog, f.actions())
	}
	if !strings.Contains(h.plain(), "a reason is required") {
		t.Errorf("no refusal shown:\n%s", h.plain())
	}
	h.typeText("   ")
	h.key("enter")
	if h.m.dialog == nil || len(f.actions()) != 0 {
		t.Fatal("a blank reason was accepted")
	}
	// y and n are letters of the reason here, not confirm and cancel
	h.typeText("yn")
	if h.m.dialog == nil || len(f.actions()) != 0 {
		t.Fatal("y or n acted on a dialog that takes a reason")
	}
	h.key("enter")
	if got := f.actions(); len(got) != 1 || got[0].Reason != "yn" {
		t.Fatalf("Do calls = %+v, want one with reason yn", got)
	}
}

// The kinds whose CLI verb has a default reason (disable, enable, stop,
// stop all) confirm with an empty one, as the CLI does without --reason:
// the emergency stop is S, enter. Reset and trip require one.
func TestOptionalReasonConfirmsEmpty(t *testing.T) {
	for _, c := range actionCases {
		t.Run(c.name, func(t *testing.T) {
			f := newFake()
			h := newHarness(t, f, Options{}, 120, 40)
			h.key(c.reach...)
			h.key(c.key)
			if h.m.dialog == nil {
				t.Fatal("no dialog")
			}
			h.key("enter")
			got := f.actions()
			switch {
			case !c.want.Kind.TakesReason():
				// y/enter confirms a dialog with no reason field
			case c.want.Kind.ReasonRequired():
				if len(got) != 0 || !strings.Contains(h.plain(), "a reason is required") {
					t.Fatalf("%s confirmed with no reason: %+v", c.want.Kind, got)
				}
				return
			}
			if len(got) != 1 || got[0].Kind != c.want.Kind || got[0].Reason != "" {
				t.Fatalf("Do calls = %+v, want one %s with an empty reason", got, c.want.Kind)
			}
		})
	}
}

func TestReadOnlyRefusesEveryAction(t *testing.T) {
	for _, c := range actionCases {
		t.Run(c.name, func(t *testing.T) {
			f := newFake()
			h := newHarness(t, f, Options{ReadOnly: true}, 80, 24)
			h.key(c.reach...)
			h.key(c.key)
			if h.m.dialog != nil {
				t.Fatal("read-only opened a dialog")
			}
			h.key("y", "enter")
			if got := f.actions(); len(got) != 0 {
				t.Fatalf("read-only called Do: %+v", got)
			}
			if !strings.Contains(h.plain(), readOnlyNotice) {
				t.Errorf("no read-only message:\n%s", h.plain())
			}
		})
	}
}

func TestReadOnlyFromBackendInfo(t *testing.T) {
	f := newFake()
	f.info.ReadOnly = true
	h := newHarness(t, f, Options{}, 80, 24)
	h.key("S")
	if h.m.dialog != nil || !strings.Contains(h.plain(), readOnlyNotice) || !strings.Contains(h.plain(), "READ-ONLY") {
		t.Fatalf("Info.ReadOnly not honoured:\n%s", h.plain())
	}
}

func TestActionKeyNeedsItsPanel(t *testing.T) {
	f := newFake()
	h := newHarness(t, f, Options{}, 80, 24)
	h.key("tab", "r") // reset on the queues panel
	if h.m.dialog != nil {
		t.Fatal("reset opened a dialog on a queue")
	}
	if !strings.Contains(h.plain(), "reset breaker: select a breaker first") {
		t.Errorf("no hint:\n%s", h.plain())
	}
	h.key("enter", "R") // retry on the ready list
	if h.m.dialog != nil || !strings.Contains(h.plain(), "dead list") {
		t.Errorf("retry outside the dead list: dialog %v\n%s", h.m.dialog, h.plain())
	}
}

func TestNavigation(t *testing.T) {
	f := newFake()
	h := newHarness(t, f, Options{}, 80, 24)
	if h.m.focus != breakersPanel {
		t.Fatalf("focus starts on %v", h.m.focus)
	}
	order := []panel{queuesPanel, healthPanel, chaosPanel, gatewayPanel, breakersPanel}
	for _, want := range order {
		h.key("tab")
		if h.m.focus != want {
			t.Fatalf("tab: focus %v, want %v", h.m.focus, want)
		}
	}
	h.key("shift+tab")
	if h.m.focus != gatewayPanel {
		t.Fatalf("shift+tab from breakers: %v, want the gateway", h.m.focus)
	}
	h.key("tab")
	// the marker and the cursor row move with j/k
	if !strings.Contains(h.plain(), "▶ BREAKERS") || !strings.Contains(h.plain(), "> aramex") {
		t.Fatalf("focused panel or cursor not marked:\n%s", h.plain())
	}
	h.key("j", "j", "k", "down")
	if got := h.m.selectedName(breakersPanel); got != "shopify" {
		t.Fatalf("cursor on %q, want shopify", got)
	}
	if !strings.Contains(h.plain(), "> shopify") {
		t.Fatalf("cursor row not marked:\n%s", h.plain())
	}
	h.key("up", "up", "up", "up")
	if got := h.m.selectedName(breakersPanel); got != "aramex" {
		t.Fatalf("cursor past the top: %q", got)
	}
}

func TestGatewayPanelOnlyWithRoutes(t *testing.T) {
	f := newFake()
	f.snap.Routes = nil
	h := newHarness(t, f, Options{}, 80, 24)
	if strings.Contains(h.plain(), "GATEWAY") {
		t.Fatalf("gateway panel without routes:\n%s", h.plain())
	}
	h.key("tab", "tab", "tab", "tab")
	if h.m.focus != breakersPanel {
		t.Fatalf("tab reached a hidden panel: %v", h.m.focus)
	}
}

func TestListScrollsWithCursor(t *testing.T) {
	f := newFake()
	f.snap = bigSnapshot(200, 0, 5, 2)
	h := newHarness(t, f, Options{}, 80, 24)
	rows := h.m.layout().rows[breakersPanel]
	if rows <= 0 || rows >= 200 {
		t.Fatalf("breaker rows %d", rows)
	}
	for range rows + 3 {
		h.key("j")
	}
	shown := h.m.vis[breakersPanel] // worst first, then by name
	want := f.snap.Breakers[shown[rows+3]].Name
	s := h.plain()
	if !strings.Contains(s, "> "+want) {
		t.Fatalf("cursor row %s not on screen after scrolling:\n%s", want, s)
	}
	if strings.Contains(s, f.snap.Breakers[shown[0]].Name+" ") {
		t.Errorf("first breaker still shown after scrolling past it:\n%s", s)
	}
	if !strings.Contains(s, "of 200]") {
		t.Errorf("no window position in the title:\n%s", s)
	}
	h.key("pgdown")
	if h.m.cursor[breakersPanel] != 2*rows+3 {
		t.Errorf("pgdown: cursor %d, want %d", h.m.cursor[breakersPanel], 2*rows+3)
	}
}

func TestFilter(t *testing.T) {
	f := newFake()
	h := newHarness(t, f, Options{}, 80, 24)
	h.key("/")
	if !h.m.filtering {
		t.Fatal("/ did not open the filter")
	}
	h.typeText("ara")
	s := h.plain()
	for _, gone := range []string{"moyasar", "shopify", "notifications"} {
		if strings.Contains(s, gone) {
			t.Errorf("%s shown with filter ara:\n%s", gone, s)
		}
	}
	if !strings.Contains(s, "aramex") || !strings.Contains(s, "1 of 6 match") {
		t.Errorf("filter hid the match or its count:\n%s", s)
	}
	h.key("enter") // keep the filter, back to the panels
	if h.m.filtering || h.m.filter.Value() != "ara" {
		t.Fatalf("enter: filtering %v, value %q", h.m.filtering, h.m.filter.Value())
	}
	h.key("r") // keys act again
	if h.m.dialog == nil {
		t.Fatal("keys do not act after the filter is closed")
	}
	h.key("esc", "esc") // cancel the dialog, then clear the filter
	if h.m.filter.Value() != "" || !strings.Contains(h.plain(), "smsa") {
		t.Fatalf("esc did not clear the filter:\n%s", h.plain())
	}
	h.key("/")
	h.typeText("zzz")
	if !strings.Contains(h.plain(), "no name matches the filter") {
		t.Errorf("no empty-filter line:\n%s", h.plain())
	}
	h.key("esc")
	if h.m.filtering || h.m.filter.Value() != "" {
		t.Error("esc in the filter did not clear it")
	}
}

// Open breakers and down services come first: with many, the ones that
// need on-call are on screen, whatever their names; the rest keep their
// name order, and the order follows each refresh.
func TestWorstFirst(t *testing.T) {
	f := newFake()
	h := newHarness(t, f, Options{}, 120, 40)
	var got []string
	for _, i := range h.m.vis[breakersPanel] {
		got = append(got, string(f.snap.Breakers[i].State)+":"+f.snap.Breakers[i].Name)
	}
	want := []string{"open:aramex", "half_open:smsa", "forced_open:shopify", "closed:moyasar", "closed:tap", "disabled:zid"}
	if !slices.Equal(got, want) {
		t.Fatalf("breakers shown as %v, want %v", got, want)
	}
	got = nil
	for _, i := range h.m.vis[healthPanel] {
		got = append(got, f.snap.Services[i].Status+":"+f.snap.Services[i].Service)
	}
	if len(got) == 0 || !strings.HasPrefix(got[0], "unhealthy:") || !strings.HasPrefix(got[len(got)-1], "healthy:") {
		t.Fatalf("services shown as %v, want the down one first and the up one last", got)
	}
	// a breaker that opens moves up at the next refresh, the cursor stays on its item
	h.key("j", "j", "j") // moyasar
	snap := *f.snap
	snap.Breakers = slices.Clone(f.snap.Breakers)
	for i := range snap.Breakers {
		if snap.Breakers[i].Name == "tap" {
			snap.Breakers[i].State = breaker.Open
		}
	}
	f.snap = &snap
	h.send(takeScheduled[refreshMsg](h)[0].msg)
	if first := snap.Breakers[h.m.vis[breakersPanel][1]].Name; first != "tap" {
		t.Errorf("tap, now open, shown at %q's place", first)
	}
	if got := h.m.selectedName(breakersPanel); got != "moyasar" {
		t.Errorf("cursor moved to %q", got)
	}
}

func TestFilterKeepsCursorOnItsItem(t *testing.T) {
	f := newFake()
	h := newHarness(t, f, Options{}, 80, 24)
	h.key("j", "j") // aramex, smsa, shopify: shopify
	h.key("/")
	h.typeText("s")
	if got := h.m.selectedName(breakersPanel); got != "shopify" {
		t.Fatalf("cursor moved to %q", got)
	}
}

func TestHelpToggles(t *testing.T) {
	f := newFake()
	h := newHarness(t, f, Options{}, 80, 24)
	h.key("?")
	if !strings.Contains(h.plain(), "stop all chaos") || !strings.Contains(h.plain(), "HELP") {
		t.Fatalf("help not shown:\n%s", h.plain())
	}
	h.key("r") // no action from the help screen
	if h.m.dialog != nil {
		t.Fatal("action from help")
	}
	h.key("esc")
	if h.m.showHelp {
		t.Fatal("esc did not close help")
	}
}

func TestQuit(t *testing.T) {
	for _, k := range []string{"q", "ctrl+c"} {
		h := newHarness(t, newFake(), Options{}, 80, 24)
		h.key(k)
		if !h.quit || h.m.ctx.Err() == nil {
			t.Errorf("%s: quit %v, context ended %v", k, h.quit, h.m.ctx.Err() != nil)
		}
	}
}

func TestDrillDownPagingPassesCursor(t *testing.T) {
	f := newFake()
	h := newHarness(t, f, Options{}, 80, 24)
	h.key("tab", "j", "enter") // orders
	if h.m.detail == nil || h.m.detail.name != "orders" {
		t.Fatal("no queue drill-down")
	}
	h.key("4") // dead: 7 operations, pages of 3 in the fake
	h.key("n")
	h.key("n")
	h.key("n") // the last page has no next: nothing is read
	h.key("b")
	h.key("pgup")
	h.key("b") // on the first page: nothing is read
	var got []opsCall
	for _, c := range f.opsCalls {
		got = append(got, opsCall{c.Queue, c.State, c.Cursor, 0})
	}
	want := []opsCall{
		{"orders", "ready", "", 0},
		{"orders", "dead", "", 0},
		{"orders", "dead", "c3", 0},
		{"orders", "dead", "c6", 0},
		{"orders", "dead", "c3", 0},
		{"orders", "dead", "", 0},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("QueueOps calls\n got %+v\nwant %+v", got, want)
	}
	for _, c := range f.opsCalls {
		if c.N < 5 {
			t.Errorf("page size %d: want a screenful", c.N)
		}
	}
	h.key("n", "n") // page 3
	if s := h.plain(); !strings.Contains(s, "op-06") || !strings.Contains(s, "page 3") || strings.Contains(s, "op-00") {
		t.Errorf("page 3 not shown:\n%s", s)
	}
	h.key("tab") // next state from dead wraps to ready, first page
	if last := f.opsCalls[len(f.opsCalls)-1]; last.State != "ready" || last.Cursor != "" {
		t.Errorf("tab after dead read %+v, want ready from the start", last)
	}
	h.key("esc")
	if h.m.detail != nil {
		t.Fatal("esc did not leave the drill-down")
	}
	if !strings.Contains(h.plain(), "▶ QUEUES") {
		t.Errorf("esc did not come back to the queues panel:\n%s", h.plain())
	}
}

func TestDrillDownShowsDetail(t *testing.T) {
	cases := []struct {
		reach []string
		want  []string
	}{
		{[]string{"enter"}, []string{"BREAKER aramex", "failure_threshold 3", "closed → open", "3 consecutive failures", "gateway@gw-1"}},
		{[]string{"tab", "tab", "enter"}, []string{"SERVICE aramex", "DOWN", "RECENT CHECKS (5", "fired", "watch-1"}},
		{[]string{"tab", "tab", "tab", "enter"}, []string{"EXPERIMENT exp-7f3a", "latency", "delay 300ms", "AUDIT TRAIL (1)", "started", "game day"}},
	}
	for _, c := range cases {
		h := newHarness(t, newFake(), Options{}, 80, 24)
		h.key(c.reach...)
		s := h.plain()
		for _, w := range c.want {
			if !strings.Contains(s, w) {
				t.Errorf("after %v: %q missing:\n%s", c.reach, w, s)
			}
		}
	}
}

func TestDrillDownFollowsRefreshesAndActions(t *testing.T) {
	f := newFake()
	h := newHarness(t, f, Options{}, 80, 24)
	h.key("enter")
	if !reflect.DeepEqual(f.breakerCalls, []string{"aramex"}) {
		t.Fatalf("BreakerDetail calls %v", f.breakerCalls)
	}
	h.send(refreshMsg{seq: h.m.tickSeq})
	if len(f.breakerCalls) != 2 {
		t.Fatalf("a refresh did not reload the drill-down: %v", f.breakerCalls)
	}
	h.key("r")
	h.typeText("probe by hand")
	h.key("enter")
	if len(f.breakerCalls) != 3 || len(f.actions()) != 1 {
		t.Fatalf("after the action: detail reads %v, actions %+v", f.breakerCalls, f.actions())
	}
	h.key("esc")
	h.send(refreshMsg{seq: h.m.tickSeq})
	if len(f.breakerCalls) != 3 {
		t.Fatalf("a closed drill-down was reloaded: %v", f.breakerCalls)
	}
}

func TestRefreshReloadDoesNotHoldUpPaging(t *testing.T) {
	f := newFake()
	h := newHarness(t, f, Options{}, 80, 24)
	h.key("tab", "j", "enter", "4")
	h.m.Update(snapshotMsg{snap: fixture(), at: t0}) // its quiet reload not answered yet
	if strings.Contains(h.plain(), "loading") {
		t.Fatalf("a refresh's reload shows loading:\n%s", h.plain())
	}
	h.key("n")
	if last := f.opsCalls[len(f.opsCalls)-1]; last.State != "dead" || last.Cursor != "c3" {
		t.Fatalf("n during a refresh's reload read %+v, want the next dead page", last)
	}
}

// A queue that has finished nothing has no success rate: "-", as `queue
// status` shows, not 0.0% (which reads as every replay failing).
func TestQueueRateDashWhenNothingFinished(t *testing.T) {
	f := newFake()
	f.snap.Queues = []queue.Stats{
		{Queue: "idle", PendingTotal: 4},
		{Queue: "failing", Failed: 3, Dead: 3},
		{Queue: "mixed", Completed: 9, Failed: 1, RetrySuccessRate: 0.9},
	}
	h := newHarness(t, f, Options{}, 120, 40)
	rows := map[string]string{}
	for _, l := range strings.Split(h.plain(), "\n") {
		if fs := strings.Fields(l); len(fs) > 8 && (fs[0] == "idle" || fs[0] == "failing" || fs[0] == "mixed") {
			rows[fs[0]] = fs[8] // NAME STATE READY c/h/n/l DELAYED INFLIGHT DEAD DONE/S OK% …
		}
	}
	want := map[string]string{"idle": "-", "failing": "0.0%", "mixed": "90.0%"}
	for q, w := range want {
		if rows[q] != w {
			t.Errorf("queue %s: OK %% %q, want %q (rows %v)\n%s", q, rows[q], w, rows, h.plain())
		}
	}
}

// The gateway's window is what a gateway measured (rarely whole seconds):
// the panel shows it as an age, like every other duration on screen.
func TestRouteWindowShownAsAge(t *testing.T) {
	f := newFake()
	f.snap.Routes[0].Window = time.Minute + 1167*time.Millisecond + 110*time.Microsecond
	h := newHarness(t, f, Options{}, 120, 40)
	var row string
	for _, l := range strings.Split(h.plain(), "\n") {
		if strings.Contains(l, "/shipping/") {
			row = l
		}
	}
	if fs := strings.Fields(row); len(fs) == 0 || fs[len(fs)-1] != "1m01s" {
		t.Fatalf("route row %q, want its window as 1m01s", row)
	}
}

// One of a kind is counted in the singular in the panels' titles.
func TestTitlesCountOneInTheSingular(t *testing.T) {
	f := newFake()
	f.snap.Breakers = f.snap.Breakers[:1]
	f.snap.Queues = f.snap.Queues[:1]
	f.snap.Services = f.snap.Services[:1]
	f.snap.Routes = f.snap.Routes[:1]
	h := newHarness(t, f, Options{}, 120, 40)
	s := h.plain()
	for _, want := range []string{" · 1 breaker\n", " · 1 queue\n", " · 1 service\n", "GATEWAY  1 route\n"} {
		if !strings.Contains(s, want) {
			t.Errorf("no %q in:\n%s", want, s)
		}
	}
}

// The grids' memo never shows what is gone: a frame after a refresh that
// changed a breaker, or after a cursor move, is drawn from the new inputs,
// and a frame over the same inputs is the same frame, served from the
// memo.
func TestGridMemoFollowsItsInputs(t *testing.T) {
	f := newFake()
	h := newHarness(t, f, Options{}, 120, 40)
	first := h.plain()
	if !strings.Contains(first, "shopify") {
		t.Fatalf("no shopify breaker on screen:\n%s", first)
	}
	memo := h.m.grids[breakersPanel]
	if memo.out == "" {
		t.Fatal("the breakers' grid was not memoised")
	}
	if again := h.plain(); again != first {
		t.Fatalf("the same inputs drew another frame:\n%s\nthen\n%s", first, again)
	}
	h.key("j")
	moved := h.plain()
	if moved == first || h.m.grids[breakersPanel].key == memo.key {
		t.Fatalf("a cursor move did not redraw the breakers' grid:\n%s", moved)
	}
	snap := fixture()
	for i := range snap.Breakers {
		snap.Breakers[i].Failures = 99
	}
	h.m.Update(snapshotMsg{snap: snap, at: t0})
	if after := h.plain(); !strings.Contains(after, "99/") {
		t.Fatalf("a refresh's new failure counts are not on screen:\n%s", after)
	}
}
