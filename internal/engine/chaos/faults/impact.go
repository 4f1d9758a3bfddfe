package faults

import (
	"context"
	"sync"
	"time"
)

// impact counts calls per experiment (affected) and per service
// (baseline), flushed to Redis by the data plane every second.
type impact struct {
	mu     sync.Mutex
	counts map[string]*callCounts
}

type callCounts struct{ calls, errors, latencyUs int64 }

func (m *impact) add(key string, failed bool, latency time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.counts == nil {
		m.counts = map[string]*callCounts{}
	}
	c := m.counts[key]
	if c == nil {
		c = &callCounts{}
		m.counts[key] = c
	}
	c.calls++
	if failed {
		c.errors++
	}
	c.latencyUs += latency.Microseconds()
}

func (m *impact) take() map[string]*callCounts {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := m.counts
	m.counts = nil
	return out
}

// flush adds the counts to Redis; they are kept for an hour after the
// last call.
func (f *Faults) flush(ctx context.Context) {
	counts := f.impact.take()
	if len(counts) == 0 {
		return
	}
	p := f.rdb.Pipeline()
	for key, c := range counts {
		k := f.keys.ChaosImpact(key)
		p.HIncrBy(ctx, k, "calls", c.calls)
		p.HIncrBy(ctx, k, "errors", c.errors)
		p.HIncrBy(ctx, k, "latency_us", c.latencyUs)
		p.Expire(ctx, k, time.Hour)
	}
	_, _ = p.Exec(ctx) // metrics are best effort: a lost second is not worth an error
}
