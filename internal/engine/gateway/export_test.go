package gateway

import "github.com/haderos/haderctl/internal/engine/chaos/agent"

// AgentState is what the gateway's chaos agent applies, and false when
// it runs none (tests only).
func (g *Gateway) AgentState() (agent.State, bool) {
	g.agentsMu.Lock()
	defer g.agentsMu.Unlock()
	if g.agent == nil {
		return agent.State{}, false
	}
	return g.agent.a.State(), true
}
