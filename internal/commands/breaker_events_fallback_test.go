package commands

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/haderos/haderctl/internal/engine/store"
	"github.com/haderos/haderctl/internal/iostreams"
	"github.com/haderos/haderctl/internal/testredis"
	"github.com/redis/go-redis/v9"
)

// A fallback report (the entry the breaker's fallback script appends)
// prints as its reason on a terminal and keeps its span, calls and
// reporter in JSON.
func TestBreakerEventsShowsAFallbackReport(t *testing.T) {
	ns := testredis.Namespace(t)
	if code, _, stderr := run(t, ns, "breaker", "record", "shop", "success"); code != 0 {
		t.Fatalf("record: exit %d: %s", code, stderr)
	}
	const reason = "ran on its in-memory breaker from 10:01:02 to 10:03:04 UTC (12 calls) — gw-1/42/ab12cd34"
	k := store.Keys{Namespace: ns}
	err := testredis.Client(t).XAdd(context.Background(), &redis.XAddArgs{Stream: k.BreakerEvents("shop"), Values: []any{
		"name", "shop", "from", "closed", "to", "closed", "reason", reason, "generation", "0",
		"failures", "0", "successes", "0", "at", "1796205785000", "host", "gw-1", "pid", "42", "user", "svc",
		"action", "fallback", "since", "1796205662000", "until", "1796205784000", "calls", "12",
		"reporter", "gw-1/42/ab12cd34"}}).Err()
	if err != nil {
		t.Fatal(err)
	}
	s, _, out, errOut := iostreams.Test()
	s.SetStdoutTTY(true)
	if code := runWith(t, ns, s, "breaker", "events", "shop"); code != 0 {
		t.Fatalf("events: exit %d: %s", code, errOut)
	}
	if line := strings.TrimSpace(out.String()); !strings.HasSuffix(line, "shop             fallback: "+reason+"  (svc@gw-1[42])") {
		t.Fatalf("stdout %q, want the fallback line with its reason and who", out)
	}
	_, piped, _ := run(t, ns, "breaker", "events", "shop")
	var ev map[string]any
	if err := json.Unmarshal([]byte(piped), &ev); err != nil || ev["action"] != "fallback" || ev["calls"] != 12.0 ||
		ev["reporter"] != "gw-1/42/ab12cd34" || ev["since"] != "2026-12-02T10:01:02Z" || ev["until"] != "2026-12-02T10:03:04Z" {
		t.Fatalf("piped %q (%v), want the fallback report with its span, calls and reporter", piped, err)
	}
}
