package faults

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// counts are one impact key's calls since the last flush: added to by
// requests with atomic adds, taken by the flush with swaps.
type counts struct{ calls, errors, latencyNs atomic.Int64 }

func (c *counts) add(failed bool, latency time.Duration) {
	c.calls.Add(1)
	if failed {
		c.errors.Add(1)
	}
	c.latencyNs.Add(int64(latency))
}

// retainFlushes is how many flushes a counter no active set arms is kept:
// a request still holding an older set (a long injected delay) may count
// into it that long after its experiment ended; an hour, as long as Redis
// keeps the counts.
const retainFlushes = int(time.Hour / FlushInterval)

// registry holds every counter by impact key (the experiment's id, or
// chaos.BaselineKey of a service): re-reads get theirs from it, the flush
// walks it. Requests never touch it.
type registry struct {
	mu    sync.Mutex
	byKey map[string]*entry
}

type entry struct {
	counts
	// idle counts flushes since a re-read last armed it.
	idle int
}

// get returns key's counter, made on first use, and marks it armed.
func (r *registry) get(key string) *counts {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.byKey == nil {
		r.byKey = map[string]*entry{}
	}
	e := r.byKey[key]
	if e == nil {
		e = &entry{}
		r.byKey[key] = e
	}
	e.idle = 0
	return &e.counts
}

type taken struct{ calls, errors, latencyUs int64 }

// take moves every counter's calls out (the three swaps of a counter are
// not one instant: a call counted meanwhile may have its error in the next
// flush) and forgets the counters idle past retainFlushes with nothing
// counted.
func (r *registry) take() map[string]taken {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out map[string]taken
	for key, e := range r.byKey {
		calls := e.calls.Swap(0)
		if calls == 0 {
			if e.idle++; e.idle > retainFlushes {
				delete(r.byKey, key)
			}
			continue
		}
		e.idle++
		// the nanoseconds below a microsecond stay for the next flush
		ns := e.latencyNs.Swap(0)
		e.latencyNs.Add(ns % int64(time.Microsecond))
		if out == nil {
			out = map[string]taken{}
		}
		out[key] = taken{calls: calls, errors: e.errors.Swap(0), latencyUs: ns / int64(time.Microsecond)}
	}
	return out
}

// flush adds the counts to Redis; they are kept for an hour after the
// last call.
func (f *Faults) flush(ctx context.Context) {
	counts := f.counts.take()
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
