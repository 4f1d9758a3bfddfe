package breaker

import (
	"context"
	"strconv"
	"time"

	"github.com/haderos/haderctl/internal/engine/store"
)

// Call is one call admitted by Admit: end it with Done (the outcome
// counts) or Release (no outcome: the caller gave up before the service
// answered, so the call says nothing about the service). Exactly one of
// them must be called, once.
type Call struct {
	e        *Engine
	name     string
	gen      int64
	failures int64
	token    string // a half-open probe's slot
	stop     func() // stops renewing the probe's lease
	local    *localBreaker
	probe    bool // local: the call holds a local probe slot
}

// Admit is Allow for a caller that may also give the call back without an
// outcome (the engine's HTTP transport, when its caller cancels): the same
// cached fast path, the same refusals (*OpenError).
func (e *Engine) Admit(ctx context.Context, name string) (Call, error) {
	if err := store.ValidName("breaker", name); err != nil {
		return Call{}, err
	}
	e.start()
	if e.down.isDown() {
		return e.admitLocal(name)
	}
	if c := e.fresh(name); c != nil {
		switch {
		case c.state == Closed || c.state == Disabled:
			return Call{e: e, name: name, gen: c.generation, failures: c.failures}, nil
		case c.state == ForcedOpen:
			return Call{}, &OpenError{Name: name, State: ForcedOpen, RetryAfter: -1}
		case c.state == Open && time.Now().Before(c.openUntil):
			return Call{}, &OpenError{Name: name, State: Open, RetryAfter: time.Until(c.openUntil)}
		}
	}
	token := newToken()
	r, err := e.run(ctx, acquireScript, name, token)
	if err != nil {
		if ctx.Err() != nil {
			// the caller gave up (or its deadline passed), not Redis' fault.
			// The script may have run all the same and taken a probe slot
			// under token: give it back now, not when its lease runs out,
			// and without keeping the caller past its own end. Only where
			// a probe was possible: a breaker last seen closed admits
			// without a slot, and a Redis that does not answer must not
			// gather a release per call.
			if e.mayProbe(name) {
				go Call{e: e, name: name, token: token}.Release()
			}
			return Call{}, ctx.Err()
		}
		if store.IsUnavailable(err) {
			e.down.mark(e.log, err)
			return e.admitLocal(name)
		}
		return Call{}, err
	}
	switch r.verdict {
	case "allow":
		return Call{e: e, name: name, gen: r.generation, failures: r.failures}, nil
	case "probe":
		return Call{e: e, name: name, gen: r.generation, token: token, stop: e.keepProbe(name, token)}, nil
	}
	return Call{}, &OpenError{Name: name, State: r.state, RetryAfter: r.wait}
}

// mayProbe reports whether the acquire script may have admitted a call
// to name as a half-open probe: the breaker was last seen neither closed
// nor disabled, or not seen yet.
func (e *Engine) mayProbe(name string) bool {
	e.mu.RLock()
	c := e.cache[name]
	e.mu.RUnlock()
	return c == nil || (c.state != Closed && c.state != Disabled)
}

func (e *Engine) admitLocal(name string) (Call, error) {
	if e.SettingsFor(name).RedisUnavailable == "deny" {
		return Call{}, &OpenError{Name: name, State: Open, RetryAfter: e.opts.RefreshInterval, RedisDown: true}
	}
	b := e.localFor(name)
	gen, probe, err := b.allow(name)
	if err != nil {
		return Call{}, err
	}
	return Call{e: e, name: name, gen: gen, local: b, probe: probe}, nil
}

// Done records the call's outcome.
func (c Call) Done(success bool) {
	if c.local != nil {
		c.local.record(c.gen, c.probe, success)
		return
	}
	if c.stop != nil {
		c.stop()
	}
	if success && c.token == "" && c.failures == 0 {
		return // nothing to clear: the happy path costs no round trip
	}
	c.e.report(c.name, outcome(success), c.gen, c.token)
}

// Release gives the call back without an outcome: neither a failure nor a
// success is counted, and a half-open probe's slot is freed at once (not
// when its lease runs out).
func (c Call) Release() {
	if c.local != nil {
		c.local.release(c.gen, c.probe)
		return
	}
	if c.stop != nil {
		c.stop()
	}
	if c.token == "" {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.e.opts.Timeout)
	defer cancel()
	if _, err := c.e.run(ctx, recordScript, c.name, "release", strconv.FormatInt(c.gen, 10), c.token); err != nil {
		c.e.log.Warn("breaker: releasing a probe failed; its lease frees it", "breaker", c.name, "err", err)
	}
}

// release frees a local probe slot without an outcome.
func (b *localBreaker) release(gen int64, probe bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if probe && gen == b.generation && b.probes > 0 {
		b.probes--
	}
}
