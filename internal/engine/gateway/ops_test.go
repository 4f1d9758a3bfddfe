package gateway_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/haderos/haderctl/internal/engine"
	"github.com/haderos/haderctl/internal/engine/gateway"
	"github.com/haderos/haderctl/internal/engine/store"
	"github.com/haderos/haderctl/internal/testredis"
)

// fakeQueue answers a failed write 202 with an operation id, and records
// what it was asked to keep.
type fakeQueue struct {
	mu       sync.Mutex
	begun    []string
	queued   []string
	finished int
}

type fakeTicket struct{ q *fakeQueue }

func (q *fakeQueue) Begin(w http.ResponseWriter, r *http.Request, body []byte, queue string) (gateway.WriteTicket, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.begun = append(q.begun, queue+" "+string(body))
	if r.Header.Get("Idempotency-Key") == "replay" {
		w.WriteHeader(http.StatusAccepted)
		return nil, true
	}
	return fakeTicket{q}, false
}

func (t fakeTicket) Wrap(w http.ResponseWriter) http.ResponseWriter { return w }

func (t fakeTicket) Queue(w http.ResponseWriter, service, target, lastErr string) error {
	t.q.mu.Lock()
	t.q.queued = append(t.q.queued, service+" "+target+" | "+lastErr)
	t.q.mu.Unlock()
	w.Header().Set(gateway.HeaderOperationID, "op-1")
	w.WriteHeader(http.StatusAccepted)
	return nil
}

func (t fakeTicket) Finish() { t.q.mu.Lock(); t.q.finished++; t.q.mu.Unlock() }

// A write that fails on every provider goes to the write queue (202),
// and the access log names its operation; a read that fails is answered
// as it was; a replayed key is answered by the queue alone.
func TestAWriteFailedEverywhereIsQueued(t *testing.T) {
	aramex, smsa := newUpstream(t, "a"), newUpstream(t, "s")
	aramex.set(500)
	smsa.set(500)
	q := &fakeQueue{}
	var logs bytes.Buffer
	var logMu sync.Mutex
	f := newFixture(t, shipping(aramex.URL, smsa.URL), gateway.Options{Writes: q,
		AccessLog: slog.New(slog.NewJSONHandler(&lockedWriter{w: &logs, mu: &logMu}, nil))})
	resp, _ := f.do("POST", "/api/v1/integrations/shipping/rates?token=abc", "order-1", "Authorization", "Bearer upstream-secret")
	if resp.StatusCode != 202 || resp.Header.Get(gateway.HeaderOperationID) != "op-1" {
		t.Fatalf("%d %v", resp.StatusCode, resp.Header)
	}
	q.mu.Lock()
	begun, queued, finished := q.begun, q.queued, q.finished
	q.mu.Unlock()
	if len(begun) != 1 || begun[0] != "shipping order-1" || len(queued) != 1 ||
		!strings.HasPrefix(queued[0], "aramex /api/v1/integrations/shipping/rates?token=abc | smsa answered HTTP 500") || finished != 1 {
		t.Fatalf("begun %q queued %q finished %d", begun, queued, finished)
	}
	// replayed by the queue itself: no provider sees it
	before := len(aramex.requests())
	if resp, _ := f.do("POST", "/api/v1/integrations/shipping/rates", "order-1", "Idempotency-Key", "replay"); resp.StatusCode != 202 || len(aramex.requests()) != before {
		t.Fatalf("a replay: %d", resp.StatusCode)
	}
	logMu.Lock()
	defer logMu.Unlock()
	var entry map[string]any
	if err := json.Unmarshal(bytes.SplitN(logs.Bytes(), []byte("\n"), 2)[0], &entry); err != nil {
		t.Fatalf("access log %q: %v", logs.String(), err)
	}
	if entry["queued"] != "op-1" || entry["status"] != float64(202) || entry["route"] != "shipping" || entry["path"] != "/api/v1/integrations/shipping/rates" {
		t.Fatalf("access log entry %v", entry)
	}
	if s := logs.String(); strings.Contains(s, "abc") || strings.Contains(s, "upstream-secret") {
		t.Fatalf("a secret reached the access log: %s", s)
	}
}

// A queued write keeps its path as the client encoded it: the drain must
// send riyadh%2Fnorth, not riyadh/north (another resource).
func TestAQueuedWriteKeepsThePathsEncoding(t *testing.T) {
	aramex, smsa := newUpstream(t, "a"), newUpstream(t, "s")
	aramex.set(500)
	smsa.set(500)
	q := &fakeQueue{}
	var logs bytes.Buffer
	var logMu sync.Mutex
	f := newFixture(t, shipping(aramex.URL, smsa.URL), gateway.Options{Writes: q,
		AccessLog: slog.New(slog.NewJSONHandler(&lockedWriter{w: &logs, mu: &logMu}, nil))})
	if resp, _ := f.do("POST", "/api/v1/integrations/shipping/zones/riyadh%2Fnorth?x=1", "z"); resp.StatusCode != 202 {
		t.Fatalf("%d", resp.StatusCode)
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.queued) != 1 || !strings.HasPrefix(q.queued[0], "aramex /api/v1/integrations/shipping/zones/riyadh%2Fnorth?x=1 | ") {
		t.Fatalf("queued %q", q.queued)
	}
	// the access log names the resource the client asked for, too
	logMu.Lock()
	defer logMu.Unlock()
	if !strings.Contains(logs.String(), `"path":"/api/v1/integrations/shipping/zones/riyadh%2Fnorth"`) {
		t.Fatalf("access log %s", logs.String())
	}
}

type lockedWriter struct {
	w  *bytes.Buffer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

// Reload swaps routes and providers; a bad config is refused with the
// old one kept.
func TestReloadGoodAndBad(t *testing.T) {
	aramex, smsa := newUpstream(t, "aramex"), newUpstream(t, "smsa")
	c := shipping(aramex.URL, smsa.URL)
	f := newFixture(t, c, gateway.Options{})
	c.Settings.Routes[0].Providers = []string{"smsa", "aramex"}
	if err := f.gw.Reload(c); err != nil {
		t.Fatal(err)
	}
	if _, body := f.do("GET", "/api/v1/integrations/shipping/x", ""); body != "smsa" {
		t.Fatalf("after reload: %q", body)
	}
	bad := c
	bad.Settings.Routes = []gateway.Route{{Prefix: "/x", Providers: []string{"fedex"}}}
	err := f.gw.Reload(bad)
	if err == nil || err.Error() != `gateway.routes[0].providers[0]: "fedex" is not a configured service with a base_url` {
		t.Fatalf("a bad reload: %v", err)
	}
	if _, body := f.do("GET", "/api/v1/integrations/shipping/x", ""); body != "smsa" {
		t.Fatalf("the old config is kept: %q", body)
	}
}

// Shutdown stops accepting and lets a request in flight finish.
func TestServeLetsARequestInFlightFinish(t *testing.T) {
	slow := newUpstream(t, "finished")
	slow.hold = make(chan struct{})
	f := newFixture(t, gateway.Config{Services: []gateway.Service{{Name: "slow", BaseURL: slow.URL}}}, gateway.Options{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- gateway.Serve(ctx, ln, f.gw, 10*time.Second) }()
	type result struct {
		code int
		body string
		err  error
	}
	got := make(chan result, 1)
	go func() {
		resp, err := http.Get("http://" + ln.Addr().String() + "/slow/x")
		if err != nil {
			got <- result{err: err}
			return
		}
		defer resp.Body.Close()
		var b bytes.Buffer
		b.ReadFrom(resp.Body)
		got <- result{code: resp.StatusCode, body: b.String()}
	}()
	<-slow.entered
	stop()
	testredis.Eventually(t, 5*time.Second, "the listener closes", func() bool {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err == nil {
			c.Close()
		}
		return err != nil
	})
	close(slow.hold)
	if r := <-got; r.err != nil || r.code != 200 || r.body != "finished" {
		t.Fatalf("the request in flight: %+v", r)
	}
	if err := <-served; err != nil {
		t.Fatalf("serve: %v", err)
	}
}

func TestLivezAndReadyz(t *testing.T) {
	f := newFixture(t, gateway.Config{}, gateway.Options{})
	admin := f.gw.AdminHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusTeapot) }))
	get := func(path string) (int, map[string]any) {
		rec := &responseRecorder{header: http.Header{}}
		admin.ServeHTTP(rec, httptestRequest(path))
		var m map[string]any
		json.Unmarshal(rec.body.Bytes(), &m)
		return rec.code, m
	}
	if code, _ := get("/livez"); code != 200 {
		t.Fatalf("livez %d", code)
	}
	if code, doc := get("/readyz"); code != 503 || doc["redis"] != "not checked yet" {
		t.Fatalf("before a ping readyz is not ready: %d %v", code, doc)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go f.gw.WatchRedis(ctx, 20*time.Millisecond)
	testredis.Eventually(t, 5*time.Second, "ready once Redis answers", func() bool { code, _ := get("/readyz"); return code == 200 })
	if code, _ := get("/api/v1/integrations/monitoring/health"); code != http.StatusTeapot {
		t.Fatalf("more handlers are mounted: %d", code)
	}
}

// While Redis is down the gateway keeps proxying (on local breakers) and
// /readyz says so.
func TestRedisDownKeepsProxyingAndReadyzSaysSo(t *testing.T) {
	if !testredis.Real(t) {
		t.Skip("needs a redis-server to stop")
	}
	srv, err := testredis.StartServer(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop(true)
	sys, err := engine.Open(context.Background(), engine.Options{Redis: store.Options{URL: srv.URL(), Timeout: 200 * time.Millisecond},
		Namespace: testredis.Namespace(t), Environment: "development"})
	if err != nil {
		t.Fatal(err)
	}
	defer sys.Close()
	shop := newUpstream(t, "ok")
	gw, err := gateway.New(sys, gateway.Config{Services: []gateway.Service{{Name: "shop", BaseURL: shop.URL}}}, gateway.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer gw.Close()
	front := httptest.NewServer(gw)
	defer front.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go gw.WatchRedis(ctx, 20*time.Millisecond)
	ready := func() (int, string) {
		rec := &responseRecorder{header: http.Header{}}
		gw.ReadyHandler().ServeHTTP(rec, httptestRequest("/readyz"))
		return rec.code, rec.body.String()
	}
	testredis.Eventually(t, 5*time.Second, "ready", func() bool { code, _ := ready(); return code == 200 })
	srv.Stop(true)
	testredis.Eventually(t, 5*time.Second, "readyz says Redis is down", func() bool {
		code, body := ready()
		return code == 503 && strings.Contains(body, "unreachable") && strings.Contains(body, "local")
	})
	resp, err := http.Get(front.URL + "/shop/x")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get(gateway.HeaderProvider) != "shop" {
		t.Fatalf("with Redis down: %d", resp.StatusCode)
	}
}

// The access log's buffer writes out on its interval and on Close, whole
// lines only.
func TestLogWriterFlushesOnItsIntervalAndOnClose(t *testing.T) {
	var out bytes.Buffer
	var mu sync.Mutex
	w := gateway.NewLogWriter(&lockedWriter{w: &out, mu: &mu}, 10*time.Millisecond)
	log := slog.New(slog.NewJSONHandler(w, nil))
	log.Info("request", "status", 200)
	testredis.Eventually(t, 5*time.Second, "the interval flushes the line", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return strings.HasSuffix(out.String(), "\"status\":200}\n")
	})
	log.Info("request", "status", 503)
	w.Close()
	mu.Lock()
	defer mu.Unlock()
	if n := strings.Count(out.String(), "\n"); n != 2 || !strings.Contains(out.String(), `"status":503`) {
		t.Fatalf("after Close: %q", out.String())
	}
}
