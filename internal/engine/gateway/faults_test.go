package gateway_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/haderos/haderctl/internal/engine/chaos"
	"github.com/haderos/haderctl/internal/engine/gateway"
	"github.com/haderos/haderctl/internal/testredis"
)

const token = "s3cret-admin-token"

func faultsOn(url string) gateway.Config {
	return gateway.Config{Settings: gateway.Settings{HeaderFaults: gateway.HeaderFaults{Enabled: true, MaxActiveFaults: 1}},
		Services: []gateway.Service{{Name: "shop", BaseURL: url}}}
}

func TestHeaderFaultsAreRefusedUnlessEnabledAllowedAndAuthorized(t *testing.T) {
	shop := newUpstream(t, "ok")
	off := gateway.Config{Services: []gateway.Service{{Name: "shop", BaseURL: shop.URL}}}
	cases := []struct {
		name   string
		cfg    gateway.Config
		env    string
		header []string
		why    string
	}{
		{"off by default", off, "development", []string{gateway.HeaderAdminToken, token}, "they are off"},
		{"production", faultsOn(shop.URL), "production", []string{gateway.HeaderAdminToken, token}, "the environment is production"},
		{"no token", faultsOn(shop.URL), "development", nil, "the admin token is missing or wrong"},
		{"wrong token", faultsOn(shop.URL), "development", []string{"Authorization", "Bearer nope"}, "the admin token is missing or wrong"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t, c.cfg, gateway.Options{Environment: c.env, AdminToken: token})
			resp, body := f.do("GET", "/shop/x", "", append([]string{gateway.HeaderFaultAbort, "503"}, c.header...)...)
			if resp.StatusCode != 403 || !strings.Contains(body, c.why) {
				t.Fatalf("%d %q", resp.StatusCode, body)
			}
			if strings.Contains(body, token) {
				t.Fatal("the token is in the answer")
			}
		})
	}
	if n := len(shop.requests()); n != 0 {
		t.Fatalf("a refused fault request reached the upstream %d times", n)
	}
}

// With the token an abort answers without the upstream (or its breaker),
// the token is not forwarded, and the fault is audited.
func TestAHeaderAbortIsHonouredAndAudited(t *testing.T) {
	shop := newUpstream(t, "ok")
	f := newFixture(t, faultsOn(shop.URL), gateway.Options{AdminToken: token})
	resp, body := f.do("GET", "/shop/x", "", gateway.HeaderFaultAbort, "418", "Authorization", "Bearer "+token)
	if resp.StatusCode != 418 || !strings.Contains(body, "fault injected") || len(shop.requests()) != 0 {
		t.Fatalf("%d %q (upstream saw %d)", resp.StatusCode, body, len(shop.requests()))
	}
	// a 0 % abort lets the request through, without the token
	resp, _ = f.do("GET", "/shop/x", "", gateway.HeaderFaultAbort, "418", gateway.HeaderFaultAbortPercentage, "0", "Authorization", "Bearer "+token)
	if resp.StatusCode != 200 {
		t.Fatalf("a 0%% abort: %d", resp.StatusCode)
	}
	if got := shop.requests()[0].Header.Get("Authorization"); got != "" {
		t.Fatalf("the admin token reached the upstream: %q", got)
	}
	testredis.Eventually(t, 5*time.Second, "the fault is audited", func() bool {
		entries, err := f.sys.Chaos.Audit(context.Background(), 10)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			if e.Event == "header_fault" && strings.Contains(e.Detail, "abort 418") && !strings.Contains(e.Detail, token) {
				return true
			}
		}
		return false
	})
	if resp, body := f.do("GET", "/shop/x", "", gateway.HeaderFaultAbort, "200", gateway.HeaderAdminToken, token); resp.StatusCode != 400 {
		t.Fatalf("abort 200: %d %q", resp.StatusCode, body)
	}
}

// Over max_active_faults (1 here) a request proceeds without its fault.
func TestHeaderFaultsAreCappedByMaxActiveFaults(t *testing.T) {
	shop := newUpstream(t, "ok")
	f := newFixture(t, faultsOn(shop.URL), gateway.Options{AdminToken: token})
	// one delayed request holds the only slot until it is cancelled
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		req, _ := http.NewRequestWithContext(ctx, "GET", f.srv.URL+"/shop/held", nil)
		req.Header.Set(gateway.HeaderFaultDelay, "10000")
		req.Header.Set(gateway.HeaderAdminToken, token)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
		}
	}()
	defer wg.Wait()
	defer cancel()
	testredis.Eventually(t, 5*time.Second, "the delayed request holds the slot", func() bool { return f.gw.ActiveHeaderFaults() == 1 })
	resp, body := f.do("GET", "/shop/x", "", gateway.HeaderFaultAbort, "503", gateway.HeaderAdminToken, token)
	if resp.StatusCode != 200 || body != "ok" {
		t.Fatalf("over the cap the request proceeds unfaulted: %d %q", resp.StatusCode, body)
	}
}

// An experiment started through the control plane reaches the gateway's
// requests (the data plane's pub/sub), and counts on the breaker like a
// real failure; stopping it clears it.
func TestAChaosExperimentAppliesPerRequest(t *testing.T) {
	shop := newUpstream(t, "ok")
	f := newFixture(t, gateway.Config{Services: []gateway.Service{{Name: "shop", BaseURL: shop.URL}}}, gateway.Options{})
	ctx := context.Background()
	if err := f.sys.Chaos.Enable(ctx); err != nil {
		t.Fatal(err)
	}
	x, err := f.sys.Chaos.Start(ctx, chaos.Experiment{Kind: chaos.Error, Services: []string{"shop"}, Probability: 1, Status: 503,
		Duration: 10 * time.Minute, By: "test", Reason: "gateway sees chaos"})
	if err != nil {
		t.Fatal(err)
	}
	testredis.Eventually(t, 5*time.Second, "the gateway injects the error", func() bool {
		resp, _ := f.do("GET", "/shop/x", "")
		return resp.StatusCode == 503 && resp.Header.Get("X-Haderctl-Chaos") == x.ID
	})
	if st := f.state("shop"); st != "open" {
		t.Fatalf("an injected 503 did not count on the breaker: %s", st)
	}
	if _, err := f.sys.Chaos.StopAll(ctx, "test over"); err != nil {
		t.Fatal(err)
	}
	// the breaker is reset only once the data plane has dropped the
	// experiment: an injected 503 before that would open it again
	testredis.Eventually(t, 5*time.Second, "stop-all reaches the gateway's data plane", func() bool {
		return len(f.sys.Faults().Active()) == 0
	})
	if _, err := f.sys.Breakers.Reset(ctx, "shop", "test"); err != nil {
		t.Fatal(err)
	}
	testredis.Eventually(t, 5*time.Second, "the gateway sees the breaker reset", func() bool {
		resp, _ := f.do("GET", "/shop/x", "")
		return resp.StatusCode == 200
	})
}

// Faults held back by the audit's rate limit are written by a trailing
// entry: the entries' counts add up to every fault that acted.
func TestEveryHeaderFaultIsCountedInSomeAuditEntry(t *testing.T) {
	shop := newUpstream(t, "ok")
	f := newFixture(t, faultsOn(shop.URL), gateway.Options{AdminToken: token})
	for range 3 {
		if resp, _ := f.do("GET", "/shop/x", "", gateway.HeaderFaultAbort, "418", gateway.HeaderAdminToken, token); resp.StatusCode != 418 {
			t.Fatalf("%d", resp.StatusCode)
		}
	}
	testredis.Eventually(t, 10*time.Second, "the audit counts 3 header faults", func() bool {
		entries, err := f.sys.Chaos.Audit(context.Background(), 10)
		if err != nil {
			t.Fatal(err)
		}
		total := 0
		for _, e := range entries {
			var n int
			if _, rest, ok := strings.Cut(e.Detail, "; "); e.Event == "header_fault" && ok {
				if _, err := fmt.Sscanf(rest, "%d header fault(s)", &n); err == nil {
					total += n
				}
			}
		}
		return total == 3
	})
}

// The admin token in the client's Authorization is not forwarded, but the
// service's own configured Authorization is.
func TestStrippingTheAdminTokenKeepsTheServicesAuthorization(t *testing.T) {
	shop := newUpstream(t, "ok")
	c := faultsOn(shop.URL)
	c.Services[0].Headers = map[string]string{"Authorization": "Bearer shop-key"}
	f := newFixture(t, c, gateway.Options{AdminToken: token})
	resp, _ := f.do("GET", "/shop/x", "", gateway.HeaderFaultAbort, "418", gateway.HeaderFaultAbortPercentage, "0", "Authorization", "Bearer "+token)
	if resp.StatusCode != 200 {
		t.Fatalf("%d", resp.StatusCode)
	}
	if got := shop.requests()[0].Header.Get("Authorization"); got != "Bearer shop-key" {
		t.Fatalf("the upstream got Authorization %q", got)
	}
}

// The token is checked as the admin listener checks it: the configured
// one trimmed (an env file's newline), the scheme in any case.
func TestTheAdminTokenIsCheckedAsTheAdminListenerDoes(t *testing.T) {
	shop := newUpstream(t, "ok")
	f := newFixture(t, faultsOn(shop.URL), gateway.Options{AdminToken: token + "\n"})
	for _, auth := range []string{"Bearer " + token, "bearer " + token, "BEARER  " + token} {
		resp, body := f.do("GET", "/shop/x", "", gateway.HeaderFaultAbort, "418", "Authorization", auth)
		if resp.StatusCode != 418 {
			t.Fatalf("%q: %d %q", strings.Replace(auth, token, "TOKEN", 1), resp.StatusCode, body)
		}
	}
	if resp, _ := f.do("GET", "/shop/x", "", gateway.HeaderFaultAbort, "418", gateway.HeaderAdminToken, token); resp.StatusCode != 418 {
		t.Fatalf("X-Hader-Admin-Token: %d", resp.StatusCode)
	}
}
