package faults

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/haderos/haderctl/internal/engine/chaos"
	"github.com/haderos/haderctl/internal/engine/store"
	"github.com/haderos/haderctl/internal/engine/transport"
	"github.com/haderos/haderctl/internal/testredis"
	"github.com/redis/go-redis/v9"
)

// fullRedis is a dedicated redis-server with maxmemory and noeviction,
// the state a production Redis is in when it is full.
type fullRedis struct {
	rdb  *redis.Client
	keys store.Keys
	c    *chaos.Client
	f    *Faults
	// stopF stops f's background re-reads and ticks.
	stopF context.CancelFunc
	srv   *httptest.Server
	fill  int
}

func startFullRedis(t *testing.T) *fullRedis {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		if testredis.Required() {
			t.Fatal("HADERCTL_TEST_REQUIRE_REDIS is set but there is no redis-server on PATH")
		}
		t.Skip("needs redis-server: maxmemory is not emulated")
	}
	s, err := testredis.StartServer(t.TempDir(), "--maxmemory", "4mb", "--maxmemory-policy", "noeviction")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Stop(true) })
	rdb := redis.NewClient(&redis.Options{Addr: s.Addr})
	t.Cleanup(func() { rdb.Close() })
	r := &fullRedis{rdb: rdb, keys: store.Keys{Namespace: "full"}}
	r.c = chaos.New(rdb, chaos.Options{Keys: r.keys, Environment: "test"})
	if err := r.c.Enable(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	r.f, r.stopF = New(rdb, r.keys, "test", nil, nil), cancel
	r.f.Start(ctx)
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok") }))
	t.Cleanup(r.srv.Close)
	return r
}

// fillUp writes strings until Redis refuses one for lack of memory: big
// ones, then smaller ones (a refused big value was counted in its query
// buffer, so a small write might still fit), until even 64 bytes are
// refused.
func (r *fullRedis) fillUp(t *testing.T) {
	t.Helper()
	for _, size := range []int{256 << 10, 16 << 10, 1 << 10, 64} {
		value := strings.Repeat("x", size)
		for i := 0; ; i++ {
			if i == 10000 {
				t.Fatal("Redis never ran out of memory")
			}
			r.fill++
			err := r.rdb.Set(context.Background(), fmt.Sprintf("fill:%d", r.fill), value, 0).Err()
			if err != nil && strings.HasPrefix(err.Error(), "OOM ") {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
		}
	}
}

// drain frees what fillUp took.
func (r *fullRedis) drain(t *testing.T) {
	t.Helper()
	for i := 1; i <= r.fill; i++ {
		if err := r.rdb.Del(context.Background(), fmt.Sprintf("fill:%d", i)).Err(); err != nil {
			t.Fatal(err)
		}
	}
	r.fill = 0
}

// startOn starts experiments that fail every call to svc and waits until
// the data plane applies them.
func startOn(t *testing.T, c *chaos.Client, f *Faults, n int) []string {
	t.Helper()
	var ids []string
	for range n {
		e, err := c.Start(context.Background(), chaos.Experiment{Kind: chaos.Error, Status: 503, Services: []string{"svc"}, Probability: 1, Duration: 10 * time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, e.ID)
	}
	testredis.Eventually(t, 10*time.Second, "the data plane applies the experiments", func() bool { return len(f.Active()) == n })
	return ids
}

// injectsNothing checks that the data plane's next re-read has no
// experiment and that a call to svc goes through untouched.
func injectsNothing(t *testing.T, rdb redis.UniversalClient, keys store.Keys, f *Faults, srvURL string, ids []string) {
	t.Helper()
	ctx := context.Background()
	for _, id := range ids {
		if n, err := rdb.Exists(ctx, keys.ChaosExperiment(id)).Result(); err != nil || n != 0 {
			t.Fatalf("experiment %s still stored (%d, %v)", id, n, err)
		}
	}
	if n, err := rdb.ZCard(ctx, keys.ChaosActive()).Result(); err != nil || n != 0 {
		t.Fatalf("the index still lists %d experiments (%v)", n, err)
	}
	f.reload(ctx)
	if a := f.Active(); len(a) != 0 {
		t.Fatalf("after a re-read the data plane still injects %v", a)
	}
	client := &http.Client{Transport: &Transport{Base: http.DefaultTransport, Faults: f}}
	req, _ := http.NewRequestWithContext(transport.WithService(ctx, "svc"), "GET", srvURL, nil)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("a call after the stop got %d, want 200", resp.StatusCode)
	}
}

func hasWarning(r chaos.StopResult, sub string) bool {
	for _, w := range r.Warnings {
		if strings.Contains(w, sub) {
			return true
		}
	}
	return false
}

func TestAnInjectRefusedByAFullRedisWritesNothing(t *testing.T) {
	r := startFullRedis(t)
	ctx := context.Background()
	startOn(t, r.c, r.f, 1)
	r.fillUp(t)
	auditLen := r.rdb.XLen(ctx, r.keys.ChaosAudit()).Val()
	startsLen := r.rdb.ZCard(ctx, r.keys.ChaosStarts()).Val()
	e, err := r.c.Start(ctx, chaos.Experiment{Kind: chaos.Abort, Services: []string{"svc"}, Probability: 1, Duration: time.Minute})
	if err == nil || !strings.HasPrefix(err.Error(), "OOM ") {
		t.Fatalf("inject into a full Redis: %v, want its OOM refusal", err)
	}
	if n := r.rdb.Exists(ctx, r.keys.ChaosExperiment(e.ID)).Val(); n != 0 || r.rdb.ZCard(ctx, r.keys.ChaosActive()).Val() != 1 ||
		r.rdb.ZCard(ctx, r.keys.ChaosStarts()).Val() != startsLen || r.rdb.XLen(ctx, r.keys.ChaosAudit()).Val() != auditLen {
		t.Fatal("a refused inject wrote to Redis")
	}
	r.f.reload(ctx)
	if a := r.f.Active(); len(a) != 1 {
		t.Fatalf("the data plane applies %v, want only the experiment started before", a)
	}
}

func TestAnInjectWithAWrongTypedAuditKeyWritesNothing(t *testing.T) {
	e := setup(t)
	rdb := testredis.Client(t)
	keys := store.Keys{Namespace: e.ns}
	ctx := context.Background()
	startOn(t, e.c, e.faults, 2)
	if err := rdb.Set(ctx, keys.ChaosAudit(), "not a stream", 0).Err(); err != nil {
		t.Fatal(err)
	}
	x, err := e.c.Start(ctx, chaos.Experiment{Kind: chaos.Error, Status: 500, Services: []string{"other"}, Probability: 1, Duration: time.Minute})
	if err == nil || !strings.HasPrefix(err.Error(), "WRONGTYPE ") || !strings.Contains(err.Error(), "nothing was written") {
		t.Fatalf("inject with a wrong-typed audit key: %v, want WRONGTYPE", err)
	}
	if rdb.Exists(ctx, keys.ChaosExperiment(x.ID)).Val() != 0 || rdb.ZCard(ctx, keys.ChaosActive()).Val() != 2 || rdb.ZCard(ctx, keys.ChaosStarts()).Val() != 2 {
		t.Fatal("a failed inject wrote its experiment")
	}
	e.faults.reload(ctx)
	if a := e.faults.Active(); len(a) != 2 {
		t.Fatalf("the data plane applies %v, want only the 2 started before", a)
	}
	// a switch is not written either
	if err := e.c.Resume(ctx); err == nil || !strings.HasPrefix(err.Error(), "WRONGTYPE ") {
		t.Fatalf("resume with a wrong-typed audit key: %v, want WRONGTYPE", err)
	}
	if err := e.c.Enable(ctx); err == nil || !strings.HasPrefix(err.Error(), "WRONGTYPE ") {
		t.Fatalf("enable with a wrong-typed audit key: %v, want WRONGTYPE", err)
	}
	if f, _ := rdb.HGet(ctx, keys.ChaosState(), "halted_by").Result(); f != "" {
		t.Fatalf("resume wrote the state (halted_by %q)", f)
	}
}

func TestStopAllAndDisableEndEveryExperimentWhenRedisIsFull(t *testing.T) {
	r := startFullRedis(t)
	ctx := context.Background()

	ids := startOn(t, r.c, r.f, 3)
	r.fillUp(t)
	res, err := r.c.StopAll(ctx, "Redis is full")
	if err != nil {
		t.Fatalf("stop-all with Redis full: %v, want the stop done", err)
	}
	if len(res.Stopped) != 3 || res.Halted || !hasWarning(res, "halt not latched") || !hasWarning(res, "OOM") {
		t.Fatalf("stop-all: %+v: want the 3 stopped, the latch and audit warned about", res)
	}
	injectsNothing(t, r.rdb, r.keys, r.f, r.srv.URL, ids)
	testredis.Eventually(t, 10*time.Second, "the pub/sub notice reaches the data plane", func() bool { return len(r.f.Active()) == 0 })

	// disable, the same way
	r.drain(t)
	ids = startOn(t, r.c, r.f, 2)
	r.fillUp(t)
	res, err = r.c.Disable(ctx, "Redis is full")
	if err != nil {
		t.Fatalf("disable with Redis full: %v, want the stop done", err)
	}
	if len(res.Stopped) != 2 || !hasWarning(res, "OOM") {
		t.Fatalf("disable: %+v: want the 2 stopped, the bookkeeping warned about", res)
	}
	injectsNothing(t, r.rdb, r.keys, r.f, r.srv.URL, ids)
	// chaos is off: once Redis has room, a start is refused
	r.drain(t)
	var refused *chaos.RefusedError
	if _, err := r.c.Start(ctx, chaos.Experiment{Kind: chaos.Abort, Services: []string{"svc"}, Probability: 1, Duration: time.Minute}); !errors.As(err, &refused) ||
		!strings.Contains(err.Error(), "disabled") {
		t.Fatalf("a start after disable: %v, want refused: chaos is disabled", err)
	}
}

func TestStopsEndEveryExperimentWithAWrongTypedAuditKey(t *testing.T) {
	e := setup(t)
	rdb := testredis.Client(t)
	keys := store.Keys{Namespace: e.ns}
	ctx := context.Background()
	breakAudit := func() {
		t.Helper()
		if err := rdb.Set(ctx, keys.ChaosAudit(), "not a stream", 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	ids := startOn(t, e.c, e.faults, 2)
	breakAudit()

	// one stop, then stop-all: done, with the audit warned about
	one, err := e.c.Stop(ctx, ids[0], "done")
	if err != nil || len(one.Stopped) != 1 || !hasWarning(one, "WRONGTYPE") {
		t.Fatalf("stop: %+v %v, want it done and the audit warned about", one, err)
	}
	res, err := e.c.StopAll(ctx, "audit broken")
	if err != nil || len(res.Stopped) != 1 || !res.Halted || !hasWarning(res, "WRONGTYPE") {
		t.Fatalf("stop-all: %+v %v, want it done, halted, the audit warned about", res, err)
	}
	injectsNothing(t, rdb, keys, e.faults, e.srv.URL, ids)

	// disable, the same way
	if err := rdb.Del(ctx, keys.ChaosAudit()).Err(); err != nil {
		t.Fatal(err)
	}
	if err := e.c.Resume(ctx); err != nil {
		t.Fatal(err)
	}
	ids = startOn(t, e.c, e.faults, 1)
	breakAudit()
	res, err = e.c.Disable(ctx, "audit broken")
	if err != nil || len(res.Stopped) != 1 || !hasWarning(res, "WRONGTYPE") {
		t.Fatalf("disable: %+v %v, want it done and the audit warned about", res, err)
	}
	injectsNothing(t, rdb, keys, e.faults, e.srv.URL, ids)
	if st, err := e.c.State(ctx); err != nil || st.Enabled {
		t.Fatalf("after disable: %+v %v, want chaos off", st, err)
	}
}

func TestAStopReportsAnExperimentThatEndedAsExpiredNotStopped(t *testing.T) {
	e := setup(t)
	rdb := testredis.Client(t)
	keys := store.Keys{Namespace: e.ns}
	ctx := context.Background()
	running := startOn(t, e.c, e.faults, 1)
	short, err := e.c.Start(ctx, chaos.Experiment{Kind: chaos.Abort, Services: []string{"svc"}, Probability: 1, Duration: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	// its key expires in Redis; no reader has swept the index since
	// ended on both clocks (miniredis expires keys in 5 ms steps that can
	// run ahead of its TIME, which the sweep goes by)
	testredis.Eventually(t, 10*time.Second, "the short experiment's key expires and Redis' clock passes its end", func() bool {
		return rdb.Exists(ctx, keys.ChaosExperiment(short.ID)).Val() == 0 && rdb.Time(ctx).Val().UnixMilli() > short.EndMs
	})
	if one, err := e.c.Stop(ctx, short.ID, "too late"); err != nil || len(one.Stopped) != 0 {
		t.Fatalf("stop of an experiment that ended: %+v %v, want nothing stopped", one, err)
	}
	res, err := e.c.StopAll(ctx, "done")
	if err != nil || !slices.Equal(res.Stopped, running) {
		t.Fatalf("stop-all: %+v %v, want only %v stopped", res, err, running)
	}
	entries, err := e.c.Audit(ctx, 100)
	if err != nil {
		t.Fatal(err)
	}
	events := map[string]string{}
	for _, en := range entries {
		if en.Event == "stopped" || en.Event == "expired" {
			events[en.Target] += en.Event
		}
	}
	if events[short.ID] != "expired" || events[running[0]] != "stopped" {
		t.Fatalf("audit %v: want %s expired (once) and %s stopped", events, short.ID, running[0])
	}
}

// expiredInIndex starts an experiment that ends at once and waits until
// its key has expired, while the index still lists it (nobody swept).
func expiredInIndex(t *testing.T, c *chaos.Client, rdb redis.UniversalClient, keys store.Keys) string {
	t.Helper()
	ctx := context.Background()
	x, err := c.Start(ctx, chaos.Experiment{Kind: chaos.Abort, Services: []string{"svc"}, Probability: 1, Duration: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	// ended on both clocks (miniredis expires keys in 5 ms steps that can
	// run ahead of its TIME, which the sweep goes by)
	testredis.Eventually(t, 10*time.Second, "the experiment's key expires and Redis' clock passes its end", func() bool {
		return rdb.Exists(ctx, keys.ChaosExperiment(x.ID)).Val() == 0 && rdb.Time(ctx).Val().UnixMilli() > x.EndMs
	})
	return x.ID
}

// expiries are the ids the audit stream says expired, read without
// sweeping (Client.Audit sweeps first).
func expiries(t *testing.T, rdb redis.UniversalClient, keys store.Keys) []string {
	t.Helper()
	msgs, err := rdb.XRange(context.Background(), keys.ChaosAudit(), "-", "+").Result()
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

func inIndex(rdb redis.UniversalClient, keys store.Keys, id string) bool {
	return rdb.ZScore(context.Background(), keys.ChaosActive(), id).Err() == nil
}

func TestReadersWriteNothingAndTheDataPlaneTickAuditsExpiries(t *testing.T) {
	rdb := testredis.Client(t)
	keys := store.Keys{Namespace: testredis.Namespace(t)}
	ctx := context.Background()
	c := chaos.New(rdb, chaos.Options{Keys: keys, Environment: "test"})
	if err := c.Enable(ctx); err != nil {
		t.Fatal(err)
	}
	id := expiredInIndex(t, c, rdb, keys)
	auditLen := rdb.XLen(ctx, keys.ChaosAudit()).Val()
	// no data plane runs: the readers see nothing running and write nothing
	for range 3 {
		if active, err := c.Active(ctx); err != nil || len(active) != 0 {
			t.Fatalf("list: %v %v, want nothing running", active, err)
		}
		if _, err := c.State(ctx); err != nil {
			t.Fatal(err)
		}
		if set, err := chaos.ReadActive(ctx, rdb, keys); err != nil || len(set.Experiments) != 0 || set.Ended != 1 {
			t.Fatalf("ReadActive: %+v %v, want no experiment and 1 ended", set, err)
		}
	}
	if n := rdb.XLen(ctx, keys.ChaosAudit()).Val(); n != auditLen || !inIndex(rdb, keys, id) {
		t.Fatalf("the readers wrote: audit %d → %d entries, still in the index: %v", auditLen, n, inIndex(rdb, keys, id))
	}
	// a data plane's tick sweeps it: audited as expired, out of the index
	dctx, cancel := context.WithCancel(ctx)
	defer cancel()
	f := New(rdb, keys, "test", nil, nil)
	f.Start(dctx)
	testredis.Eventually(t, 10*time.Second, "the data plane audits the expiry", func() bool { return slices.Equal(expiries(t, rdb, keys), []string{id}) })
	if inIndex(rdb, keys, id) {
		t.Fatal("the audited expiry is still in the index")
	}
}

func TestTheTickSweepsExpiriesOnlyWhenTheAuditCanTakeThem(t *testing.T) {
	t.Run("wrong-typed audit key", func(t *testing.T) {
		rdb := testredis.Client(t)
		keys := store.Keys{Namespace: testredis.Namespace(t)}
		ctx := context.Background()
		c := chaos.New(rdb, chaos.Options{Keys: keys, Environment: "test"})
		if err := c.Enable(ctx); err != nil {
			t.Fatal(err)
		}
		f := New(rdb, keys, "test", nil, nil) // ticked by hand, not Run
		id := expiredInIndex(t, c, rdb, keys)
		if err := rdb.Set(ctx, keys.ChaosAudit(), "not a stream", 0).Err(); err != nil {
			t.Fatal(err)
		}
		f.reload(ctx)
		f.tick(ctx)
		if !inIndex(rdb, keys, id) {
			t.Fatal("the expiry left the index without its audit entry")
		}
		// once the audit is fixed, the next tick audits it
		rdb.Del(ctx, keys.ChaosAudit())
		f.reload(ctx)
		f.tick(ctx)
		if got := expiries(t, rdb, keys); !slices.Equal(got, []string{id}) || inIndex(rdb, keys, id) {
			t.Fatalf("after the fix: expiries %v (in the index: %v), want %s audited and gone", got, inIndex(rdb, keys, id), id)
		}
	})
	t.Run("Redis full", func(t *testing.T) {
		r := startFullRedis(t)
		r.stopF() // only the data plane ticked by hand sweeps
		ctx := context.Background()
		f := New(r.rdb, r.keys, "test", nil, nil)
		id := expiredInIndex(t, r.c, r.rdb, r.keys)
		r.fillUp(t)
		auditLen := r.rdb.XLen(ctx, r.keys.ChaosAudit()).Val()
		f.reload(ctx)
		f.tick(ctx)
		if n := r.rdb.XLen(ctx, r.keys.ChaosAudit()).Val(); n != auditLen || !inIndex(r.rdb, r.keys, id) {
			t.Fatalf("a sweep into a full Redis: audit %d → %d entries, in the index: %v; want nothing written",
				auditLen, n, inIndex(r.rdb, r.keys, id))
		}
		r.drain(t)
		f.reload(ctx)
		f.tick(ctx)
		if got := expiries(t, r.rdb, r.keys); !slices.Contains(got, id) || inIndex(r.rdb, r.keys, id) {
			t.Fatalf("with room again: expiries %v, want %s audited and out of the index", got, id)
		}
	})
}

// Several processes' data planes tick on the same namespace: each expiry
// is audited once, by whichever sweep takes it (the sweep is one script:
// it audits only what it removes from the index), and no later tick
// audits it again.
func TestSeveralDataPlanesAuditEachExpiryOnce(t *testing.T) {
	rdb := testredis.Client(t)
	keys := store.Keys{Namespace: testredis.Namespace(t)}
	ctx := context.Background()
	c := chaos.New(rdb, chaos.Options{Keys: keys, Environment: "test"})
	if err := c.Enable(ctx); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for range 3 {
		x, err := c.Start(ctx, chaos.Experiment{Kind: chaos.Abort, Services: []string{"svc"}, Probability: 1, Duration: 300 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, x.ID)
	}
	dctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var planes []*Faults
	for range 3 {
		f := New(testredis.Client(t), keys, "test", nil, nil)
		f.Start(dctx)
		planes = append(planes, f)
	}
	testredis.Eventually(t, 15*time.Second, "the data planes audit the three expiries", func() bool {
		return rdb.ZCard(ctx, keys.ChaosActive()).Val() == 0 && len(expiries(t, rdb, keys)) >= 3
	})
	// a few more ticks of every plane: none audits an expiry again
	var loads []int64
	for _, f := range planes {
		loads = append(loads, f.Loads())
	}
	testredis.Eventually(t, 15*time.Second, "every data plane ticks twice more", func() bool {
		for i, f := range planes {
			if f.Loads() < loads[i]+2 {
				return false
			}
		}
		return true
	})
	got := expiries(t, rdb, keys)
	slices.Sort(got)
	slices.Sort(ids)
	if !slices.Equal(got, ids) {
		t.Fatalf("expiries audited %v, want each of %v once", got, ids)
	}
}
