package health

import (
	"context"
	"time"

	"github.com/haderos/haderctl/internal/engine/store"
	"github.com/redis/go-redis/v9"
)

// SnapshotPart is the services' health in a snapshot
// (internal/engine/snapshot): the registered services and the configured
// ones, then each one's state, hourly counters and, when asked for, recent
// results and alert events, read on the caller's pipeline. It writes nothing.
type SnapshotPart struct {
	keys       store.Keys
	configured []string
	samples    int64
}

// NewSnapshotPart builds the part; configured are the services with a
// health check in this process' config (they are not stored in Redis);
// samples is how many recent results to read per service (up to 60, for
// sparklines; 0: none, Recent is empty).
func NewSnapshotPart(keys store.Keys, configured []string, samples int64) *SnapshotPart {
	return &SnapshotPart{keys: keys, configured: configured, samples: samples}
}

// QueueHead queues the read of the registered services' names.
func (p *SnapshotPart) QueueHead(ctx context.Context, pipe redis.Pipeliner, _ int64) func() (struct{}, []string, error) {
	reg := pipe.HKeys(ctx, p.keys.HealthServices())
	return func() (struct{}, []string, error) {
		names, err := reg.Result()
		if err != nil {
			return struct{}{}, nil, err
		}
		seen := make(map[string]bool, len(names))
		for _, n := range names {
			seen[n] = true
		}
		for _, n := range p.configured {
			if !seen[n] {
				names = append(names, n)
			}
		}
		return struct{}{}, names, nil
	}
}

// QueueNames queues each service's reads; events > 0 adds that many of
// its latest alert events.
func (p *SnapshotPart) QueueNames(ctx context.Context, pipe redis.Pipeliner, names []string, events int64) func(time.Time, struct{}) ([]Status, []string, error) {
	reads := make([]statusRead, len(names))
	for i, n := range names {
		reads[i] = queueStatusRead(ctx, pipe, p.keys, n, p.samples, events)
	}
	return func(now time.Time, _ struct{}) ([]Status, []string, error) {
		out := make([]Status, len(names))
		for i, n := range names {
			st, err := reads[i].decode(n, now)
			if err != nil {
				return nil, nil, err
			}
			out[i] = st
		}
		return out, nil, nil
	}
}

// Result is the statuses, in the order read.
func (p *SnapshotPart) Result(_ struct{}, sts []Status, _ time.Time) []Status { return sts }
