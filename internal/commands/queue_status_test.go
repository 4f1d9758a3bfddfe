package commands

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/haderos/haderctl/internal/cmdutil"
	"github.com/haderos/haderctl/internal/config"
	"github.com/haderos/haderctl/internal/iostreams"
	"github.com/haderos/haderctl/internal/testredis"
)

// testFactory is the factory Run builds, over the test Redis in ns, with
// streams s and -o output.
func testFactory(t *testing.T, ns string, s *iostreams.IOStreams, output string) *cmdutil.Factory {
	t.Helper()
	src := config.Sources{Dir: t.TempDir(), Getenv: func(k string) string {
		return map[string]string{"REDIS_URL": testredis.URL(t), "HADERCTL_NAMESPACE": ns}[k]
	}}
	return cmdutil.NewFactory(s, slog.New(slog.DiscardHandler), func() string { return output },
		func() (*config.Config, error) { return config.Load(config.Flags{}, src) })
}

// At a terminal, --watch clears the screen and redraws the table on each
// tick; the "no queues yet" message goes to stderr, stdout carries only
// the screen and the table.
func TestQueueStatusWatchRedrawsTheTableAtATerminal(t *testing.T) {
	ns := testredis.Namespace(t)
	s, _, _, _ := iostreams.Test()
	out, errOut := &lockedBuffer{}, &lockedBuffer{}
	s.Out, s.ErrOut = out, errOut
	s.SetStdoutTTY(true)
	ticks := make(chan time.Time)
	opts := &QueueStatusOptions{F: testFactory(t, ns, s, cmdutil.OutputTable), Watch: true, Interval: time.Second, Ticks: ticks}
	done := make(chan error, 1)
	go func() { done <- queueStatusRun(context.Background(), opts) }()

	const clear = "\x1b[H\x1b[2J"
	testredis.Eventually(t, 10*time.Second, "the first frame", func() bool { return strings.Contains(errOut.String(), "no queues yet") })
	if got := out.String(); got != clear {
		t.Fatalf("first frame's stdout %q, want only the screen clear (the message is on stderr)", got)
	}
	if code, _, stderr := run(t, ns, "queue", "push", "orders", "--operation", "x", "--service", "s", "--id", "w-1"); code != 0 {
		t.Fatalf("push: exit %d: %s", code, stderr)
	}
	ticks <- time.Now()
	testredis.Eventually(t, 10*time.Second, "the second frame", func() bool {
		return strings.Count(out.String(), clear) == 2 && strings.Contains(out.String(), "orders")
	})
	close(ticks)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	frame := strings.SplitN(out.String(), clear, 3)[2]
	lines := strings.Split(strings.TrimSuffix(frame, "\n"), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "QUEUE") || !strings.HasPrefix(lines[1], "orders ") || strings.Contains(frame, "{") {
		t.Fatalf("second frame %q: want the header and one row, no JSON", frame)
	}
	if strings.Count(errOut.String(), "no queues yet") != 1 {
		t.Fatalf("stderr %q: the message belongs to the first frame only", errOut)
	}
}

// Off a terminal, -o json --watch writes one compact document a line.
func TestQueueStatusWatchIsNDJSONOffATerminal(t *testing.T) {
	ns := testredis.Namespace(t)
	if code, _, stderr := run(t, ns, "queue", "push", "orders", "--operation", "x", "--service", "s", "--id", "w-1"); code != 0 {
		t.Fatalf("push: exit %d: %s", code, stderr)
	}
	s, _, out, errOut := iostreams.Test()
	ticks := make(chan time.Time, 1)
	ticks <- time.Now()
	close(ticks)
	opts := &QueueStatusOptions{F: testFactory(t, ns, s, cmdutil.OutputJSON), Watch: true, Interval: time.Second, Ticks: ticks}
	if err := queueStatusRun(context.Background(), opts); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], `{"queues":{"orders":`) || strings.Contains(out.String(), "\x1b") || errOut.Len() != 0 {
		t.Fatalf("stdout %q stderr %q: want two NDJSON lines and no escape codes", out, errOut)
	}
}
