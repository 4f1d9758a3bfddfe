// Package source is the dashboard's engine-backed Backend: every read
// goes through the engine's snapshot reader and parts, every action
// through the same part call the CLI verb makes, so it lands in the same
// event and audit streams.
//
//	dashboard model ──tea.Cmd──▶ Backend
//	  Snapshot ─────▶ one snapshot.Reader (kept: 1 round trip per refresh)
//	                    └─ alert diff ──▶ Follow's alert events
//	  Follow ───────▶ Breakers.Follow (pub/sub) + Chaos.FollowAudit (stream)
//	  Recent ───────▶ the same reader, with Filter.Events
//	  drill-downs ──▶ Breakers.Snapshot/Events, Queues.Page, Health, Chaos.AuditOf
//	  Do ───────────▶ Breakers.Reset/Trip/Disable/Enable, Queues.Pause/Resume/Retry,
//	                  Chaos.Stop/StopAll (refused with ReadOnly)
//
// Health alerts are a stream per service: following 1,000 of them live
// would take a blocking read per Cluster slot, so Follow's alert events
// are derived from consecutive snapshots instead (an alert opening or
// closing between two refreshes); Recent reads the streams themselves.
package source

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/haderos/haderctl/internal/dashboard"
	"github.com/haderos/haderctl/internal/engine"
	"github.com/haderos/haderctl/internal/engine/snapshot"
	"github.com/haderos/haderctl/internal/redact"
)

// Options configure a Backend. Zero values are documented per field.
type Options struct {
	// Environment is shown in the header; empty: the engine's.
	Environment string
	// ReadOnly refuses every action (the UI refuses them too).
	ReadOnly bool
	// Events is the tail size used when a caller asks for 0 or fewer
	// events (Recent, BreakerDetail, ServiceChecks, ExperimentAudit);
	// zero means DefaultEvents.
	Events int64
	// Samples is how many recent health results each refresh reads per
	// service, for the latency sparklines (at most 60); zero means
	// DefaultSamples.
	Samples int64
}

// Defaults of Options.
const (
	DefaultEvents  = 50
	DefaultSamples = 30
)

// Backend implements dashboard.Backend over an opened engine. It is safe
// for concurrent use.
type Backend struct {
	sys    *engine.System
	o      Options
	reader *snapshot.Reader
	// who is recorded with a queue pause, as `haderctl queue pause` does
	who string

	mu sync.Mutex
	// alerts is each service's alert as the last snapshot saw it; nil
	// before the first snapshot (which reports no changes)
	alerts map[string]alertSeen
	subs   map[chan dashboard.Event]struct{}
}

var _ dashboard.Backend = (*Backend)(nil)

// alertSeen is one service's alert state in a snapshot.
type alertSeen struct {
	open  bool
	since time.Time
}

// New builds a Backend over sys; sys stays the caller's to close.
func New(sys *engine.System, o Options) *Backend {
	if o.Environment == "" {
		o.Environment = sys.Environment()
	}
	if o.Events <= 0 {
		o.Events = DefaultEvents
	}
	if o.Samples <= 0 {
		o.Samples = DefaultSamples
	}
	o.Samples = min(o.Samples, 60)
	samples := o.Samples
	return &Backend{sys: sys, o: o, who: whoAmI(),
		reader: sys.Reader(func(so *snapshot.Options) { so.HealthSamples = samples }),
		subs:   map[chan dashboard.Event]struct{}{}}
}

// Info implements dashboard.Backend.
func (b *Backend) Info() dashboard.Info {
	return dashboard.Info{Address: b.sys.RedisAddress(), Namespace: b.sys.Keys.Namespace,
		Environment: b.o.Environment, ReadOnly: b.o.ReadOnly}
}

// Snapshot implements dashboard.Backend: every part, with each service's
// recent samples, in one round trip once the reader has seen the names.
// Alerts that opened or closed since the last snapshot go to Follow.
func (b *Backend) Snapshot(ctx context.Context) (*snapshot.Snapshot, error) {
	s, err := b.reader.Snapshot(ctx, snapshot.Filter{})
	if err != nil {
		return nil, err
	}
	for i := range s.Services {
		// a probe's error may quote a URL with a token in it
		s.Services[i].Error = redact.URLsIn(s.Services[i].Error)
	}
	b.diffAlerts(s)
	return s, nil
}

// diffAlerts compares the services' alerts with the last snapshot's and
// hands the changes to every Follow.
func (b *Backend) diffAlerts(s *snapshot.Snapshot) {
	now := make(map[string]alertSeen, len(s.Services))
	for _, st := range s.Services {
		a := alertSeen{open: st.AlertOpen}
		if st.AlertSince != nil {
			a.since = *st.AlertSince
		}
		now[st.Service] = a
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	prev := b.alerts
	b.alerts = now
	if prev == nil || len(b.subs) == 0 {
		return
	}
	var evs []dashboard.Event
	for _, st := range s.Services {
		was, cur := prev[st.Service], now[st.Service]
		switch {
		case cur.open && (!was.open || !was.since.Equal(cur.since)):
			evs = append(evs, alertFired(st, s.Time))
		case was.open && !cur.open:
			evs = append(evs, dashboard.Event{At: s.Time, Kind: dashboard.AlertEvent, Subject: st.Service, Text: "alert resolved"})
		}
	}
	for ch := range b.subs {
		for _, ev := range evs {
			select {
			case ch <- ev:
			default: // a Follow that is not keeping up loses the excess
			}
		}
	}
}

// Recent implements dashboard.Backend: the latest n breaker transitions,
// n alert events and n chaos audit entries, merged oldest first. It is
// one snapshot with events (one round trip once the names are known).
func (b *Backend) Recent(ctx context.Context, n int64) ([]dashboard.Event, error) {
	if n <= 0 {
		n = b.o.Events
	}
	s, err := b.reader.Snapshot(ctx, snapshot.Filter{Parts: snapshot.Breakers | snapshot.Health | snapshot.Chaos, Events: n})
	if err != nil {
		return nil, err
	}
	var brk, alerts, chs []dashboard.Event
	for _, st := range s.Breakers {
		for _, ev := range st.Events {
			brk = append(brk, breakerEvent(ev))
		}
	}
	for _, st := range s.Services {
		for _, a := range st.AlertHistory {
			alerts = append(alerts, alertEvent(a))
		}
	}
	if s.Chaos != nil {
		for _, a := range s.Chaos.Audit {
			chs = append(chs, chaosEvent(a))
		}
	}
	out := slices.Concat(latest(brk, n), latest(alerts, n), latest(chs, n))
	slices.SortStableFunc(out, func(a, b dashboard.Event) int { return a.At.Compare(b.At) })
	return out, nil
}

// latest keeps the n latest events of one kind, oldest first.
func latest(evs []dashboard.Event, n int64) []dashboard.Event {
	slices.SortStableFunc(evs, func(a, b dashboard.Event) int { return a.At.Compare(b.At) })
	if int64(len(evs)) > n {
		evs = evs[int64(len(evs))-n:]
	}
	return evs
}

func (b *Backend) subscribe() chan dashboard.Event {
	ch := make(chan dashboard.Event, 256)
	b.mu.Lock()
	b.subs[ch] = struct{}{}
	b.mu.Unlock()
	return ch
}

func (b *Backend) unsubscribe(ch chan dashboard.Event) {
	b.mu.Lock()
	delete(b.subs, ch)
	b.mu.Unlock()
}
