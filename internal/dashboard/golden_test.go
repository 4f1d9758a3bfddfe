package dashboard

import (
	"bytes"
	"context"
	"errors"
	"io"
	"regexp"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"
	"github.com/charmbracelet/x/exp/golden"
	"github.com/charmbracelet/x/exp/teatest/v2"
)

// views are the screens the golden files hold: keys from the start
// screen, and a setup of the fake.
var views = []struct {
	name  string
	setup func(*fakeBackend)
	keys  []string
	text  string // typed after the keys
}{
	{name: "main"},
	{name: "main_queues_focused", keys: []string{"tab", "j"}},
	{name: "breaker_detail", keys: []string{"enter"}},
	{name: "queue_detail_ready", keys: []string{"tab", "j", "enter"}},
	{name: "queue_detail_dead_page2", keys: []string{"tab", "j", "enter", "4", "n", "j"}},
	{name: "service_detail", keys: []string{"tab", "tab", "enter"}},
	{name: "experiment_detail", keys: []string{"tab", "tab", "tab", "enter"}},
	{name: "help", keys: []string{"?"}},
	{name: "filter", keys: []string{"/"}, text: "sh"},
	{name: "confirm_reason", keys: []string{"r"}, text: "flapping since deploy"},
	{name: "confirm_reason_refused", keys: []string{"t", "enter"}},
	{name: "confirm_plain", keys: []string{"tab", "j", "p"}},
	{name: "read_only", keys: []string{"S"}, setup: func(f *fakeBackend) { f.info.ReadOnly = true }},
	{name: "unreachable"},
	{name: "no_routes_quiet_chaos", setup: func(f *fakeBackend) {
		f.snap.Routes = nil
		f.snap.Chaos.Active, f.snap.Chaos.Scheduled = nil, nil
		f.snap.Chaos.Enabled, f.snap.Chaos.Halted, f.snap.Chaos.HaltedBy = false, true, "bob"
	}},
}

// TestGolden renders every view at 80×24 and 120×40 in Ascii (states in
// words, no colour), straight from View after the messages went through
// Update: no timing involved. go test -update rewrites testdata/.
func TestGolden(t *testing.T) {
	for _, v := range views {
		for _, size := range [][2]int{{80, 24}, {120, 40}} {
			t.Run(v.name+"_"+sizeName(size), func(t *testing.T) {
				f := newFake()
				if v.setup != nil {
					v.setup(f)
				}
				clk := &testClock{now: t0}
				h := newHarness(t, f, Options{Now: clk.Now}, size[0], size[1])
				if v.name == "unreachable" { // a good read, then a failing one 12 s later
					f.snapErr = errors.New("dial tcp 10.0.0.5:6379: connect: connection refused")
					clk.now = t0.Add(12 * time.Second)
					h.send(refreshMsg{seq: h.m.tickSeq})
				}
				h.key(v.keys...)
				h.typeText(v.text)
				out := h.screen()
				if n := strings.Count(out, "\n") + 1; n != size[1] {
					t.Errorf("%d lines, want %d", n, size[1])
				}
				for i, l := range strings.Split(h.plain(), "\n") {
					if w := len([]rune(l)); w > size[0] {
						t.Errorf("line %d is %d wide: %q", i, w, l)
					}
				}
				if colourSGR(out) {
					t.Error("colour escapes in an Ascii frame")
				}
				golden.RequireEqual(t, out)
			})
		}
	}
}

func sizeName(s [2]int) string {
	return strings.Join([]string{itoa(s[0]), itoa(s[1])}, "x")
}

func itoa(i int) string { return n64(int64(i)) }

func TestGoldenTooSmall(t *testing.T) {
	h := newHarness(t, newFake(), Options{}, 60, 20)
	out := h.screen()
	if out != "terminal too small: need at least 80×24" {
		t.Fatalf("60×20 shows %q", out)
	}
	golden.RequireEqual(t, out)
	h.send(tea.WindowSizeMsg{Width: 80, Height: 23})
	if h.screen() != out {
		t.Fatalf("80×23 is below the floor: %q", h.screen())
	}
}

// TestGoldenANSI proves colour is emitted when the profile has it.
func TestGoldenANSI(t *testing.T) {
	h := newHarness(t, newFake(), Options{Profile: colorprofile.ANSI}, 80, 24)
	out := renderAs(h.m, colorprofile.ANSI)
	if !colourSGR(out) {
		t.Fatal("no colour in the ANSI frame")
	}
	golden.RequireEqual(t, out)
}

var sgr = regexp.MustCompile("\x1b\\[([0-9;:]*)m")

// colourSGR is whether s sets a foreground or background colour.
func colourSGR(s string) bool {
	for _, m := range sgr.FindAllStringSubmatch(s, -1) {
		for _, p := range strings.FieldsFunc(m[1], func(r rune) bool { return r == ';' || r == ':' }) {
			switch n := atoi(p); {
			case n >= 30 && n <= 38, n >= 40 && n <= 48, n >= 90 && n <= 97, n >= 100 && n <= 107:
				return true
			}
		}
	}
	return false
}

func atoi(s string) int {
	n := 0
	for _, r := range s {
		n = n*10 + int(r-'0')
	}
	return n
}

// program runs the model in a real tea.Program over teatest.
func program(t *testing.T, f *fakeBackend, o Options, p colorprofile.Profile) (*teatest.TestModel, *Model) {
	t.Helper()
	o.Now = func() time.Time { return t0 }
	o.Profile = p
	m := New(f, o)
	t.Cleanup(m.cancel)
	tm := teatest.NewTestModel(t, m, teatest.WithInitialTermSize(80, 24),
		teatest.WithProgramOptions(tea.WithColorProfile(p)))
	return tm, m
}

func waitOut(t *testing.T, tm *teatest.TestModel, s string) {
	t.Helper()
	teatest.WaitFor(t, tm.Output(), func(b []byte) bool { return bytes.Contains(b, []byte(s)) },
		teatest.WithDuration(15*time.Second), teatest.WithCheckInterval(20*time.Millisecond))
}

// waitFor polls cond with a deadline (the program runs concurrently).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		<-time.After(10 * time.Millisecond)
	}
}

func TestProgramResetFlow(t *testing.T) {
	f := newFake()
	f.doText = "breaker aramex reset"
	tm, _ := program(t, f, Options{}, colorprofile.Ascii)
	waitOut(t, tm, "aramex")
	tm.Send(keyMsg("r"))
	waitOut(t, tm, "reset breaker aramex")
	tm.Type("flapping")
	tm.Send(keyMsg("enter"))
	waitFor(t, "the Do call", func() bool { return len(f.actions()) == 1 })
	waitOut(t, tm, "breaker aramex reset")
	tm.Send(keyMsg("q"))
	tm.WaitFinished(t, teatest.WithFinalTimeout(15*time.Second))
	if got := f.actions(); len(got) != 1 || got[0] != (Action{Kind: ResetBreaker, Target: "aramex", Reason: "flapping"}) {
		t.Fatalf("Do calls %+v", got)
	}
}

func TestProgramReadOnlyFlow(t *testing.T) {
	f := newFake()
	tm, _ := program(t, f, Options{ReadOnly: true}, colorprofile.Ascii)
	waitOut(t, tm, "READ-ONLY")
	tm.Send(keyMsg("r"))
	waitOut(t, tm, readOnlyNotice)
	tm.Send(keyMsg("y"))
	tm.Send(keyMsg("q"))
	tm.WaitFinished(t, teatest.WithFinalTimeout(15*time.Second))
	if got := f.actions(); len(got) != 0 {
		t.Fatalf("read-only called Do: %+v", got)
	}
}

func TestProgramAsciiHasNoColour(t *testing.T) {
	for _, c := range []struct {
		p      colorprofile.Profile
		colour bool
	}{{colorprofile.Ascii, false}, {colorprofile.ANSI, true}} {
		f := newFake()
		tm, _ := program(t, f, Options{}, c.p)
		var out bytes.Buffer
		teatest.WaitFor(t, io.TeeReader(tm.Output(), &out), func(b []byte) bool { return bytes.Contains(b, []byte("EVENTS")) },
			teatest.WithDuration(15*time.Second), teatest.WithCheckInterval(20*time.Millisecond))
		tm.Send(keyMsg("q"))
		tm.WaitFinished(t, teatest.WithFinalTimeout(15*time.Second))
		if got := colourSGR(out.String()); got != c.colour {
			t.Errorf("profile %v: colour escapes %v, want %v", c.p, got, c.colour)
		}
	}
}

func TestRunEndsWithContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	in, inw := io.Pipe()
	defer inw.Close()
	f := newFake()
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, f, Options{Profile: colorprofile.Ascii}, in, io.Discard)
	}()
	waitFor(t, "the first read", func() bool { f.mu.Lock(); defer f.mu.Unlock(); return f.snapCalls > 0 })
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run after ctx ended: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("Run did not return after ctx ended")
	}
}

func TestRunEndsWithQ(t *testing.T) {
	in, inw := io.Pipe()
	f := newFake()
	done := make(chan error, 1)
	go func() {
		done <- Run(context.Background(), f, Options{Profile: colorprofile.Ascii}, in, io.Discard)
	}()
	waitFor(t, "the first read", func() bool { f.mu.Lock(); defer f.mu.Unlock(); return f.snapCalls > 0 })
	if _, err := inw.Write([]byte("q")); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run after q: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("Run did not return after q")
	}
	inw.Close()
}
