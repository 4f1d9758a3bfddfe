package snapshot

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/haderos/haderctl/internal/engine/gateway/routestats"
	"github.com/haderos/haderctl/internal/engine/store"
	"github.com/redis/go-redis/v9"
)

// routesSource reads the gateway's traffic buckets (routestats). Their
// keys follow Redis' clock, which a snapshot learns only when its first
// round trip returns: it queues the buckets around its estimate (this
// process' clock plus the offset the last snapshot saw) in that round
// trip, and reads a bucket of the Window it missed (a clock off by more
// than half a bucket, the first time) in a follow-up.
type routesSource struct {
	keys store.Keys
	now  func() time.Time
	// offset is Redis' clock minus now, in ns, as last seen
	offset atomic.Int64
}

func (s *routesSource) kind() Parts { return Routes }

func (s *routesSource) begin(ctx context.Context, p redis.Pipeliner, _ *Filter) round {
	r := &routesRound{src: s, reads: map[int64]*redis.MapStringStringCmd{}, sent: s.now()}
	r.queue(ctx, p, routestats.Guess(r.sent.Add(time.Duration(s.offset.Load()))))
	return r
}

type routesRound struct {
	src   *routesSource
	reads map[int64]*redis.MapStringStringCmd
	// queued are the reads of the last Exec, to check
	queued  []*redis.MapStringStringCmd
	sent    time.Time
	learned bool
}

func (r *routesRound) queue(ctx context.Context, p redis.Pipeliner, buckets []int64) {
	for _, b := range buckets {
		if _, ok := r.reads[b]; !ok {
			c := p.HGetAll(ctx, routestats.Key(r.src.keys, b))
			r.reads[b] = c
			r.queued = append(r.queued, c)
		}
	}
}

func (r *routesRound) next(ctx context.Context, p redis.Pipeliner, now time.Time) (bool, error) {
	if !r.learned {
		got := r.src.now()
		r.src.offset.Store(int64(now.Sub(r.sent.Add(got.Sub(r.sent) / 2))))
		r.learned = true
	}
	for _, c := range r.queued {
		// a bucket of another type is left out (the gateway's flushes
		// fail on it too, and say so in its log); other errors are the
		// read's
		if err := c.Err(); err != nil && !redis.HasErrorPrefix(err, "WRONGTYPE") {
			return false, fmt.Errorf("gateway traffic %v: %w", c.Args()[1], err)
		}
	}
	r.queued = nil
	first, last, _ := routestats.Window(now)
	var missing []int64
	for b := first; b <= last; b++ {
		if _, ok := r.reads[b]; !ok {
			missing = append(missing, b)
		}
	}
	r.queue(ctx, p, missing)
	return len(missing) > 0, nil
}

func (r *routesRound) finish(s *Snapshot, now time.Time) {
	first, last, span := routestats.Window(now)
	var hs []map[string]string
	for b := first; b <= last; b++ {
		if c, ok := r.reads[b]; ok && c.Err() == nil {
			hs = append(hs, c.Val())
		}
	}
	s.Routes = routestats.Sum(hs, span)
}
