package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/haderos/haderctl/internal/dashboard/source/sourcetest"
	"github.com/haderos/haderctl/internal/engine"
	"github.com/haderos/haderctl/internal/engine/store"
	"github.com/haderos/haderctl/internal/testredis"
)

// BenchmarkDashboardCPU measures the dashboard's own CPU, as issue 13
// asks: the real binary, in a 120×40 tmux pane, at the default 1 s
// refresh, over a namespace of 1,000 breakers, 1,000 services and 50
// queues (sourcetest.Issue13). Each iteration reads the process' user +
// system time from /proc over BENCH_DASHBOARD_SECONDS (default 30) of wall
// time and reports it as cpu-%-of-core (the issue's target: at most 5),
// with the refreshes the screen showed (frames). Run it alone:
//
//	go test ./cmd/haderctl -run '^$' -bench DashboardCPU -benchtime 3x
func BenchmarkDashboardCPU(b *testing.B) {
	if _, err := exec.LookPath("tmux"); err != nil {
		b.Skip("needs tmux")
	}
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		b.Skip("needs /proc")
	}
	measure := 30 * time.Second
	if v := os.Getenv("BENCH_DASHBOARD_SECONDS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			b.Fatalf("BENCH_DASHBOARD_SECONDS=%q: use a number of seconds", v)
		}
		measure = time.Duration(n) * time.Second
	}
	url, ns := testredis.URL(b), testredis.Namespace(b)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sys, err := engine.Open(ctx, engine.Options{Redis: store.Options{URL: url}, Namespace: ns, Environment: "test"})
	if err != nil {
		b.Fatal(err)
	}
	defer sys.Close()
	if err := sourcetest.Populate(ctx, sys, sourcetest.Issue13); err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	bin := filepath.Join(dir, "haderctl")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		b.Fatalf("go build: %v\n%s", err, out)
	}
	sock := filepath.Join(dir, "tmux.sock")
	tmux := func(args ...string) string {
		cmd := exec.Command("tmux", append([]string{"-S", sock, "-f", "/dev/null"}, args...)...)
		cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "TERM=xterm-256color", "LANG=C.UTF-8",
			"REDIS_URL=" + url, "HADERCTL_NAMESPACE=" + ns}
		out, err := cmd.CombinedOutput()
		if err != nil {
			b.Fatalf("tmux %s: %v: %s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	tmux("new-session", "-d", "-s", "cpu", "-x", "120", "-y", "40", "--", bin, "dashboard")
	defer exec.Command("tmux", "-S", sock, "kill-server").Run()
	pid, err := strconv.Atoi(strings.TrimSpace(tmux("display-message", "-p", "-t", "cpu", "#{pane_pid}")))
	if err != nil {
		b.Fatal(err)
	}
	header := func() string { return strings.SplitN(tmux("capture-pane", "-p", "-t", "cpu"), "\n", 2)[0] }
	deadline := time.Now().Add(60 * time.Second)
	for !strings.Contains(tmux("capture-pane", "-p", "-t", "cpu"), "1000 breakers") {
		if time.Now().After(deadline) {
			b.Fatalf("the dashboard showed no snapshot within 60s:\n%s", tmux("capture-pane", "-p", "-t", "cpu"))
		}
		time.Sleep(100 * time.Millisecond)
	}
	b.ResetTimer()
	var pct, frames []float64
	for range b.N {
		c0, t0, h := cpuTicks(b, pid), time.Now(), header()
		n := 0
		for end := t0.Add(measure); time.Now().Before(end); time.Sleep(200 * time.Millisecond) {
			if now := header(); now != h {
				h, n = now, n+1
			}
		}
		c1, t1 := cpuTicks(b, pid), time.Now()
		// /proc counts in clock ticks of 1/100 s (USER_HZ on Linux)
		pct = append(pct, float64(c1-c0)/100/t1.Sub(t0).Seconds()*100)
		frames = append(frames, float64(n))
	}
	b.StopTimer()
	b.ReportMetric(median(pct), "cpu-%-of-core")
	b.ReportMetric(median(frames), "refreshes-seen")
	b.Logf("cpu %% of one core per iteration: %v (refreshes seen: %v)", pct, frames)
}

// cpuTicks is a process' user + system time in clock ticks.
func cpuTicks(b *testing.B, pid int) int64 {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		b.Fatalf("the dashboard ended: %v", err)
	}
	// the fields after the command's name (in parentheses, which may hold spaces)
	f := strings.Fields(string(raw[strings.LastIndexByte(string(raw), ')')+2:]))
	u, _ := strconv.ParseInt(f[11], 10, 64)
	s, _ := strconv.ParseInt(f[12], 10, 64)
	return u + s
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}
