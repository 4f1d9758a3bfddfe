package breaker

import (
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// localBreaker is the in-memory breaker a process falls back to while Redis
// is unreachable. It follows the same rules as the Lua scripts, for one
// process only; its state is dropped when Redis is back (Redis is the truth).
// MinReporters does not apply: one process is the only reporter there is,
// and a quorum of one would be the threshold alone anyway.
type localBreaker struct {
	mu         sync.Mutex
	settings   Settings
	now        func() time.Time
	state      State
	generation int64
	failures   int64
	successes  int64
	probes     int64
	openedAt   time.Time
	// calls counts the calls this breaker answered (admitted or refused)
	// or whose outcome it counted: the fallback report's "N calls".
	calls int64
}

func newLocalBreaker(s Settings, now func() time.Time) *localBreaker {
	return &localBreaker{settings: s, now: now, state: Closed}
}

// allow mirrors acquire.lua: it returns the generation and whether the call
// is a probe, or an *OpenError.
func (b *localBreaker) allow(name string) (gen int64, probe bool, err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.calls++
	switch b.state {
	case Closed, Disabled:
		return b.generation, false, nil
	case ForcedOpen:
		return 0, false, &OpenError{Name: name, State: ForcedOpen, RetryAfter: -1}
	case Open:
		wait := b.openedAt.Add(b.settings.RecoveryTimeout).Sub(b.now())
		if wait > 0 {
			return 0, false, &OpenError{Name: name, State: Open, RetryAfter: wait}
		}
		b.moveTo(HalfOpen)
	}
	// as the scripts' max_probes(): the settings learnt from Redis may hold
	// max_probes below success_threshold, which would never let it close
	if b.probes+b.successes >= int64(max(b.settings.MaxProbes, b.settings.SuccessThreshold)) {
		return 0, false, &OpenError{Name: name, State: HalfOpen, RetryAfter: b.settings.ProbeLease}
	}
	b.probes++
	return b.generation, true, nil
}

// record mirrors record.lua for a tracked outcome.
func (b *localBreaker) record(gen int64, probe, success bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if gen != b.generation {
		return // stale: the breaker changed since the call was admitted
	}
	if probe && b.probes > 0 {
		b.probes--
	}
	if !success {
		b.failures++
		b.successes = 0
		if (b.state == Closed && b.failures >= int64(b.settings.FailureThreshold)) || b.state == HalfOpen {
			b.moveTo(Open)
		}
		return
	}
	if b.state == Open || b.state == ForcedOpen {
		return
	}
	b.failures = 0
	if b.state == HalfOpen {
		b.successes++
		if b.successes >= int64(b.settings.SuccessThreshold) {
			b.moveTo(Closed)
		}
	}
}

func (b *localBreaker) moveTo(to State) {
	b.state = to
	b.generation++
	b.probes = 0
	b.successes = 0
	switch to {
	case Open:
		b.openedAt = b.now()
	case Closed:
		b.failures = 0
	}
}

// downState tracks whether Redis is unreachable from this process.
type downState struct {
	since atomic.Int64 // Unix ns when Redis was found unreachable; 0 = up
}

func (d *downState) isDown() bool { return d.since.Load() != 0 }

func (d *downState) mark(log *slog.Logger, err error) {
	if d.since.CompareAndSwap(0, time.Now().UnixNano()) {
		log.Warn("breaker: Redis unreachable, using in-memory breakers", "err", err)
	}
}

// clear marks Redis reachable; was is whether it was down, since when.
func (d *downState) clear(log *slog.Logger) (since time.Time, was bool) {
	if ns := d.since.Swap(0); ns != 0 {
		log.Info("breaker: Redis reachable again, shared state resumes")
		return time.Unix(0, ns), true
	}
	return time.Time{}, false
}

func (e *Engine) localFor(name string) *localBreaker {
	e.localMu.Lock()
	defer e.localMu.Unlock()
	b := e.local[name]
	if b == nil {
		now := time.Now
		if e.opts.Clock != nil {
			now = e.opts.Clock
		}
		b = newLocalBreaker(e.SettingsFor(name), now)
		e.local[name] = b
		// the names to report once Redis is back, bounded: a process with
		// more breakers than that reports the first ones it used
		if len(e.localUsed) < maxFallbackNames {
			e.localUsed = append(e.localUsed, fallbackUse{name: name, b: b})
		}
	}
	return b
}

// recordLocal counts an outcome whose report to Redis failed.
func (e *Engine) recordLocal(name string, success bool) {
	b := e.localFor(name)
	b.mu.Lock()
	gen := b.generation
	b.calls++
	b.mu.Unlock()
	b.record(gen, false, success)
}

// InMemory reports whether this process is running on in-memory breakers
// because Redis is unreachable.
func (e *Engine) InMemory() bool { return e.down.isDown() }
