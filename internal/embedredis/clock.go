package embedredis

import (
	"sync"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/alicebob/miniredis/v2/server"
)

// backstop is how often the clock moves when no command moves it (every
// command found the server busy): what bounds how stale TIME can get.
const backstop = 5 * time.Millisecond

// clock moves miniredis' clock (SetTime, with ClockTTL on) to the wall
// clock when a command arrives, at most once per step. A move costs a pass
// over every key (miniredis' ClockTTL), so the step grows with the
// keyspace: passes take at most a fifth of the time.
type clock struct {
	m *miniredis.Miniredis

	mu   sync.Mutex // serialises moves
	last time.Time  // the last move's wall clock reading
	step time.Duration
	// costs are the latest moves' times; the least of them is the pass's
	// cost (the others waited for the lock, or for a busy CPU)
	costs [8]time.Duration
	moves int

	stop    chan struct{}
	stopped chan struct{}
}

func startClock(m *miniredis.Miniredis) *clock {
	c := &clock{m: m, step: time.Millisecond, stop: make(chan struct{}), stopped: make(chan struct{})}
	m.SetTime(time.Now())
	m.ClockTTL(true)
	c.last = time.Now()
	go c.run()
	return c
}

// hook is the server's pre-command hook: it moves the clock before a
// command that arrives while nothing runs. A command that a Lua script
// calls (redis.call) finds the server locked by its script and leaves the
// clock alone, so a script runs at one instant, as in Redis 7; so does a
// command another one holds up, whose time the backstop bounds.
func (c *clock) hook(*server.Peer, string, ...string) bool {
	if c.m.TryLock() {
		c.m.Unlock()
		c.advance()
	}
	return false // miniredis answers the command
}

func (c *clock) run() {
	defer close(c.stopped)
	tick := time.NewTicker(backstop)
	defer tick.Stop()
	for {
		select {
		case <-c.stop:
			return
		case <-tick.C:
			c.advance()
		}
	}
}

// advance moves the clock to now unless it moved less than a step ago.
func (c *clock) advance() {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := time.Now()
	if now.Sub(c.last) < c.step {
		return
	}
	c.m.SetTime(now)
	// the TTLs' pass, here rather than in the next command, to time it
	c.m.DB(0)
	c.costs[c.moves%len(c.costs)] = time.Since(now)
	c.moves++
	cost := c.costs[0]
	for _, d := range c.costs[1:min(c.moves, len(c.costs))] {
		cost = min(cost, d)
	}
	c.step = max(time.Millisecond, 4*cost)
	c.last = now
}

// currentStep is the least time between two moves, now.
func (c *clock) currentStep() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.step
}

// close stops the backstop; the hook dies with the server.
func (c *clock) close() {
	close(c.stop)
	<-c.stopped
}
