// Package sourcetest builds the dashboard's test populations in Redis
// through the engine's own parts (the shapes real processes write), for
// the source package's tests and benchmarks and for measurements of the
// dashboard elsewhere (its CPU at a 1 s refresh).
package sourcetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"

	"github.com/haderos/haderctl/internal/engine"
	"github.com/haderos/haderctl/internal/engine/chaos"
	"github.com/haderos/haderctl/internal/engine/health"
	"github.com/haderos/haderctl/internal/engine/queue"
)

// Population is what Populate builds.
type Population struct {
	// Breakers named svc-0000…: every tenth open (3 failures), every
	// tenth but one with one failure, the rest closed after a success.
	Breakers int
	// Services svc-0000… registered for health checks, each checked
	// Checks times (zero: once); every tenth fails (its alert is open once
	// Checks reaches 3).
	Services int
	Checks   int
	// Queues q-00… with OpsPerQueue operations each, ready.
	Queues      int
	OpsPerQueue int
	// Experiments running latency experiments on svc-0000… (at most 5,
	// chaos' default limit); the system's environment must allow chaos.
	Experiments int
}

// Issue13 is the population issue 13's speed targets name: 1,000
// breakers, 1,000 services, 50 queues (and a few experiments).
var Issue13 = Population{Breakers: 1000, Services: 1000, Checks: 3, Queues: 50, OpsPerQueue: 4, Experiments: 3}

// Name is the i-th breaker and service name.
func Name(i int) string { return fmt.Sprintf("svc-%04d", i) }

// QueueName is the i-th queue name.
func QueueName(i int) string { return fmt.Sprintf("q-%02d", i) }

// Populate builds p in sys's namespace. It makes about Breakers×2 +
// Services×(Checks+1) + Queues calls, a few at a time.
func Populate(ctx context.Context, sys *engine.System, p Population) error {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/fail/") {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte("ok"))
	}))
	defer up.Close()
	err := parallel(ctx, p.Breakers, func(ctx context.Context, i int) error {
		n := Name(i)
		switch i % 10 {
		case 0:
			for range 3 {
				if _, err := sys.Breakers.Record(ctx, n, false); err != nil {
					return err
				}
			}
			return nil
		case 1:
			_, err := sys.Breakers.Record(ctx, n, false)
			return err
		}
		_, err := sys.Breakers.Record(ctx, n, true)
		return err
	})
	if err != nil {
		return fmt.Errorf("breakers: %w", err)
	}
	checks := max(p.Checks, 1)
	err = parallel(ctx, p.Services, func(ctx context.Context, i int) error {
		path := "/ok/"
		if i%10 == 0 {
			path = "/fail/"
		}
		chk := health.Check{Name: Name(i), URL: up.URL + path + Name(i), Interval: 30 * time.Second, Timeout: 5 * time.Second}
		if err := sys.Health.Register(ctx, chk); err != nil {
			return err
		}
		for range checks {
			if _, err := sys.Health.Check(ctx, chk.WithDefaults()); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("services: %w", err)
	}
	err = parallel(ctx, p.Queues, func(ctx context.Context, i int) error {
		ops := make([]*queue.Operation, p.OpsPerQueue)
		for j := range ops {
			ops[j] = &queue.Operation{ID: fmt.Sprintf("op-%d-%d", i, j), Queue: QueueName(i), Operation: "create", Service: Name(i),
				Data: json.RawMessage(fmt.Sprintf(`{"n":%d}`, j))}
			if err := sys.Queues.Check(ops[j]); err != nil {
				return err
			}
		}
		if len(ops) == 0 {
			return nil
		}
		_, err := sys.Queues.Push(ctx, ops)
		return err
	})
	if err != nil {
		return fmt.Errorf("queues: %w", err)
	}
	if p.Experiments > 0 {
		if err := sys.Chaos.Enable(ctx); err != nil {
			return fmt.Errorf("chaos: %w", err)
		}
		for i := range p.Experiments {
			x := chaos.Experiment{Kind: chaos.Latency, Delay: time.Millisecond, Services: []string{Name(i)}, Probability: 0.5,
				Duration: 10 * time.Minute, Reason: "dashboard population"}
			if _, err := sys.Chaos.Start(ctx, x); err != nil {
				return fmt.Errorf("chaos: %w", err)
			}
		}
	}
	return nil
}

// parallel runs fn for 0…n-1 on a few goroutines; the first error stops it.
func parallel(ctx context.Context, n int, fn func(context.Context, int) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	next := make(chan int)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []error
	for range min(8, max(n, 1)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if err := fn(ctx, i); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
					cancel()
				}
			}
		}()
	}
feed:
	for i := range n {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	return errors.Join(errs...)
}
