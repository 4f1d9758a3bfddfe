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
