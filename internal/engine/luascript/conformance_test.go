package luascript_test

// The conformance test calls the engine's scripts the way a client in
// another language does (clients/python): it reads the .lua files from the
// repository, applies the prelude rule itself, builds each key from the
// pattern in the script's header and passes exactly the KEYS and ARGV the
// header lists, by EVALSHA (EVAL when Redis does not have the script).
// Then it reads the state back with the engine's own read side, and
// the other way round: a script change that breaks the documented calling
// convention fails here as it would fail the Python client. Each case runs
// on the embedded server of `haderctl demo` and on a redis-server.

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/haderos/haderctl/internal/embedredis"
	"github.com/haderos/haderctl/internal/engine/breaker"
	"github.com/haderos/haderctl/internal/engine/chaos"
	"github.com/haderos/haderctl/internal/engine/health"
	"github.com/haderos/haderctl/internal/engine/queue"
	"github.com/haderos/haderctl/internal/engine/store"
	"github.com/haderos/haderctl/internal/testredis"
	"github.com/redis/go-redis/v9"
)

func TestMain(m *testing.M) { os.Exit(testredis.Main(m)) }

// foreign is a client that knows the scripts only by their files.
type foreign struct {
	t    *testing.T
	rdb  *redis.Client
	repo fs.FS
	ns   string
}

func newForeign(t *testing.T, rdb *redis.Client) *foreign {
	return &foreign{t: t, rdb: rdb, repo: os.DirFS(repoRoot(t)), ns: testredis.Namespace(t)}
}

// onBoth runs a case on each server the scripts meet: the embedded one
// `haderctl demo` starts (miniredis), and a redis-server (the harness'),
// so the demo cannot drift from production unnoticed.
func onBoth(t *testing.T, run func(t *testing.T, f *foreign)) {
	t.Run("miniredis", func(t *testing.T) {
		s, err := embedredis.Start()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(s.Close)
		// DisableIdentity: miniredis refuses CLIENT SETINFO
		rdb := redis.NewClient(&redis.Options{Addr: s.Addr(), DisableIdentity: true})
		t.Cleanup(func() { rdb.Close() })
		run(t, newForeign(t, rdb))
	})
	t.Run("redis-server", func(t *testing.T) {
		// with HADERCTL_TEST_REQUIRE_REDIS set, Real fails the test instead
		if !testredis.Real(t) {
			t.Skip("no redis-server on PATH and no HADERCTL_TEST_REDIS_URL: the case ran on miniredis only")
		}
		run(t, newForeign(t, testredis.Client(t)))
	})
}

// script is one file as a foreign client loads it.
type script struct {
	file string
	src  string // what EVAL is given: the prelude's text, then the file's
	sha  string
	hdr  header
}

// load reads a script file and applies the prelude rule: a header line
// "--- prelude: <file>" among the leading "---" lines puts that file's
// bytes, from the same directory, before the script's.
func (f *foreign) load(file string) script {
	f.t.Helper()
	b, err := fs.ReadFile(f.repo, file)
	if err != nil {
		f.t.Fatal(err)
	}
	own := string(b)
	src := own
	for _, line := range strings.Split(own, "\n") {
		if !strings.HasPrefix(line, "---") {
			break
		}
		if name, ok := strings.CutPrefix(line, "--- prelude: "); ok {
			pre, err := fs.ReadFile(f.repo, path.Join(path.Dir(file), strings.TrimSpace(name)))
			if err != nil {
				f.t.Fatal(err)
			}
			src = string(pre) + own
		}
	}
	h, bad := parseHeader(own)
	if len(bad) > 0 {
		f.t.Fatalf("%s: %v", file, bad)
	}
	sum := sha1.Sum([]byte(src))
	return script{file: file, src: src, sha: hex.EncodeToString(sum[:]), hdr: h}
}

// key is the header's KEYS[i] pattern with the placeholders filled:
// <ns> the namespace, {name} the name (keeping its braces), <id> the id.
func (f *foreign) key(s script, i int, name, id string) string {
	f.t.Helper()
	for _, sp := range s.hdr.keys {
		if i >= sp.from && (sp.open || i <= sp.to) {
			pat, _, _ := strings.Cut(sp.text, " ")
			return strings.NewReplacer("<ns>", f.ns, "{name}", "{"+name+"}", "<id>", id).Replace(pat)
		}
	}
	f.t.Fatalf("%s: its header has no KEYS[%d]", s.file, i)
	return ""
}

// keys are the header's fixed KEYS for name (and id, if a pattern has one).
func (f *foreign) keys(s script, name string, id ...string) []string {
	n, _ := fixed(s.hdr.keys)
	out := make([]string, n)
	for i := range out {
		out[i] = f.key(s, i+1, name, strings.Join(id, ""))
	}
	return out
}

// eval runs s with keys and argv, after checking they are as many as its
// header documents, by EVALSHA, then EVAL on NOSCRIPT.
func (f *foreign) eval(s script, keys []string, argv ...any) *redis.Cmd {
	f.t.Helper()
	for _, c := range []struct {
		what  string
		spans []span
		n     int
	}{{"KEYS", s.hdr.keys, len(keys)}, {"ARGV", s.hdr.argv, len(argv)}} {
		want, open := fixed(c.spans)
		if c.n != want && !(open && c.n > want) {
			f.t.Fatalf("%s called with %d %s; its header documents %d (variable: %v)", s.file, c.n, c.what, want, open)
		}
	}
	ctx := context.Background()
	cmd := f.rdb.EvalSha(ctx, s.sha, keys, argv...)
	if err := cmd.Err(); err != nil && strings.HasPrefix(err.Error(), "NOSCRIPT") {
		cmd = f.rdb.Eval(ctx, s.src, keys, argv...)
	}
	return cmd
}

// replyFields are the names of a reply's positions as the header gives
// them: "--- reply: {verdict, state, ...}".
func replyFields(t *testing.T, s script) []string {
	t.Helper()
	open, rest, ok := strings.Cut(s.hdr.replyText, "{")
	inner, _, closed := strings.Cut(rest, "}")
	if !ok || !closed || strings.TrimSpace(open) != "" {
		t.Fatalf("%s: reply %q is not {name, name, ...}", s.file, s.hdr.replyText)
	}
	var out []string
	for _, n := range strings.Split(inner, ",") {
		out = append(out, strings.TrimSpace(n))
	}
	return out
}

// named decodes a flat string reply by the header's names.
func named(t *testing.T, s script, cmd *redis.Cmd) map[string]string {
	t.Helper()
	vals, err := cmd.StringSlice()
	if err != nil {
		t.Fatalf("%s: %v", s.file, err)
	}
	names := replyFields(t, s)
	if len(vals) != len(names) {
		t.Fatalf("%s replied %d fields, its header names %d: %q", s.file, len(vals), len(names), vals)
	}
	out := map[string]string{}
	for i, n := range names {
		out[n] = vals[i]
	}
	return out
}

func num(t *testing.T, s string) int64 {
	t.Helper()
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		t.Fatalf("%q is not a whole number", s)
	}
	return n
}

const (
	breakerDir = "internal/engine/breaker/lua/"
	queueDir   = "internal/engine/queue/lua/"
	healthDir  = "internal/engine/health/lua/"
	chaosDir   = "internal/engine/chaos/lua/"
)

// breakerArgv are ARGV[1..10] of the breaker scripts, as the header
// documents them, with the seed's defaults, then extra.
func (f *foreign) breakerArgv(clock, name string, extra ...any) []any {
	who := `{"host":"py-host","pid":4242,"user":"svc","reporter":"py-host/4242/abcd"}`
	return append([]any{clock, "3", "2", "120000", "2", "30000", who, f.ns + ":breaker:transitions", "1000", name}, extra...)
}

// register is what acquire.lua's header says a client does before a
// name's first script.
func (f *foreign) register(set, name string) {
	f.t.Helper()
	ctx := context.Background()
	if err := f.rdb.SetNX(ctx, f.ns+":schema", store.SchemaVersion, 0).Err(); err != nil {
		f.t.Fatal(err)
	}
	if err := f.rdb.SAdd(ctx, f.ns+":"+set, name).Err(); err != nil {
		f.t.Fatal(err)
	}
}

func TestConformanceBreaker(t *testing.T) { onBoth(t, conformanceBreaker) }

func conformanceBreaker(t *testing.T, f *foreign) {
	ctx := context.Background()
	acquire, record := f.load(breakerDir+"acquire.lua"), f.load(breakerDir+"record.lua")
	e := breaker.New(f.rdb, breaker.Options{Keys: store.Keys{Namespace: f.ns}})
	t.Cleanup(e.Close)

	// a service checks a breaker, then reports three untracked failures
	const name = "payments"
	f.register("breakers", name)
	r := named(t, acquire, f.eval(acquire, f.keys(acquire, name), f.breakerArgv("", name, "tok-1")...))
	if r["verdict"] != "allow" || r["state"] != "closed" || r["failure_threshold"] != "3" {
		t.Fatalf("acquire on a new breaker: %v, want allow, closed, failure_threshold 3", r)
	}
	for i := 1; i <= 3; i++ {
		r = named(t, record, f.eval(record, f.keys(record, name), f.breakerArgv("", name, "failure", "", "")...))
		if r["verdict"] != "ok" || num(t, r["failures"]) != int64(i) {
			t.Fatalf("failure %d: %v", i, r)
		}
	}
	if r["state"] != "open" || r["generation"] != "1" || !strings.Contains(r["events_json"], `"to":"open"`) {
		t.Fatalf("three failures: %v, want open in generation 1 with the transition in events_json", r)
	}
	openedAt := num(t, r["opened_at"])

	// haderctl sees it open
	names, err := e.Names(ctx)
	if err != nil || !slices.Contains(names, name) {
		t.Fatalf("engine Names = %v, %v; want %s listed", names, err, name)
	}
	sts, _, err := e.Snapshot(ctx, []string{name})
	if err != nil {
		t.Fatal(err)
	}
	if st := sts[0]; st.State != breaker.Open || st.Failures != 3 || st.Generation != 1 || st.OpenedAt.UnixMilli() != openedAt ||
		st.UntilHalfOpen <= 0 || st.Settings.FailureThreshold != 3 || !st.SettingsStored {
		t.Fatalf("engine status %+v, want open with 3 failures in generation 1, opened at %d", st, openedAt)
	}
	if _, err := e.Acquire(ctx, name); !errors.Is(err, breaker.ErrOpen) {
		t.Fatalf("engine Acquire on the breaker opened from outside: %v, want ErrOpen", err)
	}

	// and the service is rejected with the time to the next probe
	r = named(t, acquire, f.eval(acquire, f.keys(acquire, name), f.breakerArgv("", name, "tok-2")...))
	if w := num(t, r["wait_ms"]); r["verdict"] != "reject" || w <= 0 || w > 120000 {
		t.Fatalf("acquire on the open breaker: %v, want reject with 0 < wait_ms <= 120000", r)
	}

	// past the recovery timeout (the clock override of ARGV[1]) two probes
	// succeed and close it; a result of the old generation is stale
	later := strconv.FormatInt(openedAt+120000+1, 10)
	for i, tok := range []string{"probe-a", "probe-b"} {
		r = named(t, acquire, f.eval(acquire, f.keys(acquire, name), f.breakerArgv(later, name, tok)...))
		if r["verdict"] != "probe" || r["state"] != "half_open" {
			t.Fatalf("acquire %d after the recovery timeout: %v, want probe in half_open", i, r)
		}
		gen := r["generation"]
		if i == 0 {
			stale := named(t, record, f.eval(record, f.keys(record, name), f.breakerArgv(later, name, "failure", "1", "")...))
			if stale["verdict"] != "stale" {
				t.Fatalf("a failure of generation 1 in generation %s: %v, want stale", gen, stale)
			}
		}
		r = named(t, record, f.eval(record, f.keys(record, name), f.breakerArgv(later, name, "success", gen, tok)...))
		if r["verdict"] != "ok" {
			t.Fatalf("probe %d success: %v", i, r)
		}
	}
	if r["state"] != "closed" {
		t.Fatalf("two probe successes: %v, want closed", r)
	}
	sts, _, err = e.Snapshot(ctx, []string{name})
	if err != nil || sts[0].State != breaker.Closed || sts[0].ProbesInFlight != 0 {
		t.Fatalf("engine status after the probes: %+v, %v; want closed, no probe in flight", sts, err)
	}

	// a breaker the engine opened rejects the service, with a wait
	const ledger = "ledger"
	for i := 0; i < 3; i++ {
		if _, err := e.Record(ctx, ledger, false); err != nil {
			t.Fatal(err)
		}
	}
	r = named(t, acquire, f.eval(acquire, f.keys(acquire, ledger), f.breakerArgv("", ledger, "tok-3")...))
	if w := num(t, r["wait_ms"]); r["verdict"] != "reject" || r["state"] != "open" || w <= 0 || w > 120000 {
		t.Fatalf("acquire on a breaker the engine opened: %v, want reject, open, 0 < wait_ms <= 120000", r)
	}
	if _, err := e.Trip(ctx, "audit", "drill"); err != nil {
		t.Fatal(err)
	}
	r = named(t, acquire, f.eval(acquire, f.keys(acquire, "audit"), f.breakerArgv("", "audit", "tok-4")...))
	if r["verdict"] != "reject" || r["state"] != "forced_open" || r["wait_ms"] != "-1" {
		t.Fatalf("acquire on a tripped breaker: %v, want reject, forced_open, wait_ms -1", r)
	}
}

// entry is an operation's entry in the ops hash as enqueue.lua's header
// documents it.
func entry(score int64, maxAttempts int, service, meta, data string) string {
	return fmt.Sprintf("%d 0 %d %s\n%s\n%s", score, maxAttempts, service, meta, data)
}

func TestConformanceQueue(t *testing.T) { onBoth(t, conformanceQueue) }

func conformanceQueue(t *testing.T, f *foreign) {
	ctx := context.Background()
	one, all := f.load(queueDir+"enqueue_one.lua"), f.load(queueDir+"enqueue.lua")
	c := queue.New(f.rdb, store.Keys{Namespace: f.ns}, queue.Settings{})
	const q, retention = "orders", "86400000"
	meta := `{"operation":"create_order","error":"smsa timeout"}`
	data := `{"order_id":42}`
	now := time.Now().UnixMilli()
	const band = 10000000000000 // 1e13: rank 0 critical, 1 high, 2 normal, 3 low
	f.register("queues", q)

	// push one operation: enqueue_one, and enqueue when it replies 0
	score := 2*band + now
	e := entry(score, 5, "smsa", meta, data)
	if n, err := f.eval(one, f.keys(one, q), "op-1", score, e).Int(); err != nil || n != 1 {
		t.Fatalf("enqueue_one of a new operation: %d, %v; want 1", n, err)
	}
	if n, err := f.eval(one, f.keys(one, q), "op-1", score, e).Int(); err != nil || n != 0 {
		t.Fatalf("enqueue_one of the same id: %d, %v; want 0", n, err)
	}
	res, err := f.eval(all, f.keys(all, q), now, retention, "op-1", score, e).StringSlice()
	if err != nil || !slices.Equal(res, []string{"dup:ready"}) {
		t.Fatalf("enqueue of the duplicate: %q, %v; want [dup:ready]", res, err)
	}
	// two more in one call, per-operation triples
	res, err = f.eval(all, f.keys(all, q), now, retention,
		"op-2", 1*band+now, entry(1*band+now, 5, "smsa", `{"operation":"refund"}`, `{"order_id":7}`),
		"op-3", 0*band+now, entry(0*band+now, 1, "billing", `{"operation":"invoice"}`, `null`)).StringSlice()
	if err != nil || !slices.Equal(res, []string{"new", "new"}) {
		t.Fatalf("enqueue of two operations: %q, %v; want [new new]", res, err)
	}

	// haderctl counts them
	known, err := c.Known(ctx)
	if err != nil || !slices.Equal(known, []string{q}) {
		t.Fatalf("engine Known = %v, %v; want [%s]", known, err, q)
	}
	stats, _, err := c.Stats(ctx, []string{q})
	if err != nil {
		t.Fatal(err)
	}
	s := stats[0]
	if s.PendingTotal != 3 || s.Pending[queue.Normal] != 1 || s.Pending[queue.High] != 1 || s.Pending[queue.Critical] != 1 ||
		s.Enqueued != 3 || s.Duplicates != 1 || s.Problem != "" {
		t.Fatalf("engine stats %+v, want 3 pending (normal, high, critical), 3 enqueued, 1 duplicate", s)
	}
	// and reads the entry's fields
	op, err := c.Inspect(ctx, q, "op-1")
	if err != nil || op == nil {
		t.Fatalf("engine Inspect: %v, %v", op, err)
	}
	if op.Operation != "create_order" || op.Service != "smsa" || string(op.Data) != data || op.Error != "smsa timeout" ||
		op.Priority != queue.Normal || op.MaxAttempts != 5 || op.State != "ready" || op.Attempts != 0 || op.CreatedAt.UnixMilli() != now {
		t.Fatalf("engine Inspect = %+v, want the fields pushed", op)
	}

	// an operation the engine pushes has the entry the header documents
	pushed := &queue.Operation{ID: "op-4", Queue: q, Operation: "create_order", Service: "smsa", Data: json.RawMessage(data),
		Error: "smsa timeout", MaxAttempts: 5}
	if err := c.Check(pushed); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Push(ctx, []*queue.Operation{pushed}); err != nil {
		t.Fatal(err)
	}
	raw, err := f.rdb.HGet(ctx, f.key(one, 2, q, ""), "op-4").Result()
	if err != nil {
		t.Fatal(err)
	}
	first, _, _ := strings.Cut(raw, " ")
	pscore := num(t, first)
	if want := entry(pscore, 5, "smsa", meta, data); raw != want || pscore/band != 2 {
		t.Fatalf("the engine's entry\n%q\nis not the documented\n%q (normal rank 2)", raw, want)
	}
}

func TestConformanceHealth(t *testing.T) { onBoth(t, conformanceHealth) }

func conformanceHealth(t *testing.T, f *foreign) {
	ctx := context.Background()
	slot, record := f.load(healthDir+"slot.lua"), f.load(healthDir+"record.lua")
	c := health.New(f.rdb, health.Options{Keys: store.Keys{Namespace: f.ns}})
	const svc = "inventory"

	// the probe lock: one probe per interval
	got, err := f.eval(slot, f.keys(slot, svc), "30000", "").Slice()
	if err != nil || len(got) != 2 || got[0] != int64(1) {
		t.Fatalf("slot: %v, %v; want {1, now}", got, err)
	}
	again, err := f.eval(slot, f.keys(slot, svc), "30000", "").Slice()
	if err != nil || len(again) != 2 || again[0] != int64(0) {
		t.Fatalf("slot again in the same interval: %v, %v; want {0, now}", again, err)
	}

	argv := func(ok, code, us, why string) []any {
		return []any{ok, code, us, why, "3", "2", "-1", "60", "720", "py-host/4242", svc, ""}
	}
	res, err := f.eval(record, f.keys(record, svc), argv("1", "200", "12500", "")...).Slice()
	if err != nil || len(res) != 5 || res[0] != "" || res[1] != int64(0) || res[2] != int64(1) {
		t.Fatalf("record of a success: %v, %v; want {\"\", 0, 1, now, 0}", res, err)
	}
	sts, _, err := c.Statuses(ctx, []string{svc})
	if err != nil {
		t.Fatal(err)
	}
	st := sts[0]
	if !st.Healthy || st.Status != "healthy" || st.Code != 200 || st.Latency != 12.5 || st.ConsecutiveSuccesses != 1 ||
		st.CheckedAt == nil || st.CheckedAt.UnixMilli() != res[3].(int64) || len(st.Recent) != 1 || st.Problem != "" {
		t.Fatalf("engine status %+v, want healthy, 200, 12.5 ms, checked at %v", st, res[3])
	}

	for i := 1; i <= 3; i++ {
		res, err = f.eval(record, f.keys(record, svc), argv("0", "503", "900", "HTTP 503")...).Slice()
		if err != nil {
			t.Fatal(err)
		}
	}
	if res[0] != "fired" || res[1] != int64(3) {
		t.Fatalf("third failure: %v, want the alert fired with 3 consecutive failures", res)
	}
	sts, _, err = c.Statuses(ctx, []string{svc})
	if err != nil {
		t.Fatal(err)
	}
	st = sts[0]
	if st.Healthy || st.Status != "unhealthy" || st.Code != 503 || st.Error != "HTTP 503" || st.ConsecutiveFailures != 3 ||
		!st.AlertOpen || st.AlertSince == nil || st.AlertSince.UnixMilli() != res[4].(int64) || len(st.Recent) != 4 {
		t.Fatalf("engine status %+v, want unhealthy, 503, 3 failures, alert open since %v", st, res[4])
	}
	alerts, err := c.Alerts(ctx, svc, 10)
	if err != nil || len(alerts) != 1 || alerts[0].Kind != "fired" || alerts[0].By != "py-host/4242" {
		t.Fatalf("engine alerts %+v, %v; want one fired by py-host/4242", alerts, err)
	}
}

func TestConformanceChaos(t *testing.T) { onBoth(t, conformanceChaos) }

func conformanceChaos(t *testing.T, f *foreign) {
	ctx := context.Background()
	sw, start := f.load(chaosDir+"switch.lua"), f.load(chaosDir+"start.lua")
	end, book := f.load(chaosDir+"end.lua"), f.load(chaosDir+"book.lua")
	c := chaos.New(f.rdb, chaos.Options{Keys: store.Keys{Namespace: f.ns}, Environment: "test"})
	const who = "svc@py-host"
	channel := f.ns + ":chaos:changed"
	base := f.keys(sw, "")

	// enable_chaos, then inject a network delay
	if s, err := f.eval(sw, base, who, channel, "enabled", "1", "enabled").Text(); err != nil || s != "ok" {
		t.Fatalf("switch: %q, %v; want ok", s, err)
	}
	startExp := func(id string) []string {
		t.Helper()
		js := fmt.Sprintf(`{"id":%q,"kind":"latency","services":["inventory"],"probability":1,"delay":250000000,"duration":60000000000,"by":%q,"reason":"conformance"}`, id, who)
		// at most one running, ten an hour
		res, err := f.eval(start, f.keys(start, "", id), who, channel, js, "60000", "1", "10", id, "0").StringSlice()
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	res := startExp("exp-1")
	if len(res) != 2 || res[0] != "ok" || !strings.Contains(res[1], `"end_ms":`) {
		t.Fatalf("start: %q, want {ok, the experiment with start_ms and end_ms}", res)
	}

	if res := startExp("exp-1b"); len(res) != 2 || res[0] != "refused" || !strings.Contains(res[1], "chaos.max_concurrent") {
		t.Fatalf("a second start with at most one running: %q, want refused by chaos.max_concurrent", res)
	}

	// haderctl lists it
	st, err := c.State(ctx)
	if err != nil || !st.Enabled || st.EnabledBy != who {
		t.Fatalf("engine State %+v, %v; want enabled by %s", st, err, who)
	}
	active, err := c.Active(ctx)
	if err != nil || len(active) != 1 {
		t.Fatalf("engine Active = %+v, %v; want the one experiment", active, err)
	}
	if x := active[0]; x.ID != "exp-1" || x.Kind != chaos.Latency || !slices.Equal(x.Services, []string{"inventory"}) ||
		x.Delay != 250*time.Millisecond || x.Duration != time.Minute || x.EndMs-x.StartMs != 60000 || x.By != who {
		t.Fatalf("engine Active[0] = %+v, want exp-1: latency 250ms on inventory for a minute", x)
	}

	// stop-all from haderctl: the foreign view sees it gone, and halted
	stopped, err := c.StopAll(ctx, "conformance over")
	if err != nil || !slices.Equal(stopped.Stopped, []string{"exp-1"}) || !stopped.Halted {
		t.Fatalf("engine StopAll = %+v, %v; want exp-1 stopped and the halt latched", stopped, err)
	}
	if err := f.rdb.Get(ctx, f.key(start, 5, "", "exp-1")).Err(); !errors.Is(err, redis.Nil) {
		t.Fatalf("the experiment's key after stop-all: %v, want it gone", err)
	}
	if err := f.rdb.ZScore(ctx, f.key(start, 2, "", ""), "exp-1").Err(); !errors.Is(err, redis.Nil) {
		t.Fatalf("the experiment in the index after stop-all: %v, want it gone", err)
	}
	if res := startExp("exp-2"); len(res) != 2 || res[0] != "refused" || !strings.Contains(res[1], "halted") {
		t.Fatalf("start while halted: %q, want refused (halted)", res)
	}

	// after resume, a stop from outside (end, then book) is seen by haderctl
	if err := c.Resume(ctx); err != nil {
		t.Fatal(err)
	}
	if res := startExp("exp-3"); res[0] != "ok" {
		t.Fatalf("start after resume: %q", res)
	}
	ended, err := f.eval(end, []string{f.key(end, 1, "", ""), f.key(end, 2, "", ""), f.key(end, 3, "", "exp-3")},
		channel, "0", "exp-3").Slice()
	if err != nil || len(ended) != 3 || fmt.Sprint(ended[0]) != "[exp-3]" || fmt.Sprint(ended[1]) != "[]" || ended[2] != "" {
		t.Fatalf("end: %v, %v; want {[exp-3], [], \"\"}", ended, err)
	}
	booked, err := f.eval(book, base, who, channel, "conformance stop", "", "1", "exp-3").StringSlice()
	if err != nil || !slices.Equal(booked, []string{"0"}) {
		t.Fatalf("book: %q, %v; want [0] (no halt, no warning)", booked, err)
	}
	if active, err := c.Active(ctx); err != nil || len(active) != 0 {
		t.Fatalf("engine Active after the foreign stop = %+v, %v; want none", active, err)
	}
	audit, err := c.AuditOf(ctx, "exp-3", 10)
	if err != nil || !slices.ContainsFunc(audit, func(a chaos.AuditEntry) bool { return a.Event == "stopped" && a.By == who }) {
		t.Fatalf("engine audit of exp-3 = %+v, %v; want a stop by %s", audit, err, who)
	}
}
