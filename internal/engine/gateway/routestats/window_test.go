package routestats_test

import (
	"slices"
	"testing"
	"time"

	"github.com/haderos/haderctl/internal/engine/gateway/routestats"
	"github.com/haderos/haderctl/internal/engine/store"
)

func TestWindowIsSixFullBucketsAndTheCurrentOne(t *testing.T) {
	now := time.Unix(1_780_000_003, 250_000_000) // 3.25 s into bucket 178000000
	first, last, span := routestats.Window(now)
	if first != 177_999_994 || last != 178_000_000 || span != 63250*time.Millisecond {
		t.Fatalf("Window = %d..%d over %s, want 177999994..178000000 over 63.25s", first, last, span)
	}
	if k := routestats.Key(store.Keys{Namespace: "hader"}, last); k != "hader:gateway:traffic:178000000" {
		t.Fatalf("Key = %q", k)
	}
}

// Guess covers the Window of any Redis time within half a bucket of the
// estimate, with one bucket more than the Window.
func TestGuessCoversTheWindowOfAnEstimateOffByLessThanHalfABucket(t *testing.T) {
	for _, est := range []time.Time{time.Unix(1_780_000_000, 0), time.Unix(1_780_000_004, 900_000_000),
		time.Unix(1_780_000_005, 0), time.Unix(1_780_000_009, 999_000_000)} {
		g := routestats.Guess(est)
		if len(g) != routestats.WindowBuckets+2 {
			t.Errorf("Guess(%s) = %v: %d buckets, want %d", est, g, len(g), routestats.WindowBuckets+2)
		}
		for _, off := range []time.Duration{-4999 * time.Millisecond, 0, 4999 * time.Millisecond} {
			first, last, _ := routestats.Window(est.Add(off))
			for b := first; b <= last; b++ {
				if !slices.Contains(g, b) {
					t.Errorf("Guess(%s) = %v misses bucket %d of Redis time %s", est, g, b, est.Add(off))
				}
			}
		}
	}
}

func TestSumAddsRoutesAcrossBucketsAndSkipsForeignFields(t *testing.T) {
	f := routestats.Field
	sts := routestats.Sum([]map[string]string{
		{f("/b/", "req"): "10", f("/b/", "err"): "2", f("/a/", "req"): "1", f("/a/", "q"): "1"},
		{f("/b/", "req"): "30", f("/b/", "fb"): "5", f("/b/", "lat_us"): "999", f("/b/", "err"): "x", "no-separator": "4"},
		{},
	}, 40*time.Second)
	want := []routestats.Stats{
		{Route: "/a/", Window: 40 * time.Second, WindowSeconds: 40, Requests: 1, Queued: 1, PerSecond: 0.025},
		{Route: "/b/", Window: 40 * time.Second, WindowSeconds: 40, Requests: 40, Errors: 2, Fallbacks: 5, PerSecond: 1, ErrorPercent: 5},
	}
	if !slices.Equal(sts, want) {
		t.Fatalf("Sum = %+v\nwant  %+v", sts, want)
	}
	if got := routestats.Sum(nil, time.Minute); len(got) != 0 || got == nil {
		t.Fatalf("Sum of nothing = %#v, want an empty slice", got)
	}
}
