package source

import (
	"context"
	"errors"

	"github.com/haderos/haderctl/internal/dashboard"
	"github.com/haderos/haderctl/internal/engine/breaker"
	"github.com/haderos/haderctl/internal/engine/chaos"
	"github.com/haderos/haderctl/internal/engine/snapshot"
)

// errSubscriptionEnded is a breaker subscription that closed by itself.
var errSubscriptionEnded = errors.New("the breaker transitions subscription ended")

// Follow implements dashboard.Backend: breaker transitions as they are
// published, chaos audit entries as they are appended (from the entry
// that was the latest when Follow began), and the alerts Snapshot sees
// open or close. fn is called from Follow's goroutine only, one event at
// a time. It returns nil when ctx ends, and the first error of either
// stream otherwise (the caller re-follows).
func (b *Backend) Follow(ctx context.Context, fn func(dashboard.Event)) error {
	// pin the audit's end before anything else, so an entry appended once
	// Follow has begun is never missed
	last := "0-0"
	s, err := b.reader.Snapshot(ctx, snapshot.Filter{Parts: snapshot.Chaos, Events: 1})
	if err != nil {
		return err
	}
	if s.Chaos != nil && len(s.Chaos.Audit) > 0 {
		last = s.Chaos.Audit[len(s.Chaos.Audit)-1].ID
	}

	// Follow returns at once when ctx ends; the streams' goroutines end
	// with it (the audit's blocking read within its 1 s block), and never
	// call fn after.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	events := make(chan dashboard.Event, 256)
	alerts := b.subscribe()
	defer b.unsubscribe(alerts)
	send := func(ev dashboard.Event) {
		select {
		case events <- ev:
		case <-ctx.Done():
		}
	}
	// buffered: a stream that ends after Follow returned does not block
	errc := make(chan error, 2)
	go func() {
		err := b.sys.Breakers.Follow(ctx, nil, nil, func(ev breaker.Event) { send(breakerEvent(ev)) })
		if err == nil && ctx.Err() == nil {
			err = errSubscriptionEnded
		}
		errc <- err
	}()
	go func() {
		errc <- b.sys.Chaos.FollowAudit(ctx, last, func(a chaos.AuditEntry) { send(chaosEvent(a)) })
	}()
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev := <-events:
			fn(ev)
		case ev := <-alerts:
			fn(ev)
		case err := <-errc:
			if ctx.Err() != nil {
				return nil
			}
			if err == nil {
				err = errSubscriptionEnded
			}
			return err
		}
	}
}
