package chaos

import (
	"context"
	"strconv"
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

// Impact is what an experiment did to the calls it affected, next to the
// baseline of its services' other calls (the seed's chaos metrics).
type Impact struct {
	Calls             int64    `json:"affected_calls"`
	ErrorRate         *float64 `json:"error_rate"`
	AvgLatencyMs      *float64 `json:"avg_latency_ms"`
	BaselineCalls     int64    `json:"baseline_calls"`
	BaselineErrorRate *float64 `json:"baseline_error_rate"`
	BaselineLatencyMs *float64 `json:"baseline_avg_latency_ms"`
}

func rates(h map[string]string) (calls int64, errRate, latency *float64) {
	n := func(f string) int64 { v, _ := strconv.ParseInt(h[f], 10, 64); return v }
	calls = n("calls")
	if calls > 0 {
		e := float64(n("errors")) / float64(calls)
		l := float64(n("latency_us")) / float64(calls) / 1000
		errRate, latency = &e, &l
	}
	return
}

// Impact reads the counted impact of an experiment.
func (c *Client) Impact(ctx context.Context, e Experiment) (Impact, error) {
	var im Impact
	h, err := c.rdb.HGetAll(ctx, c.keys.ChaosImpact(e.ID)).Result()
	if err != nil {
		return im, err
	}
	im.Calls, im.ErrorRate, im.AvgLatencyMs = rates(h)
	var base = map[string]int64{}
	for _, svc := range e.Services {
		bh, err := c.rdb.HGetAll(ctx, c.keys.ChaosImpact("baseline:"+svc)).Result()
		if err != nil {
			return im, err
		}
		for k, v := range bh {
			n, _ := strconv.ParseInt(v, 10, 64)
			base[k] += n
		}
	}
	bs := map[string]string{}
	for k, v := range base {
		bs[k] = strconv.FormatInt(v, 10)
	}
	im.BaselineCalls, im.BaselineErrorRate, im.BaselineLatencyMs = rates(bs)
	return im, nil
}
