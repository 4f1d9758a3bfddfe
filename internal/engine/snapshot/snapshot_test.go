package snapshot

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/haderos/haderctl/internal/engine/breaker"
	"github.com/haderos/haderctl/internal/engine/chaos"
	"github.com/haderos/haderctl/internal/engine/queue"
	"github.com/haderos/haderctl/internal/engine/store"
	"github.com/haderos/haderctl/internal/testredis"
	"github.com/redis/go-redis/v9"
)

func TestSnapshotReadsEveryPartOnRedisClock(t *testing.T) {
	ctx := context.Background()
	rdb, _ := hooked(t)
	k := store.Keys{Namespace: testredis.Namespace(t)}
	now := seed(t, rdb, k, fleet{breakers: 3, services: 2, queues: 1, experiments: 4, events: 2})
	// an experiment whose end has passed but whose key is still there
	// (the sweep has not run): a snapshot leaves it out and writes nothing
	past := now.UnixMilli() - 1
	rdb.Set(ctx, k.ChaosExperiment("ch-over"), fmt.Sprintf(`{"id":"ch-over","kind":"error","services":["x"],"probability":1,"start_ms":%d,"end_ms":%d}`, past-60000, past), time.Hour)
	rdb.ZAdd(ctx, k.ChaosActive(), redis.Z{Score: float64(past), Member: "ch-over"})

	r := NewReader(rdb, Options{Keys: k, Chaos: chaos.NewSnapshotPart(k, "staging", nil, chaos.Limits{})})
	s, err := r.Snapshot(ctx, Filter{Events: 5})
	if err != nil {
		t.Fatal(err)
	}
	if d := s.Time.Sub(now); d < 0 || d > time.Minute {
		t.Fatalf("snapshot time %s is not Redis' clock (seeded at %s)", s.Time, now)
	}
	names := func(sts []breaker.Status) []string {
		var out []string
		for _, st := range sts {
			out = append(out, st.Name+"="+string(st.State))
		}
		return out
	}
	if got, want := names(s.Breakers), []string{"svc-00000=closed", "svc-00001=open", "svc-00002=half_open"}; !slices.Equal(got, want) {
		t.Fatalf("breakers %v, want %v", got, want)
	}
	open, half := s.Breakers[1], s.Breakers[2]
	// opened 1 s before the seed, recovery 120 s: 119 s to go on Redis' clock
	if open.UntilHalfOpen <= 100*time.Second || open.UntilHalfOpen > 119*time.Second || !open.Known {
		t.Errorf("open breaker: until half-open %s (want about 119 s), known %v", open.UntilHalfOpen, open.Known)
	}
	if half.ProbesInFlight != 1 {
		t.Errorf("half-open breaker: %d probes in flight, want 1 (one live lease, one expired)", half.ProbesInFlight)
	}
	if open.Settings.RecoveryTimeout != 120*time.Second || !open.SettingsStored {
		t.Errorf("settings in force %+v stored %v", open.Settings, open.SettingsStored)
	}
	if len(open.Events) != 2 || open.Events[0].To != breaker.Open {
		t.Errorf("breaker events %+v, want 2 transitions to open", open.Events)
	}

	if len(s.Queues) != 1 {
		t.Fatalf("queues %+v", s.Queues)
	}
	q := s.Queues[0]
	if q.Pending[queue.Critical] != 1 || q.Pending[queue.Normal] != 2 || q.PendingTotal != 3 || q.Delayed != 1 || q.Dead != 1 {
		t.Errorf("queue counts %+v", q)
	}
	if q.RetrySuccessRate != 0.8 || q.OldestPendingSeconds < 10 || q.OldestPendingSeconds > 70 {
		t.Errorf("queue rates: success %v, oldest pending %vs (want 0.8, about 10 s)", q.RetrySuccessRate, q.OldestPendingSeconds)
	}

	if len(s.Services) != 2 || s.Services[0].Status != "healthy" || s.Services[1].Status != "unhealthy" {
		t.Fatalf("services %+v", s.Services)
	}
	bad := s.Services[1]
	if bad.ConsecutiveFailures != 4 || !bad.AlertOpen || bad.Latency != 12 || len(bad.AlertHistory) != 2 {
		t.Errorf("unhealthy service %+v", bad)
	}
	if w := bad.Windows["1h"]; w.Checks != 10 || *w.Uptime != 90 {
		t.Errorf("1h window %+v", w)
	}
	if w := bad.Windows["7d"]; w.Checks != 20 || *w.Uptime != 70 {
		t.Errorf("7d window %+v (the hour 30 h ago counts)", w)
	}

	c := s.Chaos
	if c == nil || !c.Enabled || !c.EnvironmentOK || c.Environment != "staging" {
		t.Fatalf("chaos state %+v", c)
	}
	if len(c.Active) != 3 || len(c.Scheduled) != 1 {
		t.Fatalf("chaos: %d active, %d scheduled; want 3 and 1 (the ended one left out)", len(c.Active), len(c.Scheduled))
	}
	a := c.Active[0]
	if a.TimeLeft <= 50*time.Second || a.TimeLeft > 60*time.Second {
		t.Errorf("time left %s, want about 60 s by Redis' clock", a.TimeLeft)
	}
	if a.Impact.Calls != 10 || *a.Impact.ErrorRate != 0.5 || a.Impact.BaselineCalls != 100 || *a.Impact.BaselineErrorRate != 0.01 {
		t.Errorf("impact %+v", a.Impact)
	}
	if sc := c.Scheduled[0]; !sc.Scheduled || sc.StartsIn <= 0 || sc.StartsIn > 10*time.Second {
		t.Errorf("scheduled %+v", sc)
	}
	if n, _ := rdb.Exists(ctx, k.ChaosExperiment("ch-over")).Result(); n != 1 {
		t.Errorf("the snapshot swept an ended experiment: reads must not write")
	}
	if n, _ := rdb.XLen(ctx, k.ChaosAudit()).Result(); n != 0 {
		t.Errorf("the snapshot wrote %d audit entries", n)
	}
}

func TestSteadyStateIsOneRoundTripAndColdAtMostThree(t *testing.T) {
	ctx := context.Background()
	rdb, cnt := hooked(t)
	k := store.Keys{Namespace: testredis.Namespace(t)}
	seed(t, rdb, k, fleet{breakers: 20, services: 20, queues: 5})
	r := NewReader(rdb, Options{Keys: k})
	cnt.reset()
	s, err := r.Snapshot(ctx, Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if got := cnt.roundTrips(); got != 2 || s.RoundTrips != 2 {
		t.Fatalf("cold snapshot without experiments: %d round trips (reported %d), want 2: registries, then the names", got, s.RoundTrips)
	}
	for i := 0; i < 3; i++ {
		cnt.reset()
		s, err = r.Snapshot(ctx, Filter{Events: 3})
		if err != nil {
			t.Fatal(err)
		}
		if got := cnt.roundTrips(); got != 1 || cnt.execs != 1 {
			t.Fatalf("steady-state snapshot %d: %d round trips (%d pipelines), want exactly one Exec", i, got, cnt.execs)
		}
	}
	if len(s.Breakers) != 20 || len(s.Services) != 20 || len(s.Queues) != 5 {
		t.Fatalf("read %d breakers, %d services, %d queues", len(s.Breakers), len(s.Services), len(s.Queues))
	}

	// a new breaker costs one follow-up for just it; a deleted queue is gone
	rdb.SAdd(ctx, k.Breakers(), "newcomer")
	rdb.SRem(ctx, k.Queues(), "q-004")
	cnt.reset()
	s, err = r.Snapshot(ctx, Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if got := cnt.roundTrips(); got != 2 {
		t.Fatalf("snapshot after a new breaker: %d round trips, want 2", got)
	}
	if len(s.Breakers) != 21 || s.Breakers[0].Name != "newcomer" || !s.Breakers[0].Known || len(s.Queues) != 4 {
		t.Fatalf("breakers %d (first %s), queues %d", len(s.Breakers), s.Breakers[0].Name, len(s.Queues))
	}

	// experiments met for the first time: a third round trip for the
	// baselines of their services, then one again
	seed(t, rdb, k, fleet{experiments: 2})
	r2 := NewReader(rdb, Options{Keys: k})
	cnt.reset()
	if s, err = r2.Snapshot(ctx, Filter{Parts: Chaos}); err != nil {
		t.Fatal(err)
	}
	if got := cnt.roundTrips(); got != 3 || s.Chaos.Active[0].Impact.BaselineCalls != 100 {
		t.Fatalf("cold chaos snapshot: %d round trips, baseline %+v", got, s.Chaos.Active[0].Impact)
	}
	cnt.reset()
	if _, err = r2.Snapshot(ctx, Filter{Parts: Chaos}); err != nil {
		t.Fatal(err)
	}
	if got := cnt.roundTrips(); got != 1 {
		t.Fatalf("steady chaos snapshot: %d round trips, want 1", got)
	}
	if w := cnt.writes(); len(w) > 0 {
		t.Fatalf("a snapshot sent commands that are not reads: %v", w)
	}
}

func TestFilterSelectsPartsNamesAndLimit(t *testing.T) {
	ctx := context.Background()
	rdb, _ := hooked(t)
	k := store.Keys{Namespace: testredis.Namespace(t)}
	seed(t, rdb, k, fleet{breakers: 12, services: 3, queues: 2})
	r := NewReader(rdb, Options{Keys: k, ConfiguredBreakers: []string{"svc-99999"}})
	s, err := r.Snapshot(ctx, Filter{Parts: Breakers, Names: []string{"svc-0001?"}, Limit: 2})
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Queues)+len(s.Services) != 0 || s.Chaos != nil {
		t.Fatalf("parts not asked for were read: %d queues, %d services, chaos %v", len(s.Queues), len(s.Services), s.Chaos)
	}
	var got []string
	for _, b := range s.Breakers {
		got = append(got, b.Name)
	}
	if !slices.Equal(got, []string{"svc-00010", "svc-00011"}) {
		t.Fatalf("breakers %v, want the first two matching svc-0001?", got)
	}
	// a configured name Redis never heard of is listed, unknown
	s, err = r.Snapshot(ctx, Filter{Parts: Breakers, Names: []string{"svc-9*"}})
	if err != nil || len(s.Breakers) != 1 || s.Breakers[0].Known {
		t.Fatalf("configured breaker: %+v, %v", s.Breakers, err)
	}
	if _, err := r.Snapshot(ctx, Filter{Names: []string{"[a"}}); err == nil {
		t.Fatal("a malformed glob was accepted")
	}
}

func TestSnapshotRunsAsAReadOnlyACLUser(t *testing.T) {
	if !testredis.Real(t) {
		t.Skip("ACL users need a real redis-server (the command hook test covers miniredis)")
	}
	ctx := context.Background()
	admin := testredis.Client(t)
	k := store.Keys{Namespace: testredis.Namespace(t)}
	seed(t, admin, k, fleet{breakers: 5, services: 5, queues: 2, experiments: 2, events: 1})
	user := "snap-" + k.Namespace
	if err := admin.Do(ctx, "ACL", "SETUSER", user, "on", ">pw", "~*", "&*", "-@all", "+@read", "+@connection", "-@write", "+time").Err(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Do(context.Background(), "ACL", "DELUSER", user) })
	opt := admin.Options()
	ro := redis.NewClient(&redis.Options{Addr: opt.Addr, Username: user, Password: "pw", DisableIdentity: true})
	t.Cleanup(func() { ro.Close() })
	if err := ro.Set(ctx, k.Namespace+":probe", "1", 0).Err(); err == nil {
		t.Fatal("the read-only user could write: the test proves nothing")
	}
	r := NewReader(ro, Options{Keys: k})
	for i := 0; i < 2; i++ {
		s, err := r.Snapshot(ctx, Filter{Events: 2})
		if err != nil {
			t.Fatalf("snapshot %d as a read-only user: %v", i, err)
		}
		if len(s.Breakers) != 5 || len(s.Chaos.Active) != 2 {
			t.Fatalf("read %d breakers, %d experiments", len(s.Breakers), len(s.Chaos.Active))
		}
	}
	n := 0
	if _, err := r.EachBreaker(ctx, Filter{}, 2, func(breaker.Status, time.Time) error { n++; return nil }); err != nil || n != 5 {
		t.Fatalf("paged read as a read-only user: %d breakers, %v", n, err)
	}
}

func TestSnapshotOnACluster(t *testing.T) {
	url := testredis.ClusterURL(t)
	rdb, err := store.Open(store.Options{URL: url, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rdb.Close() })
	cnt := newCounter()
	rdb.AddHook(cnt)
	k := store.Keys{Namespace: testredis.Namespace(t)}
	seed(t, rdb, k, fleet{breakers: 30, services: 30, queues: 6, experiments: 3})
	r := NewReader(rdb, Options{Keys: k})
	ctx := context.Background()
	if _, err := r.Snapshot(ctx, Filter{}); err != nil {
		t.Fatal(err)
	}
	cnt.reset()
	s, err := r.Snapshot(ctx, Filter{Events: 1})
	if err != nil {
		t.Fatal(err)
	}
	if cnt.execs != 1 || cnt.singles != 0 {
		t.Fatalf("steady snapshot on a cluster: %d pipelines, %d single commands; want one Exec (split per node by go-redis)", cnt.execs, cnt.singles)
	}
	if len(s.Breakers) != 30 || len(s.Services) != 30 || len(s.Queues) != 6 || len(s.Chaos.Active)+len(s.Chaos.Scheduled) != 3 {
		t.Fatalf("cluster snapshot read %d/%d/%d/%d", len(s.Breakers), len(s.Services), len(s.Queues), len(s.Chaos.Active))
	}
}

func TestMonitoringStreamWritesWhatTheExporterWrites(t *testing.T) {
	now := time.UnixMilli(1_700_000_000_123)
	sts := []breaker.Status{
		{Name: "a<b>", State: breaker.Open, Failures: 3, LastFailure: now.Add(-time.Second), Settings: breaker.Settings{}.WithDefaults()},
		{Name: "b", State: breaker.Closed, Settings: breaker.Settings{}.WithDefaults(), SettingsStored: true},
		{Name: "c", State: breaker.Corrupt, Problem: "field 'state' holds \"x\""},
	}
	for _, list := range [][]breaker.Status{nil, sts[1:2], sts} {
		var want bytes.Buffer
		enc := json.NewEncoder(&want)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		if err := enc.Encode(MonitoringOf(list, now)); err != nil {
			t.Fatal(err)
		}
		var got bytes.Buffer
		m := NewMonitoringStream(&got)
		for _, s := range list {
			if err := m.Add(s, now); err != nil {
				t.Fatal(err)
			}
		}
		if err := m.Close(now); err != nil {
			t.Fatal(err)
		}
		if got.String() != want.String() {
			t.Fatalf("streamed %d breakers:\n%s\nwant:\n%s", len(list), got.String(), want.String())
		}
	}
}

func TestEachBreakerPagesInNameOrder(t *testing.T) {
	ctx := context.Background()
	rdb, cnt := hooked(t)
	k := store.Keys{Namespace: testredis.Namespace(t)}
	seed(t, rdb, k, fleet{breakers: 25})
	r := NewReader(rdb, Options{Keys: k})
	cnt.reset()
	var got []string
	first, err := r.EachBreaker(ctx, Filter{Names: []string{"svc-0001*", "svc-00002"}}, 4, func(st breaker.Status, now time.Time) error {
		got = append(got, st.Name)
		return nil
	})
	if err != nil || first.IsZero() {
		t.Fatal(err, first)
	}
	want := []string{"svc-00002", "svc-00010", "svc-00011", "svc-00012", "svc-00013", "svc-00014", "svc-00015", "svc-00016", "svc-00017", "svc-00018", "svc-00019"}
	if !slices.Equal(got, want) {
		t.Fatalf("got %v", got)
	}
	if cnt.execs != 3 {
		t.Fatalf("%d pages read for 11 breakers at 4 a page, want 3", cnt.execs)
	}
	if w := cnt.writes(); len(w) > 0 {
		t.Fatalf("paged read sent %v", w)
	}
}

// Probe leases are read only for breakers last seen half-open: one that
// turns half-open between two snapshots costs that snapshot one re-read,
// and its probes are counted all the same.
func TestABreakerTurningHalfOpenIsReadAgainWithItsProbes(t *testing.T) {
	ctx := context.Background()
	rdb, cnt := hooked(t)
	k := store.Keys{Namespace: testredis.Namespace(t)}
	now := seed(t, rdb, k, fleet{breakers: 3}) // svc-00000 is closed
	r := NewReader(rdb, Options{Keys: k})
	for i := 0; i < 2; i++ {
		if _, err := r.Snapshot(ctx, Filter{Parts: Breakers}); err != nil {
			t.Fatal(err)
		}
	}
	ms := now.UnixMilli()
	rdb.HSet(ctx, k.Breaker("svc-00000"), "state", "half_open")
	rdb.ZAdd(ctx, k.BreakerProbes("svc-00000"), redis.Z{Score: float64(ms + 60000), Member: "p1"},
		redis.Z{Score: float64(ms + 60000), Member: "p2"})
	for i, want := range []int{2, 1} {
		cnt.reset()
		s, err := r.Snapshot(ctx, Filter{Parts: Breakers})
		if err != nil {
			t.Fatal(err)
		}
		b := s.Breakers[0]
		if b.State != breaker.HalfOpen || b.ProbesInFlight != 2 || len(s.Breakers) != 3 {
			t.Fatalf("snapshot %d: %s is %s with %d probes in flight (%d breakers), want half_open with 2", i, b.Name, b.State, b.ProbesInFlight, len(s.Breakers))
		}
		if got := cnt.roundTrips(); got != want {
			t.Fatalf("snapshot %d after the transition: %d round trips, want %d", i, got, want)
		}
	}
}

// A key of the wrong type is the problem of the entry it belongs to: the
// snapshot still succeeds, that entry names the key, and every other
// entry reads as before.
func TestAKeyOfTheWrongTypeIsThatEntrysProblem(t *testing.T) {
	ctx := context.Background()
	rdb, _ := hooked(t)
	k := store.Keys{Namespace: testredis.Namespace(t)}
	seed(t, rdb, k, fleet{breakers: 3, services: 3, queues: 3, experiments: 3, events: 1})
	wrong := func(key string) {
		t.Helper()
		if err := rdb.Del(ctx, key).Err(); err != nil {
			t.Fatal(err)
		}
		if err := rdb.RPush(ctx, key, "not", "the", "engine's").Err(); err != nil {
			t.Fatal(err)
		}
	}
	wrong(k.BreakerProbes("svc-00002")) // half-open: its leases are read
	wrong(k.BreakerEvents("svc-00001"))
	wrong(k.QueueReady("q-001"))
	wrong(k.HealthHours("svc-00001"))
	wrong(k.ChaosExperiment("ch-0001"))
	wrong(k.ChaosImpact("ch-0002"))
	r := NewReader(rdb, Options{Keys: k})
	for i := 0; i < 2; i++ { // cold, then from the name cache
		s, err := r.Snapshot(ctx, Filter{Events: 1})
		if err != nil {
			t.Fatalf("snapshot %d failed on one entry's key: %v", i, err)
		}
		if len(s.Breakers) != 3 || len(s.Queues) != 3 || len(s.Services) != 3 {
			t.Fatalf("snapshot %d: %d breakers, %d queues, %d services; want every one", i, len(s.Breakers), len(s.Queues), len(s.Services))
		}
		b0, b1, b2 := s.Breakers[0], s.Breakers[1], s.Breakers[2]
		if b0.State != breaker.Closed || b0.Problem != "" {
			t.Errorf("a sound breaker: %s %q", b0.State, b0.Problem)
		}
		if b1.State != breaker.Corrupt || b1.Problem != "the events key is not a stream" {
			t.Errorf("breaker with a bad event stream: %s %q", b1.State, b1.Problem)
		}
		if b2.State != breaker.Corrupt || b2.Problem != "the probes key is not a sorted set" {
			t.Errorf("breaker with a bad probe set: %s %q", b2.State, b2.Problem)
		}
		q0, q1 := s.Queues[0], s.Queues[1]
		if q0.Problem != "" || q0.PendingTotal != 3 {
			t.Errorf("a sound queue: %+v", q0)
		}
		if !strings.Contains(q1.Problem, k.QueueReady("q-001")) || q1.Dead != 1 {
			t.Errorf("queue with a bad ready set: problem %q, dead %d (want the key named, the rest read)", q1.Problem, q1.Dead)
		}
		h0, h1 := s.Services[0], s.Services[1]
		if h0.Problem != "" || h0.Windows["1h"].Checks != 10 {
			t.Errorf("a sound service: %+v", h0)
		}
		if !strings.Contains(h1.Problem, k.HealthHours("svc-00001")) || h1.Status != "unhealthy" {
			t.Errorf("service with bad counters: problem %q, status %q (want the key named, the state read)", h1.Problem, h1.Status)
		}
		c := s.Chaos
		if n := len(c.Active) + len(c.Scheduled); n != 2 {
			t.Errorf("chaos: %d experiments, want 2 (ch-0000, and ch-0002 whose impact is unreadable)", n)
		}
		joined := strings.Join(c.Problems, "\n")
		if len(c.Problems) != 2 || !strings.Contains(joined, k.ChaosExperiment("ch-0001")) || !strings.Contains(joined, k.ChaosImpact("ch-0002")) {
			t.Errorf("chaos problems %q, want ch-0001's body and ch-0002's impact named", c.Problems)
		}
	}
}

// The name cache forgets what is gone: an experiment swept from the index
// (its key and impact deleted) is read once more from the cache, then
// never again, with its services' baselines; a long-running reader does
// not read every experiment it ever met on each refresh.
func TestTheNameCacheForgetsEndedExperiments(t *testing.T) {
	ctx := context.Background()
	rdb, cnt := hooked(t)
	k := store.Keys{Namespace: testredis.Namespace(t)}
	seed(t, rdb, k, fleet{experiments: 3})
	r := NewReader(rdb, Options{Keys: k})
	for i := 0; i < 2; i++ {
		if _, err := r.Snapshot(ctx, Filter{Parts: Chaos}); err != nil {
			t.Fatal(err)
		}
	}
	// the sweep: index entry, body and impact gone
	rdb.ZRem(ctx, k.ChaosActive(), "ch-0000", "ch-0001")
	rdb.Del(ctx, k.ChaosExperiment("ch-0000"), k.ChaosImpact("ch-0000"), k.ChaosExperiment("ch-0001"), k.ChaosImpact("ch-0001"))
	for i := 0; i < 3; i++ {
		cnt.reset()
		s, err := r.Snapshot(ctx, Filter{Parts: Chaos})
		if err != nil {
			t.Fatal(err)
		}
		if n := len(s.Chaos.Active) + len(s.Chaos.Scheduled); n != 1 || len(s.Chaos.Problems) != 0 {
			t.Fatalf("snapshot %d after the sweep: %d experiments, problems %q; want ch-0002 alone", i, n, s.Chaos.Problems)
		}
		cnt.mu.Lock()
		gets, hgetalls := cnt.commands["get"], cnt.commands["hgetall"]
		cnt.mu.Unlock()
		// the first reads the swept ones from the cache; then only
		// ch-0002: its body; the switch, its impact and one baseline
		if i > 0 && (gets != 1 || hgetalls != 3) {
			t.Fatalf("snapshot %d after the sweep: %d GET and %d HGETALL, want 1 and 3 (swept experiments still read)", i, gets, hgetalls)
		}
		if cnt.roundTrips() != 1 {
			t.Fatalf("snapshot %d after the sweep: %d round trips", i, cnt.roundTrips())
		}
	}
}

// A paged read knows a name is registered from the registry's own scan:
// registered without state is known, configured and never used is not.
func TestEachBreakerKnowsRegisteredNames(t *testing.T) {
	ctx := context.Background()
	rdb, cnt := hooked(t)
	k := store.Keys{Namespace: testredis.Namespace(t)}
	rdb.SAdd(ctx, k.Breakers(), "bare", "both")
	r := NewReader(rdb, Options{Keys: k, ConfiguredBreakers: []string{"both", "cfg"}})
	cnt.reset()
	known := map[string]bool{}
	if _, err := r.EachBreaker(ctx, Filter{}, 2, func(st breaker.Status, _ time.Time) error {
		known[st.Name] = st.Known
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(known) != 3 || !known["bare"] || !known["both"] || known["cfg"] {
		t.Fatalf("known %v, want bare and both known, cfg not", known)
	}
	if cnt.commands["sismember"] != 0 {
		t.Fatalf("%d SISMEMBER: the pages asked the registry again per name", cnt.commands["sismember"])
	}
}
