package gateway_test

import (
	"context"
	"encoding/pem"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/haderos/haderctl/internal/engine/breaker"
	"github.com/haderos/haderctl/internal/engine/gateway"
	"github.com/haderos/haderctl/internal/testredis"
)

// The seed's route: aramex answers while its breaker is closed; once it
// is open the request goes to smsa and says so.
func TestAnOpenBreakerFallsBackToTheNextProviderWithTheHeaders(t *testing.T) {
	aramex, smsa := newUpstream(t, "aramex-rate"), newUpstream(t, "smsa-rate")
	f := newFixture(t, shipping(aramex.URL, smsa.URL), gateway.Options{})
	resp, body := f.do("POST", "/api/v1/integrations/shipping/rates", `{"kg":2}`)
	if resp.StatusCode != 200 || body != "aramex-rate" || resp.Header.Get(gateway.HeaderProvider) != "aramex" || resp.Header.Get(gateway.HeaderFallback) != "" {
		t.Fatalf("first choice: %d %q %v", resp.StatusCode, body, resp.Header)
	}
	if got := aramex.requests()[0].URL.Path; got != "/api/v1/integrations/shipping/rates" {
		t.Fatalf("a routed path is forwarded unchanged: %q", got)
	}
	if _, err := f.sys.Breakers.Trip(context.Background(), "aramex", "test"); err != nil {
		t.Fatal(err)
	}
	testredis.Eventually(t, 5*time.Second, "the gateway sees aramex open", func() bool {
		resp, _ := f.do("GET", "/api/v1/integrations/shipping/rates", "")
		return resp.Header.Get(gateway.HeaderProvider) == "smsa"
	})
	resp, body = f.do("POST", "/api/v1/integrations/shipping/rates", `{"kg":2}`)
	if resp.StatusCode != 200 || body != "smsa-rate" || resp.Header.Get(gateway.HeaderFallback) != "true" {
		t.Fatalf("fallback: %d %q %v", resp.StatusCode, body, resp.Header)
	}
	if got := smsa.lastBody(); got != `{"kg":2}` {
		t.Fatalf("smsa got the body %q", got)
	}
	_, fallbacks, calls := f.metrics.snapshot()
	if !slices.Contains(fallbacks, "shipping aramex→smsa") || !slices.Contains(calls, "aramex not_permitted") {
		t.Fatalf("metrics: %v %v", fallbacks, calls)
	}
}

// A provider that fails (5xx) counts on its breaker and the next one is
// tried with the same body; the breaker then opens.
func TestAFailingProviderIsRecordedAndTheNextOneAnswers(t *testing.T) {
	aramex, smsa := newUpstream(t, "down"), newUpstream(t, "smsa-rate")
	aramex.set(http.StatusBadGateway)
	f := newFixture(t, shipping(aramex.URL, smsa.URL), gateway.Options{})
	resp, body := f.do("POST", "/api/v1/integrations/shipping/rates", "payload")
	if resp.StatusCode != 200 || body != "smsa-rate" || resp.Header.Get(gateway.HeaderFallback) != "true" {
		t.Fatalf("%d %q %v", resp.StatusCode, body, resp.Header)
	}
	if aramex.lastBody() != "payload" || smsa.lastBody() != "payload" {
		t.Fatalf("bodies: %q %q", aramex.lastBody(), smsa.lastBody())
	}
	if st := f.state("aramex"); st != breaker.Open {
		t.Fatalf("aramex's breaker is %s after a 502 (threshold 1)", st)
	}
}

// Every provider failing: a read gets the last answer as it was.
func TestAllFailedReadGetsTheLastAnswer(t *testing.T) {
	aramex, smsa := newUpstream(t, "a-down"), newUpstream(t, "s-down")
	aramex.set(500)
	smsa.set(503)
	f := newFixture(t, shipping(aramex.URL, smsa.URL), gateway.Options{})
	resp, body := f.do("GET", "/api/v1/integrations/shipping/rates", "")
	if resp.StatusCode != 503 || body != "s-down" || resp.Header.Get(gateway.HeaderProvider) != "smsa" {
		t.Fatalf("%d %q %v", resp.StatusCode, body, resp.Header)
	}
	// both breakers are open now (threshold 1): neither admits
	resp, body = f.do("GET", "/api/v1/integrations/shipping/rates", "")
	if resp.StatusCode != 503 || !strings.Contains(body, "no provider admits") {
		t.Fatalf("%d %q", resp.StatusCode, body)
	}
}

// No provider admits: 503 at once, naming the breakers, with Retry-After
// the earliest next probe rounded up.
func TestNoProviderAdmitsIs503WithRetryAfter(t *testing.T) {
	aramex, smsa := newUpstream(t, "a"), newUpstream(t, "s")
	f := newFixture(t, shipping(aramex.URL, smsa.URL), gateway.Options{})
	ctx := context.Background()
	for _, name := range []string{"aramex", "smsa"} {
		if _, err := f.sys.Breakers.Record(ctx, name, false); err != nil {
			t.Fatal(err)
		}
	}
	resp, body := f.do("GET", "/api/v1/integrations/shipping/rates", "")
	if resp.StatusCode != 503 {
		t.Fatalf("%d %q", resp.StatusCode, body)
	}
	doc := decode(t, body)
	bs, _ := doc["breakers"].([]any)
	if doc["error"] != "no provider admits the request" || len(bs) != 2 {
		t.Fatalf("body %q", body)
	}
	first := bs[0].(map[string]any)
	ra, err := strconv.Atoi(resp.Header.Get("Retry-After"))
	if first["name"] != "aramex" || first["state"] != "open" || err != nil || ra < 1 || ra > 60 {
		t.Fatalf("breaker %v, Retry-After %q", first, resp.Header.Get("Retry-After"))
	}
	if len(aramex.requests())+len(smsa.requests()) != 0 {
		t.Fatal("an open breaker let a request through")
	}
}

// Every configured service is reachable at /<service>/ with no route,
// the prefix stripped; hop-by-hop headers are dropped, X-Forwarded-* set,
// the service's configured headers added and the gateway's own dropped.
func TestServiceRouteStripsThePrefixAndCleansHeaders(t *testing.T) {
	shop := newUpstream(t, "ok")
	c := gateway.Config{Services: []gateway.Service{{Name: "shop", BaseURL: shop.URL + "/base", Headers: map[string]string{"X-Api-Key": "k1"}}}}
	f := newFixture(t, c, gateway.Options{})
	resp, _ := f.do("GET", "/shop/orders/7?page=2", "", "Connection", "X-Drop-Me", "X-Drop-Me", "1", "Keep-Alive", "timeout=5",
		"X-Kept", "yes", "X-Hader-Something", "internal")
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	got := shop.requests()[0]
	switch {
	case got.URL.Path != "/base/orders/7" || got.URL.RawQuery != "page=2":
		t.Fatalf("upstream got %s", got.URL)
	case got.Header.Get("X-Drop-Me") != "" || got.Header.Get("Keep-Alive") != "":
		t.Fatalf("hop-by-hop headers reached the upstream: %v", got.Header)
	case got.Header.Get("X-Kept") != "yes" || got.Header.Get("X-Api-Key") != "k1" || got.Header.Get("X-Hader-Something") != "":
		t.Fatalf("headers: %v", got.Header)
	case got.Header.Get("X-Forwarded-For") != "127.0.0.1" || got.Header.Get("X-Forwarded-Proto") != "http" ||
		got.Header.Get("X-Forwarded-Host") != strings.TrimPrefix(f.srv.URL, "http://"):
		t.Fatalf("X-Forwarded-*: %v", got.Header)
	}
	if resp, _ := f.do("GET", "/nowhere", ""); resp.StatusCode != 404 {
		t.Fatalf("an unrouted path: %d", resp.StatusCode)
	}
}

func TestABodyOverTheLimitIs413(t *testing.T) {
	shop := newUpstream(t, "ok")
	c := gateway.Config{Services: []gateway.Service{{Name: "shop", BaseURL: shop.URL, Upstream: gateway.Upstream{MaxRequestBytes: 8}}}}
	f := newFixture(t, c, gateway.Options{})
	resp, body := f.do("POST", "/shop/x", "123456789")
	if resp.StatusCode != 413 || decode(t, body)["max_request_bytes"] != float64(8) {
		t.Fatalf("%d %q", resp.StatusCode, body)
	}
	if resp, _ := f.do("POST", "/shop/x", "12345678"); resp.StatusCode != 200 {
		t.Fatalf("a body at the limit: %d", resp.StatusCode)
	}
	if len(shop.requests()) != 1 {
		t.Fatalf("the upstream saw %d requests", len(shop.requests()))
	}
}

// fail_on: a service that counts 429 as failing moves on to the next
// provider; by default a 429 (or any 4xx) is an answer.
func TestFailOnIsPerService(t *testing.T) {
	aramex, smsa := newUpstream(t, "slow down"), newUpstream(t, "smsa")
	aramex.set(http.StatusTooManyRequests)
	c := shipping(aramex.URL, smsa.URL)
	f := newFixture(t, c, gateway.Options{})
	if resp, body := f.do("GET", "/api/v1/integrations/shipping/x", ""); resp.StatusCode != 429 || body != "slow down" {
		t.Fatalf("default fail_on: %d %q", resp.StatusCode, body)
	}
	c.Services[0].FailOn = []string{"5xx", "429"}
	if err := f.gw.Reload(c); err != nil {
		t.Fatal(err)
	}
	if resp, body := f.do("GET", "/api/v1/integrations/shipping/x", ""); resp.StatusCode != 200 || body != "smsa" {
		t.Fatalf("fail_on 429: %d %q", resp.StatusCode, body)
	}
	if st := f.state("aramex"); st != breaker.Open {
		t.Fatalf("aramex is %s after a 429 it fails on", st)
	}
}

// A provider slower than its timeout counts as failing: 504 when it is
// the only one.
func TestATimeoutIsAFailureAnd504(t *testing.T) {
	slow := newUpstream(t, "late")
	slow.hold = make(chan struct{})
	t.Cleanup(func() { close(slow.hold) })
	c := gateway.Config{Services: []gateway.Service{{Name: "slow", BaseURL: slow.URL, Upstream: gateway.Upstream{Timeout: 50 * time.Millisecond}}}}
	f := newFixture(t, c, gateway.Options{})
	resp, body := f.do("GET", "/slow/x", "")
	if resp.StatusCode != 504 || !strings.Contains(body, "timed out after 50ms") {
		t.Fatalf("%d %q", resp.StatusCode, body)
	}
	if st := f.state("slow"); st != breaker.Open {
		t.Fatalf("slow is %s after a timeout", st)
	}
}

// A client that leaves before the answer is not the upstream's failure.
func TestAClientThatLeavesIsNotAFailure(t *testing.T) {
	slow := newUpstream(t, "late")
	slow.hold = make(chan struct{})
	t.Cleanup(func() { close(slow.hold) })
	f := newFixture(t, gateway.Config{Services: []gateway.Service{{Name: "slow", BaseURL: slow.URL}}}, gateway.Options{})
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", f.srv.URL+"/slow/x", nil)
	errc := make(chan error, 1)
	go func() {
		_, err := http.DefaultClient.Do(req)
		errc <- err
	}()
	<-slow.entered
	cancel()
	if err := <-errc; err == nil {
		t.Fatal("the request was cancelled")
	}
	testredis.Eventually(t, 5*time.Second, "the request is logged as gone", func() bool {
		reqs, _, _ := f.metrics.snapshot()
		return len(reqs) == 1
	})
	_, _, calls := f.metrics.snapshot()
	if len(calls) != 0 {
		t.Fatalf("a cancelled call was counted: %v", calls)
	}
	if st := f.state("slow"); st == breaker.Open {
		t.Fatal("a client leaving opened the breaker")
	}
}

// An https upstream works with the gateway's TLS settings.
func TestHTTPSUpstream(t *testing.T) {
	tlsUp := newTLSUpstream(t, "secure")
	f := newFixture(t, gateway.Config{Services: []gateway.Service{{Name: "secure", BaseURL: tlsUp.URL}}},
		gateway.Options{TLS: tlsUp.Client().Transport.(*http.Transport).TLSClientConfig})
	if resp, body := f.do("GET", "/secure/", ""); resp.StatusCode != 200 || body != "secure" {
		t.Fatalf("%d %q", resp.StatusCode, body)
	}
}

// A failed answer is held back while the next provider is tried; when
// that one refuses, the held answer goes out as it was.
func TestAFailedAnswerIsKeptWhenTheFallbackRefuses(t *testing.T) {
	aramex, smsa := newUpstream(t, "aramex-error"), newUpstream(t, "s")
	aramex.set(500)
	f := newFixture(t, shipping(aramex.URL, smsa.URL), gateway.Options{})
	if _, err := f.sys.Breakers.Trip(context.Background(), "smsa", "test"); err != nil {
		t.Fatal(err)
	}
	resp, body := f.do("GET", "/api/v1/integrations/shipping/rates", "")
	if resp.StatusCode != 500 || body != "aramex-error" || resp.Header.Get(gateway.HeaderProvider) != "aramex" {
		t.Fatalf("%d %q %v", resp.StatusCode, body, resp.Header)
	}
}

// A provider that cannot be reached is a failure: 502 naming it.
func TestAConnectionErrorIs502(t *testing.T) {
	gone := newUpstream(t, "")
	gone.Close()
	f := newFixture(t, gateway.Config{Services: []gateway.Service{{Name: "gone", BaseURL: gone.URL}}}, gateway.Options{})
	resp, body := f.do("GET", "/gone/x", "")
	if resp.StatusCode != 502 || decode(t, body)["provider"] != "gone" {
		t.Fatalf("%d %q", resp.StatusCode, body)
	}
	if st := f.state("gone"); st != breaker.Open {
		t.Fatalf("gone is %s", st)
	}
}

// An encoded slash in a path reaches the provider as it was sent.
func TestAPathKeepsItsEncoding(t *testing.T) {
	shop := newUpstream(t, "ok")
	c := gateway.Config{Services: []gateway.Service{{Name: "shop", BaseURL: shop.URL}},
		Settings: gateway.Settings{Routes: []gateway.Route{{Prefix: "/files", Providers: []string{"shop"}}}}}
	f := newFixture(t, c, gateway.Options{})
	f.do("GET", "/shop/a%2Fb/c", "")
	f.do("GET", "/files/x%2Fy", "")
	reqs := shop.requests()
	if got := reqs[0].URL.EscapedPath(); got != "/a%2Fb/c" {
		t.Fatalf("stripped: %q", got)
	}
	if got := reqs[1].URL.EscapedPath(); got != "/files/x%2Fy" {
		t.Fatalf("unchanged: %q", got)
	}
}

// gateway.ca_file adds the CA of an internal https upstream.
func TestCAFileTrustsAnInternalUpstream(t *testing.T) {
	up := newTLSUpstream(t, "internal")
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: up.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	c := gateway.Config{Services: []gateway.Service{{Name: "internal", BaseURL: up.URL}}}
	untrusting := newFixture(t, c, gateway.Options{})
	if resp, _ := untrusting.do("GET", "/internal/", ""); resp.StatusCode != 502 {
		t.Fatalf("an untrusted certificate: %d", resp.StatusCode)
	}
	c.Settings.CAFile = ca
	f := newFixture(t, c, gateway.Options{})
	if resp, body := f.do("GET", "/internal/", ""); resp.StatusCode != 200 || body != "internal" {
		t.Fatalf("%d %q", resp.StatusCode, body)
	}
	c.Settings.CAFile = filepath.Join(t.TempDir(), "missing.pem")
	if _, err := gateway.New(f.sys, c, gateway.Options{}); err == nil || !strings.HasPrefix(err.Error(), "gateway.ca_file: ") {
		t.Fatalf("a missing CA file: %v", err)
	}
}
