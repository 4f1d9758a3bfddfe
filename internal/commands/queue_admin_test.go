package commands

import (
	"context"
	"encoding/json"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/haderos/haderctl/internal/config"
	"github.com/haderos/haderctl/internal/engine/queue"
	"github.com/haderos/haderctl/internal/iostreams"
	"github.com/haderos/haderctl/internal/redact"
	"github.com/haderos/haderctl/internal/testredis"
)

// lateAnswer is a person at the terminal who answers after a while.
type lateAnswer struct {
	after  time.Duration
	answer string
	r      io.Reader
}

func (l *lateAnswer) Read(p []byte) (int, error) {
	if l.r == nil {
		time.Sleep(l.after) // the person thinking, not synchronisation
		l.r = strings.NewReader(l.answer)
	}
	return l.r.Read(p)
}

// runWith runs haderctl in-process against the test Redis with the given
// streams.
func runWith(t *testing.T, ns string, s *iostreams.IOStreams, args ...string) ExitCode {
	t.Helper()
	src := config.Sources{Dir: t.TempDir(), Getenv: func(k string) string {
		return map[string]string{"REDIS_URL": testredis.URL(t), "HADERCTL_NAMESPACE": ns}[k]
	}}
	return Run(context.Background(), s, args, src)
}

func TestPurgeConfirmedAfterTheRedisTimeoutStillPurges(t *testing.T) {
	ns := testredis.Namespace(t)
	if code, _, stderr := run(t, ns, "queue", "push", "orders", "--operation", "x", "--service", "s", "--id", "d-1", "--max-attempts", "1"); code != 0 {
		t.Fatalf("push: exit %d: %s", code, stderr)
	}
	if code, _, stderr := run(t, ns, "queue", "drain", "orders", "--exec", "false"); code != 1 {
		t.Fatalf("drain: exit %d, want 1 (one dead): %s", code, stderr)
	}
	const timeout = time.Second
	s, _, out, errOut := iostreams.Test()
	s.In = &lateAnswer{after: timeout + timeout/2, answer: "y\n"}
	s.SetStdinTTY(true)
	s.SetStdoutTTY(true)
	code := runWith(t, ns, s, "--timeout", timeout.String(), "queue", "purge", "orders", "--dead")
	if code != 0 {
		t.Fatalf("purge answered after %s with --timeout %s: exit %d: %s", timeout+timeout/2, timeout, code, errOut)
	}
	if !strings.Contains(errOut.String(), "Delete every dead operation of orders for good? [y/N]") ||
		!strings.Contains(out.String(), "purged 1 dead operations of orders") {
		t.Fatalf("stdout %q, stderr %q", out, errOut)
	}
}

func TestDrainProgressBarIsDrawnOnlyWhenStderrIsATerminal(t *testing.T) {
	ns := testredis.Namespace(t)
	for i := 0; i < 2; i++ {
		if code, _, stderr := run(t, ns, "queue", "push", "orders", "--operation", "x", "--service", "s"); code != 0 {
			t.Fatalf("push: exit %d: %s", code, stderr)
		}
	}
	// stdout a terminal, stderr a log file: a summary, no bar
	s, _, out, errOut := iostreams.Test()
	s.SetStdoutTTY(true)
	if code := runWith(t, ns, s, "queue", "drain", "orders", "--exec", "true"); code != 0 {
		t.Fatalf("drain: exit %d: %s", code, errOut)
	}
	if barDrawn(errOut.String()) || errOut.String() != "" {
		t.Fatalf("a progress bar went to a stderr that is not a terminal: %q", errOut)
	}
	if !strings.Contains(out.String(), "drained orders: 2 completed") {
		t.Fatalf("stdout %q, want the summary", out)
	}

	// stdout piped, stderr a terminal: NDJSON on stdout, the bar on stderr
	for i := 0; i < 2; i++ {
		run(t, ns, "queue", "push", "orders", "--operation", "x", "--service", "s")
	}
	s, _, out, errOut = iostreams.Test()
	s.SetStderrTTY(true)
	if code := runWith(t, ns, s, "queue", "drain", "orders", "--exec", "true"); code != 0 {
		t.Fatalf("drain: exit %d: %s", code, errOut)
	}
	if !barDrawn(errOut.String()) || !strings.Contains(errOut.String(), "2/2") {
		t.Fatalf("stderr %q, want the progress bar", errOut)
	}
	if n := strings.Count(out.String(), `"outcome":"completed"`); n != 2 {
		t.Fatalf("stdout %q, want 2 NDJSON outcomes", out)
	}
}

// A raw request body (a form the gateway queued) cannot be redacted field
// by field: inspect and list mask it whole unless --show-secrets.
func TestShowableMasksARawRequestBody(t *testing.T) {
	o := &queue.Operation{Data: json.RawMessage("null"),
		Request: &queue.Request{Method: "POST", URL: "/f", Body: []byte("password=hunter2")}}
	showable(o, false)
	if string(o.Request.Body) != redact.Mask {
		t.Fatalf("raw body shown as %q", o.Request.Body)
	}
	kept := &queue.Operation{Request: &queue.Request{Method: "POST", URL: "/f", Body: []byte("a=1")}}
	showable(kept, true)
	if string(kept.Request.Body) != "a=1" {
		t.Fatalf("--show-secrets changed the body to %q", kept.Request.Body)
	}
}
