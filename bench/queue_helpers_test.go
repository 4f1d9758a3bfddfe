package bench

// Helpers of the queue benchmarks (queue_test.go): Redis' own counters
// read around the measured work, per-command hooks, and clean-up of what a
// benchmark wrote.

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/haderos/haderctl/internal/benchutil"
	"github.com/haderos/haderctl/internal/testredis"
	"github.com/redis/go-redis/v9"
)

// directCounter is a go-redis hook that counts the commands a client
// sends itself (pipelined ones included), by name: Redis' commandstats
// cannot tell those from the ones a script runs.
type directCounter struct {
	mu sync.Mutex
	n  map[string]int64
}

func newDirectCounter() *directCounter { return &directCounter{n: map[string]int64{}} }

func (h *directCounter) count(cmds ...redis.Cmder) {
	h.mu.Lock()
	for _, c := range cmds {
		h.n[strings.ToLower(c.Name())]++
	}
	h.mu.Unlock()
}

func (h *directCounter) snapshot() map[string]int64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make(map[string]int64, len(h.n))
	for k, v := range h.n {
		out[k] = v
	}
	return out
}

func (h *directCounter) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *directCounter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		h.count(cmd)
		return next(ctx, cmd)
	}
}

func (h *directCounter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		h.count(cmds...)
		return next(ctx, cmds)
	}
}

// cmdStat is one line of INFO commandstats.
type cmdStat struct{ calls, usec int64 }

// redisSnap is Redis' counters at one moment.
type redisSnap struct {
	cmds map[string]cmdStat // commandstats, by lower-case name ("evalsha", "client|setinfo")
	cpu  time.Duration      // used_cpu_user + used_cpu_sys of the server process
}

func readSnap(ctx context.Context, rdb *redis.Client) (redisSnap, error) {
	st, err := testredis.ReadStats(ctx, rdb)
	s := redisSnap{cmds: map[string]cmdStat{}, cpu: st.CPU}
	for name, c := range st.ByCommand {
		s.cmds[name] = cmdStat{calls: c.Calls, usec: c.Usec}
	}
	return s, err
}

// isScript reports whether a command runs a script.
func isScript(name string) bool {
	switch name {
	case "eval", "evalsha", "eval_ro", "evalsha_ro", "fcall", "fcall_ro":
		return true
	}
	return false
}

// connectionCommand reports commands that go-redis sends when it opens a
// connection (no hook sees them) and that no script may run: all top level.
func connectionCommand(name string) bool {
	switch {
	case name == "hello", name == "auth", name == "select", name == "ping",
		strings.HasPrefix(name, "client|"), strings.HasSuffix(name, "subscribe"):
		return true
	}
	return false
}

// redisCost accumulates Redis' work over the measured sections of a
// benchmark (Start … Stop, possibly many times) and reports it per
// operation.
type redisCost struct {
	stats  *redis.Client // an unhooked client for INFO
	hook   *directCounter
	before redisSnap
	direct map[string]int64
	self   time.Duration
	on     bool

	calls, scripts, topCalls int64
	cmdUsec, topUsec         int64
	cpu, clientCPU           time.Duration
	byCmd                    map[string]cmdStat
}

func newRedisCost(b *testing.B, hook *directCounter) *redisCost {
	return &redisCost{stats: testredis.Client(b), hook: hook, byCmd: map[string]cmdStat{}}
}

// Start begins a measured section.
func (c *redisCost) Start(b *testing.B) {
	b.Helper()
	s, err := readSnap(context.Background(), c.stats)
	if err != nil {
		b.Fatal(err)
	}
	c.before, c.direct, c.self, c.on = s, c.hook.snapshot(), selfCPU(), true
}

// selfCPU is this process' user + system CPU time so far: the client's
// side (for asynq's drain, its server too, which runs in this process).
func selfCPU() time.Duration {
	d, _ := benchutil.ProcessCPU()
	return d
}

// Stop ends a measured section and adds its deltas.
func (c *redisCost) Stop(b *testing.B) {
	b.Helper()
	if !c.on {
		return
	}
	c.on = false
	c.clientCPU += selfCPU() - c.self
	now, err := readSnap(context.Background(), c.stats)
	if err != nil {
		b.Fatal(err)
	}
	direct := c.hook.snapshot()
	c.cpu += now.cpu - c.before.cpu
	for name, st := range now.cmds {
		if name == "info" {
			continue // ours, not the benchmarked code's
		}
		d := cmdStat{calls: st.calls - c.before.cmds[name].calls, usec: st.usec - c.before.cmds[name].usec}
		if d.calls == 0 {
			continue
		}
		acc := c.byCmd[name]
		acc.calls += d.calls
		acc.usec += d.usec
		c.byCmd[name] = acc
		c.calls += d.calls
		c.cmdUsec += d.usec
		// Top level: what clients sent, not what scripts ran inside. A
		// script's usec already includes the commands it ran.
		sent := direct[name] - c.direct[name]
		switch {
		case isScript(name):
			c.scripts += d.calls
			c.topCalls += d.calls
			c.topUsec += d.usec
		case connectionCommand(name):
			c.topCalls += d.calls
			c.topUsec += d.usec
		case sent > 0:
			sent = min(sent, d.calls)
			c.topCalls += sent
			c.topUsec += d.usec * sent / d.calls
		}
	}
}

// Report adds the per-operation metrics for ops operations:
//
//	redis-cmds/op    every command Redis ran, those inside scripts included
//	redis-sent/op    commands clients sent (round-trip units: scripts count once)
//	scripts/op       EVAL/EVALSHA calls
//	redis-usec/op    INFO commandstats usec of the commands sent (a script's
//	                 usec covers what it runs; counting its inner commands
//	                 again would count them twice)
//	redis-cpu-us/op  the server's user+sys CPU (INFO cpu): also parsing,
//	                 replies and the event loop, which commandstats leaves out
//	client-cpu-us/op this process' user+sys CPU (getrusage): the Go side
func (c *redisCost) Report(b *testing.B, ops int) {
	b.Helper()
	c.Stop(b)
	n := float64(ops)
	b.ReportMetric(float64(c.calls)/n, "redis-cmds/op")
	b.ReportMetric(float64(c.topCalls)/n, "redis-sent/op")
	b.ReportMetric(float64(c.scripts)/n, "scripts/op")
	b.ReportMetric(float64(c.topUsec)/n, "redis-usec/op")
	b.ReportMetric(float64(c.cpu.Microseconds())/n, "redis-cpu-us/op")
	b.ReportMetric(float64(c.clientCPU.Microseconds())/n, "client-cpu-us/op")
	if testing.Verbose() {
		c.logByCommand(b, n)
	}
}

// logByCommand logs calls and usec per operation of each command (with
// -v): where Redis' time goes. Inner commands appear under their own
// names as well as inside the script's line.
func (c *redisCost) logByCommand(b *testing.B, n float64) {
	var lines []string
	for name, st := range c.byCmd {
		lines = append(lines, name+": "+strconv.FormatFloat(float64(st.calls)/n, 'f', 4, 64)+" calls/op, "+
			strconv.FormatFloat(float64(st.usec)/n, 'f', 3, 64)+" usec/op")
	}
	slices.Sort(lines)
	b.Logf("commandstats per operation:\n\t%s", strings.Join(lines, "\n\t"))
}

// benchRedis is a client of the test Redis with a directCounter hooked in.
func benchRedis(b *testing.B, hook *directCounter, poolSize int) *redis.Client {
	b.Helper()
	opt, err := redis.ParseURL(testredis.URL(b))
	if err != nil {
		b.Fatal(err)
	}
	if poolSize > 0 {
		opt.PoolSize = poolSize
	}
	rdb := redis.NewClient(opt)
	rdb.AddHook(hook)
	b.Cleanup(func() { rdb.Close() })
	return rdb
}

// deleteKeys removes every key matching pattern (SCAN, then UNLINK in
// batches): the clean-up of a benchmark's namespace or asynq queue.
func deleteKeys(b *testing.B, rdb *redis.Client, pattern string) {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	iter := rdb.Scan(ctx, 0, pattern, 5000).Iterator()
	batch := make([]string, 0, 5000)
	flush := func() {
		if len(batch) > 0 {
			if err := rdb.Unlink(ctx, batch...).Err(); err != nil {
				b.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	for iter.Next(ctx) {
		batch = append(batch, iter.Val())
		if len(batch) == cap(batch) {
			flush()
		}
	}
	if err := iter.Err(); err != nil {
		b.Fatal(err)
	}
	flush()
}

// cleanAsynqQueue removes an asynq queue's keys and its registration
// (asynq's key layout: asynq:{<queue>}:…, the set asynq:queues).
func cleanAsynqQueue(b *testing.B, rdb *redis.Client, q string) {
	b.Helper()
	deleteKeys(b, rdb, "asynq:{"+q+"}:*")
	if err := rdb.SRem(context.Background(), "asynq:queues", q).Err(); err != nil {
		b.Fatal(err)
	}
}

// runParallel calls op(i) for i in [0, n) from g goroutines; the first
// error stops them all and is returned.
func runParallel(n, g int, op func(i int) error) error {
	var next atomic.Int64
	var first atomic.Value
	var wg sync.WaitGroup
	for range g {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				if err := op(i); err != nil {
					first.CompareAndSwap(nil, err)
					next.Store(int64(n))
					return
				}
			}
		}()
	}
	wg.Wait()
	if err, _ := first.Load().(error); err != nil {
		return err
	}
	return nil
}
