package source

import (
	"context"
	"fmt"
	"testing"

	"github.com/haderos/haderctl/internal/dashboard"
	"github.com/haderos/haderctl/internal/engine/queue"
	"github.com/haderos/haderctl/internal/testredis"
)

// Over Redis Cluster every key of a breaker, queue or service is in its
// own slot: the refresh is still one pipeline (go-redis splits it per
// node), paging and actions run, and Follow hears a trip.
func TestTheBackendWorksOverRedisCluster(t *testing.T) {
	url := testredis.ClusterURL(t)
	ns := testredis.Namespace(t)
	o := options(t, ns)
	o.Redis.URL = url
	w := &world{ns: ns, sys: open(t, o), other: open(t, o)}
	w.backend = New(w.sys, Options{})
	ctx := context.Background()
	var ops []*queue.Operation
	for i := range 7 {
		ops = append(ops, &queue.Operation{ID: fmt.Sprintf("c-%d", i)})
	}
	push(t, w, "shipping", ops...)
	kill(t, w, "shipping")
	if _, err := w.backend.Snapshot(ctx); err != nil {
		t.Fatal(err)
	}
	s, err := w.backend.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if s.RoundTrips != 1 || len(s.Queues) != 1 || s.Queues[0].Dead != 7 {
		t.Fatalf("a warm refresh over Cluster: %d round trips, queues %+v; want 1 and 7 dead", s.RoundTrips, s.Queues)
	}
	seen := map[string]bool{}
	cursor := ""
	for range 5 {
		page, next, err := w.backend.QueueOps(ctx, "shipping", "dead", cursor, 3)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range page {
			if seen[o.ID] {
				t.Fatalf("%s paged twice", o.ID)
			}
			seen[o.ID] = true
		}
		if cursor = next; cursor == "" {
			break
		}
	}
	if len(seen) != 7 || cursor != "" {
		t.Fatalf("paged %d of 7 dead operations (cursor %q)", len(seen), cursor)
	}
	f := w.follow(t)
	if _, err := w.backend.Do(ctx, dashboard.Action{Kind: dashboard.TripBreaker, Target: "smsa", Reason: "cluster drill"}); err != nil {
		t.Fatal(err)
	}
	f.waitFor(t, dashboard.BreakerEvent, "smsa", "closed → forced open: cluster drill")
}
