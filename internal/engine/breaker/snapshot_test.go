package breaker

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// tripCounter counts the round trips (pipelines and single commands)
// that touch a key containing mark; the engine's own background re-reads
// touch other keys.
type tripCounter struct {
	mark string
	n    atomic.Int64
}

func (c *tripCounter) touches(cmds ...redis.Cmder) bool {
	for _, cmd := range cmds {
		for _, a := range cmd.Args() {
			if s, ok := a.(string); ok && strings.Contains(s, c.mark) {
				return true
			}
		}
	}
	return false
}

func (c *tripCounter) DialHook(next redis.DialHook) redis.DialHook { return next }
func (c *tripCounter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if c.touches(cmd) {
			c.n.Add(1)
		}
		return next(ctx, cmd)
	}
}
func (c *tripCounter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if c.touches(cmds...) {
			c.n.Add(1)
		}
		return next(ctx, cmds)
	}
}

func TestSnapshotCountsHalfOpenProbesInTheSameRoundTrip(t *testing.T) {
	e := newTestEngine(t, Options{})
	ctx := context.Background()
	k := e.opts.Keys
	now, err := e.rdb.Time(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	ms := now.UnixMilli()
	for _, n := range []string{"a", "b"} {
		e.rdb.HSet(ctx, k.Breaker(n), "state", "half_open", "generation", 2, "changed_at", ms)
		e.rdb.SAdd(ctx, k.Breakers(), n)
	}
	e.rdb.ZAdd(ctx, k.BreakerProbes("a"), redis.Z{Score: float64(ms + 60000), Member: "live1"},
		redis.Z{Score: float64(ms + 60000), Member: "live2"}, redis.Z{Score: float64(ms - 60000), Member: "expired"})
	trips := &tripCounter{mark: ":probes"}
	e.rdb.AddHook(trips)
	sts, _, err := e.Snapshot(ctx, []string{"a", "b"})
	if err != nil {
		t.Fatal(err)
	}
	if got := trips.n.Load(); got != 1 {
		t.Fatalf("Snapshot of two half-open breakers made %d round trips, want 1", got)
	}
	if sts[0].ProbesInFlight != 2 || sts[1].ProbesInFlight != 0 {
		t.Fatalf("probes in flight %d and %d, want 2 (the expired lease not counted) and 0", sts[0].ProbesInFlight, sts[1].ProbesInFlight)
	}

	// a probe set of the wrong type is reported, not counted as zero: b
	// is corrupt, as the scripts see it, and a is read as before
	e.rdb.Del(ctx, k.BreakerProbes("b"))
	e.rdb.Set(ctx, k.BreakerProbes("b"), "x", time.Minute)
	sts, _, err = e.Snapshot(ctx, []string{"a", "b"})
	if err != nil {
		t.Fatalf("Snapshot with one corrupt probe set: %v, want b reported corrupt", err)
	}
	if b := sts[1]; b.State != Corrupt || b.Problem != "the probes key is not a sorted set" {
		t.Fatalf("breaker b with a corrupt probe set: %s %q", b.State, b.Problem)
	}
	if a := sts[0]; a.State != HalfOpen || a.ProbesInFlight != 2 {
		t.Fatalf("breaker a beside it: %s with %d probes", a.State, a.ProbesInFlight)
	}
}

// The part's memory of each name's last state forgets a name the registry
// no longer lists (and no config names): a long-running reader over a
// churning fleet does not grow with every breaker it ever read.
func TestSnapshotPartForgetsUnlistedNames(t *testing.T) {
	e := newTestEngine(t, Options{})
	ctx := context.Background()
	k := e.opts.Keys
	p := e.SnapshotPart([]string{"configured"})
	read := func(names ...string) {
		t.Helper()
		pipe := e.rdb.Pipeline()
		tcmd := pipe.Time(ctx)
		head := p.QueueHead(ctx, pipe, 0)
		dec := p.QueueNames(ctx, pipe, names, 0)
		if _, err := pipe.Exec(ctx); err != nil {
			t.Fatal(err)
		}
		reg, _, err := head()
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := dec(tcmd.Val(), reg); err != nil {
			t.Fatal(err)
		}
	}
	for _, n := range []string{"a", "b", "c"} {
		e.rdb.SAdd(ctx, k.Breakers(), n)
	}
	read("a", "b", "c", "configured")
	e.rdb.SRem(ctx, k.Breakers(), "a", "b")
	read("c", "configured")
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.seen) != 2 {
		t.Fatalf("the part remembers %d names (%v) after a and b left the registry, want c and configured", len(p.seen), p.seen)
	}
}
