// Package agent applies the cpu and memory experiments of chaos to the
// process it runs in: it burns the cores and holds the memory the active
// experiments ask of its service, within the hard caps, and releases
// everything when they end.
package agent

import (
	"context"
	"log/slog"
	"math"
	"runtime/debug"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/haderos/haderctl/internal/engine/chaos"
	"github.com/haderos/haderctl/internal/engine/store"
	"github.com/redis/go-redis/v9"
)

// Agent applies cpu and memory experiments for one service from the
// process it runs in (`haderctl chaos agent --service NAME`, beside the
// service): it burns the cores and holds the memory the active
// experiments ask for, within the hard caps, and releases everything
// when they end, are stopped, or the agent stops.
type Agent struct {
	rdb     redis.UniversalClient
	keys    store.Keys
	service string   // State's name: the service, or the set's names joined by ","
	targets []string // an experiment applies when it targets any of them
	limits  chaos.Limits
	allowed bool
	log     *slog.Logger
	// OnChange is called when what the agent applies changes.
	OnChange func(State)
	// burner keeps one core busy for share of the time until ctx is done
	// (burnCore on the system clock; tests count the burners instead).
	burner func(ctx context.Context, share float64)
	// refresh is how often it re-reads without a pub/sub notice.
	refresh time.Duration

	mu     sync.Mutex
	state  State
	burn   context.CancelFunc
	burnWG sync.WaitGroup
	memory []byte
}

// State is what an agent applies now.
type State struct {
	Service     string   `json:"service"`
	Cores       float64  `json:"cores"`
	MemoryMB    int      `json:"memory_mb"`
	Experiments []string `json:"experiments"`
	// Capped is set when the experiments asked for more than the caps.
	Capped bool `json:"capped,omitempty"`
}

// New makes an agent for service.
func New(rdb redis.UniversalClient, keys store.Keys, service, environment string, allowed []string, limits chaos.Limits, log *slog.Logger) *Agent {
	return NewForServices(rdb, keys, []string{service}, environment, allowed, limits, log)
}

// NewForServices makes one agent for a process that is several services
// at once (the gateway): an experiment counts once when it targets any
// of them, so the process as a whole stays within the limits. Its
// State's Service is the names joined by ",".
func NewForServices(rdb redis.UniversalClient, keys store.Keys, services []string, environment string, allowed []string, limits chaos.Limits, log *slog.Logger) *Agent {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	service := strings.Join(services, ",")
	return &Agent{rdb: rdb, keys: keys, service: service, targets: slices.Clone(services), limits: limits.WithDefaults(),
		allowed: chaos.EnvironmentAllowed(environment, allowed) == nil, log: log, state: State{Service: service, Experiments: []string{}},
		burner:  func(ctx context.Context, share float64) { burnCore(ctx, share, systemClock{}) },
		refresh: time.Second}
}

// State is what the agent applies now.
func (a *Agent) State() State {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.state
}

// Run applies experiments until ctx is done, then releases everything.
// In a process whose environment is not allowed it applies nothing.
func (a *Agent) Run(ctx context.Context) error {
	defer a.apply(State{Service: a.service, Experiments: []string{}})
	if !a.allowed {
		a.log.Warn("chaos agent: this environment is not allowed; experiments are ignored")
		<-ctx.Done()
		return nil
	}
	sub := a.rdb.Subscribe(ctx, a.keys.ChaosChannel())
	defer sub.Close()
	t := time.NewTicker(a.refresh)
	defer t.Stop()
	for {
		a.apply(a.want(ctx))
		select {
		case <-ctx.Done():
			return nil
		case <-sub.Channel():
		case <-t.C:
		}
	}
}

// want reads what the active experiments ask of this service; with Redis
// unreachable it asks for nothing (fail safe).
func (a *Agent) want(ctx context.Context) State {
	st := State{Service: a.service, Experiments: []string{}}
	rctx, cancel := context.WithTimeout(ctx, a.refresh)
	defer cancel()
	read, err := chaos.ReadActive(rctx, a.rdb, a.keys)
	if err != nil {
		return st
	}
	for _, e := range read.Experiments {
		if (e.Kind != chaos.CPU && e.Kind != chaos.Memory) || !slices.ContainsFunc(a.targets, e.Targets) || e.StartMs > read.Now.UnixMilli() {
			continue
		}
		st.Cores += e.Cores
		st.MemoryMB += e.MemoryMB
		st.Experiments = append(st.Experiments, e.ID)
	}
	sort.Strings(st.Experiments)
	if st.Cores > a.limits.MaxCores {
		st.Cores, st.Capped = a.limits.MaxCores, true
	}
	if st.MemoryMB > a.limits.MaxMemoryMB {
		st.MemoryMB, st.Capped = a.limits.MaxMemoryMB, true
	}
	return st
}

func (a *Agent) apply(st State) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if st.Cores == a.state.Cores && st.MemoryMB == a.state.MemoryMB && strings.Join(st.Experiments, ",") == strings.Join(a.state.Experiments, ",") {
		return
	}
	if st.Cores != a.state.Cores {
		if a.burn != nil {
			a.burn()
			a.burnWG.Wait()
			a.burn = nil
		}
		if st.Cores > 0 {
			ctx, cancel := context.WithCancel(context.Background())
			a.burn = cancel
			for i := 0; i < int(math.Ceil(st.Cores)); i++ {
				share := math.Min(1, st.Cores-float64(i))
				a.burnWG.Add(1)
				go func() {
					defer a.burnWG.Done()
					a.burner(ctx, share)
				}()
			}
		}
	}
	if st.MemoryMB != a.state.MemoryMB {
		a.memory = nil
		debug.FreeOSMemory()
		if st.MemoryMB > 0 {
			a.memory = make([]byte, st.MemoryMB<<20)
			for i := 0; i < len(a.memory); i += 4096 {
				a.memory[i] = 1 // touch every page so it is resident
			}
		}
	}
	a.state = st
	if a.OnChange != nil {
		a.OnChange(st)
	}
}

// clock is the time burnCore goes by.
type clock interface {
	Now() time.Time
	Sleep(time.Duration)
}

type systemClock struct{}

func (systemClock) Now() time.Time        { return time.Now() }
func (systemClock) Sleep(d time.Duration) { time.Sleep(d) }

// burnPeriod is burnCore's duty cycle.
const burnPeriod = 10 * time.Millisecond

// burnCore keeps one core busy for share of every burnPeriod until ctx
// is done: it spins for the busy part and sleeps the rest.
func burnCore(ctx context.Context, share float64, clk clock) {
	busy := time.Duration(float64(burnPeriod) * share)
	x := 0
	for ctx.Err() == nil {
		start := clk.Now()
		for clk.Now().Sub(start) < busy && ctx.Err() == nil {
			x++ // the work: spinning
		}
		if rest := burnPeriod - busy; rest > 0 {
			clk.Sleep(rest) // the idle part of the duty cycle
		}
	}
	_ = x
}
