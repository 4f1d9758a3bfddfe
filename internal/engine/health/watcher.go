package health

import (
	"context"
	"math/rand/v2"
	"sync"
	"time"
)

// Watch runs the checks until ctx is done: each service on its interval,
// probed by whichever watcher takes the interval's slot first (so several
// watchers probe each service once per interval between them). checks
// returns the current set; it is called again every refresh (services
// registered or removed at run time). onResult gets every result this
// watcher recorded.
func (c *Checker) Watch(ctx context.Context, checks func(context.Context) ([]Check, error), refresh time.Duration, onResult func(Result)) error {
	type running struct {
		chk    Check
		cancel context.CancelFunc
	}
	active := map[string]running{}
	var wg sync.WaitGroup
	defer func() {
		for _, r := range active {
			r.cancel()
		}
		wg.Wait()
	}()
	var mu sync.Mutex // one onResult at a time
	report := func(r Result) {
		mu.Lock()
		defer mu.Unlock()
		onResult(r)
	}
	t := time.NewTicker(refresh)
	defer t.Stop()
	for {
		list, err := checks(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			c.Logger.Warn("could not read the health checks; keeping the current set", "err", err)
		} else {
			seen := map[string]bool{}
			for _, chk := range list {
				seen[chk.Name] = true
				if r, ok := active[chk.Name]; ok && sameCheck(r.chk, chk) {
					continue
				} else if ok {
					r.cancel()
				}
				cctx, cancel := context.WithCancel(ctx)
				active[chk.Name] = running{chk, cancel}
				wg.Add(1)
				go func() {
					defer wg.Done()
					c.loop(cctx, chk, report)
				}()
			}
			for name, r := range active {
				if !seen[name] {
					r.cancel()
					delete(active, name)
				}
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

func sameCheck(a, b Check) bool {
	ja, _ := jsonOf(a)
	jb, _ := jsonOf(b)
	return ja == jb
}

// loop probes one service at the start of each interval slot it wins.
func (c *Checker) loop(ctx context.Context, chk Check, report func(Result)) {
	interval := chk.Interval
	for ctx.Err() == nil {
		got, now, err := c.Acquire(ctx, chk)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			c.Logger.Warn("health slot unavailable (Redis?)", "service", chk.Name, "err", err)
			now = c.now()
		} else if got {
			r, err := c.Check(ctx, chk)
			if err != nil {
				if ctx.Err() == nil {
					c.Logger.Warn("could not record a health check", "service", chk.Name, "err", err)
				}
			} else {
				report(r)
			}
		}
		// wake at the next slot boundary on Redis' clock, spread a little
		// so a thousand services do not all fire in the same millisecond
		next := interval - time.Duration(now.UnixMilli()%interval.Milliseconds())*time.Millisecond
		next += c.jitter(interval / 20)
		if !c.sleep(ctx, next) {
			return
		}
	}
}

func (c *Checker) jitter(limit time.Duration) time.Duration {
	if c.clock.Jitter != nil {
		return c.clock.Jitter(limit)
	}
	return time.Duration(rand.Int64N(int64(limit) + 1))
}

// sleep waits d on the checker's clock; false when ctx ended first.
func (c *Checker) sleep(ctx context.Context, d time.Duration) bool {
	if c.clock.After != nil {
		select {
		case <-ctx.Done():
			return false
		case <-c.clock.After(d):
			return true
		}
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-timer.C:
		return true
	}
}
