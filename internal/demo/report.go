package demo

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/haderos/haderctl/internal/engine/gameday"
)

// Result is everything one demo run did and found: what --journal
// writes as JSON and --report as Markdown.
type Result struct {
	// Verdict is passed, failed or interrupted.
	Verdict string `json:"verdict"`
	Reason  string `json:"reason,omitempty"`
	// Redis says which Redis the demo used: "embedded" or "external".
	Redis     string             `json:"redis"`
	Namespace string             `json:"namespace"`
	StartedAt time.Time          `json:"started_at"`
	EndedAt   time.Time          `json:"ended_at"`
	GameDays  []*gameday.Journal `json:"game_days"`
	Traffic   Tally              `json:"traffic"`
	// Queued are the writes the gateway answered 202, Replayed those of
	// them the upstream has since received from the drainer.
	Queued   int    `json:"queued_writes"`
	Replayed int    `json:"replayed_writes"`
	Log      []Line `json:"log"`
}

// Hypothesis is the steady state the demo's game days check.
const Hypothesis = `Before each experiment every breaker is closed and every service answers its
health check. While the experiments fail calls, the breakers of the services
whose calls fail open (the gateway then answers from SMSA, or queues the write
with 202). Within the recovery deadline after the experiments stop, every
breaker is closed again, every service is healthy, the write queues are
drained, and every write that was queued has reached its service.`

// WriteReport writes r as a Markdown report: the hypothesis, each game
// day's experiments and checks, the traffic, the run log and the verdict.
func WriteReport(w io.Writer, r *Result) error {
	var b strings.Builder
	fmt.Fprintf(&b, "# haderctl demo: %s\n\n", r.Verdict)
	fmt.Fprintf(&b, "Run from %s to %s (%s), Redis %s, namespace `%s`.\n\n",
		r.StartedAt.UTC().Format(time.RFC3339), r.EndedAt.UTC().Format(time.RFC3339),
		r.EndedAt.Sub(r.StartedAt).Round(100*time.Millisecond), r.Redis, r.Namespace)
	b.WriteString("## Hypothesis\n\n" + Hypothesis + "\n\n")
	for i, j := range r.GameDays {
		fmt.Fprintf(&b, "## Game day %d: %s (%s)\n\n", i+1, j.Scenario, j.Verdict)
		fmt.Fprintf(&b, "Time scale %.3g, targets %s.", j.TimeScale, strings.Join(j.Targets, ", "))
		if j.Reason != "" {
			fmt.Fprintf(&b, " %s.", j.Reason)
		}
		if j.Recovery != nil {
			fmt.Fprintf(&b, " Recovered in %s.", j.Recovery.Round(time.Millisecond))
		}
		b.WriteString("\n\n| phase | experiment | kind | services | from | to | affected calls | error rate |\n|---|---|---|---|---|---|---:|---:|\n")
		for _, s := range j.Steps {
			calls, rate := "—", "—"
			if s.Impact != nil {
				calls = fmt.Sprint(s.Impact.Calls)
				if s.Impact.ErrorRate != nil {
					rate = fmt.Sprintf("%.0f %%", *s.Impact.ErrorRate*100)
				}
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s | %s |\n", s.Phase, s.ID, s.Kind, strings.Join(s.Target, ", "),
				offset(j.StartedAt, s.Start), offset(j.StartedAt, s.End), calls, rate)
		}
		b.WriteString("\n| stage | check | held | detail |\n|---|---|---|---|\n")
		for _, p := range j.Probes {
			held := "yes"
			if !p.OK {
				held = "**no**"
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", p.Stage, p.Name, held, escapeCell(p.Detail))
		}
		b.WriteString("\n")
	}
	t := r.Traffic
	fmt.Fprintf(&b, "## Traffic\n\n%d requests through the gateway: %d answered (%d of them by a fallback provider), %d refused with 503, %d writes queued with 202 (%d of them replayed to their service), %d failed.\n\n",
		t.Requests, t.OK, t.Fallback, t.Refused, t.Queued, r.Replayed, t.Failed)
	b.WriteString("## Run log\n\n```\n")
	for _, l := range r.Log {
		b.WriteString(l.String() + "\n")
	}
	b.WriteString("```\n\n## Verdict\n\n")
	fmt.Fprintf(&b, "**%s**", r.Verdict)
	if r.Reason != "" {
		fmt.Fprintf(&b, ": %s", r.Reason)
	}
	b.WriteString("\n")
	_, err := io.WriteString(w, b.String())
	return err
}

func offset(start, t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return "+" + t.Sub(start).Round(100*time.Millisecond).String()
}

func escapeCell(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ").Replace(s)
}
