package snapshot

import (
	"sort"
	"time"

	"github.com/haderos/haderctl/internal/engine/chaos"
	"github.com/haderos/haderctl/internal/engine/gateway/routestats"
	"github.com/haderos/haderctl/internal/engine/health"
)

// The JSON documents the status verbs print with -o json and the
// gateway's monitoring API serves: built here, from one snapshot, so a
// script reading `haderctl health status -o json` and a dashboard reading
// /api/v1/integrations/monitoring/health see the same bytes.

// What the health document shows, for the command and the endpoint
// alike: a reader built with Options.HealthSamples = StatusHealthSamples
// (the sparklines' recent results) and a filter with Events =
// StatusAlertHistory (alert events per service).
const (
	StatusHealthSamples = 60
	StatusAlertHistory  = 10
)

// HealthReport is `haderctl health status -o json`.
type HealthReport struct {
	Services map[string]health.Status `json:"services"`
	// Alerts are the services whose alert is firing.
	Alerts []health.Status `json:"open_alerts"`
	// History is every listed service's recent alert events (fired,
	// reminders, resolutions, as recorded in Redis), oldest first per
	// service; each service's own AlertHistory is moved here.
	History   []health.AlertEvent `json:"alert_history"`
	Timestamp string              `json:"timestamp"`
}

// HealthDocument builds the health report from a snapshot's services.
func HealthDocument(s *Snapshot) HealthReport {
	out := HealthReport{Services: map[string]health.Status{}, Alerts: []health.Status{}, History: []health.AlertEvent{},
		Timestamp: s.Time.UTC().Format(time.RFC3339Nano)}
	for _, st := range s.Services {
		out.History = append(out.History, st.AlertHistory...)
		st.AlertHistory = nil
		out.Services[st.Service] = st
		if st.AlertOpen {
			out.Alerts = append(out.Alerts, st)
		}
	}
	return out
}

// ChaosReport is `haderctl chaos status -o json`: the switch, the
// environment, the halt latch and the limits, then the experiments
// running or scheduled (by end) and each one's impact.
type ChaosReport struct {
	chaos.State
	Active   []chaos.Experiment      `json:"active_experiments"`
	Impact   map[string]chaos.Impact `json:"impact"`
	Problems []string                `json:"problems,omitempty"`
}

// ChaosExperiments are a chaos snapshot's running and scheduled
// experiments ordered by end: the control plane's index order.
func ChaosExperiments(st *chaos.Snapshot) []chaos.ExperimentStatus {
	exps := append(append([]chaos.ExperimentStatus{}, st.Active...), st.Scheduled...)
	sort.SliceStable(exps, func(i, j int) bool { return exps[i].EndMs < exps[j].EndMs })
	return exps
}

// ChaosDocument builds the chaos report from a snapshot's chaos part
// (an empty report when the snapshot did not read it).
func ChaosDocument(s *Snapshot) ChaosReport {
	st := s.Chaos
	if st == nil {
		st = &chaos.Snapshot{}
	}
	exps := ChaosExperiments(st)
	active := make([]chaos.Experiment, len(exps))
	impact := make(map[string]chaos.Impact, len(exps))
	for i, e := range exps {
		active[i], impact[e.ID] = e.Experiment, e.Impact
	}
	return ChaosReport{State: st.State, Active: active, Impact: impact, Problems: st.Problems}
}

// RoutesReport is the gateway's traffic per route over the last
// routestats.Window, summed over every gateway process (the monitoring
// API's routes document; window in nanoseconds, as every duration).
type RoutesReport struct {
	Routes    []routestats.Stats `json:"routes"`
	Timestamp string             `json:"timestamp"`
}

// RoutesDocument builds the routes report from a snapshot's routes (none
// when the snapshot did not read them or no gateway served lately).
func RoutesDocument(s *Snapshot) RoutesReport {
	routes := s.Routes
	if routes == nil {
		routes = []routestats.Stats{}
	}
	return RoutesReport{Routes: routes, Timestamp: s.Time.UTC().Format(time.RFC3339Nano)}
}
