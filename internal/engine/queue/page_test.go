package queue

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/redis/go-redis/v9"
)

// pageAll pages through a state n at a time and returns the ids in order
// and how many pages it took.
func pageAll(t *testing.T, c *Client, q, state string, n int64) ([]string, int) {
	t.Helper()
	var ids []string
	cursor, pages := "", 0
	for {
		ops, next, err := c.Page(context.Background(), q, state, cursor, n)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		if int64(len(ops)) > n {
			t.Fatalf("page %d: %d operations, asked for %d", pages, len(ops), n)
		}
		for _, o := range ops {
			ids = append(ids, o.ID)
		}
		if next == "" {
			return ids, pages
		}
		if pages > 100 {
			t.Fatalf("no end after %d pages", pages)
		}
		cursor = next
	}
}

func TestPageWalksEveryDeadOperationOnceWithAServerSideCursor(t *testing.T) {
	c, _ := newTestClient(t, Settings{})
	ctx := context.Background()
	ids := push(t, c, "q", "s", "o", 25, nil)
	kill := func(context.Context, *Operation) Outcome { return Outcome{Kind: Dead, Err: "HTTP 400"} }
	if _, err := c.Drain(ctx, DrainOptions{Queues: []string{"q"}, Concurrency: 4, Handler: kill}); err != nil {
		t.Fatal(err)
	}
	if d := stats(t, c, "q").Dead; d != 25 {
		t.Fatalf("%d dead, want 25", d)
	}
	got, pages := pageAll(t, c, "q", "dead", 10)
	if pages != 3 {
		t.Fatalf("%d pages of 10 for 25 operations, want 3", pages)
	}
	list, err := c.List(ctx, "q", "dead", 100)
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, o := range list {
		want = append(want, o.ID)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("paged %v, want List's order %v", got, want)
	}
	slices.Sort(got)
	slices.Sort(ids)
	if !slices.Equal(got, ids) {
		t.Fatalf("paged ids %v, want each of %v once", got, ids)
	}
	first, _, err := c.Page(ctx, "q", "dead", "", 1)
	if err != nil {
		t.Fatal(err)
	}
	if first[0].State != "dead" || first[0].DiedAt == nil || first[0].LastError == "" {
		t.Fatalf("a paged dead operation lacks its state, death time or error: %+v", first[0])
	}
}

// A member that leaves the set between pages (retried, purged) does not
// make the next page skip or repeat the others, also among members of
// equal score.
func TestPageContinuesAfterTheCursorsMemberLeft(t *testing.T) {
	c, rdb := newTestClient(t, Settings{})
	ctx := context.Background()
	key := c.keys.QueueDead("q")
	var members []redis.Z
	for i := range 9 {
		// three scores, three members each: ties ordered by member bytes
		members = append(members, redis.Z{Score: float64(1700000000000 + i/3), Member: fmt.Sprintf("op-%d", i)})
	}
	if err := rdb.ZAdd(ctx, key, members...).Err(); err != nil {
		t.Fatal(err)
	}
	page1, next, err := c.Page(ctx, "q", "dead", "", 4)
	if err != nil {
		t.Fatal(err)
	}
	if len(page1) != 4 || page1[3].ID != "op-3" || next == "" {
		t.Fatalf("first page %v next %q, want op-0..op-3 and a cursor", opIDs(page1), next)
	}
	// the cursor's own member and one before it leave; one after it
	// leaves too
	if err := rdb.ZRem(ctx, key, "op-3", "op-1", "op-5").Err(); err != nil {
		t.Fatal(err)
	}
	page2, next, err := c.Page(ctx, "q", "dead", next, 4)
	if err != nil {
		t.Fatal(err)
	}
	if got := opIDs(page2); !slices.Equal(got, []string{"op-4", "op-6", "op-7", "op-8"}) || next != "" {
		t.Fatalf("second page %v next %q, want op-4 op-6 op-7 op-8 and the end", got, next)
	}
	// entries missing from the ops hash still come back, marked corrupt
	if page2[0].State != "corrupt" {
		t.Fatalf("an id without an entry came back as %q, want corrupt", page2[0].State)
	}
}

func TestPageRefusesBadInput(t *testing.T) {
	c, _ := newTestClient(t, Settings{})
	ctx := context.Background()
	for _, tc := range []struct {
		state, cursor string
		n             int64
	}{{"gone", "", 10}, {"dead", "", 0}, {"dead", "", MaxPage + 1}, {"dead", "nonsense", 10}, {"dead", "12 ", 10}} {
		if _, _, err := c.Page(ctx, "q", tc.state, tc.cursor, tc.n); !IsInput(err) {
			t.Errorf("Page(%q, %q, %d): %v, want an input error", tc.state, tc.cursor, tc.n, err)
		}
	}
	ops, next, err := c.Page(ctx, "empty", "inflight", "", 10)
	if err != nil || len(ops) != 0 || next != "" {
		t.Fatalf("an empty state: %v %q %v, want nothing and the end", ops, next, err)
	}
}

func opIDs(ops []*Operation) []string {
	out := make([]string, len(ops))
	for i, o := range ops {
		out[i] = o.ID
	}
	return out
}
