package chaos

import (
	"context"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/haderos/haderctl/internal/engine/store"
	"github.com/haderos/haderctl/internal/testredis"
	"github.com/redis/go-redis/v9"
)

func TestMain(m *testing.M) { os.Exit(testredis.Main(m)) }

// enabled is a client on a fresh namespace with chaos enabled.
func enabled(t *testing.T) (*Client, redis.UniversalClient, store.Keys) {
	t.Helper()
	rdb := testredis.Client(t)
	keys := store.Keys{Namespace: testredis.Namespace(t)}
	c := New(rdb, Options{Keys: keys, Environment: "test"})
	if err := c.Enable(context.Background()); err != nil {
		t.Fatal(err)
	}
	return c, rdb, keys
}

// endedUnswept starts an experiment that ends at once and waits until its
// key has expired; the index still lists it (nothing swept).
func endedUnswept(t *testing.T, c *Client) string {
	t.Helper()
	ctx := context.Background()
	x, err := c.Start(ctx, Experiment{Kind: Abort, Services: []string{"svc"}, Probability: 1, Duration: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	// ended on both clocks: its key gone, and Redis' TIME past its end
	// (the sweep's rule). On real Redis the first implies the second; the
	// miniredis fallback expires keys in 5 ms steps that can run ahead of
	// its TIME.
	testredis.Eventually(t, 10*time.Second, "the experiment's key expires and Redis' clock passes its end", func() bool {
		return c.rdb.Exists(ctx, c.keys.ChaosExperiment(x.ID)).Val() == 0 && c.rdb.Time(ctx).Val().UnixMilli() > x.EndMs
	})
	return x.ID
}

// expired lists the expiries in the audit stream, read without sweeping.
func expired(t *testing.T, c *Client) []string {
	t.Helper()
	msgs, err := c.rdb.XRange(context.Background(), c.keys.ChaosAudit(), "-", "+").Result()
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, m := range msgs {
		if m.Values["event"] == "expired" {
			ids = append(ids, m.Values["id"].(string))
		}
	}
	return ids
}

func TestActiveAndStateAreReadsThatLeaveEndedExperimentsOut(t *testing.T) {
	c, rdb, keys := enabled(t)
	ctx := context.Background()
	gone := endedUnswept(t, c)
	running, err := c.Start(ctx, Experiment{Kind: Abort, Services: []string{"svc"}, Probability: 1, Duration: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	// the start swept the ended one; put an ended entry back in the index
	// without an audit entry, as a start that crashed before its sweep
	// would leave it
	if err := rdb.ZAdd(ctx, keys.ChaosActive(), redis.Z{Score: 1, Member: "ch-ended"}).Err(); err != nil {
		t.Fatal(err)
	}
	before, _ := rdb.XLen(ctx, keys.ChaosAudit()).Result()
	for range 3 {
		active, err := c.Active(ctx)
		if err != nil || len(active) != 1 || active[0].ID != running.ID {
			t.Fatalf("Active: %+v %v, want only %s", active, err, running.ID)
		}
		if _, err := c.State(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if after, _ := rdb.XLen(ctx, keys.ChaosAudit()).Result(); after != before || rdb.ZScore(ctx, keys.ChaosActive(), "ch-ended").Err() != nil {
		t.Fatalf("the readers wrote: audit %d → %d entries, or took ch-ended out of the index", before, after)
	}
	if !slices.Equal(expired(t, c), []string{gone}) {
		t.Fatalf("expiries audited %v, want only %s (by the start's sweep)", expired(t, c), gone)
	}
}

func TestTheCommandsThatWriteSweepAndAuditExpiries(t *testing.T) {
	ctx := context.Background()
	for name, write := range map[string]func(*Client) error{
		"stop of another": func(c *Client) error { _, err := c.Stop(ctx, "ch-none", "x"); return err },
		"enable":          func(c *Client) error { return c.Enable(ctx) },
		"resume":          func(c *Client) error { return c.Resume(ctx) },
		"stop-all":        func(c *Client) error { _, err := c.StopAll(ctx, "x"); return err },
		"disable":         func(c *Client) error { _, err := c.Disable(ctx, "x"); return err },
		"start": func(c *Client) error {
			_, err := c.Start(ctx, Experiment{Kind: Abort, Services: []string{"svc"}, Probability: 1, Duration: time.Minute})
			return err
		},
	} {
		t.Run(name, func(t *testing.T) {
			c, rdb, keys := enabled(t)
			id := endedUnswept(t, c)
			if len(expired(t, c)) != 0 {
				t.Fatal("audited before any write")
			}
			if err := write(c); err != nil {
				t.Fatal(err)
			}
			if got := expired(t, c); !slices.Equal(got, []string{id}) || rdb.ZScore(ctx, keys.ChaosActive(), id).Err() == nil {
				t.Fatalf("after %s: expiries %v, want %s audited once and out of the index", name, got, id)
			}
		})
	}
}
