package live

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"
	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/exp/teatest/v2"
	"github.com/haderos/haderctl/internal/tui"
)

var readAt = time.Date(2026, 1, 2, 3, 4, 5, 0, time.Local)

func frameOf(states ...string) Frame {
	f := Frame{Headers: []string{"SERVICE", "STATUS", "LATENCY"}, At: readAt}
	for i, s := range states {
		f.Rows = append(f.Rows, []Cell{{Text: fmt.Sprintf("svc-%d", i)}, {Text: s, State: s}, {Text: "12ms"}})
	}
	return f
}

// frames is a Fetch that returns the given frames in turn, then the last
// one again; reads counts the calls.
type frames struct {
	mu    sync.Mutex
	list  []Frame
	reads int
}

func (f *frames) fetch(context.Context) (Frame, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reads++
	fr := f.list[0]
	if len(f.list) > 1 {
		f.list = f.list[1:]
	}
	return fr, nil
}

func newModel(w, h int, first Frame, fetch Fetch) *Model {
	c := tui.NewCommon(colorprofile.Ascii)
	c.Width, c.Height = w, h
	return New(context.Background(), c, first, Options{Title: "health watch", Interval: time.Second, Fetch: fetch, Now: func() time.Time { return readAt }})
}

// plain is s with every escape removed, as a pipe would get it.
func plain(t *testing.T, s string) string {
	t.Helper()
	var b bytes.Buffer
	if _, err := tui.Writer(&b, colorprofile.NoTTY).Write([]byte(s)); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// The program redraws on every read and q ends it; the last screen is
// pinned by a golden file at 80×24.
func TestLiveTableRedrawsOnEachReadAndQuitsOnQ(t *testing.T) {
	src := &frames{list: []Frame{frameOf("healthy", "healthy"), frameOf("healthy", "unhealthy")}}
	m := newModel(0, 0, frameOf("unknown", "unknown"), src.fetch)
	m.opts.Interval = 10 * time.Millisecond
	tm := teatest.NewTestModel(t, m, teatest.WithInitialTermSize(80, 24),
		teatest.WithProgramOptions(tea.WithColorProfile(colorprofile.Ascii)))
	teatest.WaitFor(t, tm.Output(), func(b []byte) bool { return bytes.Contains(b, []byte("unhealthy")) },
		teatest.WithDuration(20*time.Second), teatest.WithCheckInterval(10*time.Millisecond))
	tm.Type("q")
	final := tm.FinalModel(t, teatest.WithFinalTimeout(20*time.Second)).(*Model)
	if got := final.Frame().Rows[1][1].Text; got != "unhealthy" {
		t.Fatalf("the last frame shows svc-1 %q, want unhealthy (the second read)", got)
	}
	teatest.RequireEqualOutput(t, []byte(plain(t, final.Render())))
}

func TestLiveTableGoldenAt120x40AndBelowTheFloor(t *testing.T) {
	t.Run("120x40", func(t *testing.T) {
		m := newModel(120, 40, frameOf("healthy", "unhealthy", "unknown"), nil)
		teatest.RequireEqualOutput(t, []byte(plain(t, m.Render())))
	})
	t.Run("79x24", func(t *testing.T) {
		m := newModel(79, 24, frameOf("healthy"), nil)
		if got := m.Render(); got != m.TooSmallLine() {
			t.Fatalf("below the floor: %q, want only the too-small line", got)
		}
	})
	t.Run("80x23", func(t *testing.T) {
		m := newModel(80, 23, frameOf("healthy"), nil)
		if got := m.Render(); got != m.TooSmallLine() {
			t.Fatalf("below the floor: %q, want only the too-small line", got)
		}
	})
}

func TestLiveTableStatesAreStyledAndWritten(t *testing.T) {
	m := newModel(80, 24, frameOf("healthy", "unhealthy"), nil)
	m.Profile = colorprofile.ANSI
	var b bytes.Buffer
	if _, err := tui.Writer(&b, colorprofile.ANSI).Write([]byte(m.Render())); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	// red (31) around unhealthy, green (32) around healthy
	if !strings.Contains(out, "31m") || !strings.Contains(out, "unhealthy") || !strings.Contains(out, "32m") {
		t.Fatalf("the state cells are not coloured per state: %q", out)
	}
	if p := plain(t, out); !strings.Contains(p, "svc-0    healthy") || !strings.Contains(p, "svc-1    unhealthy") {
		t.Fatalf("the words are lost without colour: %q", p)
	}
}

func TestLiveTableKeepsTheLastFrameWhenAReadFails(t *testing.T) {
	m := newModel(80, 24, frameOf("healthy"), nil)
	_, cmd := m.Update(ErrMsg{Err: errors.New("Redis unreachable at 127.0.0.1:1\nsecond line"), At: readAt.Add(12 * time.Second)})
	if cmd == nil {
		t.Fatal("a failed read must re-arm the tick")
	}
	screen := plain(t, m.Render())
	if !strings.Contains(screen, "svc-0") || !strings.Contains(screen, "refresh failed: Redis unreachable at 127.0.0.1:1; the table is from 12s ago") {
		t.Fatalf("screen after a failed read:\n%s", screen)
	}
	if strings.Contains(screen, "second line") {
		t.Fatalf("the error line is one line: %q", screen)
	}
	m.Update(FrameMsg{Frame: frameOf("unhealthy")})
	screen = plain(t, m.Render())
	if strings.Contains(screen, "refresh failed") || !strings.Contains(screen, "unhealthy") || m.Err() != nil {
		t.Fatalf("a good read must clear the error and show the new frame:\n%s", screen)
	}
}

func TestLiveTableReadsOnceAtATime(t *testing.T) {
	src := &frames{list: []Frame{frameOf("healthy")}}
	m := newModel(80, 24, frameOf("unknown"), src.fetch)
	_, cmd := m.Update(TickMsg{})
	if cmd == nil {
		t.Fatal("a tick must start a read")
	}
	if _, again := m.Update(TickMsg{}); again != nil {
		t.Fatal("a second tick while a read is in flight started another read")
	}
	msg := cmd()
	if src.reads != 1 {
		t.Fatalf("%d reads, want 1", src.reads)
	}
	if _, next := m.Update(msg); next == nil {
		t.Fatal("a read's frame must re-arm the tick")
	}
	if got := m.Frame().Rows[0][1].Text; got != "healthy" {
		t.Fatalf("frame shows %q after the read, want healthy", got)
	}
}

func TestLiveTableSaysHowManyRowsDoNotFit(t *testing.T) {
	states := make([]string, 30)
	for i := range states {
		states[i] = "healthy"
	}
	m := newModel(80, 24, frameOf(states...), nil)
	screen := plain(t, m.Render())
	if n := strings.Count(screen, "\n") + 1; n > 24 {
		t.Fatalf("%d lines drawn in a 24-line terminal:\n%s", n, screen)
	}
	// 24 lines: 6 for the rest, 17 rows and the line saying 13 more
	if !strings.Contains(screen, "svc-16 ") || strings.Contains(screen, "svc-17 ") || !strings.Contains(screen, "… 13 more") {
		t.Fatalf("want rows svc-0..svc-16 and \"… 13 more\":\n%s", screen)
	}
}

func TestLiveTableShowsEmptyWhenThereAreNoRows(t *testing.T) {
	m := newModel(80, 24, Frame{Headers: []string{"QUEUE"}, Empty: "no queues yet: nothing was ever pushed", At: readAt}, nil)
	if screen := plain(t, m.Render()); !strings.Contains(screen, "no queues yet: nothing was ever pushed") || strings.Contains(screen, "QUEUE") {
		t.Fatalf("empty frame:\n%s", screen)
	}
}

func TestLiveTableQuitKeys(t *testing.T) {
	for _, k := range []tea.KeyPressMsg{{Code: 'q', Text: "q"}, {Code: 'c', Mod: tea.ModCtrl}} {
		m := newModel(80, 24, frameOf("healthy"), nil)
		_, cmd := m.Update(k)
		if cmd == nil {
			t.Fatalf("%s: no command, want tea.Quit", k)
		}
		if _, ok := cmd().(tea.QuitMsg); !ok {
			t.Fatalf("%s: %T, want tea.QuitMsg", k, cmd())
		}
	}
	m := newModel(80, 24, frameOf("healthy"), nil)
	if _, cmd := m.Update(tea.KeyPressMsg{Code: 'x', Text: "x"}); cmd != nil {
		t.Fatal("x must not quit")
	}
}

func TestLiveTableShowsTheNewestNoticeUnlessAReadFailed(t *testing.T) {
	m := newModel(80, 24, frameOf("unhealthy"), nil)
	m.Update(NoticeMsg{Text: "level=INFO msg=\"alert fired\" service=svc-0"})
	m.Update(NoticeMsg{Text: "level=INFO msg=\"alert reminder\" service=svc-0"})
	screen := plain(t, m.Render())
	if !strings.Contains(screen, `msg="alert reminder"`) || strings.Contains(screen, `msg="alert fired"`) {
		t.Fatalf("want the newest notice only:\n%s", screen)
	}
	m.Update(ErrMsg{Err: errors.New("Redis unreachable"), At: readAt})
	if screen := plain(t, m.Render()); !strings.Contains(screen, "refresh failed: Redis unreachable") {
		t.Fatalf("a failed read outranks a notice:\n%s", screen)
	}
}

func TestLiveTableFitsAWideTableIntoTheTerminal(t *testing.T) {
	wide := Frame{At: readAt, Headers: []string{"QUEUE", "PENDING", "CRIT/HIGH/NORM/LOW", "DELAYED", "IN FLIGHT", "COMPLETED", "FAILED", "AVG RETRY", "SUCCESS", "OLDEST", "RATE"},
		Rows: [][]Cell{{{Text: "shipping (paused)", State: "paused"}, {Text: "1"}, {Text: "0/1/0/0"}, {Text: "0"}, {Text: "0"}, {Text: "0"}, {Text: "0"}, {Text: "-"}, {Text: "-"}, {Text: "16s"}, {Text: "0.0/s"}}}}
	long := Frame{At: readAt, Headers: []string{"SERVICE", "STATUS", "LATENCY", "UPTIME 24H", "FAILURES", "ALERT", "LAST ERROR"},
		Rows: [][]Cell{{{Text: "aramex"}, {Text: "unhealthy", State: "unhealthy"}, {Text: "10002ms"}, {Text: "97.20%"}, {Text: "4"}, {Text: "firing", State: "firing"},
			{Text: "Get \"https://aramex.example/health\": context deadline exceeded"}}}}
	for _, c := range []struct {
		name  string
		frame Frame
		keep  []string // must be on screen whole
		want  string   // a line that must be there
	}{
		{"trailing columns are left out and named", wide, []string{"shipping (paused)", "FAILED"}, "+4 columns in a wider terminal: AVG RETRY, SUCCESS, OLDEST, RATE"},
		{"the last column is cut short", long, []string{"aramex", "unhealthy", "firing", "LAST ERROR"}, "Get \"https://aramex.exampl…"},
	} {
		t.Run(c.name, func(t *testing.T) {
			screen := plain(t, newModel(80, 24, c.frame, nil).Render())
			for _, line := range strings.Split(screen, "\n") {
				if w := ansi.StringWidth(line); w > 80 {
					t.Fatalf("a %d-column line in 80 columns: %q\n%s", w, line, screen)
				}
			}
			for _, s := range append(c.keep, c.want) {
				if !strings.Contains(screen, s) {
					t.Fatalf("screen lacks %q:\n%s", s, screen)
				}
			}
		})
	}
}

// Like watch(1) and top, the view takes the alternate screen: the shell's
// screen comes back when it ends.
func TestLiveTableViewIsOnTheAlternateScreen(t *testing.T) {
	m := newModel(80, 24, frameOf("healthy"), nil)
	v := m.View()
	if !v.AltScreen || v.Content != m.Render() {
		t.Fatalf("view: alt screen %v, content matches Render %v", v.AltScreen, v.Content == m.Render())
	}
}
