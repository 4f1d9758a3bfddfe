package commands

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/charmbracelet/colorprofile"
	"github.com/charmbracelet/x/ansi"
	"github.com/haderos/haderctl/internal/cmdutil"
	"github.com/haderos/haderctl/internal/config"
	"github.com/haderos/haderctl/internal/engine/queue"
	"github.com/haderos/haderctl/internal/iostreams"
	"github.com/haderos/haderctl/internal/testredis"
)

// The TTY paths, through the streams' test constructor with the streams
// set to a terminal, and which stream a message goes to.

// newTestFactory is the factory Run gives a command: over s, against the
// test Redis in namespace ns. Tests of a run function build its options
// over it.
func newTestFactory(t *testing.T, ns string, s *iostreams.IOStreams) *cmdutil.Factory {
	t.Helper()
	_, g := newRoot(s, testSources(t, ns, nil))
	return g.factory
}

// testSources are the config sources of the test Redis in namespace ns,
// with env's variables set too.
func testSources(t *testing.T, ns string, env map[string]string) config.Sources {
	t.Helper()
	vars := map[string]string{"REDIS_URL": testredis.URL(t), "HADERCTL_NAMESPACE": ns}
	for k, v := range env {
		vars[k] = v
	}
	return config.Sources{Dir: t.TempDir(), Getenv: func(k string) string { return vars[k] }}
}

// liveStreams are test streams whose output is read while a command
// writes it.
func liveStreams() (s *iostreams.IOStreams, out, errOut *lockedBuffer) {
	s, _, _, _ = iostreams.Test()
	out, errOut = &lockedBuffer{}, &lockedBuffer{}
	s.Out, s.ErrOut = out, errOut
	return s, out, errOut
}

// cell is the field col of the table row whose first field is key, "" if
// there is no such row.
func cell(table, key string, col int) string {
	for _, line := range strings.Split(table, "\n") {
		if f := strings.Fields(line); len(f) > col && f[0] == key {
			return f[col]
		}
	}
	return ""
}

// healthService serves a health endpoint whose answer the test switches,
// registered in ns as "shop" and probed every second.
func healthService(t *testing.T, ns string) (healthy *atomic.Bool) {
	t.Helper()
	healthy = &atomic.Bool{}
	healthy.Store(true)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if !healthy.Load() {
			w.WriteHeader(http.StatusInternalServerError)
		}
	}))
	t.Cleanup(srv.Close)
	if code, _, stderr := run(t, ns, "health", "register", "shop", "--url", srv.URL+"/health", "--interval", "1s", "--timeout", "1s"); code != 0 {
		t.Fatalf("register: exit %d: %s", code, stderr)
	}
	return healthy
}

// startWatch runs healthWatchRun until the returned stop is called; stop
// returns its error.
func startWatch(t *testing.T, opts *HealthWatchOptions) (stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- healthWatchRun(ctx, opts) }()
	stopped := false
	stop = func() error {
		if stopped {
			return nil
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			return err
		case <-time.After(30 * time.Second):
			t.Fatal("health watch did not return within 30s of its context ending")
			return nil
		}
	}
	t.Cleanup(func() { _ = stop() })
	return stop
}

func TestHealthWatchOffATerminalWritesNDJSONAndNoScreenControl(t *testing.T) {
	ns := testredis.Namespace(t)
	healthService(t, ns)
	s, out, _ := liveStreams()
	stop := startWatch(t, &HealthWatchOptions{F: newTestFactory(t, ns, s), Rescan: 5 * time.Second, Redraw: 20 * time.Millisecond})
	testredis.Eventually(t, 20*time.Second, "a result line for shop", func() bool { return strings.Contains(out.String(), `"service":"shop"`) })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		var r map[string]any
		if err := json.Unmarshal([]byte(line), &r); err != nil || r["service"] != "shop" {
			t.Fatalf("line %q is not a result of shop as JSON (%v)", line, err)
		}
	}
	if strings.Contains(out.String(), "\x1b[") {
		t.Fatalf("screen control went to a pipe: %q", out)
	}
}

// With no service yet, watch says so on stderr and waits: stdout stays
// for data.
func TestHealthWatchWithNoServicesSaysSoOnStderr(t *testing.T) {
	ns := testredis.Namespace(t)
	s, out, errOut := liveStreams()
	s.SetStdoutTTY(true)
	stop := startWatch(t, &HealthWatchOptions{F: newTestFactory(t, ns, s), Rescan: 5 * time.Second, Redraw: 20 * time.Millisecond})
	testredis.Eventually(t, 10*time.Second, "the waiting message", func() bool {
		return strings.Contains(errOut.String(), "no services to check yet; waiting for `haderctl health register`")
	})
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out.String(), "no services") {
		t.Fatalf("the message went to stdout: %q", out)
	}
}

// fixedClock reads the times it is given, one per call, then the last.
func fixedClock(times ...time.Time) func() time.Time {
	return func() time.Time {
		t := times[0]
		if len(times) > 1 {
			times = times[1:]
		}
		return t
	}
}

func TestDrainProgressBarShowsDoneRateAndETAOnItsClock(t *testing.T) {
	var out bytes.Buffer
	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	b := newProgressLine(&out, colorprofile.Ascii, 80, 10, fixedClock(start, start.Add(2*time.Second)))
	for _, outcome := range []string{"completed", "completed", "completed", "retry"} {
		b.add(queue.Report{Outcome: outcome})
	}
	b.draw()
	// 80 columns: the bar gets what the widest counts leave, at least 14
	// columns with "  40%"
	want := "\r████░░░░░  40%   4/10  2.0/s  ETA 3s  ok 3  retry 1  deferred 0  dead 0"
	got := out.String()
	if ansi.Strip(got) != want || !strings.HasSuffix(got, ansi.EraseLineRight) {
		t.Fatalf("bar\n%q, want\n%q and the rest of the line erased", got, want)
	}

	// the bar's width holds while the figures grow, and the line never
	// reaches the last column (a wrapped line is not redrawn in place)
	out.Reset()
	b = newProgressLine(&out, colorprofile.Ascii, 120, 5000, fixedClock(start, start.Add(time.Second)))
	var widths []int
	for _, n := range []int{1, 40, 4000} {
		for b.done < n {
			b.add(queue.Report{Outcome: "completed"})
		}
		out.Reset()
		b.draw()
		line := strings.TrimPrefix(ansi.Strip(out.String()), "\r")
		if w := ansi.StringWidth(line); w > 119 {
			t.Fatalf("a %d-column line in 120: %q", w, line)
		}
		bar, _, _ := strings.Cut(line, "%")
		widths = append(widths, ansi.StringWidth(bar))
	}
	if widths[0] != widths[1] || widths[1] != widths[2] || widths[0] < 14 {
		t.Fatalf("bar widths %v: want one width, at least 14, as the counts grow", widths)
	}
}

func TestDrainProgressBarColoursOutcomesOnlyWhenStderrTakesColour(t *testing.T) {
	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, p := range []colorprofile.Profile{colorprofile.ANSI, colorprofile.Ascii} {
		var out bytes.Buffer
		b := newProgressLine(&out, p, 100, 2, fixedClock(start, start.Add(time.Second)))
		b.add(queue.Report{Outcome: "completed"})
		b.add(queue.Report{Outcome: "dead"})
		b.draw()
		coloured := fgColour.MatchString(out.String())
		if coloured != (p == colorprofile.ANSI) || !strings.Contains(ansi.Strip(out.String()), "ok 1  retry 0  deferred 0  dead 1") {
			t.Fatalf("profile %v: coloured %v, line %q", p, coloured, out.String())
		}
	}
}

// barDrawn is whether s (stderr) holds a drawn progress line.
func barDrawn(s string) bool {
	s = ansi.Strip(s)
	return strings.Contains(s, "\r") && strings.Contains(s, "%  ") && strings.ContainsAny(s, "█░")
}

func TestDrainProgressBarWithBothStreamsOnATerminal(t *testing.T) {
	ns := testredis.Namespace(t)
	push := func() {
		t.Helper()
		for i := 0; i < 3; i++ {
			if code, _, stderr := run(t, ns, "queue", "push", "orders", "--operation", "x", "--service", "s"); code != 0 {
				t.Fatalf("push: exit %d: %s", code, stderr)
			}
		}
	}
	// a person at a terminal: the bar on stderr, the summary on stdout
	push()
	s, _, out, errOut := iostreams.Test()
	s.SetStdoutTTY(true)
	s.SetStderrTTY(true)
	if code := runWith(t, ns, s, "queue", "drain", "orders", "--exec", "true"); code != 0 {
		t.Fatalf("drain: exit %d: %s", code, errOut)
	}
	if !barDrawn(errOut.String()) || !strings.Contains(ansi.Strip(errOut.String()), "100%  3/3") || !strings.Contains(ansi.Strip(errOut.String()), "ok 3") {
		t.Fatalf("stderr %q, want the bar at 3/3", errOut)
	}
	if out.String() != "drained orders: 3 completed, 0 rescheduled, 0 deferred (breaker open), 0 dead, 0 released, 0 lost\n" {
		t.Fatalf("stdout %q, want the summary only", out)
	}

	// -o json on that terminal: NDJSON on stdout, no bar drawn over it
	push()
	s, _, out, errOut = iostreams.Test()
	s.SetStdoutTTY(true)
	s.SetStderrTTY(true)
	if code := runWith(t, ns, s, "-o", "json", "queue", "drain", "orders", "--exec", "true"); code != 0 {
		t.Fatalf("drain: exit %d: %s", code, errOut)
	}
	if barDrawn(errOut.String()) {
		t.Fatalf("a bar was drawn over NDJSON on the same terminal: %q", errOut)
	}
	if n := strings.Count(out.String(), `"outcome":"completed"`); n != 3 {
		t.Fatalf("stdout %q, want 3 NDJSON outcomes", out)
	}
}

// pushDead leaves one dead operation, d-1, in orders.
func pushDead(t *testing.T, ns string) {
	t.Helper()
	if code, _, stderr := run(t, ns, "queue", "push", "orders", "--operation", "x", "--service", "s", "--id", "d-1", "--max-attempts", "1"); code != 0 {
		t.Fatalf("push: exit %d: %s", code, stderr)
	}
	if code, _, stderr := run(t, ns, "queue", "drain", "orders", "--exec", "false"); code != 1 {
		t.Fatalf("drain: exit %d, want 1 (one dead): %s", code, stderr)
	}
}

func TestPurgePromptOnlyATerminalYesDeletes(t *testing.T) {
	const question = "Delete every dead operation of orders for good? [y/N] "
	for _, c := range []struct {
		name                 string
		stdinTTY, stdoutTTY  bool
		answer               string
		code                 ExitCode
		asked, deleted       bool
		stdout, stderrSuffix string
	}{
		{"yes", true, true, "yes\n", 0, true, true, "purged 1 dead operations of orders\n", ""},
		{"Y", true, true, "Y\n", 0, true, true, "purged 1 dead operations of orders\n", ""},
		{"no", true, true, "n\n", 2, true, false, "", "haderctl: purge not confirmed: nothing deleted\n"},
		{"enter (the default is no)", true, true, "\n", 2, true, false, "", "haderctl: purge not confirmed: nothing deleted\n"},
		{"end of input", true, true, "", 2, true, false, "", "haderctl: purge not confirmed: nothing deleted\n"},
		{"stdin piped", false, true, "y\n", 2, false, false, "", "haderctl: purge deletes dead operations for good: add --yes to confirm\n"},
		{"stdout piped", true, false, "y\n", 2, false, false, "", "haderctl: purge deletes dead operations for good: add --yes to confirm\n"},
	} {
		t.Run(c.name, func(t *testing.T) {
			ns := testredis.Namespace(t)
			pushDead(t, ns)
			s, in, out, errOut := iostreams.Test()
			in.WriteString(c.answer)
			s.SetStdinTTY(c.stdinTTY)
			s.SetStdoutTTY(c.stdoutTTY)
			if code := runWith(t, ns, s, "queue", "purge", "orders", "--dead"); code != c.code {
				t.Fatalf("exit %d, want %d: %s", code, c.code, errOut)
			}
			if asked := strings.HasPrefix(errOut.String(), question); asked != c.asked {
				t.Fatalf("asked %v, want %v: stderr %q", asked, c.asked, errOut)
			}
			if out.String() != c.stdout || !strings.HasSuffix(errOut.String(), c.stderrSuffix) {
				t.Fatalf("stdout %q (want %q), stderr %q (want it to end %q)", out, c.stdout, errOut, c.stderrSuffix)
			}
			_, list, _ := run(t, ns, "queue", "list", "orders", "--state", "dead", "-o", "json")
			if deleted := !strings.Contains(list, `"d-1"`); deleted != c.deleted {
				t.Fatalf("deleted %v, want %v: dead ops %s", deleted, c.deleted, list)
			}
		})
	}
}

// Messages that are not data go to stderr; stdout keeps only data, so a
// script reading it sees no rows rather than a sentence.
func TestMessagesGoToStderrAndDataToStdout(t *testing.T) {
	ns := testredis.Namespace(t)
	tty := func() (*iostreams.IOStreams, func() (string, string)) {
		s, _, out, errOut := iostreams.Test()
		s.SetStdoutTTY(true)
		return s, func() (string, string) { return out.String(), errOut.String() }
	}

	s, got := tty()
	if code := runWith(t, ns, s, "chaos", "list"); code != 0 {
		t.Fatalf("chaos list: exit %d", code)
	}
	if out, errOut := got(); out != "" || errOut != "no experiments running\n" {
		t.Fatalf("chaos list with none: stdout %q, stderr %q", out, errOut)
	}

	s, got = tty()
	if code := runWith(t, ns, s, "queue", "drain"); code != 0 {
		t.Fatalf("queue drain: exit %d", code)
	}
	if out, errOut := got(); out != "" || errOut != "haderctl: no queues to drain: nothing was ever pushed (haderctl queue push)\n" {
		t.Fatalf("queue drain with no queue: stdout %q, stderr %q", out, errOut)
	}

	if code, _, stderr := run(t, ns, "queue", "push", "orders", "--operation", "x", "--service", "shop", "--id", "o-1"); code != 0 {
		t.Fatalf("push: exit %d: %s", code, stderr)
	}
	s, got = tty()
	if code := runWith(t, ns, s, "queue", "drain", "orders", "--dry-run", "--exec", "true"); code != 0 {
		t.Fatalf("queue drain --dry-run: exit %d", code)
	}
	if out, errOut := got(); cell(out, "orders", 1) != "o-1" || strings.Contains(out, "dry run") ||
		errOut != "dry run: 1 operations would be replayed; nothing was claimed\n" {
		t.Fatalf("queue drain --dry-run: stdout %q, stderr %q", out, errOut)
	}

	s, got = tty()
	if code := runWith(t, ns, s, "chaos", "run", "total_blackout", "--services", "shop", "--dry-run"); code != 0 {
		t.Fatalf("chaos run --dry-run: exit %d", code)
	}
	if out, errOut := got(); !strings.HasPrefix(out, "AT") || !strings.Contains(out, "shop") || strings.Contains(out, "dry run") ||
		!strings.HasPrefix(errOut, "dry run: ") || !strings.HasSuffix(errOut, " experiments; nothing was started\n") {
		t.Fatalf("chaos run --dry-run: stdout %q, stderr %q", out, errOut)
	}
}

func TestChaosAuditIsLinesOnATerminalAndNDJSONOffOne(t *testing.T) {
	ns := testredis.Namespace(t)
	if code, _, stderr := run(t, ns, "chaos", "stop-all", "--reason", "drill"); code != 0 {
		t.Fatalf("stop-all: exit %d: %s", code, stderr)
	}
	s, _, out, errOut := iostreams.Test()
	s.SetStdoutTTY(true)
	if code := runWith(t, ns, s, "chaos", "audit"); code != 0 {
		t.Fatalf("audit: exit %d: %s", code, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) == 0 || lines[0] == "" {
		t.Fatal("no audit entry after stop-all")
	}
	for _, l := range lines {
		at, _, _ := strings.Cut(l, " ")
		if _, err := time.Parse(time.RFC3339, at); err != nil || strings.HasPrefix(l, "{") {
			t.Fatalf("line %q, want a time-first line for a person", l)
		}
	}

	_, piped, stderr := run(t, ns, "chaos", "audit")
	for _, l := range strings.Split(strings.TrimSpace(piped), "\n") {
		var e map[string]any
		if err := json.Unmarshal([]byte(l), &e); err != nil || e["event"] == nil {
			t.Fatalf("piped line %q is not an audit entry as JSON (%v); stderr %q", l, err, stderr)
		}
	}
	if n := strings.Count(piped, "\n"); n != len(lines) {
		t.Fatalf("%d NDJSON lines, %d on the terminal: the same entries either way", n, len(lines))
	}
}

func TestChaosAgentOnATerminalPrintsTimedLinesOffOneNDJSON(t *testing.T) {
	ns := testredis.Namespace(t)
	env := map[string]string{"HADERCTL_ENV": "staging"}
	for _, args := range [][]string{
		{"chaos", "enable"},
		{"chaos", "inject", "memory", "--service", "shop", "--mb", "1", "--duration", "1m"},
	} {
		s, _, _, errOut := iostreams.Test()
		if code := Run(context.Background(), s, args, testSources(t, ns, env)); code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, errOut)
		}
	}
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.Local)
	for _, terminal := range []bool{true, false} {
		s, out, _ := liveStreams()
		s.SetStdoutTTY(terminal)
		_, g := newRoot(s, testSources(t, ns, env))
		g.factory.Now = fixedClock(at)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- chaosAgentRun(ctx, &ChaosAgentOptions{F: g.factory, Service: "shop"}) }()
		holding, released := "03:04:05  shop: 0.00 cores, 1 MB (ch-", "03:04:05  shop: 0.00 cores, 0 MB ()\n"
		if !terminal {
			holding, released = `{"service":"shop","cores":0,"memory_mb":1,"experiments":["ch-`, `{"service":"shop","cores":0,"memory_mb":0,"experiments":[]}`+"\n"
		}
		testredis.Eventually(t, 20*time.Second, "the agent says it holds 1 MB", func() bool { return strings.Contains(out.String(), holding) })
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("agent ended with %v, want nil when interrupted", err)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("the agent did not return within 30s of its context ending")
		}
		if !strings.HasSuffix(out.String(), released) {
			t.Fatalf("terminal %v: stdout %q, want it to end with the release %q", terminal, out, released)
		}
	}
}

func TestBreakerEventsAreLinesOnATerminalAndNDJSONOffOne(t *testing.T) {
	ns := testredis.Namespace(t)
	for i := 0; i < 3; i++ {
		if code, _, stderr := run(t, ns, "breaker", "record", "shop", "failure"); code != 0 {
			t.Fatalf("record: exit %d: %s", code, stderr)
		}
	}
	s, _, out, errOut := iostreams.Test()
	s.SetStdoutTTY(true)
	if code := runWith(t, ns, s, "breaker", "events", "shop"); code != 0 {
		t.Fatalf("events: exit %d: %s", code, errOut)
	}
	line := strings.TrimSpace(out.String())
	at, rest, _ := strings.Cut(line, "  ")
	if _, err := time.ParseInLocation("2006-01-02 15:04:05.000", at, time.Local); err != nil || strings.Count(line, "\n") != 0 ||
		!strings.HasPrefix(strings.TrimSpace(rest), "shop") || !strings.Contains(rest, "closed → open") {
		t.Fatalf("stdout %q, want one line: local time, shop, closed → open", out)
	}

	_, piped, _ := run(t, ns, "breaker", "events", "shop")
	var ev map[string]any
	if err := json.Unmarshal([]byte(piped), &ev); err != nil || ev["name"] != "shop" || ev["from"] != "closed" || ev["to"] != "open" {
		t.Fatalf("piped %q (%v), want the transition as one JSON line", piped, err)
	}
}
