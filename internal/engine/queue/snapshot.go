package queue

import (
	"context"
	"time"

	"github.com/haderos/haderctl/internal/engine/store"
	"github.com/redis/go-redis/v9"
)

// SnapshotPart is the queues' part of a snapshot (internal/engine/snapshot):
// the registry, then each queue's counters and sets, read on the caller's
// pipeline and decoded on Redis' clock. It writes nothing. Queues keep no
// event stream, so the part has no recent events.
type SnapshotPart struct{ keys store.Keys }

// NewSnapshotPart builds the part for a namespace.
func NewSnapshotPart(keys store.Keys) *SnapshotPart { return &SnapshotPart{keys: keys} }

// SnapshotPart returns the client's snapshot part.
func (c *Client) SnapshotPart() *SnapshotPart { return NewSnapshotPart(c.keys) }

// QueueHead queues the read of the registry.
func (p *SnapshotPart) QueueHead(ctx context.Context, pipe redis.Pipeliner, _ int64) func() (struct{}, []string, error) {
	members := pipe.SMembers(ctx, p.keys.Queues())
	return func() (struct{}, []string, error) {
		names, err := members.Result()
		return struct{}{}, names, err
	}
}

// QueueNames queues each queue's reads.
func (p *SnapshotPart) QueueNames(ctx context.Context, pipe redis.Pipeliner, names []string, _ int64) func(time.Time, struct{}) ([]Stats, []string, error) {
	reads := make([]statsRead, len(names))
	for i, q := range names {
		reads[i] = queueStatsRead(ctx, pipe, p.keys, q)
	}
	return func(now time.Time, _ struct{}) ([]Stats, []string, error) {
		out := make([]Stats, len(names))
		for i, q := range names {
			st, err := reads[i].decode(q, now)
			if err != nil {
				return nil, nil, err
			}
			out[i] = st
		}
		return out, nil, nil
	}
}

// Result is the stats, in the order read.
func (p *SnapshotPart) Result(_ struct{}, sts []Stats, _ time.Time) []Stats { return sts }
