package gateway_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/haderos/haderctl/internal/engine"
	"github.com/haderos/haderctl/internal/engine/breaker"
	"github.com/haderos/haderctl/internal/engine/gateway"
	"github.com/haderos/haderctl/internal/engine/snapshot"
	"github.com/haderos/haderctl/internal/engine/store"
	"github.com/haderos/haderctl/internal/testredis"
)

func TestMain(m *testing.M) { testredis.Main(m) }

// fixture is a gateway over a real Redis, in front of real loopback
// upstreams.
type fixture struct {
	t       *testing.T
	sys     *engine.System
	gw      *gateway.Gateway
	srv     *httptest.Server
	metrics *fakeMetrics
}

// openSystem opens an engine whose breakers open after one failure and
// stay open for a minute, so a test decides when they are open.
func openSystem(t testing.TB, env string) *engine.System {
	t.Helper()
	sys, err := engine.Open(context.Background(), engine.Options{Redis: store.Options{URL: testredis.URL(t)},
		Namespace: testredis.Namespace(t), Environment: env,
		BreakerSettings: func(string) breaker.Settings {
			return breaker.Settings{FailureThreshold: 1, RecoveryTimeout: time.Minute}.WithDefaults()
		}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sys.Close() })
	return sys
}

func newFixture(t *testing.T, c gateway.Config, o gateway.Options) *fixture {
	t.Helper()
	env := o.Environment
	if env == "" {
		env, o.Environment = "development", "development"
	}
	f := &fixture{t: t, sys: openSystem(t, env), metrics: &fakeMetrics{}}
	if o.Metrics == nil {
		o.Metrics = f.metrics
	}
	gw, err := gateway.New(f.sys, c, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(gw.Close)
	f.gw = gw
	f.srv = httptest.NewServer(gw)
	t.Cleanup(f.srv.Close)
	return f
}

// upstream is a loopback service whose answer a test sets.
type upstream struct {
	*httptest.Server
	mu      sync.Mutex
	status  int
	body    string
	hold    chan struct{} // when set, requests wait on it
	seen    []*http.Request
	bodies  []string
	entered chan struct{}
}

func newUpstream(t *testing.T, body string) *upstream {
	u := &upstream{status: http.StatusOK, body: body, entered: make(chan struct{}, 100)}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		u.mu.Lock()
		u.seen = append(u.seen, r)
		u.bodies = append(u.bodies, string(b))
		status, body, hold := u.status, u.body, u.hold
		u.mu.Unlock()
		u.entered <- struct{}{}
		if hold != nil {
			select {
			case <-hold:
			case <-r.Context().Done():
				return
			}
		}
		w.WriteHeader(status)
		io.WriteString(w, body)
	}))
	t.Cleanup(u.Close)
	return u
}

func (u *upstream) set(status int) { u.mu.Lock(); u.status = status; u.mu.Unlock() }

func (u *upstream) lastBody() string {
	u.mu.Lock()
	defer u.mu.Unlock()
	if len(u.bodies) == 0 {
		return ""
	}
	return u.bodies[len(u.bodies)-1]
}

func (u *upstream) requests() []*http.Request {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]*http.Request(nil), u.seen...)
}

func (f *fixture) do(method, path string, body string, header ...string) (*http.Response, string) {
	f.t.Helper()
	req, err := http.NewRequest(method, f.srv.URL+path, strings.NewReader(body))
	if err != nil {
		f.t.Fatal(err)
	}
	if body == "" {
		req.Body = http.NoBody
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func decode(t *testing.T, s string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		t.Fatalf("not JSON: %q: %v", s, err)
	}
	return m
}

func (f *fixture) state(name string) breaker.State {
	f.t.Helper()
	st, err := f.sys.Reader().Snapshot(context.Background(), snapshot.Filter{Names: []string{name}})
	if err != nil {
		f.t.Fatal(err)
	}
	for _, b := range st.Breakers {
		if b.Name == name {
			return b.State
		}
	}
	return ""
}

// fakeMetrics records the gateway's observations.
type fakeMetrics struct {
	mu        sync.Mutex
	requests  []string
	fallbacks []string
	calls     []string
}

func (m *fakeMetrics) Request(route, provider string, code int, _ time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.requests = append(m.requests, route+" "+provider+" "+http.StatusText(code))
}

func (m *fakeMetrics) Fallback(route, from, to string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.fallbacks = append(m.fallbacks, route+" "+from+"→"+to)
}

func (m *fakeMetrics) Call(name, kind string, _ time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.calls = append(m.calls, name+" "+kind)
}

func (m *fakeMetrics) snapshot() (requests, fallbacks, calls []string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]string(nil), m.requests...), append([]string(nil), m.fallbacks...), append([]string(nil), m.calls...)
}

// shipping is the seed's route: aramex, then smsa.
func shipping(aramex, smsa string) gateway.Config {
	return gateway.Config{
		Settings: gateway.Settings{Routes: []gateway.Route{{Name: "shipping", Prefix: "/api/v1/integrations/shipping/",
			Providers: []string{"aramex", "smsa"}}}},
		Services: []gateway.Service{{Name: "aramex", BaseURL: aramex}, {Name: "smsa", BaseURL: smsa}},
	}
}

func newTLSUpstream(t *testing.T, body string) *httptest.Server {
	s := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, body) }))
	t.Cleanup(s.Close)
	return s
}

type responseRecorder struct {
	header http.Header
	code   int
	body   bytes.Buffer
}

func (r *responseRecorder) Header() http.Header  { return r.header }
func (r *responseRecorder) WriteHeader(code int) { r.code = code }
func (r *responseRecorder) Write(b []byte) (int, error) {
	if r.code == 0 {
		r.code = 200
	}
	return r.body.Write(b)
}

func httptestRequest(path string) *http.Request { return httptest.NewRequest("GET", path, nil) }
