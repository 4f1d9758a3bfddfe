package gateway_test

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/haderos/haderctl/internal/engine"
	"github.com/haderos/haderctl/internal/engine/breaker"
	"github.com/haderos/haderctl/internal/engine/gateway"
	"github.com/haderos/haderctl/internal/engine/store"
	"github.com/haderos/haderctl/internal/testredis"
)

// rawRequest sends req as written over a new connection and reads the
// answer (net/http's client would refuse to send a malformed request).
func rawRequest(t *testing.T, f *fixture, req string) *http.Response {
	t.Helper()
	conn, err := net.Dial("tcp", f.srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	if _, err := conn.Write([]byte(req)); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// A client's malformed Upgrade is the client's fault: 400, and no
// provider's breaker hears of it (one such request used to open them all).
func TestAnInvalidUpgradeIs400AndNoProviderFailure(t *testing.T) {
	aramex, smsa := newUpstream(t, "aramex-rate"), newUpstream(t, "smsa-rate")
	f := newFixture(t, shipping(aramex.URL, smsa.URL), gateway.Options{})
	resp := rawRequest(t, f, "GET /api/v1/integrations/shipping/rates HTTP/1.1\r\nHost: x\r\n"+
		"Connection: Upgrade\r\nUpgrade: \xe9\r\n\r\n")
	if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("%d %v", resp.StatusCode, resp.Header)
	}
	_, _, calls := f.metrics.snapshot()
	if len(calls) != 0 {
		t.Fatalf("the request was counted on a provider: %v", calls)
	}
	for _, name := range []string{"aramex", "smsa"} {
		if st := f.state(name); st == breaker.Open {
			t.Fatalf("%s's breaker opened on the client's bad request", name)
		}
	}
	if len(aramex.requests())+len(smsa.requests()) != 0 {
		t.Fatal("the request reached a provider")
	}
	if r, body := f.do("GET", "/api/v1/integrations/shipping/rates", ""); r.StatusCode != 200 || !strings.Contains(body, "aramex") {
		t.Fatalf("the first provider answers still: %d %q", r.StatusCode, body)
	}
}

// A provider's 101 that ReverseProxy cannot switch to (another protocol
// than the client asked for) is that provider's answer: one outcome,
// 502, and no fallback.
func TestAFailedProtocolSwitchIsOneOutcomeAndNoFallback(t *testing.T) {
	aramex := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: other\r\n\r\n")
		brw.Flush()
	}))
	t.Cleanup(aramex.Close)
	smsa := newUpstream(t, "smsa-rate")
	f := newFixture(t, shipping(aramex.URL, smsa.URL), gateway.Options{})
	resp, body := f.do("GET", "/api/v1/integrations/shipping/ws", "", "Connection", "Upgrade", "Upgrade", "websocket")
	if resp.StatusCode != http.StatusBadGateway {
		t.Fatalf("%d %q", resp.StatusCode, body)
	}
	if n := len(smsa.requests()); n != 0 {
		t.Fatalf("the fallback was tried %d times after aramex answered", n)
	}
	if _, _, calls := f.metrics.snapshot(); !slices.Equal(calls, []string{"aramex successful"}) {
		t.Fatalf("outcomes: %v", calls)
	}
}

// A path with a "." or ".." segment, encoded or not, is refused before
// routing: forwarded as is it would reach what the route does not name.
func TestADotSegmentPathIs400(t *testing.T) {
	aramex, smsa := newUpstream(t, "a"), newUpstream(t, "s")
	f := newFixture(t, shipping(aramex.URL, smsa.URL), gateway.Options{})
	for _, path := range []string{
		"/api/v1/integrations/shipping/../../admin",
		"/api/v1/integrations/shipping/%2e%2e/%2E%2E/admin",
		"/api/v1/integrations/shipping/./rates",
	} {
		resp := rawRequest(t, f, "GET "+path+" HTTP/1.1\r\nHost: x\r\n\r\n")
		if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Content-Type") != "application/json" {
			t.Fatalf("%s: %d", path, resp.StatusCode)
		}
	}
	if n := len(aramex.requests()); n != 0 {
		t.Fatalf("%d dot-segment requests were forwarded", n)
	}
	if resp, _ := f.do("GET", "/api/v1/integrations/shipping/rates..json", ""); resp.StatusCode != 200 {
		t.Fatalf("a name with dots is not a dot segment: %d", resp.StatusCode)
	}
}

// A client that announces a large body and does not send it is answered
// 408 once the route's timeout has passed, not held (with its buffer)
// for ever.
func TestABodyNotSentInTimeIs408(t *testing.T) {
	shop := newUpstream(t, "ok")
	f := newFixture(t, gateway.Config{Services: []gateway.Service{{Name: "shop", BaseURL: shop.URL, Upstream: gateway.Upstream{Timeout: 200 * time.Millisecond}}}}, gateway.Options{})
	conn, err := net.Dial("tcp", f.srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// the answer is expected well within this; without a body deadline
	// none comes at all
	_ = conn.SetDeadline(time.Now().Add(20 * time.Second))
	if _, err := conn.Write([]byte("POST /shop/x HTTP/1.1\r\nHost: x\r\nContent-Length: 10485760\r\n\r\nhello")); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no answer to a body that never comes: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestTimeout {
		t.Fatalf("%d", resp.StatusCode)
	}
	if n := len(shop.requests()); n != 0 {
		t.Fatal("the unfinished request was forwarded")
	}
}

// syncBuffer is a log destination a test reads while the gateway writes.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// A breaker whose state cannot be known (here its settings are invalid)
// is not a silent 503: the refusal says why and the gateway logs it, once
// for a burst.
func TestAnAdmitErrorIsLoggedAndNamedInTheRefusal(t *testing.T) {
	sys, err := engine.Open(context.Background(), engine.Options{Redis: store.Options{URL: testredis.URL(t)},
		Namespace: testredis.Namespace(t), Environment: "development",
		BreakerSettings: func(string) breaker.Settings {
			return breaker.Settings{SuccessThreshold: 3, MaxProbes: 1}.WithDefaults() // never able to close
		}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sys.Close() })
	shop := newUpstream(t, "ok")
	var logs syncBuffer
	gw, err := gateway.New(sys, gateway.Config{Services: []gateway.Service{{Name: "shop", BaseURL: shop.URL}}},
		gateway.Options{Environment: "development", Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(gw.Close)
	srv := httptest.NewServer(gw)
	t.Cleanup(srv.Close)
	for range 2 {
		resp, err := http.Get(srv.URL + "/shop/x")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(b), `"error":"breaker shop: max_probes (1) must be at least success_threshold (3)`) {
			t.Fatalf("%d %s", resp.StatusCode, b)
		}
	}
	if n := strings.Count(logs.String(), "state is unknown"); n != 1 {
		t.Fatalf("%d log lines for two requests:\n%s", n, logs.String())
	}
}

// The 502 names the provider that failed, not the route's last one when
// that one's breaker did not admit.
func TestThe502NamesTheProviderThatFailed(t *testing.T) {
	aramex, smsa := newUpstream(t, ""), newUpstream(t, "s")
	aramex.Close()
	f := newFixture(t, shipping(aramex.URL, smsa.URL), gateway.Options{})
	ctx := context.Background()
	if _, err := f.sys.Breakers.Trip(ctx, "smsa", "test"); err != nil {
		t.Fatal(err)
	}
	testredis.Eventually(t, 5*time.Second, "smsa's breaker refuses", func() bool {
		call, err := f.sys.Breakers.Admit(ctx, "smsa")
		if err == nil {
			call.Release()
		}
		return err != nil
	})
	resp, body := f.do("GET", "/api/v1/integrations/shipping/rates", "")
	if resp.StatusCode != http.StatusBadGateway || decode(t, body)["provider"] != "aramex" {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
}

// An upstream cannot answer with the gateway's own headers.
func TestAnUpstreamCannotSpoofTheGatewaysHeaders(t *testing.T) {
	spoof := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set(gateway.HeaderFallback, "true")
		w.Header().Set(gateway.HeaderOperationID, "op-spoofed")
		if r.URL.Query().Has("fail") {
			w.WriteHeader(http.StatusInternalServerError)
		}
	}))
	t.Cleanup(spoof.Close)
	f := newFixture(t, gateway.Config{Services: []gateway.Service{{Name: "shop", BaseURL: spoof.URL}}}, gateway.Options{})
	for _, path := range []string{"/shop/x", "/shop/x?fail"} {
		resp, _ := f.do("GET", path, "")
		if resp.Header.Get(gateway.HeaderFallback) != "" || resp.Header.Get(gateway.HeaderOperationID) != "" {
			t.Fatalf("%s: %d %v", path, resp.StatusCode, resp.Header)
		}
	}
}

// A failed answer kept from a fallback provider says it is a fallback's.
func TestAKeptAnswerFromAFallbackIsMarked(t *testing.T) {
	aramex, smsa, dhl := newUpstream(t, "a"), newUpstream(t, "s-down"), newUpstream(t, "d")
	smsa.set(http.StatusServiceUnavailable)
	c := shipping(aramex.URL, smsa.URL)
	c.Services = append(c.Services, gateway.Service{Name: "dhl", BaseURL: dhl.URL})
	c.Settings.Routes[0].Providers = []string{"aramex", "smsa", "dhl"}
	f := newFixture(t, c, gateway.Options{})
	ctx := context.Background()
	for _, name := range []string{"aramex", "dhl"} {
		if _, err := f.sys.Breakers.Trip(ctx, name, "test"); err != nil {
			t.Fatal(err)
		}
		testredis.Eventually(t, 5*time.Second, name+"'s breaker refuses", func() bool {
			call, err := f.sys.Breakers.Admit(ctx, name)
			if err == nil {
				call.Release()
			}
			return err != nil
		})
	}
	resp, body := f.do("GET", "/api/v1/integrations/shipping/rates", "")
	if resp.StatusCode != http.StatusServiceUnavailable || body != "s-down" || resp.Header.Get(gateway.HeaderProvider) != "smsa" ||
		resp.Header.Get(gateway.HeaderFallback) != "true" {
		t.Fatalf("%d %q %v", resp.StatusCode, body, resp.Header)
	}
}
