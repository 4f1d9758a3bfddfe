// Package routestats is the gateway's traffic per route, kept in Redis so
// that the dashboard (and any reader of the snapshot) sees every gateway
// process's requests, errors, fallbacks and queued writes per route.
//
//	Gateway.ServeHTTP ─► Recorder.Record(route, status, fallback, queued)
//	                       atomic adds on the route's counters (no Redis, no allocation)
//	flusher, every 1 s and on Close:
//	   swap the counters to 0 ─► pending[bucket][route] += deltas
//	   one pipeline: TIME + per pending bucket HINCRBY <route>\x00req|err|fb|q, EXPIREAT
//	   a field whose HINCRBY succeeded leaves pending; the rest waits for the next flush
//	snapshot (first round trip): HGETALL of the buckets around Redis' now
//	   ─► Sum over the last Window ─► Snapshot.Routes, sorted by route
//
// Buckets are 10 s long and numbered on Redis' clock (Unix seconds / 10):
// a Recorder learns the offset of Redis' TIME from its own clock at every
// flush and buckets its counts by its clock plus that offset, so gateways
// whose clocks disagree still add to the same buckets, and the snapshot
// picks them by its own TIME reply. docs/redis-schema.md has the layout.
package routestats

import (
	"cmp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/haderos/haderctl/internal/engine/store"
)

// Stats is one route's traffic over the last Window, summed over every
// gateway process of the namespace.
type Stats struct {
	// Route is the route's prefix as configured ("/<service>/" for an
	// automatic route).
	Route string `json:"route"`
	// Window is the span the counts cover (ending at the snapshot's time).
	Window time.Duration `json:"-"`
	// WindowSeconds is Window in seconds (the JSON form).
	WindowSeconds float64 `json:"window_seconds"`
	// Requests answered (a client that left before its answer included,
	// as in haderos_gateway_requests_total), Errors among them (5xx the
	// gateway sent, upstream failures included), Fallbacks (answered by a
	// provider after the first), Queued (writes stored in the fallback
	// queue, 202; an Idempotency-Key replay of one is not).
	Requests  int64 `json:"requests"`
	Errors    int64 `json:"errors"`
	Fallbacks int64 `json:"fallbacks"`
	Queued    int64 `json:"queued"`
	// PerSecond is Requests / Window in seconds.
	PerSecond float64 `json:"per_second"`
	// ErrorPercent is Errors / Requests × 100, 0 without requests.
	ErrorPercent float64 `json:"error_percent"`
}

// BucketSeconds is the length of one bucket of counts.
const BucketSeconds = 10

// WindowBuckets is how many full buckets before the current one a
// snapshot sums: with the current (partial) bucket, the counts of the
// last 60 to 70 seconds (Window).
const WindowBuckets = 6

// The field suffixes of one route in a bucket's hash, in the order of
// a route's counters.
const (
	FieldRequests  = "req"
	FieldErrors    = "err"
	FieldFallbacks = "fb"
	FieldQueued    = "q"
)

var fieldSuffixes = [numCounters]string{FieldRequests, FieldErrors, FieldFallbacks, FieldQueued}

const (
	cRequests = iota
	cErrors
	cFallbacks
	cQueued
	numCounters
)

// Field is a route's counter's field in a bucket's hash: the route, a NUL
// byte, the counter's suffix (routes hold no NUL; a reader splits at the
// last one).
func Field(route, suffix string) string { return route + "\x00" + suffix }

// Bucket is the number of the bucket t falls in.
func Bucket(t time.Time) int64 { return t.Unix() / BucketSeconds }

// Key is a bucket's key: store.Keys.GatewayTraffic.
func Key(k store.Keys, bucket int64) string { return k.GatewayTraffic(strconv.FormatInt(bucket, 10)) }

// bucketStart is when a bucket begins.
func bucketStart(b int64) time.Time { return time.Unix(b*BucketSeconds, 0) }

// Window is what a snapshot at Redis time now sums: buckets first to
// last (the current one), covering span (60 s plus the part of the
// current bucket gone by).
func Window(now time.Time) (first, last int64, span time.Duration) {
	last = Bucket(now)
	first = last - WindowBuckets
	return first, last, now.Sub(bucketStart(first))
}

// Guess is the buckets a reader queues before it knows Redis' time, from
// its estimate of it: the Window's, and the neighbour the estimate is
// nearest to (before the window when the estimate is early in its
// bucket, after it when late), so an estimate off by less than half a
// bucket still finds every bucket in the first round trip.
func Guess(estimate time.Time) []int64 {
	first, last, _ := Window(estimate)
	out := make([]int64, 0, last-first+2)
	if estimate.Sub(bucketStart(last)) < BucketSeconds*time.Second/2 {
		out = append(out, first-1)
	}
	for b := first; b <= last; b++ {
		out = append(out, b)
	}
	if estimate.Sub(bucketStart(last)) >= BucketSeconds*time.Second/2 {
		out = append(out, last+1)
	}
	return out
}

// Sum adds up buckets' hashes (HGETALL replies, those of the Window) into
// one Stats per route, sorted by route. Fields it does not know (another
// suffix, a value that is no integer) are left out: a newer writer's
// counters do not break an older reader.
func Sum(buckets []map[string]string, span time.Duration) []Stats {
	byRoute := map[string]*Stats{}
	for _, h := range buckets {
		for f, v := range h {
			i := strings.LastIndexByte(f, 0)
			if i < 0 {
				continue
			}
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				continue
			}
			route, suffix := f[:i], f[i+1:]
			var dst *int64
			s := byRoute[route]
			if s == nil {
				s = &Stats{Route: route}
			}
			switch suffix {
			case FieldRequests:
				dst = &s.Requests
			case FieldErrors:
				dst = &s.Errors
			case FieldFallbacks:
				dst = &s.Fallbacks
			case FieldQueued:
				dst = &s.Queued
			default:
				continue
			}
			byRoute[route] = s
			*dst += n
		}
	}
	out := make([]Stats, 0, len(byRoute))
	for _, s := range byRoute {
		s.Window = span
		s.WindowSeconds = span.Seconds()
		if span > 0 {
			s.PerSecond = float64(s.Requests) / span.Seconds()
		}
		if s.Requests > 0 {
			s.ErrorPercent = float64(s.Errors) / float64(s.Requests) * 100
		}
		out = append(out, *s)
	}
	slices.SortFunc(out, func(a, b Stats) int { return cmp.Compare(a.Route, b.Route) })
	return out
}
