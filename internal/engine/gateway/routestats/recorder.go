package routestats

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/haderos/haderctl/internal/engine/store"
	"github.com/haderos/haderctl/internal/redact"
	"github.com/redis/go-redis/v9"
)

// Defaults for RecorderOptions' zero values.
const (
	// DefaultInterval is how often a Recorder adds its counts to Redis.
	DefaultInterval = time.Second
	// DefaultTTL is how long a bucket outlives its end: long enough for
	// any Window, short enough that a namespace no gateway serves any
	// more holds no traffic after a few minutes.
	DefaultTTL = 5 * time.Minute
	// DefaultMaxRoutes bounds the routes a Recorder counts (the
	// configured ones are far fewer); requests of routes past it are
	// dropped and counted in Dropped.
	DefaultMaxRoutes = 1024
	// FlushTimeout bounds one flush, so a Redis that does not answer
	// delays the next flush, never a request.
	FlushTimeout = 2 * time.Second
)

// RecorderOptions configure a Recorder. Every zero value is a default.
type RecorderOptions struct {
	// Keys name the buckets (the namespace).
	Keys store.Keys
	// Interval between flushes; zero is DefaultInterval.
	Interval time.Duration
	// TTL of a bucket past its end; zero is DefaultTTL. It is also how
	// long counts wait in memory while Redis is unreachable: a bucket
	// that would already have expired is dropped (Dropped counts its
	// requests).
	TTL time.Duration
	// MaxRoutes bounds the routes counted; zero is DefaultMaxRoutes.
	MaxRoutes int
	// Now is this process' clock; nil is time.Now. Buckets follow Redis'
	// clock: Now plus the offset learned from TIME at each flush.
	Now func() time.Time
	// Logger receives a warning when flushes start failing and a note
	// when they work again; nil discards them. No secret is logged.
	Logger *slog.Logger
}

// routeCounters are one route's counts since the last flush, padded to a
// cache line so routes counted on different cores do not share one.
type routeCounters struct {
	n [numCounters]atomic.Int64
	_ [64 - numCounters*8]byte
}

// Recorder counts the gateway's answers per route in memory and adds
// them to Redis in the background. Record is safe for concurrent use and
// never blocks on Redis.
type Recorder struct {
	rdb redis.UniversalClient
	o   RecorderOptions

	// routes is copied on write: Record reads it without a lock.
	routes   atomic.Pointer[map[string]*routeCounters]
	routesMu sync.Mutex
	dropped  atomic.Int64

	// offset is Redis' clock minus Now, in ns; synced once learned.
	offset atomic.Int64
	synced atomic.Bool

	// flushMu guards pending and failing (the flusher and Close).
	flushMu sync.Mutex
	pending map[int64]map[string]*[numCounters]int64
	failing bool

	stop      chan struct{}
	done      chan struct{}
	closeOnce sync.Once
}

// NewRecorder starts a Recorder whose flusher runs until ctx ends or
// Close; Close flushes what is left.
func NewRecorder(ctx context.Context, rdb redis.UniversalClient, o RecorderOptions) *Recorder {
	if o.Interval <= 0 {
		o.Interval = DefaultInterval
	}
	if o.TTL <= 0 {
		o.TTL = DefaultTTL
	}
	if o.MaxRoutes <= 0 {
		o.MaxRoutes = DefaultMaxRoutes
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	r := &Recorder{rdb: rdb, o: o, pending: map[int64]map[string]*[numCounters]int64{},
		stop: make(chan struct{}), done: make(chan struct{})}
	empty := map[string]*routeCounters{}
	r.routes.Store(&empty)
	go r.run(ctx)
	return r
}

// Record counts one answered request of route: an error when status is
// 5xx, a fallback when a provider after the route's first answered,
// queued when the write was stored for replay (202).
func (r *Recorder) Record(route string, status int, fallback, queued bool) {
	c := (*r.routes.Load())[route]
	if c == nil {
		if c = r.addRoute(route); c == nil {
			r.dropped.Add(1)
			return
		}
	}
	c.n[cRequests].Add(1)
	if status >= 500 {
		c.n[cErrors].Add(1)
	}
	if fallback {
		c.n[cFallbacks].Add(1)
	}
	if queued {
		c.n[cQueued].Add(1)
	}
}

// addRoute adds a route's counters, or returns nil past MaxRoutes.
func (r *Recorder) addRoute(route string) *routeCounters {
	r.routesMu.Lock()
	defer r.routesMu.Unlock()
	old := *r.routes.Load()
	if c := old[route]; c != nil {
		return c
	}
	if len(old) >= r.o.MaxRoutes || strings.IndexByte(route, 0) >= 0 {
		return nil
	}
	m := make(map[string]*routeCounters, len(old)+1)
	for k, v := range old {
		m[k] = v
	}
	c := &routeCounters{}
	m[strings.Clone(route)] = c
	r.routes.Store(&m)
	return c
}

// Dropped is how many requests were not counted: of routes past
// MaxRoutes, and in buckets that would have expired before Redis
// answered again.
func (r *Recorder) Dropped() int64 { return r.dropped.Load() }

func (r *Recorder) run(ctx context.Context) {
	defer close(r.done)
	t := time.NewTicker(r.o.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-r.stop:
			return
		case <-t.C:
			fctx, cancel := context.WithTimeout(ctx, FlushTimeout)
			_ = r.Flush(fctx)
			cancel()
		}
	}
}

// Close stops the flusher and adds what is left to Redis (within
// FlushTimeout); it returns that flush's error. Counts recorded after
// Close are not flushed.
func (r *Recorder) Close() error {
	var err error
	r.closeOnce.Do(func() {
		close(r.stop)
		<-r.done
		ctx, cancel := context.WithTimeout(context.Background(), FlushTimeout)
		defer cancel()
		err = r.Flush(ctx)
	})
	return err
}

// redisNow is the Recorder's estimate of Redis' clock.
func (r *Recorder) redisNow() time.Time {
	return r.o.Now().Add(time.Duration(r.offset.Load()))
}

// learn sets the offset from a TIME reply read between sent and got.
func (r *Recorder) learn(redisTime, sent, got time.Time) {
	mid := sent.Add(got.Sub(sent) / 2)
	r.offset.Store(int64(redisTime.Sub(mid)))
	r.synced.Store(true)
}

// fieldAdd is one HINCRBY of a flush, and what it added.
type fieldAdd struct {
	bucket int64
	route  string
	i      int
	delta  int64
	cmd    *redis.IntCmd
}

// Flush moves the counts recorded so far into pending and adds pending
// to Redis in one pipeline. A count whose HINCRBY failed stays pending
// for the next flush. (A pipeline whose reply was lost after Redis ran
// it may thus be added twice: counts are at least once.)
func (r *Recorder) Flush(ctx context.Context) error {
	r.flushMu.Lock()
	defer r.flushMu.Unlock()
	if !r.synced.Load() {
		// once, before the first counts are bucketed: learn Redis' clock
		sent := r.o.Now()
		if t, err := r.rdb.Time(ctx).Result(); err == nil {
			r.learn(t, sent, r.o.Now())
		}
	}
	now := r.redisNow()
	r.collect(Bucket(now))
	r.expire(now)
	if len(r.pending) == 0 {
		return nil
	}
	p := r.rdb.Pipeline()
	tcmd := p.Time(ctx)
	var adds []fieldAdd
	for b, routes := range r.pending {
		key := Key(r.o.Keys, b)
		for route, n := range routes {
			for i, d := range n {
				if d != 0 {
					adds = append(adds, fieldAdd{bucket: b, route: route, i: i, delta: d,
						cmd: p.HIncrBy(ctx, key, Field(route, fieldSuffixes[i]), d)})
				}
			}
		}
		p.ExpireAt(ctx, key, bucketStart(b+1).Add(r.o.TTL))
	}
	sent := r.o.Now()
	_, err := p.Exec(ctx)
	got := r.o.Now()
	if t, terr := tcmd.Result(); terr == nil {
		r.learn(t, sent, got)
	}
	var failed error
	for _, a := range adds {
		if a.cmd.Err() != nil {
			failed = firstErr(failed, a.cmd.Err())
			continue
		}
		n := r.pending[a.bucket][a.route]
		n[a.i] -= a.delta
	}
	r.prune()
	if failed == nil && err != nil && !errors.Is(err, redis.Nil) {
		failed = err
	}
	r.report(failed)
	return failed
}

func firstErr(first, err error) error {
	if first != nil {
		return first
	}
	return err
}

// collect swaps every route's counters to zero and adds them to the
// bucket b of pending.
func (r *Recorder) collect(b int64) {
	for route, c := range *r.routes.Load() {
		var d [numCounters]int64
		counted := false
		for i := range d {
			d[i] = c.n[i].Swap(0)
			counted = counted || d[i] != 0
		}
		if !counted {
			continue
		}
		routes := r.pending[b]
		if routes == nil {
			routes = map[string]*[numCounters]int64{}
			r.pending[b] = routes
		}
		n := routes[route]
		if n == nil {
			n = new([numCounters]int64)
			routes[route] = n
		}
		for i := range d {
			n[i] += d[i]
		}
	}
}

// expire drops pending buckets that would already have expired in Redis
// at now: what bounds the memory held while Redis is unreachable.
func (r *Recorder) expire(now time.Time) {
	for b, routes := range r.pending {
		if !bucketStart(b + 1).Add(r.o.TTL).After(now) {
			for _, n := range routes {
				r.dropped.Add(n[cRequests])
			}
			delete(r.pending, b)
		}
	}
}

// prune removes what has been added everywhere.
func (r *Recorder) prune() {
	for b, routes := range r.pending {
		for route, n := range routes {
			if *n == ([numCounters]int64{}) {
				delete(routes, route)
			}
		}
		if len(routes) == 0 {
			delete(r.pending, b)
		}
	}
}

// report logs a change between failing and working flushes, once each.
func (r *Recorder) report(err error) {
	switch {
	case err != nil && !r.failing:
		r.failing = true
		r.o.Logger.Warn("gateway: route traffic could not be added to Redis; counts are kept in memory and added when it answers",
			"err", redact.URLsIn(err.Error()), "keep_for", r.o.TTL.String())
	case err == nil && r.failing:
		r.failing = false
		r.o.Logger.Info("gateway: route traffic is added to Redis again")
	}
}
