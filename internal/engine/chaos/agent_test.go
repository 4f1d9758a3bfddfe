package chaos

import (
	"context"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/haderos/haderctl/internal/engine/store"
	"github.com/haderos/haderctl/internal/testredis"
)

// rssMB is this process' resident memory, from /proc.
func rssMB(t *testing.T) float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Skip("no /proc: the agent's effect is measured from /proc")
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseFloat(f[1], 64)
			return kb / 1024
		}
	}
	t.Fatal("no VmRSS in /proc/self/status")
	return 0
}

// cpuSeconds is this process' user+system CPU time, from /proc (100 Hz ticks).
func cpuSeconds(t *testing.T) float64 {
	b, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		t.Skip("no /proc")
	}
	f := strings.Fields(string(b)[strings.LastIndexByte(string(b), ')')+2:])
	utime, _ := strconv.ParseFloat(f[11], 64)
	stime, _ := strconv.ParseFloat(f[12], 64)
	return (utime + stime) / 100
}

// coresOver measures the CPU this process used over d, in cores.
func coresOver(t *testing.T, d time.Duration) float64 {
	c0, w0 := cpuSeconds(t), time.Now()
	time.Sleep(d) // the measurement window
	return (cpuSeconds(t) - c0) / time.Since(w0).Seconds()
}

func TestAgentHoldsAndReleasesTheMemoryAndCPUItWasAskedFor(t *testing.T) {
	e := setup(t)
	a := NewAgent(testredis.Client(t), store.Keys{Namespace: e.ns}, "worker", "test", nil, Limits{MaxCores: 1, MaxMemoryMB: 512}, nil)
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = a.Run(ctx); close(done) }()
	idleRSS := rssMB(t)

	mem, err := e.c.Start(ctx, Experiment{Kind: Memory, MemoryMB: 192, Services: []string{"worker"}, Probability: 1, Duration: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	cpu, err := e.c.Start(ctx, Experiment{Kind: CPU, Cores: 2, Services: []string{"worker"}, Probability: 1, Duration: time.Minute})
	if err == nil {
		t.Fatal("2 cores over the 1-core cap must be refused at start")
	}
	cpu, err = e.c.Start(ctx, Experiment{Kind: CPU, Cores: 1, Services: []string{"worker"}, Probability: 1, Duration: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "the agent applies both", func() bool {
		s := a.State()
		return s.Cores == 1 && s.MemoryMB == 192
	})
	if held := rssMB(t) - idleRSS; held < 180 {
		t.Fatalf("resident memory grew by %.0f MB, want about 192", held)
	}
	if used := coresOver(t, time.Second); used < 0.5 {
		t.Fatalf("the process used %.2f cores while burning 1", used)
	}

	for _, id := range []string{mem.ID, cpu.ID} {
		if _, err := e.c.Stop(ctx, id, "done"); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, 5*time.Second, "the agent releases everything", func() bool {
		s := a.State()
		return s.Cores == 0 && s.MemoryMB == 0
	})
	if held := rssMB(t) - idleRSS; held > 60 {
		t.Fatalf("%.0f MB still resident after the experiments ended", held)
	}
	if used := coresOver(t, 500*time.Millisecond); used > 0.3 {
		t.Fatalf("the process still uses %.2f cores", used)
	}
	stop()
	<-done
}
