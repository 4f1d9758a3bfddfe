package metrics

import (
	"context"
	"sync"
	"time"

	"github.com/haderos/haderctl/internal/engine/breaker"
)

// TransitionSource publishes breaker transitions; *breaker.Engine is one
// (Follow: its pub/sub channel, which every process's transitions reach).
type TransitionSource interface {
	Follow(ctx context.Context, names []string, ready chan<- struct{}, fn func(breaker.Event)) error
}

// followRetry is the wait between subscriptions while Redis refuses one.
const followRetry = time.Second

// FollowTransitions counts, in haderos_circuitbreaker_transitions_total,
// every transition any process publishes from now until ctx ends, so a
// breaker tripped by another gateway counts here too. It subscribes in
// the background, again after followRetry while Redis is unreachable; the
// channel it returns is closed once the first subscription is live. Call
// it once: each call counts every transition again. A transition published while no subscription was live is not
// counted (pub/sub keeps no backlog): the counter is this process' view
// since it started, which Prometheus' rate() and increase() handle.
func (m *Metrics) FollowTransitions(ctx context.Context, src TransitionSource) <-chan struct{} {
	ready := make(chan struct{})
	var once sync.Once
	go func() {
		for {
			live, ended := make(chan struct{}), make(chan struct{})
			go func() {
				select {
				case <-live:
					once.Do(func() { m.state.markFollowing(); close(ready) })
				case <-ended:
				}
			}()
			// nil when ctx ended or the subscription closed; an error
			// when Redis refused it: both subscribe again after a while
			_ = src.Follow(ctx, nil, live, m.Transition)
			close(ended)
			t := time.NewTimer(followRetry)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
		}
	}()
	return ready
}

// Transition counts one breaker event if it changed the state (settings
// changes, configure and apply, do not).
func (m *Metrics) Transition(ev breaker.Event) {
	if ev.Action != "" || ev.From == ev.To || ev.Name == "" {
		return
	}
	m.state.transitions.WithLabelValues(ev.Name, string(ev.From), string(ev.To)).Inc()
}
