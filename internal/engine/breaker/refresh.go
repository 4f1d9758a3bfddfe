package breaker

import (
	"context"
	"time"

	"github.com/haderos/haderctl/internal/engine/store"
)

// start launches, once, the background work of a long-running engine: the
// pub/sub listener that applies other processes' transitions to the cache,
// and the backstop re-read of every cached breaker.
func (e *Engine) start() {
	e.startOnce.Do(func() {
		ctx, cancel := context.WithCancel(context.Background())
		e.stop = cancel
		e.done = make(chan struct{})
		go e.background(ctx)
	})
}

// Close stops the engine's background work.
func (e *Engine) Close() {
	e.startOnce.Do(func() {}) // a never-started engine has nothing to stop
	if e.stop != nil {
		e.stop()
		<-e.done
		e.reports.Wait()
	}
}

func (e *Engine) background(ctx context.Context) {
	defer close(e.done)
	sub := e.rdb.Subscribe(ctx, e.opts.Keys.BreakerChannel())
	defer sub.Close()
	msgs := sub.Channel()
	tick := time.NewTicker(e.opts.RefreshInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case m, ok := <-msgs:
			if !ok {
				return
			}
			if ev, err := decodeEventJSON([]byte(m.Payload)); err == nil {
				e.applyEvent(ev)
			}
		case <-tick.C:
			e.refresh(ctx)
		}
	}
}

// applyEvent updates the cache with a transition published by any process.
func (e *Engine) applyEvent(ev Event) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if ev.Action == ActionFallback {
		return // a report of a past outage: nothing about the breaker changed
	}
	c, ok := e.cache[ev.Name]
	if ok && ev.Action != "" {
		// The settings changed: the next call asks the script, whose reply
		// carries them (an open breaker's recovery time may have moved).
		delete(e.cache, ev.Name)
		return
	}
	if !ok || c.generation >= ev.Generation {
		return
	}
	next := &cached{state: ev.To, generation: ev.Generation, readAt: time.Now()}
	if ev.To == Open {
		// Conservative: counted from now, not from the opening on Redis'
		// clock; the next re-read sets it exactly.
		next.openUntil = next.readAt.Add(e.settingsLocked(ev.Name).RecoveryTimeout)
		next.failures = ev.Failures
	}
	e.cache[ev.Name] = next
}

// refresh re-reads every cached breaker in one pipelined round trip. It is
// also how a process notices that Redis is back after an outage.
func (e *Engine) refresh(parent context.Context) {
	e.mu.RLock()
	names := make([]string, 0, len(e.cache))
	for n := range e.cache {
		names = append(names, n)
	}
	e.mu.RUnlock()
	ctx, cancel := context.WithTimeout(parent, e.opts.Timeout)
	defer cancel()
	k := e.opts.Keys
	pipe := e.rdb.Pipeline()
	timeCmd := pipe.Time(ctx)
	cmds := make([]interface{ Result() ([]any, error) }, len(names))
	for i, n := range names {
		cmds[i] = pipe.HMGet(ctx, k.Breaker(n), refreshFields...)
	}
	if _, err := pipe.Exec(ctx); err != nil && store.IsUnavailable(err) {
		e.down.mark(e.log, err)
		return
	}
	if since, was := e.down.clear(e.log); was {
		e.localMu.Lock()
		used := e.localUsed
		e.local, e.localUsed = map[string]*localBreaker{}, nil
		e.localMu.Unlock()
		e.reportFallbacks(parent, since, time.Now(), used)
	}
	redisNow, err := timeCmd.Result()
	if err != nil {
		return
	}
	if e.opts.Clock != nil {
		redisNow = e.opts.Clock()
	}
	readAt := time.Now()
	e.mu.Lock()
	defer e.mu.Unlock()
	for i, n := range names {
		vals, err := cmds[i].Result()
		if err != nil {
			delete(e.cache, n) // corrupt or wrong type: let the next call ask the script
			continue
		}
		h := make(map[string]string, len(refreshFields))
		for j, f := range refreshFields {
			if v, ok := vals[j].(string); ok {
				h[f] = v
			}
		}
		// The scripts' checks (parseStatus mirrors load()): a hash they
		// call corrupt is not cached, so the next call gets their error
		// rather than a refusal computed from a bogus time or setting.
		st := parseStatus(n, h, nil, e.OwnSettings(n), redisNow)
		if st.State == Corrupt {
			delete(e.cache, n)
			continue
		}
		if st.SettingsStored {
			e.learn(n, st.Settings, true)
		} // else the next write seeds them
		c := &cached{state: st.State, generation: st.Generation, failures: st.Failures, readAt: readAt}
		if st.State == Open {
			c.openUntil = readAt.Add(st.UntilHalfOpen) // zero past the recovery time: ask the script
		}
		e.cache[n] = c
	}
}

// refreshFields are the hash fields the re-read needs.
var refreshFields = []string{"state", "generation", "failures", "opened_at",
	"failure_threshold", "success_threshold", "recovery_timeout_ms", "max_probes", "probe_lease_ms",
	"min_reporters", "reporter_window_ms"}
