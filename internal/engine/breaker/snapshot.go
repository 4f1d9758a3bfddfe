package breaker

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/haderos/haderctl/internal/engine/store"
	"github.com/redis/go-redis/v9"
)

// SnapshotPart is the breakers' part of a snapshot (internal/engine/snapshot):
// it queues its reads on the caller's pipeline and decodes them after the
// one Exec, on Redis' clock. It writes nothing.
type SnapshotPart struct {
	keys store.Keys
	own  func(name string) Settings
	// configured are names this process knows from its config: listed
	// even when Redis has never heard of them (Known false then).
	configured []string

	// seen is the state each name had at its last read. Probe leases
	// matter only to a half-open breaker, so a name last seen in another
	// state is read without them; found half-open, it is read again with
	// them in a follow-up (one more round trip, on that transition only).
	mu   sync.Mutex
	seen map[string]State
	// tracked are the names last seen with min_reporters above 1: only
	// theirs is the reporters set read (found so otherwise, a name is read
	// again with it, as for the leases).
	tracked map[string]bool
}

// SnapshotPart returns the engine's snapshot part: settings not stored in
// Redis yet are this process' own; configured names are always listed.
func (e *Engine) SnapshotPart(configured []string) *SnapshotPart {
	return NewSnapshotPart(e.opts.Keys, e.OwnSettings, configured)
}

// NewSnapshotPart builds the part without an engine; own may be nil (the
// defaults).
func NewSnapshotPart(keys store.Keys, own func(string) Settings, configured []string) *SnapshotPart {
	if own == nil {
		own = func(string) Settings { return Settings{}.WithDefaults() }
	}
	return &SnapshotPart{keys: keys, own: own, configured: configured, seen: map[string]State{},
		tracked: map[string]bool{}}
}

// Own is the settings of a breaker whose settings Redis does not hold:
// this process' own (the defaults without an engine).
func (p *SnapshotPart) Own(name string) Settings { return p.own(name) }

// Registered is the set of names the namespace's registry holds.
type Registered map[string]bool

// QueueHead queues the read of the registry.
func (p *SnapshotPart) QueueHead(ctx context.Context, pipe redis.Pipeliner, _ int64) func() (Registered, []string, error) {
	members := pipe.SMembers(ctx, p.keys.Breakers())
	return func() (Registered, []string, error) {
		names, err := members.Result()
		if err != nil {
			return nil, nil, registryErrorOf(p.keys.Breakers(), err)
		}
		reg := make(Registered, len(names))
		for _, n := range names {
			reg[n] = true
		}
		for _, n := range p.configured {
			if !reg[n] {
				names = append(names, n)
			}
		}
		// forget the names no longer listed: seen stays the size of the
		// fleet, not of every breaker ever read
		p.mu.Lock()
		for n := range p.seen {
			if !p.listed(reg, n) {
				delete(p.seen, n)
				delete(p.tracked, n)
			}
		}
		p.mu.Unlock()
		return reg, names, nil
	}
}

// listed reports whether the registry or this process' config names n.
func (p *SnapshotPart) listed(reg Registered, n string) bool {
	return reg[n] || slices.Contains(p.configured, n)
}

// QueueNames queues each breaker's hash, its probe leases unless it was
// last seen in a state other than half-open, its reporters unless it was
// last seen with min_reporters off, and, with events > 0, its latest
// events. A breaker found half-open without its leases read, or with
// min_reporters on without its reporters read, is named for a re-read.
func (p *SnapshotPart) QueueNames(ctx context.Context, pipe redis.Pipeliner, names []string, events int64) func(time.Time, Registered) ([]Status, []string, error) {
	reads := make([]statusRead, len(names))
	p.mu.Lock()
	for i, n := range names {
		last, ok := p.seen[n]
		reads[i] = queueStatusRead(ctx, pipe, p.keys, n, !ok || last == HalfOpen, !ok || p.tracked[n], events)
	}
	p.mu.Unlock()
	return func(now time.Time, reg Registered) ([]Status, []string, error) {
		out := make([]Status, len(names))
		var again []string
		for i, n := range names {
			st, err := reads[i].decode(n, p.own(n), now)
			if err != nil {
				return nil, nil, err
			}
			st.Known = st.Known || reg[n]
			out[i] = st
			if (st.State == HalfOpen && reads[i].probes == nil) ||
				(st.Settings.MinReporters > 1 && reads[i].reporters == nil) {
				again = append(again, n)
			}
		}
		p.mu.Lock()
		for i, n := range names {
			// a name read from the reader's cache but gone from the
			// registry is not remembered (the reader drops it too)
			if p.listed(reg, n) {
				p.seen[n] = out[i].State
				p.tracked[n] = out[i].Settings.MinReporters > 1
			}
		}
		p.mu.Unlock()
		return out, again, nil
	}
}

// Result is the statuses, in the order read.
func (p *SnapshotPart) Result(_ Registered, sts []Status, _ time.Time) []Status { return sts }

// statusRead is one breaker's reads queued on a pipeline.
type statusRead struct {
	hash *redis.StringSliceCmd
	// probes is nil when the leases were not read
	probes *redis.ZSliceCmd
	// reporters is nil when the reporters were not read
	reporters *redis.ZSliceCmd
	// fallbacks is always read: nothing says beforehand which breakers
	// some process ran in memory
	fallbacks *redis.ZSliceCmd
	events    *redis.XMessageSliceCmd
}

func queueStatusRead(ctx context.Context, pipe redis.Pipeliner, k store.Keys, name string, withProbes, withReporters bool, events int64) statusRead {
	// commands built by hand, with the field names boxed once: a snapshot
	// of a large fleet is mostly these two per breaker
	key := k.Breaker(name)
	args := make([]any, 0, 2+len(statusFieldArgs))
	args = append(append(args, "hmget", key), statusFieldArgs...)
	hash := redis.NewStringSliceCmd(ctx, args...)
	_ = pipe.Process(ctx, hash) // queued: errors come with Exec
	r := statusRead{hash: hash}
	if withProbes {
		// every lease with its deadline: the set holds at most max_probes
		// live ones, and counting them against TIME of the same pipeline
		// needs no second round trip
		r.probes = redis.NewZSliceCmd(ctx, "zrange", k.BreakerProbes(name), "0", "-1", "withscores")
		_ = pipe.Process(ctx, r.probes)
	}
	if withReporters {
		// one member per process that failed within the window: as few
		// as the leases, and counted against the same TIME
		r.reporters = redis.NewZSliceCmd(ctx, "zrange", k.BreakerReporters(name), "0", "-1", "withscores")
		_ = pipe.Process(ctx, r.reporters)
	}
	// one member per process that reported a fallback within the window,
	// counted against the pipeline's TIME like the reporters (a ZCOUNT
	// would need the window's start before Redis' clock is read); on a
	// fleet that never fell back the key does not exist
	r.fallbacks = redis.NewZSliceCmd(ctx, "zrange", k.BreakerFallbacks(name), "0", "-1", "withscores")
	_ = pipe.Process(ctx, r.fallbacks)
	if events > 0 {
		r.events = pipe.XRevRangeN(ctx, k.BreakerEvents(name), "+", "-", events)
	}
	return r
}

// decode turns the replies into a Status. A hash, probe set or event
// stream of the wrong type is a corrupt breaker, as the scripts see it
// (reported in Status.Problem, not an error: the other breakers are still
// shown); any other error reply or a connection error is an error.
func (r statusRead) decode(name string, own Settings, now time.Time) (Status, error) {
	h, herr := r.hash.Result()
	if herr != nil && !wrongType(herr) {
		return Status{}, herr
	}
	st := parseFields(name, hmgetFields(h), herr, own, now)
	st.Known = !hmgetFields(h).empty() || herr != nil
	var probes []redis.Z
	if r.probes != nil {
		var err error
		if probes, err = r.probes.Result(); err != nil {
			if !wrongType(err) {
				return Status{}, fmt.Errorf("breaker %s: probe leases %s unreadable: %w", name, r.probes.Args()[1], err)
			}
			st.corrupt("the probes key is not a sorted set")
		}
	}
	if st.State == HalfOpen {
		// only live leases count: expired ones are freed at the next acquire
		nowMs := float64(now.UnixMilli())
		for _, z := range probes {
			if z.Score >= nowMs {
				st.ProbesInFlight++
			}
		}
	}
	if r.reporters != nil {
		reporters, err := r.reporters.Result()
		if err != nil && !wrongType(err) {
			return Status{}, fmt.Errorf("breaker %s: reporters %s unreadable: %w", name, r.reporters.Args()[1], err)
		}
		// a key of the wrong type is corrupt only where the scripts refuse
		// it (a failure with min_reporters on); with it off they never read
		// the key, and a snapshot that reads it once, cold, must not call a
		// working breaker corrupt that the next one does not
		if err != nil && st.Settings.MinReporters > 1 {
			st.corrupt("the reporters key is not a sorted set")
		}
		if st.State == Closed && st.Settings.MinReporters > 1 {
			// the scripts trim the set only when they write: count those
			// within the window as it stands now
			since := float64(now.Add(-st.Settings.ReporterWindow).UnixMilli())
			for _, z := range reporters {
				if z.Score >= since {
					st.Reporters++
				}
			}
		}
	}
	if r.fallbacks != nil {
		fallbacks, err := r.fallbacks.Result()
		if err != nil && !wrongType(err) {
			return Status{}, fmt.Errorf("breaker %s: fallbacks %s unreadable: %w", name, r.fallbacks.Args()[1], err)
		}
		// a key of the wrong type counts nothing and is not corrupt: no
		// call path reads it, only the reports after an outage write it
		since := float64(now.Add(-FallbackWindow).UnixMilli())
		for _, z := range fallbacks {
			if z.Score >= since {
				st.FallbackReporters++
			}
		}
	}
	if r.events != nil {
		msgs, err := r.events.Result()
		if err != nil && !wrongType(err) {
			return Status{}, fmt.Errorf("breaker %s: event stream unreadable: %w", name, err)
		}
		if err != nil {
			st.corrupt("the events key is not a stream")
		}
		st.Events = make([]Event, len(msgs))
		for i, m := range msgs {
			st.Events[len(msgs)-1-i] = eventFromStream(m)
		}
	}
	return st, nil
}

// wrongType is a WRONGTYPE reply: a key of the breaker holds another
// type (corrupt data), as opposed to an ACL refusal or the connection.
func wrongType(err error) bool { return redis.HasErrorPrefix(err, "WRONGTYPE") }

// corrupt marks the status corrupt; the first problem found is kept.
func (st *Status) corrupt(problem string) {
	if st.Problem == "" {
		st.Problem = problem
	}
	st.State, st.Known = Corrupt, true
}

// registryErrorOf is registryError without its TYPE lookup (a snapshot
// reads in one round trip): the type is not named.
func registryErrorOf(key string, err error) error {
	if isDataError(err) && strings.HasPrefix(err.Error(), "WRONGTYPE") {
		return &RegistryError{Key: key, Type: "key of another type"}
	}
	return err
}

// Page reads the named breakers in one pipelined round trip with Redis'
// clock, for callers that page through a large registry (ScanNames):
// registered says whether a name is in the registry (the caller found it
// there, so the page does not ask again per name).
func (p *SnapshotPart) Page(ctx context.Context, rdb redis.UniversalClient, names []string, registered func(string) bool) ([]Status, time.Time, error) {
	pipe := rdb.Pipeline()
	tcmd := pipe.Time(ctx)
	// every page reads the leases: a paged read keeps no state per name
	reads := make([]statusRead, len(names))
	for i, n := range names {
		reads[i] = queueStatusRead(ctx, pipe, p.keys, n, true, true, 0)
	}
	if cmds, err := pipe.Exec(ctx); err != nil && (!isDataError(err) || !anyFailed(cmds)) {
		// a data error is one command's; an error no command carries is
		// the pipeline's (no master behind a Sentinel, say)
		return nil, time.Time{}, err
	}
	now, err := tcmd.Result()
	if err != nil {
		return nil, time.Time{}, err
	}
	sts := make([]Status, len(names))
	for i, n := range names {
		st, err := reads[i].decode(n, p.own(n), now)
		if err != nil {
			return nil, time.Time{}, err
		}
		st.Known = st.Known || registered(n)
		sts[i] = st
	}
	return sts, now, nil
}

// ScanNames pages through the registry with SSCAN (count names a page),
// calling fn with each page; names may repeat across pages (SSCAN's
// guarantee), so callers deduplicate.
func (p *SnapshotPart) ScanNames(ctx context.Context, rdb redis.UniversalClient, count int64, fn func([]string) error) error {
	var cursor uint64
	for {
		names, next, err := rdb.SScan(ctx, p.keys.Breakers(), cursor, "", count).Result()
		if err != nil {
			return registryErrorOf(p.keys.Breakers(), err)
		}
		if err := fn(names); err != nil {
			return err
		}
		if next == 0 {
			return nil
		}
		cursor = next
	}
}

// Configured are the names the part lists from this process' config.
func (p *SnapshotPart) Configured() []string { return p.configured }

func anyFailed(cmds []redis.Cmder) bool {
	for _, c := range cmds {
		if c.Err() != nil {
			return true
		}
	}
	return false
}
