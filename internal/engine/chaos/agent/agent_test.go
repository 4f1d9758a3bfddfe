package agent

import (
	"context"
	"fmt"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/haderos/haderctl/internal/engine/chaos"
	"github.com/haderos/haderctl/internal/engine/store"
	"github.com/haderos/haderctl/internal/testredis"
)

func TestMain(m *testing.M) { os.Exit(testredis.Main(m)) }

// env is a namespace with chaos enabled.
type env struct {
	c  *chaos.Client
	ns string
}

func setup(t *testing.T) *env {
	t.Helper()
	ns := testredis.Namespace(t)
	c := chaos.New(testredis.Client(t), chaos.Options{Keys: store.Keys{Namespace: ns}, Environment: "test"})
	if err := c.Enable(context.Background()); err != nil {
		t.Fatal(err)
	}
	return &env{c: c, ns: ns}
}

// burners stands in for burnCore: it records the share each burner was
// given and counts those running, so a test sees what the agent asked
// for, not how much CPU a loaded machine happened to give it.
type burners struct {
	mu      sync.Mutex
	running []float64
}

func (b *burners) burn(ctx context.Context, share float64) {
	b.mu.Lock()
	b.running = append(b.running, share)
	b.mu.Unlock()
	<-ctx.Done()
	b.mu.Lock()
	b.running = slices.Delete(b.running, slices.Index(b.running, share), slices.Index(b.running, share)+1)
	b.mu.Unlock()
}

// shares are the running burners' shares, sorted.
func (b *burners) shares() []float64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := slices.Clone(b.running)
	slices.Sort(s)
	return s
}

// wait waits until the running burners have the shares want (sorted).
func (b *burners) wait(t *testing.T, want []float64) {
	t.Helper()
	testredis.Eventually(t, 10*time.Second, fmt.Sprintf("burners running with shares %v", want), func() bool { return slices.Equal(b.shares(), want) })
}

// held is the memory the agent holds, and whether every page of it was
// written (so it is resident, not just reserved).
func (a *Agent) held() (bytes int, touched bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for i := 0; i < len(a.memory); i += 4096 {
		if a.memory[i] != 1 {
			return len(a.memory), false
		}
	}
	return len(a.memory), true
}

func TestAgentHoldsAndReleasesTheMemoryAndCPUItWasAskedFor(t *testing.T) {
	e := setup(t)
	limits := chaos.Limits{MaxCores: 2, MaxMemoryMB: 512}
	c := chaos.New(testredis.Client(t), chaos.Options{Keys: store.Keys{Namespace: e.ns}, Environment: "test", Limits: limits})
	a := New(testredis.Client(t), store.Keys{Namespace: e.ns}, "worker", "test", nil, limits, nil)
	b := &burners{}
	a.burner = b.burn
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = a.Run(ctx); close(done) }()

	mem, err := c.Start(ctx, chaos.Experiment{Kind: chaos.Memory, MemoryMB: 64, Services: []string{"worker"}, Probability: 1, Duration: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Start(ctx, chaos.Experiment{Kind: chaos.CPU, Cores: 3, Services: []string{"worker"}, Probability: 1, Duration: time.Minute}); err == nil {
		t.Fatal("3 cores over the 2-core cap must be refused at start")
	}
	cpu, err := c.Start(ctx, chaos.Experiment{Kind: chaos.CPU, Cores: 1.5, Services: []string{"worker"}, Probability: 1, Duration: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	testredis.Eventually(t, 10*time.Second, "the agent applies both", func() bool {
		s := a.State()
		return s.Cores == 1.5 && s.MemoryMB == 64
	})
	// 1.5 cores: one burner on a whole core, one on half of one (they
	// are goroutines: running soon after the agent applied the change)
	b.wait(t, []float64{0.5, 1})
	if n, touched := a.held(); n != 64<<20 || !touched {
		t.Fatalf("the agent holds %d bytes (every page written: %v), want 64 MB resident", n, touched)
	}

	// a second cpu experiment goes over the cap: the agent burns the cap
	more, err := c.Start(ctx, chaos.Experiment{Kind: chaos.CPU, Cores: 1, Services: []string{"worker"}, Probability: 1, Duration: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	testredis.Eventually(t, 10*time.Second, "the agent caps the cores", func() bool { s := a.State(); return s.Cores == 2 && s.Capped })
	b.wait(t, []float64{1, 1}) // the 2-core cap

	for _, id := range []string{mem.ID, cpu.ID, more.ID} {
		if _, err := c.Stop(ctx, id, "done"); err != nil {
			t.Fatal(err)
		}
	}
	testredis.Eventually(t, 10*time.Second, "the agent releases everything", func() bool {
		s := a.State()
		return s.Cores == 0 && s.MemoryMB == 0
	})
	// apply waits for the burners to return before it reports the change
	if got := b.shares(); len(got) != 0 {
		t.Fatalf("burners still running after the experiments ended: %v", got)
	}
	if n, _ := a.held(); n != 0 {
		t.Fatalf("the agent still holds %d bytes", n)
	}
	stop()
	<-done
}

func TestAgentReleasesEverythingWhenItStops(t *testing.T) {
	e := setup(t)
	a := New(testredis.Client(t), store.Keys{Namespace: e.ns}, "worker", "test", nil, chaos.Limits{}, nil)
	b := &burners{}
	a.burner = b.burn
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = a.Run(ctx); close(done) }()
	for _, x := range []chaos.Experiment{
		{Kind: chaos.CPU, Cores: 1, Services: []string{"worker"}, Probability: 1, Duration: time.Minute},
		{Kind: chaos.Memory, MemoryMB: 16, Services: []string{"*"}, Probability: 1, Duration: time.Minute},
	} {
		if _, err := e.c.Start(ctx, x); err != nil {
			t.Fatal(err)
		}
	}
	testredis.Eventually(t, 10*time.Second, "the agent applies both", func() bool { s := a.State(); return s.Cores == 1 && s.MemoryMB == 16 })
	stop()
	<-done
	// Run releases everything before it returns, and apply waits for the
	// burners to return
	if got := b.shares(); len(got) != 0 {
		t.Fatalf("burners still running after the agent stopped: %v", got)
	}
	if n, _ := a.held(); n != 0 || a.State().Cores != 0 {
		t.Fatalf("after the agent stopped it holds %d bytes, %v cores", n, a.State().Cores)
	}
}

// fakeClock advances by step on every reading and records sleeps; it
// ends the burn (cancel) after cycles sleeps, or after maxReads readings
// for a burner that never sleeps.
type fakeClock struct {
	now      time.Time
	step     time.Duration
	reads    int
	maxReads int
	sleeps   []time.Duration
	cycles   int
	cancel   context.CancelFunc
}

func (c *fakeClock) Now() time.Time {
	c.reads++
	if c.reads >= c.maxReads {
		c.cancel()
	}
	c.now = c.now.Add(c.step)
	return c.now
}

func (c *fakeClock) Sleep(d time.Duration) {
	c.sleeps = append(c.sleeps, d)
	c.now = c.now.Add(d)
	if len(c.sleeps) >= c.cycles {
		c.cancel()
	}
}

func TestBurnCoreSpinsForItsShareOfEachPeriodAndSleepsTheRest(t *testing.T) {
	for _, tc := range []struct {
		share     float64
		wantSleep time.Duration
	}{{0.3, 7 * time.Millisecond}, {0.5, 5 * time.Millisecond}} {
		ctx, cancel := context.WithCancel(context.Background())
		clk := &fakeClock{step: 100 * time.Microsecond, maxReads: 1 << 20, cycles: 4, cancel: cancel}
		burnCore(ctx, tc.share, clk)
		if len(clk.sleeps) != 4 {
			t.Fatalf("share %.1f: %d idle periods before the cancel, want 4", tc.share, len(clk.sleeps))
		}
		for _, d := range clk.sleeps {
			if d != tc.wantSleep {
				t.Fatalf("share %.1f: slept %s of each %s, want %s", tc.share, d, burnPeriod, tc.wantSleep)
			}
		}
		// spinning: readings of the clock until the busy part has passed
		// (one for the start of each period, then one per 100 µs step)
		busySteps := int(time.Duration(float64(burnPeriod)*tc.share) / clk.step)
		if per := clk.reads / 4; per < busySteps {
			t.Fatalf("share %.1f: %d clock readings per period, want at least %d (spinning through the busy part)", tc.share, per, busySteps)
		}
	}
	// a whole core never sleeps, and still stops when cancelled
	ctx, cancel := context.WithCancel(context.Background())
	clk := &fakeClock{step: 100 * time.Microsecond, maxReads: 1000, cycles: 1 << 20, cancel: cancel}
	burnCore(ctx, 1, clk)
	if len(clk.sleeps) != 0 || ctx.Err() == nil {
		t.Fatalf("a whole core slept %v (cancelled: %v)", clk.sleeps, ctx.Err())
	}
}

// One agent for several services (the gateway) counts an experiment once
// when it targets any of them: on "*" or on two of them, 64 MB is 64 MB.
func TestAnAgentForServicesCountsEachExperimentOnce(t *testing.T) {
	e := setup(t)
	limits := chaos.Limits{MaxCores: 2, MaxMemoryMB: 512}
	c := chaos.New(testredis.Client(t), chaos.Options{Keys: store.Keys{Namespace: e.ns}, Environment: "test", Limits: limits})
	a := NewForServices(testredis.Client(t), store.Keys{Namespace: e.ns}, []string{"aramex", "smsa"}, "test", nil, limits, nil)
	a.burner = (&burners{}).burn
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = a.Run(ctx); close(done) }()
	defer func() { stop(); <-done }()

	all, err := c.Start(ctx, chaos.Experiment{Kind: chaos.Memory, MemoryMB: 64, Services: []string{"*"}, Probability: 1, Duration: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	testredis.Eventually(t, 10*time.Second, "the agent holds 64 MB", func() bool { return a.State().MemoryMB == 64 })
	if n, _ := a.held(); n != 64<<20 {
		t.Fatalf("the agent holds %d bytes for one 64 MB experiment on two services", n)
	}
	if _, err := c.Stop(ctx, all.ID, "done"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Start(ctx, chaos.Experiment{Kind: chaos.Memory, MemoryMB: 32, Services: []string{"aramex", "smsa"}, Probability: 1, Duration: time.Minute}); err != nil {
		t.Fatal(err)
	}
	testredis.Eventually(t, 10*time.Second, "the agent holds 32 MB", func() bool { s := a.State(); return s.MemoryMB == 32 && len(s.Experiments) == 1 })
	if s := a.State(); s.Service != "aramex,smsa" {
		t.Fatalf("state names %q", s.Service)
	}
}
