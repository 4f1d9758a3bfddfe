package commands

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/haderos/haderctl/internal/benchutil"
	"github.com/haderos/haderctl/internal/engine/snapshot"
	"github.com/haderos/haderctl/internal/engine/store"
	"github.com/haderos/haderctl/internal/testredis"
)

// seedBreakers writes n breakers straight in the schema: every tenth open.
func seedBreakers(tb testing.TB, ns string, n int) {
	tb.Helper()
	rdb := testredis.Client(tb)
	k := store.Keys{Namespace: ns}
	ctx := context.Background()
	p := rdb.Pipeline()
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("svc-%05d", i)
		state := "closed"
		if i%10 == 0 {
			state = "open"
		}
		p.SAdd(ctx, k.Breakers(), name)
		p.HSet(ctx, k.Breaker(name), "state", state, "failures", 3, "successes", 0, "generation", 1, "opened_at", 1, "last_failure", 1,
			"failure_threshold", 3, "success_threshold", 2, "recovery_timeout_ms", 120000, "max_probes", 2, "probe_lease_ms", 30000)
		if p.Len() >= 2000 || i == n-1 {
			if _, err := p.Exec(ctx); err != nil {
				tb.Fatal(err)
			}
		}
	}
}

func TestBreakerStatusJSONStreamsTenThousandBreakers(t *testing.T) {
	ns := testredis.Namespace(t)
	const n = 10_000
	seedBreakers(t, ns, n)
	code, out, stderr := run(t, ns, "breaker", "status", "-o", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var doc snapshot.MonitoringReport
	dec := json.NewDecoder(strings.NewReader(out))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&doc); err != nil {
		t.Fatalf("the streamed document is not valid JSON of the monitoring shape: %v", err)
	}
	if len(doc.CircuitBreakers) != n || len(doc.Alerts) != n/10 || doc.Timestamp == "" {
		t.Fatalf("%d breakers, %d alerts, timestamp %q; want %d, %d and a timestamp", len(doc.CircuitBreakers), len(doc.Alerts), doc.Timestamp, n, n/10)
	}
	if b := doc.CircuitBreakers["svc-09990"]; b.State != "open" || b.Settings.RecoveryTimeout != "2m0s" {
		t.Fatalf("svc-09990: %+v", b)
	}
}

func TestBreakerStatusTakesGlobsAndALimit(t *testing.T) {
	ns := testredis.Namespace(t)
	seedBreakers(t, ns, 30)
	code, out, stderr := run(t, ns, "breaker", "status", "svc-0001*", "svc-00025", "--limit", "3")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	var names []string
	for _, l := range lines[1:] {
		names = append(names, strings.Fields(l)[0])
	}
	if got := strings.Join(names, ","); got != "svc-00010,svc-00011,svc-00012" {
		t.Fatalf("breakers %s, want the first three matching by name", got)
	}
	code, out, _ = run(t, ns, "breaker", "status", "svc-0002?", "-o", "json", "--limit", "2")
	var doc snapshot.MonitoringReport
	if err := json.Unmarshal([]byte(out), &doc); code != 0 || err != nil || len(doc.CircuitBreakers) != 2 || len(doc.Alerts) != 1 {
		t.Fatalf("exit %d, %v: %d breakers %d alerts; want svc-00020 (open) and svc-00021", code, err, len(doc.CircuitBreakers), len(doc.Alerts))
	}
	if code, _, stderr = run(t, ns, "breaker", "status", "svc-[0"); code != 2 || !strings.Contains(stderr, `invalid breaker pattern "svc-[0"`) {
		t.Fatalf("a malformed glob: exit %d, %q", code, stderr)
	}
	if code, _, _ = run(t, ns, "breaker", "status", "--limit", "-1"); code != 2 {
		t.Fatalf("--limit -1: exit %d, want 2", code)
	}
}

// rssParentEnv makes TestPeakRSSParent the small parent that runs the
// binary and reports its peak RSS. A direct child of the benchmark
// cannot be measured: Go starts it with vfork, and Linux records the
// parent's peak (the benchmark's, tens of MB) as the child's at exec.
const rssParentEnv = "HADERCTL_TEST_RSS_PARENT"

// TestPeakRSSParent is not a test: BenchmarkBreakerStatusJSONPeakRSS
// re-runs this test binary with rssParentEnv set to the command line
// (JSON), so haderctl's parent is a fresh, small process; it prints
// "maxrss <KiB>" from ProcessState.SysUsage. Without the variable it is
// skipped.
func TestPeakRSSParent(t *testing.T) {
	spec := os.Getenv(rssParentEnv)
	if spec == "" {
		t.Skip("the benchmark's helper process")
	}
	var argv []string
	if err := json.Unmarshal([]byte(spec), &argv); err != nil || len(argv) == 0 {
		t.Fatalf("%s=%q: %v", rssParentEnv, spec, err)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	var stderr strings.Builder
	cmd.Stdout, cmd.Stderr = io.Discard, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%v: %v: %s", argv, err, stderr.String())
	}
	rss, ok := benchutil.PeakRSS(cmd.ProcessState)
	if !ok {
		t.Skip("peak RSS is not measured on this platform")
	}
	fmt.Printf("maxrss %d\n", rss)
}

// BenchmarkBreakerStatusJSONPeakRSS runs the built binary's `breaker
// status -o json` against 10 and against 10,000 breakers and reports each
// one's peak RSS (ProcessState.SysUsage's Maxrss, KiB on Linux) and their
// ratio (the target: at most 1.5). A benchmark, not an asserting test:
// RSS depends on the machine. The parent of each run is this test binary
// started afresh (TestPeakRSSParent), whose own RSS is reported as the
// floor of the figures.
//
//	go test ./internal/commands -run '^$' -bench PeakRSS -count 3
func BenchmarkBreakerStatusJSONPeakRSS(b *testing.B) {
	if !testredis.Real(b) {
		b.Fatalf("benchmarks need a real Redis (got %s)", testredis.Kind())
	}
	dir, home := b.TempDir(), b.TempDir()
	bin := filepath.Join(dir, "haderctl")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/haderos/haderctl/cmd/haderctl").CombinedOutput(); err != nil {
		b.Fatalf("go build: %v\n%s", err, out)
	}
	small, large := testredis.Namespace(b), testredis.Namespace(b)
	seedBreakers(b, small, 10)
	seedBreakers(b, large, 10_000)
	peak := func(argv ...string) int64 {
		spec, _ := json.Marshal(argv)
		cmd := exec.Command(os.Args[0], "-test.run=^TestPeakRSSParent$", "-test.count=1")
		cmd.Dir = home
		cmd.Env = []string{rssParentEnv + "=" + string(spec), "REDIS_URL=" + testredis.URL(b), "HOME=" + home,
			"XDG_CONFIG_HOME=" + home, "PATH=" + os.Getenv("PATH")}
		out, err := cmd.CombinedOutput()
		if err != nil {
			b.Fatalf("%v: %v\n%s", argv, err, out)
		}
		var kib int64
		for _, line := range strings.Split(string(out), "\n") {
			if _, err := fmt.Sscanf(line, "maxrss %d", &kib); err == nil {
				return kib
			}
		}
		b.Fatalf("%v: no maxrss in\n%s", argv, out)
		return 0
	}
	status := func(ns string) []string {
		return []string{bin, "--namespace", ns, "breaker", "status", "-o", "json"}
	}
	var rss10, rss10k, floor int64
	for b.Loop() {
		rss10k = max(rss10k, peak(status(large)...))
		rss10 = max(rss10, peak(status(small)...))
		floor = max(floor, peak("/bin/true"))
	}
	b.ReportMetric(float64(rss10), "maxrss-10-KiB")
	b.ReportMetric(float64(rss10k), "maxrss-10k-KiB")
	b.ReportMetric(float64(floor), "parent-floor-KiB")
	b.ReportMetric(float64(rss10k)/float64(rss10), "rss-ratio")
}

// A queue or service whose key holds the wrong type is named on stderr;
// the others are still shown (exit 0), not the whole read refused.
func TestStatusVerbsNameTheCorruptEntryAndShowTheRest(t *testing.T) {
	ns := testredis.Namespace(t)
	rdb := testredis.Client(t)
	k := store.Keys{Namespace: ns}
	ctx := context.Background()
	for _, q := range []string{"good", "bad"} {
		rdb.SAdd(ctx, k.Queues(), q)
		rdb.HSet(ctx, k.Queue(q), "completed", 1)
	}
	rdb.Set(ctx, k.QueueDead("bad"), "x", 0)
	code, out, stderr := run(t, ns, "queue", "status")
	if code != 0 || !strings.Contains(out, "good") || !strings.Contains(out, "bad (corrupt)") ||
		!strings.Contains(stderr, "queue bad is corrupt in Redis: key "+k.QueueDead("bad")) {
		t.Fatalf("queue status: exit %d\nstdout %s\nstderr %s", code, out, stderr)
	}
	for _, s := range []string{"good", "bad"} {
		rdb.HSet(ctx, k.HealthServices(), s, `{"name":"`+s+`","url":"http://127.0.0.1:1/"}`)
		rdb.HSet(ctx, k.Health(s), "status", "healthy", "checked_at", 1)
	}
	rdb.Set(ctx, k.HealthHours("bad"), "x", 0)
	code, out, stderr = run(t, ns, "health", "status")
	if code != 0 || !strings.Contains(out, "good") || !strings.Contains(stderr, "service bad is corrupt in Redis: key "+k.HealthHours("bad")) {
		t.Fatalf("health status: exit %d\nstdout %s\nstderr %s", code, out, stderr)
	}
}

// While -o json streams, the collector's target is streamGCPercent (the
// peak-RSS figures in docs/benchmarks.md rest on it), then restored; a
// GOGC the user set is left alone.
func TestStreamGCLowersTheTargetUnlessGOGCIsSet(t *testing.T) {
	t.Setenv("GOGC", "")
	os.Unsetenv("GOGC")
	before := debug.SetGCPercent(100)
	defer debug.SetGCPercent(before)
	restore := streamGC()
	if got := debug.SetGCPercent(streamGCPercent); got != streamGCPercent {
		t.Fatalf("GC percent while streaming %d, want %d", got, streamGCPercent)
	}
	restore()
	if got := debug.SetGCPercent(100); got != 100 {
		t.Fatalf("GC percent after the stream %d, want 100 restored", got)
	}
	t.Setenv("GOGC", "300")
	restore = streamGC()
	got := debug.SetGCPercent(100)
	restore()
	if got != 100 {
		t.Fatalf("with GOGC set, the stream changed the GC percent to %d", got)
	}
}
