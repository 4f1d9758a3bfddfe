package snapshot

import (
	"context"
	"slices"
	"time"

	"github.com/haderos/haderctl/internal/engine/breaker"
)

// DefaultPage is how many breakers EachBreaker reads per round trip.
const DefaultPage = 500

// EachBreaker reads the breakers f selects a page at a time, for fleets
// too large to hold: the registry is paged with SSCAN, the names (only
// they are held) sorted, then each page of statuses read in one pipeline
// and handed to fn in name order, with the Redis time it was read at. It
// returns the time of the first page (that of the registry read when
// there is none). Only f.Names and f.Limit apply; it writes nothing.
func (r *Reader) EachBreaker(ctx context.Context, f Filter, page int, fn func(st breaker.Status, now time.Time) error) (time.Time, error) {
	if err := f.Validate(); err != nil {
		return time.Time{}, err
	}
	if page <= 0 {
		page = DefaultPage
	}
	var names []string
	add := func(n string) {
		if f.matches(n) {
			names = append(names, n)
		}
	}
	// a name SSCAN returned is registered; of the configured names (few)
	// those it did not return are not: no set of every name is held, and
	// no page asks the registry again per name
	configured := map[string]bool{}
	for _, n := range r.breaker.Configured() {
		configured[n] = false
	}
	err := r.breaker.ScanNames(ctx, r.rdb, int64(page), func(page []string) error {
		for _, n := range page {
			if _, ok := configured[n]; ok {
				configured[n] = true
			}
			add(n)
		}
		return nil
	})
	if err != nil {
		return time.Time{}, err
	}
	for _, n := range r.breaker.Configured() {
		add(n)
	}
	registered := func(n string) bool {
		inRegistry, isConfigured := configured[n]
		return !isConfigured || inRegistry
	}
	// SSCAN may return a name twice (while the set rehashes); sorting
	// then compacting needs no set of every name beside the list
	slices.Sort(names)
	names = slices.Compact(names)
	if f.Limit > 0 && len(names) > f.Limit {
		names = names[:f.Limit]
	}
	var first time.Time
	for start := 0; start < len(names); start += page {
		sts, now, err := r.breaker.Page(ctx, r.rdb, names[start:min(start+page, len(names))], registered)
		if err != nil {
			return first, err
		}
		if first.IsZero() {
			first = now
		}
		for _, st := range sts {
			if err := fn(st, now); err != nil {
				return first, err
			}
		}
	}
	if first.IsZero() {
		now, err := r.rdb.Time(ctx).Result()
		if err != nil {
			return first, err
		}
		first = now
	}
	return first, nil
}
