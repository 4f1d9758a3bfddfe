// Package snapshot is the engine's read side: every part's state —
// breakers, queues, services' health, chaos, the gateway's traffic per
// route — in one pipelined round trip and no writes. The gateway's
// monitoring API, the dashboard, the status verbs and the game day read
// state through it.
//
//	Reader.Snapshot(ctx, filter)
//	  one pipeline: TIME
//	                + each part's head (registry SMEMBERS/HKEYS, chaos state and index)
//	                + each part's per-name reads for the names cached from the last snapshot
//	                + HGETALL of the gateway's traffic buckets around the estimated Redis time
//	  ──Exec──▶ decode on Redis' clock
//	  names new to the cache (a new breaker, an experiment's services)?
//	                ──▶ one follow-up pipeline for just those ──Exec──▶ decode
//	  ──▶ *Snapshot (cache updated)
//
// Keys carry a hash tag per name (Cluster), so no script could read a
// whole part; the names come from each part's registry. A long-running
// reader therefore makes one round trip per refresh in steady state; a
// cold one-shot read makes two (three when it meets a chaos experiment for
// the first time: the experiment names the services whose baseline calls
// its impact is compared with), and a refresh that finds a breaker newly
// half-open reads it again with its probe leases (one newly given a
// min_reporters above 1, with its reporters). The gateway's traffic
// buckets are numbered on Redis' clock: the reader guesses them from its
// own clock plus the offset the last snapshot saw, and reads one it
// missed (a clock off by more than 5 s, the first time) in a follow-up.
// go-redis splits a pipeline per Cluster node; that is still one Exec.
package snapshot

import (
	"context"
	"errors"
	"path"
	"time"

	"github.com/haderos/haderctl/internal/engine/breaker"
	"github.com/haderos/haderctl/internal/engine/chaos"
	"github.com/haderos/haderctl/internal/engine/gateway/routestats"
	"github.com/haderos/haderctl/internal/engine/health"
	"github.com/haderos/haderctl/internal/engine/queue"
	"github.com/haderos/haderctl/internal/engine/store"
	"github.com/redis/go-redis/v9"
)

// Parts selects parts of the engine; the zero value is all of them.
type Parts uint8

// The parts.
const (
	Breakers Parts = 1 << iota
	Queues
	Health
	Chaos
	// Routes is the gateway's traffic per route over the last
	// routestats.Window.
	Routes
	All = Breakers | Queues | Health | Chaos | Routes
)

// Filter narrows a snapshot. The zero value reads everything, with no
// events.
type Filter struct {
	// Parts to read; zero means All.
	Parts Parts
	// Names are globs (path.Match: *, ?, [a-z]) a breaker, queue or
	// service name must match one of; empty matches every name. Chaos and
	// Routes are read whole.
	Names []string
	// Limit keeps at most Limit names per part, the first by name; zero
	// means no limit.
	Limit int
	// Events asks for that many of the latest events per name: breaker
	// transitions, health alert events, and chaos audit entries (queues
	// keep no event stream). Zero reads none.
	Events int64
}

// Validate checks the globs; the error names the bad one.
func (f Filter) Validate() error {
	for _, g := range f.Names {
		if _, err := path.Match(g, ""); err != nil {
			return &InputError{"invalid name pattern " + quote(g) + ": " + err.Error()}
		}
	}
	if f.Limit < 0 {
		return &InputError{"invalid limit: use 0 (no limit) or more"}
	}
	if f.Events < 0 {
		return &InputError{"invalid events count: use 0 or more"}
	}
	return nil
}

func quote(s string) string { return "\"" + s + "\"" }

// InputError is a bad filter (exit 2).
type InputError struct{ Msg string }

func (e *InputError) Error() string { return e.Msg }

func (f *Filter) matches(name string) bool {
	if len(f.Names) == 0 {
		return true
	}
	for _, g := range f.Names {
		if ok, _ := path.Match(g, name); ok {
			return true
		}
	}
	return false
}

// Snapshot is the engine's state at one moment of Redis' clock.
type Snapshot struct {
	// Time is Redis' clock when the first round trip ran; every "time
	// until" and age is measured against it.
	Time time.Time `json:"timestamp"`
	// Parts are the parts read.
	Parts Parts `json:"-"`
	// Breakers, Queues and Services are sorted by name.
	Breakers []breaker.Status `json:"breakers"`
	Queues   []queue.Stats    `json:"queues"`
	Services []health.Status  `json:"services"`
	Chaos    *chaos.Snapshot  `json:"chaos,omitempty"`
	// Routes are the gateway's traffic per route (empty when no gateway
	// has served the namespace lately), sorted by route.
	Routes []routestats.Stats `json:"routes,omitempty"`
	// RoundTrips is how many pipelines (Execs) this snapshot took.
	RoundTrips int `json:"-"`
}

// Options build a Reader.
type Options struct {
	Keys store.Keys
	// Breaker, Chaos: the engine's parts, for this process' own settings
	// and environment; nil builds them from Keys with the defaults.
	Breaker *breaker.SnapshotPart
	Chaos   *chaos.SnapshotPart
	// ConfiguredBreakers and ConfiguredServices are names from this
	// process' config, listed even before Redis has heard of them (used
	// when Breaker is nil; Breaker carries its own).
	ConfiguredBreakers []string
	ConfiguredServices []string
	// HealthSamples is how many recent results to read per service (up to
	// 60, for sparklines); zero reads none.
	HealthSamples int64
	// Now is this process' clock, used only to guess which of the
	// gateway's traffic buckets (numbered on Redis' clock) to read before
	// Redis' TIME answers; nil is time.Now.
	Now func() time.Time
}

// Reader reads snapshots. It caches the names each part's registry listed,
// so the next snapshot reads them in its first round trip. Safe for
// concurrent use.
type Reader struct {
	rdb     redis.UniversalClient
	sources []source
	breaker *breaker.SnapshotPart
}

// NewReader makes a reader over a client.
func NewReader(rdb redis.UniversalClient, o Options) *Reader {
	bp := o.Breaker
	if bp == nil {
		bp = breaker.NewSnapshotPart(o.Keys, nil, o.ConfiguredBreakers)
	}
	cp := o.Chaos
	if cp == nil {
		cp = chaos.NewSnapshotPart(o.Keys, "", nil, chaos.Limits{})
	}
	now := o.Now
	if now == nil {
		now = time.Now
	}
	return &Reader{rdb: rdb, breaker: bp, sources: []source{
		&partSource[breaker.Registered, breaker.Status, []breaker.Status]{part: bp, which: Breakers, named: true,
			set: func(s *Snapshot, r []breaker.Status) { s.Breakers = r }},
		&partSource[struct{}, queue.Stats, []queue.Stats]{part: queue.NewSnapshotPart(o.Keys), which: Queues, named: true,
			set: func(s *Snapshot, r []queue.Stats) { s.Queues = r }},
		&partSource[struct{}, health.Status, []health.Status]{part: health.NewSnapshotPart(o.Keys, o.ConfiguredServices, o.HealthSamples), which: Health, named: true,
			set: func(s *Snapshot, r []health.Status) { s.Services = r }},
		&partSource[chaos.SnapshotHead, chaos.SnapshotEntry, chaos.Snapshot]{part: cp, which: Chaos,
			set: func(s *Snapshot, r chaos.Snapshot) { s.Chaos = &r }},
		&routesSource{keys: o.Keys, now: now},
	}}
}

// BreakerSettings are the settings a breaker Redis never heard of would
// start with: this process' own (Options.Breaker), else the defaults.
func (r *Reader) BreakerSettings(name string) breaker.Settings { return r.breaker.Own(name) }

// maxRounds bounds the follow-ups: the second reads names new to the
// cache, the third the services of experiments met for the first time.
const maxRounds = 3

// Snapshot reads the parts the filter selects, without writing.
func (r *Reader) Snapshot(ctx context.Context, f Filter) (*Snapshot, error) {
	if err := f.Validate(); err != nil {
		return nil, err
	}
	if f.Parts == 0 {
		f.Parts = All
	}
	s := &Snapshot{Parts: f.Parts, Breakers: []breaker.Status{}, Queues: []queue.Stats{}, Services: []health.Status{}}
	p := r.rdb.Pipeline()
	tcmd := p.Time(ctx)
	var rounds []round
	for _, src := range r.sources {
		if f.Parts&src.kind() != 0 {
			rounds = append(rounds, src.begin(ctx, p, &f))
		}
	}
	for n := 1; ; n++ {
		if err := exec(ctx, p); err != nil {
			return nil, err
		}
		s.RoundTrips++
		if n == 1 {
			now, err := tcmd.Result()
			if err != nil {
				return nil, err
			}
			s.Time = now
		}
		p = r.rdb.Pipeline()
		again := false
		for _, rd := range rounds {
			more, err := rd.next(ctx, p, s.Time)
			if err != nil {
				return nil, err
			}
			again = again || more
		}
		if !again || n == maxRounds {
			break
		}
	}
	for _, rd := range rounds {
		rd.finish(s, s.Time)
	}
	return s, nil
}

// exec runs a pipeline. An error reply to some commands (a key of the
// wrong type, GET of a key that is gone) is left to their decoders, which
// name the key; an error no command carries, or one every command
// carries (but "no such key"), is the pipeline's own (no connection, no
// master) and returned.
func exec(ctx context.Context, p redis.Pipeliner) error {
	if p.Len() == 0 {
		return nil
	}
	cmds, err := p.Exec(ctx)
	if err == nil {
		return nil
	}
	var rerr redis.Error
	if !errors.As(err, &rerr) {
		return err
	}
	failed := 0
	for _, c := range cmds {
		if c.Err() != nil {
			failed++
		}
	}
	if failed == 0 || (failed == len(cmds) && !errors.Is(err, redis.Nil)) {
		return err
	}
	return nil
}
