package breaker

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/haderos/haderctl/internal/engine/store"
)

// ActionFallback is the action of the event a process records for a
// breaker it ran on its in-memory fallback, once Redis is reachable again
// (From and To are then the breaker's unchanged state in Redis).
const ActionFallback = "fallback"

// FallbackWindow is how long a process' fallback report counts in
// Status.FallbackReporters; it is also the TTL of the fallbacks key.
const FallbackWindow = 10 * time.Minute

// maxFallbackNames bounds the breakers one outage reports.
const maxFallbackNames = 1000

// fallbackUse is one breaker run in memory during an outage.
type fallbackUse struct {
	name string
	b    *localBreaker
}

// reportFallbacks reports, in the background and once, each breaker used
// in memory during the outage from since to until; best effort: a failure
// is logged at debug and not retried (the outage is over, the calls made).
func (e *Engine) reportFallbacks(ctx context.Context, since, until time.Time, used []fallbackUse) {
	if len(used) == 0 {
		return
	}
	e.reports.Add(1)
	go func() {
		defer e.reports.Done()
		for _, u := range used {
			u.b.mu.Lock()
			calls := u.b.calls
			u.b.mu.Unlock()
			rctx, cancel := context.WithTimeout(ctx, e.opts.Timeout)
			_, err := e.run(rctx, fallbackScript, u.name, strconv.FormatInt(since.UnixMilli(), 10),
				strconv.FormatInt(until.UnixMilli(), 10), strconv.FormatInt(calls, 10),
				strconv.FormatInt(FallbackWindow.Milliseconds(), 10), fallbackReason(since, until, calls, e.opts.Reporter))
			cancel()
			if err != nil {
				e.log.Debug("breaker: reporting the in-memory fallback failed", "breaker", u.name, "err", err)
				if ctx.Err() != nil || store.IsUnavailable(err) {
					return // closing, or Redis is gone again: the rest would wait their timeout each
				}
			}
		}
	}()
}

// fallbackReason is the event's reason: "ran on its in-memory breaker from
// 10:01:02 to 10:03:04 UTC (12 calls) — host/123/ab12cd34".
func fallbackReason(since, until time.Time, calls int64, reporter string) string {
	unit := "calls"
	if calls == 1 {
		unit = "call"
	}
	return fmt.Sprintf("ran on its in-memory breaker from %s to %s UTC (%d %s) — %s",
		since.UTC().Format(time.TimeOnly), until.UTC().Format(time.TimeOnly), calls, unit, reporter)
}
