package snapshot

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/haderos/haderctl/internal/engine/store"
	"github.com/haderos/haderctl/internal/testredis"
	"github.com/redis/go-redis/v9"
)

func TestMain(m *testing.M) { os.Exit(testredis.Main(m)) }

// counter is a go-redis hook that counts round trips (a pipeline Exec, or
// a single command outside a pipeline) and records every command name.
type counter struct {
	mu        sync.Mutex
	execs     int
	singles   int
	commands  map[string]int
	pipelined int
}

func newCounter() *counter { return &counter{commands: map[string]int{}} }

func (c *counter) DialHook(next redis.DialHook) redis.DialHook { return next }

func (c *counter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		c.mu.Lock()
		c.singles++
		c.commands[strings.ToLower(cmd.Name())]++
		c.mu.Unlock()
		return next(ctx, cmd)
	}
}

func (c *counter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		c.mu.Lock()
		c.execs++
		c.pipelined += len(cmds)
		for _, cmd := range cmds {
			c.commands[strings.ToLower(cmd.Name())]++
		}
		c.mu.Unlock()
		return next(ctx, cmds)
	}
}

func (c *counter) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.execs, c.singles, c.pipelined = 0, 0, 0
	c.commands = map[string]int{}
}

func (c *counter) roundTrips() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.execs + c.singles
}

// readCommands are the commands a snapshot may send: reads only.
var readCommands = map[string]bool{"time": true, "smembers": true, "sscan": true, "sismember": true, "hkeys": true,
	"hgetall": true, "hmget": true, "zrange": true, "zrangebyscore": true, "zcount": true, "zcard": true, "lrange": true,
	"xrevrange": true, "get": true}

func (c *counter) writes() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for name := range c.commands {
		if !readCommands[name] {
			out = append(out, name)
		}
	}
	return out
}

// fleet is what seed writes, in the engine's schema (docs/redis-schema.md).
type fleet struct {
	breakers, services, queues, experiments int
	// perName adds that many breaker events and health alerts per name
	events int
}

// seed writes a fleet straight in the schema, with Redis' clock now.
func seed(tb testing.TB, rdb redis.UniversalClient, k store.Keys, f fleet) time.Time {
	tb.Helper()
	ctx := context.Background()
	now, err := rdb.Time(ctx).Result()
	if err != nil {
		tb.Fatal(err)
	}
	ms := now.UnixMilli()
	p := rdb.Pipeline()
	flush := func() {
		if p.Len() >= 2000 {
			if _, err := p.Exec(ctx); err != nil {
				tb.Fatal(err)
			}
		}
	}
	for i := 0; i < f.breakers; i++ {
		n := fmt.Sprintf("svc-%05d", i)
		p.SAdd(ctx, k.Breakers(), n)
		state := []string{"closed", "open", "half_open"}[i%3]
		p.HSet(ctx, k.Breaker(n), "state", state, "failures", i%3, "successes", 0, "generation", 1,
			"opened_at", ms-1000, "changed_at", ms-1000, "last_failure", ms-1000,
			"failure_threshold", 3, "success_threshold", 2, "recovery_timeout_ms", 120000, "max_probes", 2, "probe_lease_ms", 30000)
		if state == "half_open" {
			p.ZAdd(ctx, k.BreakerProbes(n), redis.Z{Score: float64(ms + 30000), Member: "live"}, redis.Z{Score: float64(ms - 5000), Member: "expired"})
		}
		for e := 0; e < f.events; e++ {
			p.XAdd(ctx, &redis.XAddArgs{Stream: k.BreakerEvents(n), Values: []any{"name", n, "from", "closed", "to", "open", "reason", "seed", "at", ms}})
		}
		flush()
	}
	for i := 0; i < f.services; i++ {
		n := fmt.Sprintf("svc-%05d", i)
		js, _ := json.Marshal(map[string]any{"name": n, "url": "http://127.0.0.1:1/" + n})
		p.HSet(ctx, k.HealthServices(), n, js)
		status := []string{"healthy", "unhealthy"}[i%2]
		p.HSet(ctx, k.Health(n), "status", status, "http_code", 200, "latency_us", 12000, "checked_at", ms-2000,
			"consecutive_failures", i%2*4, "consecutive_successes", 1-i%2, "alert_open", strconv.Itoa(i%2), "alert_since", ms-60000)
		hour := ms / 3600000
		p.HSet(ctx, k.HealthHours(n), fmt.Sprint(hour, ":n"), 10, fmt.Sprint(hour, ":ok"), 9, fmt.Sprint(hour, ":us"), 120000,
			fmt.Sprint(hour-30, ":n"), 10, fmt.Sprint(hour-30, ":ok"), 5, fmt.Sprint(hour-30, ":us"), 100000)
		p.LPush(ctx, k.HealthRecent(n), fmt.Sprintf("1 12 200 %d", ms-2000))
		for e := 0; e < f.events; e++ {
			p.XAdd(ctx, &redis.XAddArgs{Stream: k.HealthAlerts(n), Values: []any{"kind", "fired", "at", ms, "since", ms, "consecutive_failures", 3, "by", "seed"}})
		}
		flush()
	}
	for i := 0; i < f.queues; i++ {
		n := fmt.Sprintf("q-%03d", i)
		p.SAdd(ctx, k.Queues(), n)
		p.HSet(ctx, k.Queue(n), "completed", 8, "died", 2, "retry_ms_total", 16000)
		// one critical (rank 0) and two normal (rank 2) operations, the
		// oldest 10 s old
		p.ZAdd(ctx, k.QueueReady(n), redis.Z{Score: float64(ms - 10000), Member: "a"},
			redis.Z{Score: 2e13 + float64(ms-5000), Member: "b"}, redis.Z{Score: 2e13 + float64(ms-1000), Member: "c"})
		p.ZAdd(ctx, k.QueueDelayed(n), redis.Z{Score: float64(ms + 1000), Member: "d"})
		p.ZAdd(ctx, k.QueueDead(n), redis.Z{Score: float64(ms), Member: "e"})
		flush()
	}
	p.HSet(ctx, k.ChaosState(), "enabled", "1", "enabled_by", "seed")
	for i := 0; i < f.experiments; i++ {
		id := fmt.Sprintf("ch-%04d", i)
		start, end := ms-1000, ms+60000
		if i%4 == 3 { // scheduled: starts in 10 s
			start, end = ms+10000, ms+70000
		}
		js, _ := json.Marshal(map[string]any{"id": id, "kind": "latency", "services": []string{fmt.Sprintf("svc-%05d", i)},
			"probability": 1, "delay": int64(time.Second), "duration": int64(time.Minute), "start_ms": start, "end_ms": end, "by": "seed", "reason": "bench"})
		p.Set(ctx, k.ChaosExperiment(id), js, time.Duration(end-ms)*time.Millisecond)
		p.ZAdd(ctx, k.ChaosActive(), redis.Z{Score: float64(end), Member: id})
		p.HSet(ctx, k.ChaosImpact(id), "calls", 10, "errors", 5, "latency_us", 10_000_000)
		p.HSet(ctx, k.ChaosImpact("baseline:"+fmt.Sprintf("svc-%05d", i)), "calls", 100, "errors", 1, "latency_us", 1_000_000)
		flush()
	}
	if _, err := p.Exec(ctx); err != nil {
		tb.Fatal(err)
	}
	return now
}

// hooked returns a client of the shared test Redis with a counter.
func hooked(tb testing.TB) (*redis.Client, *counter) {
	c := testredis.Client(tb)
	cnt := newCounter()
	c.AddHook(cnt)
	return c, cnt
}
