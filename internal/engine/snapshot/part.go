package snapshot

import (
	"cmp"
	"context"
	"slices"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Part is what one part of the engine contributes to a snapshot. It is
// implemented in the part's own package (breaker/snapshot.go,
// queue/snapshot.go, …) without importing this one, so adding a part
// touches only its package and the Reader's list of parts.
//
// H is what the part reads once per snapshot (its registry and any
// part-wide state), E its entry per name, R what the Snapshot holds.
type Part[H, E, R any] interface {
	// QueueHead queues the part's own reads on p. After Exec the function
	// returns the part-wide state and the names the registry holds.
	QueueHead(ctx context.Context, p redis.Pipeliner, events int64) func() (H, []string, error)
	// QueueNames queues the reads of names on p. After Exec the function
	// decodes them on Redis' clock: the entries, and names that need
	// reading in a follow-up round trip. A part read by name (breakers,
	// queues, services) returns one entry per name, in order, and its
	// follow-up names are names it read and wants read again (a breaker
	// found half-open whose probe leases it skipped): their new entries
	// replace the first. Chaos's are names new to it (an experiment's
	// services).
	QueueNames(ctx context.Context, p redis.Pipeliner, names []string, events int64) func(now time.Time, head H) ([]E, []string, error)
	// Result assembles the part's section of the snapshot.
	Result(head H, entries []E, now time.Time) R
}

// source drives one Part through a snapshot's round trips; it is the
// Part's non-generic face for the Reader.
type source interface {
	kind() Parts
	// begin queues the head and the reads of the names cached from the
	// last snapshot that pass the filter.
	begin(ctx context.Context, p redis.Pipeliner, f *Filter) round
}

// round is one snapshot's progress through one part.
type round interface {
	// next decodes what the last Exec read and queues on p the reads of
	// names not read yet; it reports whether it queued any.
	next(ctx context.Context, p redis.Pipeliner, now time.Time) (bool, error)
	// finish stores the part's section in s.
	finish(s *Snapshot, now time.Time)
}

// partSource adapts a Part; cache holds the names the last snapshot read,
// so the next one reads them in its first round trip.
type partSource[H, E, R any] struct {
	part  Part[H, E, R]
	which Parts
	// named parts take the filter's name globs and limit; the others
	// (chaos) are read whole.
	named bool
	set   func(*Snapshot, R)

	mu    sync.Mutex
	cache []string
}

func (s *partSource[H, E, R]) kind() Parts { return s.which }

func (s *partSource[H, E, R]) begin(ctx context.Context, p redis.Pipeliner, f *Filter) round {
	r := &partRound[H, E, R]{src: s, filter: f, events: f.Events, read: map[string]bool{}, pos: map[string]int{}}
	if !s.named {
		r.wanted = map[string]bool{}
	}
	r.head = s.part.QueueHead(ctx, p, f.Events)
	s.mu.Lock()
	cached := slices.Clone(s.cache)
	s.mu.Unlock()
	r.queue(ctx, p, r.pick(cached))
	return r
}

type partRound[H, E, R any] struct {
	src     *partSource[H, E, R]
	filter  *Filter
	events  int64
	head    func() (H, []string, error)
	headVal H
	decoded bool
	// pending are the reads queued for the next Exec
	pending []pendingRead[H, E]
	read    map[string]bool
	order   []string
	entries []E
	// pos is each name's index in order (for re-reads)
	pos map[string]int
	// wanted, for a part read whole (chaos), are the names its head
	// listed and those its entries asked for in this snapshot: only they
	// are cached, so a name gone from both (a swept experiment, the
	// services of one) is not read again.
	wanted map[string]bool
}

// pick applies the filter to names not read yet in this snapshot.
func (r *partRound[H, E, R]) pick(names []string) []string {
	var out []string
	for _, n := range names {
		if r.read[n] || (r.src.named && !r.filter.matches(n)) {
			continue
		}
		out = append(out, n)
	}
	return out
}

func (r *partRound[H, E, R]) queue(ctx context.Context, p redis.Pipeliner, names []string) {
	if len(names) == 0 {
		return
	}
	for _, n := range names {
		r.read[n] = true
	}
	r.pending = append(r.pending, pendingRead[H, E]{names: names, decode: r.src.part.QueueNames(ctx, p, names, r.events)})
}

func (r *partRound[H, E, R]) next(ctx context.Context, p redis.Pipeliner, now time.Time) (bool, error) {
	var fresh []string
	first := !r.decoded
	if first {
		h, names, err := r.head()
		if err != nil {
			return false, err
		}
		r.headVal, r.decoded = h, true
		fresh = names
		r.want(names)
	}
	var again []string
	for _, pr := range r.pending {
		es, more, err := pr.decode(now, r.headVal)
		if err != nil {
			return false, err
		}
		if pr.replace {
			for i, n := range pr.names {
				if j, ok := r.pos[n]; ok && i < len(es) {
					r.entries[j] = es[i]
				}
			}
			continue
		}
		// order holds only names read: a part read by name has one entry each
		for _, n := range pr.names {
			r.pos[n] = len(r.order)
			r.order = append(r.order, n)
		}
		r.entries = append(r.entries, es...)
		if r.src.named {
			again = append(again, more...)
		} else {
			fresh = append(fresh, more...)
			r.want(more)
		}
	}
	r.pending = nil
	if first && r.src.named {
		r.keepListed(fresh)
	}
	if len(again) > 0 {
		again = dedupe(again)
		r.pending = append(r.pending, pendingRead[H, E]{names: again, replace: true,
			decode: r.src.part.QueueNames(ctx, p, again, r.events)})
	}
	names := r.pick(dedupe(fresh))
	if r.src.named && r.filter.Limit > 0 {
		// the limit applies to the sorted names: read only what can be in
		// the first Limit of them
		all := append(slices.Clone(r.order), names...)
		slices.Sort(all)
		all = all[:min(len(all), r.filter.Limit)]
		names = r.pick(all)
	}
	r.queue(ctx, p, names)
	return len(names)+len(again) > 0, nil
}

func (r *partRound[H, E, R]) want(names []string) {
	if r.wanted == nil {
		return
	}
	for _, n := range names {
		r.wanted[n] = true
	}
}

// keepListed drops what was read from the cache for names the registry
// (with the configured names) no longer lists: a deleted queue or an
// unregistered service is not shown. A named part has one entry per name.
func (r *partRound[H, E, R]) keepListed(listed []string) {
	ok := make(map[string]bool, len(listed))
	for _, n := range listed {
		ok[n] = true
	}
	order, entries := r.order[:0], r.entries[:0]
	clear(r.pos)
	for i, n := range r.order {
		if ok[n] {
			r.pos[n] = len(order)
			order, entries = append(order, n), append(entries, r.entries[i])
		}
	}
	r.order, r.entries = order, entries
}

func (r *partRound[H, E, R]) finish(s *Snapshot, now time.Time) {
	if r.src.named {
		// entries by name; then the limit
		idx := make([]int, len(r.order))
		for i := range idx {
			idx[i] = i
		}
		slices.SortFunc(idx, func(a, b int) int { return cmp.Compare(r.order[a], r.order[b]) })
		if r.filter.Limit > 0 && len(idx) > r.filter.Limit {
			idx = idx[:r.filter.Limit]
		}
		order, entries := make([]string, len(idx)), make([]E, len(idx))
		for i, j := range idx {
			order[i], entries[i] = r.order[j], r.entries[j]
		}
		r.order, r.entries = order, entries
	}
	cache := r.order
	if r.wanted != nil {
		cache = make([]string, 0, len(r.order))
		for _, n := range r.order {
			if r.wanted[n] {
				cache = append(cache, n)
			}
		}
	}
	r.src.mu.Lock()
	r.src.cache = cache
	r.src.mu.Unlock()
	r.src.set(s, r.src.part.Result(r.headVal, r.entries, now))
}

// pendingRead is one QueueNames call awaiting its Exec.
type pendingRead[H, E any] struct {
	names  []string
	decode func(time.Time, H) ([]E, []string, error)
	// replace: a re-read, whose entries replace those read before
	replace bool
}

func dedupe(names []string) []string {
	seen := make(map[string]bool, len(names))
	out := names[:0:0]
	for _, n := range names {
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	return out
}

// Source reads the engine's state in one snapshot; *Reader is one. The
// monitoring API and the metrics take it, so tests can hand them a fake.
type Source interface {
	Snapshot(ctx context.Context, f Filter) (*Snapshot, error)
}
