package gateway_test

import (
	"context"
	"testing"
	"time"

	"github.com/haderos/haderctl/internal/engine/chaos"
	"github.com/haderos/haderctl/internal/engine/gateway"
	"github.com/haderos/haderctl/internal/testredis"
)

// The gateway is one process serving several services: a memory
// experiment on "*" is held once, not once per service, and a reload
// that changes the services replaces the agent.
func TestTheGatewayRunsOneChaosAgentForItsServices(t *testing.T) {
	aramex, smsa := newUpstream(t, "a"), newUpstream(t, "s")
	f := newFixture(t, shipping(aramex.URL, smsa.URL), gateway.Options{})
	ctx := context.Background()
	if err := f.sys.Chaos.Enable(ctx); err != nil {
		t.Fatal(err)
	}
	x, err := f.sys.Chaos.Start(ctx, chaos.Experiment{Kind: chaos.Memory, MemoryMB: 16, Services: []string{"*"}, Probability: 1, Duration: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = f.sys.Chaos.Stop(context.Background(), x.ID, "test over") })
	testredis.Eventually(t, 10*time.Second, "the agent applies the experiment", func() bool {
		s, ok := f.gw.AgentState()
		return ok && len(s.Experiments) == 1
	})
	if s, _ := f.gw.AgentState(); s.MemoryMB != 16 || s.Service != "aramex,smsa" {
		t.Fatalf("the agent for %q holds %d MB for one 16 MB experiment", s.Service, s.MemoryMB)
	}

	c := shipping(aramex.URL, smsa.URL)
	c.Services = c.Services[:1]
	c.Settings.Routes[0].Providers = []string{"aramex"}
	if err := f.gw.Reload(c); err != nil {
		t.Fatal(err)
	}
	if s, ok := f.gw.AgentState(); !ok || s.Service != "aramex" {
		t.Fatalf("after the reload the agent is for %q", s.Service)
	}
}
