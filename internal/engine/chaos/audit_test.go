package chaos

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// AuditOf finds one experiment's entries among many others', across
// the chunks it reads the stream in.
func TestAuditOfPagesBackToOneExperimentsEntries(t *testing.T) {
	c, rdb, keys := enabled(t)
	ctx := context.Background()
	x, err := c.Start(ctx, Experiment{Kind: Latency, Delay: time.Millisecond, Services: []string{"svc"}, Probability: 1, Duration: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	// more entries about others than one chunk holds, between its start
	// and its stop
	p := rdb.Pipeline()
	for i := range 2*auditChunk + 10 {
		p.XAdd(ctx, &redis.XAddArgs{Stream: keys.ChaosAudit(), Values: []any{"event", "note", "id", fmt.Sprintf("other-%d", i), "by", "t", "at", "0"}})
	}
	if _, err := p.Exec(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Stop(ctx, x.ID, "done with it"); err != nil {
		t.Fatal(err)
	}
	for i := range 2*auditChunk + 10 {
		p.XAdd(ctx, &redis.XAddArgs{Stream: keys.ChaosAudit(), Values: []any{"event", "note", "id", fmt.Sprintf("later-%d", i), "by", "t", "at", "0"}})
	}
	if _, err := p.Exec(ctx); err != nil {
		t.Fatal(err)
	}
	got, err := c.AuditOf(ctx, x.ID, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Event != "started" || got[1].Event != "stopped" || got[1].Detail != "done with it" || got[1].By != c.Who {
		t.Fatalf("audit of %s: %+v, want started then stopped with the reason and who", x.ID, got)
	}
	last, err := c.AuditOf(ctx, x.ID, 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(last) != 1 || last[0].Event != "stopped" {
		t.Fatalf("the latest 1 entry: %+v, want the stop", last)
	}
	none, err := c.AuditOf(ctx, "ch-unknown", 10)
	if err != nil || len(none) != 0 {
		t.Fatalf("an unknown id: %+v %v, want nothing", none, err)
	}
}
