package commands

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"regexp"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"
	"github.com/haderos/haderctl/internal/cmdutil"
	"github.com/haderos/haderctl/internal/engine/health"
	"github.com/haderos/haderctl/internal/engine/snapshot"
	"github.com/haderos/haderctl/internal/iostreams"
	"github.com/haderos/haderctl/internal/testredis"
	"github.com/haderos/haderctl/internal/tui"
	"github.com/haderos/haderctl/internal/tui/live"
)

// The live views on a terminal: the program is run for real over test
// streams whose stdout is said to be a terminal, keys typed into a pipe,
// at a fixed size; what a frame shows is checked on the model's screen.

// enterAltScreen and leaveAltScreen are what the program writes when it
// takes the screen and gives it back.
const enterAltScreen, leaveAltScreen = "\x1b[?1049h", "\x1b[?1049l"

// liveTerminal are streams for a live view: stdout (and stdin) a
// terminal, keys written to the returned pipe.
func liveTerminal(t *testing.T) (s *iostreams.IOStreams, keys *io.PipeWriter, out, errOut *lockedBuffer) {
	t.Helper()
	s, out, errOut = liveStreams()
	r, w := io.Pipe()
	t.Cleanup(func() { _ = w.Close() })
	s.In = r
	s.SetStdinTTY(true)
	s.SetStdoutTTY(true)
	return s, w, out, errOut
}

// runBackground runs fn until it returns; wait gives its error (the test
// fails if it takes longer than 30s).
func runBackground(t *testing.T, fn func() error) (wait func() error) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- fn() }()
	return func() error {
		select {
		case err := <-done:
			return err
		case <-time.After(30 * time.Second):
			t.Fatal("the live view did not end within 30s")
			return nil
		}
	}
}

// screen is frame drawn by a live model at w×h with no colour, as a
// person at that terminal reads it.
func screen(t *testing.T, fr live.Frame, w, h int) string {
	t.Helper()
	c := tui.NewCommon(colorprofile.NoTTY)
	c.Width, c.Height = w, h
	var b bytes.Buffer
	if _, err := tui.Writer(&b, colorprofile.NoTTY).Write([]byte(live.New(context.Background(), c, fr, live.Options{Title: "t", Interval: time.Second}).Render())); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

var testSize = tea.WithWindowSize(160, 30)

func TestHealthWatchOnATerminalShowsTheLiveTableAndQuitsOnQ(t *testing.T) {
	ns := testredis.Namespace(t)
	healthy := healthService(t, ns)
	s, keys, out, errOut := liveTerminal(t)
	opts := &HealthWatchOptions{F: newTestFactory(t, ns, s), Rescan: 5 * time.Second, Redraw: 50 * time.Millisecond,
		Program: []tea.ProgramOption{testSize}}
	wait := runBackground(t, func() error { return healthWatchRun(context.Background(), opts) })

	testredis.Eventually(t, 20*time.Second, "the live table shows shop healthy", func() bool {
		return strings.Contains(out.String(), "shop") && strings.Contains(out.String(), "healthy")
	})
	healthy.Store(false)
	testredis.Eventually(t, 20*time.Second, "the table is redrawn with shop unhealthy", func() bool {
		return strings.Contains(out.String(), "unhealthy")
	})
	if _, err := keys.Write([]byte("q")); err != nil {
		t.Fatal(err)
	}
	if err := wait(); err != nil {
		t.Fatalf("q ended health watch with %v, want nil", err)
	}
	drawn := out.String()
	if !strings.Contains(drawn, enterAltScreen) || !strings.Contains(drawn, leaveAltScreen) || strings.Contains(drawn, `{"`) {
		t.Fatalf("want the program on the alternate screen and off it at the end, no NDJSON: %q", drawn)
	}
	if errOut.String() != "" {
		t.Fatalf("stderr %q, want nothing", errOut)
	}
}

func TestHealthWatchOnATerminalEndsCleanlyWhenInterrupted(t *testing.T) {
	ns := testredis.Namespace(t)
	healthService(t, ns)
	s, _, out, _ := liveTerminal(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	opts := &HealthWatchOptions{F: newTestFactory(t, ns, s), Rescan: 5 * time.Second, Redraw: 50 * time.Millisecond,
		Program: []tea.ProgramOption{testSize}}
	wait := runBackground(t, func() error { return healthWatchRun(ctx, opts) })
	testredis.Eventually(t, 20*time.Second, "the live table", func() bool { return strings.Contains(out.String(), "shop") })
	cancel() // SIGINT/SIGTERM end the command's context
	if err := wait(); err != nil {
		t.Fatalf("interrupted health watch ended with %v, want nil (exit 0)", err)
	}
	drawn := out.String()
	if got := out.String(); got != drawn {
		t.Fatalf("drawn after the command returned: %q", strings.TrimPrefix(got, drawn))
	}
}

// The frame of the stored state: one row per service, the status word in
// its column, what the probes (NDJSON off a terminal) recorded.
func TestHealthWatchFrameShowsTheStoredStatePerService(t *testing.T) {
	ns := testredis.Namespace(t)
	healthy := healthService(t, ns)
	healthy.Store(false)
	s, out, _ := liveStreams()
	stop := startWatch(t, &HealthWatchOptions{F: newTestFactory(t, ns, s), Rescan: 5 * time.Second, Redraw: time.Second})
	testredis.Eventually(t, 20*time.Second, "a failed probe of shop", func() bool { return strings.Contains(out.String(), `"status":"unhealthy"`) })
	if err := stop(); err != nil {
		t.Fatal(err)
	}

	f := newTestFactory(t, ns, s)
	hc, err := f.Health()
	if err != nil {
		t.Fatal(err)
	}
	checks := func(ctx context.Context) ([]health.Check, error) { return healthChecks(ctx, f, hc, nil) }
	fr, err := healthFrame(context.Background(), f, hc, checks)
	if err != nil {
		t.Fatal(err)
	}
	if len(fr.Rows) != 1 || fr.Rows[0][0].Text != "shop" || fr.Rows[0][1] != (live.Cell{Text: "unhealthy", State: "unhealthy"}) {
		t.Fatalf("rows %+v, want shop unhealthy with its state", fr.Rows)
	}
	got := screen(t, fr, 120, 30)
	if cell(got, "SERVICE", 1) != "STATUS" || cell(got, "shop", 1) != "unhealthy" || cell(got, "shop", 3) != "0.00%" || cell(got, "shop", 4) != "1" {
		t.Fatalf("screen:\n%s\nwant shop unhealthy, uptime 0.00%%, 1 failure", got)
	}
}

func TestQueueStatusWatchOnATerminalShowsTheLiveTableAndQuitsOnQ(t *testing.T) {
	ns := testredis.Namespace(t)
	s, keys, out, errOut := liveTerminal(t)
	opts := &QueueStatusOptions{F: testFactory(t, ns, s, cmdutil.OutputTable), Watch: true, Interval: 100 * time.Millisecond,
		Program: []tea.ProgramOption{testSize}}
	wait := runBackground(t, func() error { return queueStatusRun(context.Background(), opts) })

	testredis.Eventually(t, 20*time.Second, "the empty first frame", func() bool {
		return strings.Contains(out.String(), "no queues yet")
	})
	if got := errOut.String(); got != "no queues yet: nothing was ever pushed (haderctl queue push)\n" {
		t.Fatalf("stderr %q, want the message once", got)
	}
	if code, _, stderr := run(t, ns, "queue", "push", "orders", "--operation", "x", "--service", "s", "--id", "w-1"); code != 0 {
		t.Fatalf("push: exit %d: %s", code, stderr)
	}
	testredis.Eventually(t, 20*time.Second, "a redraw with orders", func() bool {
		return strings.Contains(out.String(), "orders") && strings.Contains(out.String(), "QUEUE")
	})
	if _, err := keys.Write([]byte("q")); err != nil {
		t.Fatal(err)
	}
	if err := wait(); err != nil {
		t.Fatalf("q ended queue status --watch with %v, want nil", err)
	}
	if drawn := out.String(); !strings.Contains(drawn, enterAltScreen) || !strings.Contains(drawn, leaveAltScreen) || strings.Contains(drawn, "{") {
		t.Fatalf("want the program on the alternate screen and off it at the end, no JSON: %q", drawn)
	}
	if strings.Count(errOut.String(), "no queues yet") != 1 {
		t.Fatalf("stderr %q: the message belongs to the first frame only", errOut)
	}
}

func TestQueueStatusWatchOnATerminalEndsCleanlyWhenInterrupted(t *testing.T) {
	ns := testredis.Namespace(t)
	s, _, out, _ := liveTerminal(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	opts := &QueueStatusOptions{F: testFactory(t, ns, s, cmdutil.OutputTable), Watch: true, Interval: 100 * time.Millisecond,
		Program: []tea.ProgramOption{testSize}}
	wait := runBackground(t, func() error { return queueStatusRun(ctx, opts) })
	testredis.Eventually(t, 20*time.Second, "the first frame", func() bool { return strings.Contains(out.String(), "no queues yet") })
	cancel()
	if err := wait(); err != nil {
		t.Fatalf("interrupted queue status --watch ended with %v, want nil (exit 0)", err)
	}
}

// An unknown queue is refused before the screen is taken: exit 2, the
// usual message, nothing drawn.
func TestQueueStatusWatchOnATerminalRefusesAnUnknownQueueFirst(t *testing.T) {
	ns := testredis.Namespace(t)
	if code, _, stderr := run(t, ns, "queue", "push", "orders", "--operation", "x", "--service", "s"); code != 0 {
		t.Fatalf("push: exit %d: %s", code, stderr)
	}
	s, _, out, errOut := liveTerminal(t)
	if code := runWith(t, ns, s, "queue", "status", "nope", "--watch"); code != 2 {
		t.Fatalf("exit %d, want 2: %s", code, errOut)
	}
	if out.String() != "" || !strings.Contains(errOut.String(), "nope") {
		t.Fatalf("stdout %q (want nothing), stderr %q (want the unknown name)", out, errOut)
	}
}

// The frame of a snapshot: each queue's row with its figures, a paused
// queue marked and styled paused, dead operations styled dead, the
// overall row when there are several.
func TestQueueStatusFrameShowsEachQueueWithItsStates(t *testing.T) {
	ns := testredis.Namespace(t)
	for _, args := range [][]string{
		{"queue", "push", "orders", "--operation", "x", "--service", "s", "--id", "o-1"},
		{"queue", "push", "orders", "--operation", "x", "--service", "s", "--id", "o-2", "--priority", "high"},
		{"queue", "push", "shipping", "--operation", "x", "--service", "s", "--id", "d-1", "--max-attempts", "1"},
	} {
		if code, _, stderr := run(t, ns, args...); code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, stderr)
		}
	}
	if code, _, stderr := run(t, ns, "queue", "drain", "shipping", "--exec", "false"); code != 1 {
		t.Fatalf("drain: exit %d, want 1 (one dead): %s", code, stderr)
	}
	if code, _, stderr := run(t, ns, "queue", "pause", "orders"); code != 0 {
		t.Fatalf("pause: exit %d: %s", code, stderr)
	}
	s, _, _, _ := iostreams.Test()
	f := testFactory(t, ns, s, cmdutil.OutputTable)
	reader, err := statusReader(f)
	if err != nil {
		t.Fatal(err)
	}
	snap, err := reader.Snapshot(context.Background(), snapshot.Filter{Parts: snapshot.Queues})
	if err != nil {
		t.Fatal(err)
	}
	st := snapshot.QueueTotals(snap)
	fr := queueStatusFrame(&st, time.Now())
	if len(fr.Rows) != 3 {
		t.Fatalf("%d rows, want orders, shipping and (overall): %+v", len(fr.Rows), fr.Rows)
	}
	if fr.Rows[0][0] != (live.Cell{Text: "orders (paused)", State: "paused"}) || fr.Rows[1][6] != (live.Cell{Text: "1", State: "dead"}) {
		t.Fatalf("orders %+v, shipping %+v: want orders paused, shipping's FAILED dead", fr.Rows[0], fr.Rows[1])
	}
	got := screen(t, fr, 160, 30)
	if cell(got, "orders", 2) != "2" || cell(got, "orders", 3) != "0/1/1/0" || cell(got, "shipping", 5) != "0" ||
		cell(got, "shipping", 6) != "1" || cell(got, "(overall)", 1) != "2" {
		t.Fatalf("screen:\n%s\nwant orders (paused) 2 pending 0/1/1/0, shipping 1 failed, overall 2 pending", got)
	}
}

func TestStderrHoldShowsLinesInTheViewAndWritesThemAfter(t *testing.T) {
	s, _, _, errOut := iostreams.Test()
	f := &cmdutil.Factory{IO: s, Logger: slog.New(slog.NewTextHandler(s.ErrOut, &slog.HandlerOptions{Level: slog.LevelWarn}))}
	if holdStderr(f) != nil {
		t.Fatal("stderr held when it is not a terminal")
	}
	s.SetStdoutTTY(true)
	s.SetStderrTTY(true)
	h := holdStderr(f)
	if h == nil {
		t.Fatal("no hold with stdout and stderr on a terminal")
	}
	if _, err := f.IO.ErrOut.Write([]byte("before\n")); err != nil {
		t.Fatal(err)
	}
	var shown []string
	h.start(func(m tea.Msg) { shown = append(shown, m.(live.NoticeMsg).Text) })
	if _, err := f.IO.ErrOut.Write([]byte("alert: shop down\n\nsecond\n")); err != nil {
		t.Fatal(err)
	}
	f.Logger.Info("not at this level")
	f.Logger.Warn("health slot unavailable")
	if errOut.String() != "before\n" {
		t.Fatalf("stderr %q while held, want only what came before", errOut)
	}
	if len(shown) != 3 || shown[0] != "alert: shop down" || shown[1] != "second" || !strings.Contains(shown[2], "health slot unavailable") {
		t.Fatalf("shown %q, want each line in turn, the logger's warning too", shown)
	}
	h.stop()
	if got := errOut.String(); !strings.HasPrefix(got, "before\nalert: shop down\n\nsecond\n") || !strings.Contains(got, "health slot unavailable") ||
		strings.Contains(got, "not at this level") {
		t.Fatalf("stderr after the view %q, want everything held, in order, at the logger's level", got)
	}
	if _, err := f.IO.ErrOut.Write([]byte("after\n")); err != nil || !strings.HasSuffix(errOut.String(), "after\n") {
		t.Fatalf("after the view a write must go straight through (%v): %q", err, errOut)
	}
}

// fgColour is an SGR sequence that sets a foreground colour.
var fgColour = regexp.MustCompile(`\x1b\[(?:[0-9]+;)*(?:3[0-7]|9[0-7]|38;[0-9;]+)(?:;[0-9]+)*m`)

// A paused queue is drawn in colour on a colour terminal, and in words
// alone with NO_COLOR (any non-empty value) or --no-color.
func TestLiveViewColourFollowsNoColorAndTheFlag(t *testing.T) {
	ns := testredis.Namespace(t)
	for _, args := range [][]string{{"queue", "push", "orders", "--operation", "x", "--service", "s"}, {"queue", "pause", "orders"}} {
		if code, _, stderr := run(t, ns, args...); code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, stderr)
		}
	}
	for _, c := range []struct {
		name    string
		env     map[string]string
		noColor bool
		colour  bool
	}{
		{"a colour terminal", map[string]string{"TERM": "xterm-256color"}, false, true},
		{"NO_COLOR empty", map[string]string{"TERM": "xterm-256color", "NO_COLOR": ""}, false, true},
		{"NO_COLOR=0", map[string]string{"TERM": "xterm-256color", "NO_COLOR": "0"}, false, false},
		{"--no-color", map[string]string{"TERM": "xterm-256color"}, true, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			s, keys, out, _ := liveTerminal(t)
			s.SetNoColor(c.noColor)
			_, g := newRoot(s, testSources(t, ns, c.env))
			opts := &QueueStatusOptions{F: g.factory, Watch: true, Interval: time.Second, Program: []tea.ProgramOption{testSize}}
			wait := runBackground(t, func() error { return queueStatusRun(context.Background(), opts) })
			testredis.Eventually(t, 20*time.Second, "the paused queue drawn", func() bool { return strings.Contains(out.String(), "(paused)") })
			if _, err := keys.Write([]byte("q")); err != nil {
				t.Fatal(err)
			}
			if err := wait(); err != nil {
				t.Fatal(err)
			}
			if got := fgColour.MatchString(out.String()); got != c.colour {
				t.Fatalf("colour drawn %v, want %v: %q", got, c.colour, out)
			}
		})
	}
}

func TestLiveViewMasksSecretsInCellsAndErrors(t *testing.T) {
	secrets := []string{"hunter2", "tok-123456"}
	calls := 0
	fetch := scrubFetch(func(context.Context) (live.Frame, error) {
		calls++
		if calls == 2 {
			return live.Frame{}, errors.New("redis://:hunter2@10.0.0.1:6379 unreachable")
		}
		return live.Frame{Rows: [][]live.Cell{{{Text: "shop"}, {Text: `Get "https://shop.example/health?token=tok-123456": EOF`}}}}, nil
	}, secrets)
	fr, err := fetch(context.Background())
	if err != nil || strings.Contains(fr.Rows[0][1].Text, "tok-123456") || !strings.Contains(fr.Rows[0][1].Text, "shop.example") {
		t.Fatalf("cell %q (%v): want the token masked, the rest kept", fr.Rows[0][1].Text, err)
	}
	if _, err := fetch(context.Background()); err == nil || strings.Contains(err.Error(), "hunter2") || !strings.Contains(err.Error(), "unreachable") {
		t.Fatalf("error %v: want the password masked, the rest kept", err)
	}
}
