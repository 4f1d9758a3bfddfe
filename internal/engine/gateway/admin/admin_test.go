package admin_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/haderos/haderctl/internal/engine"
	"github.com/haderos/haderctl/internal/engine/chaos"
	"github.com/haderos/haderctl/internal/engine/gateway/admin"
	"github.com/haderos/haderctl/internal/engine/gateway/routestats"
	"github.com/haderos/haderctl/internal/engine/health"
	"github.com/haderos/haderctl/internal/engine/queue"
	"github.com/haderos/haderctl/internal/engine/snapshot"
	"github.com/haderos/haderctl/internal/engine/store"
	"github.com/haderos/haderctl/internal/testredis"
	"github.com/redis/go-redis/v9"
)

func TestMain(m *testing.M) { os.Exit(testredis.Main(m)) }

// recording remembers the last snapshot it handed out, so a test can
// build the document the endpoint should have served from the very
// snapshot it served.
type recording struct {
	r    admin.Snapshotter
	mu   sync.Mutex
	last *snapshot.Snapshot
}

func (c *recording) Snapshot(ctx context.Context, f snapshot.Filter) (*snapshot.Snapshot, error) {
	s, err := c.r.Snapshot(ctx, f)
	c.mu.Lock()
	c.last = s
	c.mu.Unlock()
	return s, err
}

func (c *recording) lastSnapshot() *snapshot.Snapshot {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.last
}

// seeded opens an engine over a fresh namespace with a breaker forced
// open, a queue with an operation, a checked service and an experiment.
func seeded(t *testing.T) *engine.System {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	sys, err := engine.Open(ctx, engine.Options{Redis: store.Options{URL: testredis.URL(t)}, Namespace: testredis.Namespace(t),
		Environment: "test", Services: []string{"aramex", "smsa"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); sys.Close() })
	if _, err := sys.Breakers.Trip(ctx, "aramex", "maintenance"); err != nil {
		t.Fatal(err)
	}
	op := &queue.Operation{ID: "op-1", Queue: "shipping", Operation: "create_shipment", Service: "aramex", Data: []byte(`{"to":"Riyadh"}`)}
	if err := sys.Queues.Check(op); err != nil {
		t.Fatal(err)
	}
	if _, err := sys.Queues.Push(ctx, []*queue.Operation{op}); err != nil {
		t.Fatal(err)
	}
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok") }))
	t.Cleanup(up.Close)
	check := health.Check{Name: "smsa", URL: up.URL, Interval: 30 * time.Second, Timeout: 5 * time.Second}
	if err := sys.Health.Register(ctx, check); err != nil {
		t.Fatal(err)
	}
	if _, err := sys.Health.Check(ctx, check); err != nil {
		t.Fatal(err)
	}
	if err := sys.Chaos.Enable(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := sys.Chaos.Start(ctx, chaos.Experiment{Kind: chaos.Latency, Delay: time.Second, Services: []string{"smsa"}, Probability: 0.5, Duration: time.Minute}); err != nil {
		t.Fatal(err)
	}
	traffic := routestats.NewRecorder(ctx, sys.Redis, routestats.RecorderOptions{Keys: sys.Keys, Interval: time.Hour})
	traffic.Record("/api/v1/integrations/shipping/", 200, true, false)
	traffic.Record("/api/v1/integrations/shipping/", 503, false, false)
	if err := traffic.Close(); err != nil {
		t.Fatal(err)
	}
	return sys
}

func get(t *testing.T, url, token string) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

// exported encodes v as the CLI's one exporter does (cmdutil.WriteJSON).
func exported(t *testing.T, v any) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestEachMonitoringEndpointServesTheCommandsDocumentOfOneSnapshot(t *testing.T) {
	sys := seeded(t)
	rec := &recording{r: sys.Reader(func(o *snapshot.Options) { o.HealthSamples = snapshot.StatusHealthSamples })}
	h, err := admin.New(admin.Options{Reader: rec})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	for _, c := range []struct {
		path  string
		build func(*snapshot.Snapshot) any
		check func(t *testing.T, body []byte)
	}{
		{admin.PathCircuitBreakers, func(s *snapshot.Snapshot) any { return snapshot.MonitoringOf(s.Breakers, s.Time) }, func(t *testing.T, b []byte) {
			var doc snapshot.MonitoringReport
			json.Unmarshal(b, &doc)
			if doc.CircuitBreakers["aramex"].State != "forced_open" || doc.CircuitBreakers["smsa"].State != "closed" || len(doc.Alerts) != 1 {
				t.Errorf("the seed's shape does not show the state set up: %s", b)
			}
		}},
		{admin.PathQueues, func(s *snapshot.Snapshot) any { return snapshot.QueueTotals(s) }, func(t *testing.T, b []byte) {
			var doc snapshot.QueueStatus
			json.Unmarshal(b, &doc)
			if doc.Queues["shipping"].PendingTotal != 1 || doc.Overall.PendingTotal != 1 {
				t.Errorf("queues do not show the operation pushed: %s", b)
			}
		}},
		{admin.PathHealth, func(s *snapshot.Snapshot) any { return snapshot.HealthDocument(s) }, func(t *testing.T, b []byte) {
			var doc snapshot.HealthReport
			json.Unmarshal(b, &doc)
			if s := doc.Services["smsa"]; !s.Healthy || len(s.Recent) != 1 {
				t.Errorf("health does not show the check (with its sparkline sample): %s", b)
			}
		}},
		{admin.PathChaos, func(s *snapshot.Snapshot) any { return snapshot.ChaosDocument(s) }, func(t *testing.T, b []byte) {
			var doc snapshot.ChaosReport
			json.Unmarshal(b, &doc)
			if !doc.Enabled || len(doc.Active) != 1 || doc.Active[0].Kind != chaos.Latency {
				t.Errorf("chaos does not show the experiment: %s", b)
			}
		}},
		{admin.PathRoutes, func(s *snapshot.Snapshot) any { return snapshot.RoutesDocument(s) }, func(t *testing.T, b []byte) {
			var doc snapshot.RoutesReport
			json.Unmarshal(b, &doc)
			if len(doc.Routes) != 1 || doc.Routes[0].Route != "/api/v1/integrations/shipping/" || doc.Routes[0].Requests != 2 ||
				doc.Routes[0].Errors != 1 || doc.Routes[0].Fallbacks != 1 || doc.Timestamp == "" {
				t.Errorf("routes do not show the traffic recorded: %s", b)
			}
		}},
	} {
		t.Run(strings.TrimPrefix(c.path, "/api/v1/integrations/monitoring/"), func(t *testing.T) {
			resp, body := get(t, srv.URL+c.path, "")
			if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" {
				t.Fatalf("%d %s: %s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
			}
			if want := exported(t, c.build(rec.lastSnapshot())); !bytes.Equal(body, want) {
				t.Fatalf("served\n%s\nthe command's builder on the same snapshot gives\n%s", body, want)
			}
			c.check(t, body)
		})
	}
	// a POST is not a read
	resp, err := http.Post(srv.URL+admin.PathQueues, "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST %s: %d, want 405", admin.PathQueues, resp.StatusCode)
	}
}

func TestOffLoopbackTheTokenIsRequiredAndCompared(t *testing.T) {
	if _, err := admin.New(admin.Options{RequireToken: true}); !errors.Is(err, admin.ErrTokenRequired) {
		t.Fatalf("no token off loopback: %v, want a refusal", err)
	}
	const token = "s3cret-token"
	h, err := admin.New(admin.Options{Token: token, RequireToken: true,
		Metrics: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "# metrics\n") })})
	if err != nil {
		t.Fatal(err)
	}
	h.HandlePublic("GET /livez", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok\n") }))
	h.Handle("GET /private", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "private\n") }))
	srv := httptest.NewServer(h)
	defer srv.Close()
	for _, path := range []string{admin.PathMetrics, "/private"} {
		for _, tok := range []string{"", "wrong-token", token + "x", "s3cret-tokeN"} {
			resp, body := get(t, srv.URL+path, tok)
			if resp.StatusCode != 401 || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer") {
				t.Fatalf("%s with token %q: %d %q, want 401 with WWW-Authenticate: Bearer", path, tok, resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
			}
			var e struct{ Error, Cause string }
			if err := json.Unmarshal(body, &e); err != nil || e.Cause != "unauthorized" || strings.Contains(string(body), token) {
				t.Fatalf("401 body %s: want JSON naming the cause, never the token", body)
			}
		}
		if resp, body := get(t, srv.URL+path, token); resp.StatusCode != 200 {
			t.Fatalf("%s with the token: %d %s", path, resp.StatusCode, body)
		}
	}
	// a probe mounted public needs none
	if resp, _ := get(t, srv.URL+"/livez", ""); resp.StatusCode != 200 {
		t.Fatalf("/livez without a token: %d", resp.StatusCode)
	}
	// the scheme is case-insensitive, as RFC 9110 says
	req, _ := http.NewRequest("GET", srv.URL+admin.PathMetrics, nil)
	req.Header.Set("Authorization", "bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("lower-case scheme: %d", resp.StatusCode)
	}
}

func TestOnLoopbackNoTokenIsNeeded(t *testing.T) {
	h, err := admin.New(admin.Options{RequireToken: !admin.IsLoopback("127.0.0.1:8001"),
		Metrics: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "# metrics\n") })})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	if resp, _ := get(t, srv.URL+admin.PathMetrics, ""); resp.StatusCode != 200 {
		t.Fatalf("loopback without a token: %d", resp.StatusCode)
	}
}

func TestIsLoopback(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1:8001": true, "[::1]:8001": true, "localhost:8001": true, "127.0.0.2:9464": true,
		":8001": false, "0.0.0.0:8001": false, "[::]:8001": false, "10.0.0.5:8001": false, "gateway.internal:8001": false, "127.0.0.1": false,
	} {
		if got := admin.IsLoopback(addr); got != want {
			t.Errorf("IsLoopback(%q) = %v, want %v", addr, got, want)
		}
	}
}

func TestARedisThatCannotBeReadIs503NamingTheCause(t *testing.T) {
	// a real refusal: nothing listens on port 1 of loopback
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", Password: "hunter2", MaxRetries: -1, DialTimeout: time.Second})
	defer rdb.Close()
	h, err := admin.New(admin.Options{Reader: snapshot.NewReader(rdb, snapshot.Options{Keys: store.Keys{Namespace: "hader"}})})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	for _, path := range []string{admin.PathCircuitBreakers, admin.PathQueues, admin.PathHealth, admin.PathChaos, admin.PathRoutes} {
		resp, body := get(t, srv.URL+path, "")
		var e struct{ Error, Cause string }
		if resp.StatusCode != 503 || json.Unmarshal(body, &e) != nil || e.Cause != "redis_unavailable" || e.Error == "" {
			t.Fatalf("%s with Redis down: %d %s, want 503 naming redis_unavailable", path, resp.StatusCode, body)
		}
		if strings.Contains(string(body), "hunter2") {
			t.Fatalf("%s: the Redis password leaked: %s", path, body)
		}
	}
}

// A token read from a secret file often ends in a newline: it is the
// token without it, and white space alone is no token.
func TestTheConfiguredTokenIsTrimmed(t *testing.T) {
	if _, err := admin.New(admin.Options{Token: " \n", RequireToken: true}); !errors.Is(err, admin.ErrTokenRequired) {
		t.Fatalf("a blank token off loopback: %v, want a refusal", err)
	}
	h, err := admin.New(admin.Options{Token: "s3cret\n", RequireToken: true,
		Metrics: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "# metrics\n") })})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	if resp, body := get(t, srv.URL+admin.PathMetrics, "s3cret"); resp.StatusCode != 200 {
		t.Fatalf("the token without its newline: %d %s", resp.StatusCode, body)
	}
}
