package source

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/haderos/haderctl/internal/dashboard"
	"github.com/haderos/haderctl/internal/engine/breaker"
	"github.com/haderos/haderctl/internal/engine/chaos"
	"github.com/haderos/haderctl/internal/engine/health"
	"github.com/haderos/haderctl/internal/redact"
)

// stateWords names a breaker state as the events tail writes it.
func stateWords(s breaker.State) string {
	switch s {
	case breaker.HalfOpen:
		return "half-open"
	case breaker.ForcedOpen:
		return "forced open"
	case "":
		return "new"
	}
	return string(s)
}

// breakerEvent is one transition (or settings change) as a tail line:
// "closed → open: 3 consecutive failures (alice@host)".
func breakerEvent(ev breaker.Event) dashboard.Event {
	var b strings.Builder
	if ev.Action == breaker.ActionFallback {
		// the reason says it all: "ran on its in-memory breaker from … (N calls) — reporter"
		return dashboard.Event{At: ev.At, Kind: dashboard.BreakerEvent, Subject: ev.Name, Text: ev.Reason}
	}
	if ev.Action != "" {
		changes := make([]string, len(ev.Changes))
		for i, c := range ev.Changes {
			changes[i] = c.String()
		}
		fmt.Fprintf(&b, "settings %s: %s", ev.Action, strings.Join(changes, ", "))
	} else {
		fmt.Fprintf(&b, "%s → %s", stateWords(ev.From), stateWords(ev.To))
	}
	if ev.Reason != "" {
		b.WriteString(": " + ev.Reason)
	}
	if who := whoOf(ev.User, ev.Host); who != "" {
		b.WriteString(" (" + who + ")")
	}
	return dashboard.Event{At: ev.At, Kind: dashboard.BreakerEvent, Subject: ev.Name, Text: b.String()}
}

func whoOf(user, host string) string {
	switch {
	case user != "" && host != "":
		return user + "@" + host
	case user != "":
		return user
	}
	return host
}

// chaosEvent is one audit entry as a tail line: "stopped by
// alice@host: done", "started by alice@host: latency 1s on smsa for 5m".
func chaosEvent(a chaos.AuditEntry) dashboard.Event {
	subject := a.Target
	if subject == "*" {
		subject = "all experiments"
	}
	text := a.Event
	if a.By != "" {
		text += " by " + a.By
	}
	detail := a.Detail
	if a.Event == "started" || a.Event == "scheduled" {
		detail = describe(a.Detail)
	}
	if detail != "" {
		text += ": " + redact.URLsIn(detail)
	}
	return dashboard.Event{At: a.At, Kind: dashboard.ChaosEvent, Subject: subject, Text: text}
}

// describe summarises a started experiment's JSON; what does not parse
// is left out rather than shown raw.
func describe(js string) string {
	var x chaos.Experiment
	if err := json.Unmarshal([]byte(js), &x); err != nil || x.Kind == "" {
		return ""
	}
	s := x.Kind
	switch x.Kind {
	case chaos.Latency:
		s += " " + x.Delay.String()
	case chaos.Error:
		if x.Status != 0 {
			s += " " + strconv.Itoa(x.Status)
		}
	}
	if x.Probability > 0 && x.Probability < 1 {
		s += fmt.Sprintf(" %g%%", x.Probability*100)
	}
	if len(x.Services) > 0 {
		s += " on " + strings.Join(x.Services, ", ")
	}
	if x.Duration > 0 {
		s += " for " + x.Duration.String()
	}
	if x.Reason != "" {
		s += " (" + x.Reason + ")"
	}
	return s
}

// alertEvent is one entry of a service's alert stream as a tail line.
func alertEvent(a health.AlertEvent) dashboard.Event {
	var text string
	switch a.Kind {
	case "fired":
		text = fmt.Sprintf("down alert: %d consecutive failures", a.ConsecutiveFailures)
		if a.Error != "" {
			text += ": " + redact.URLsIn(a.Error)
		}
	case "reminder":
		text = fmt.Sprintf("still down since %s: %d consecutive failures", a.Since.UTC().Format(time.TimeOnly), a.ConsecutiveFailures)
	case "resolved":
		text = fmt.Sprintf("alert resolved (down for %s)", a.At.Sub(a.Since).Round(time.Second))
	default:
		text = a.Kind + " alert"
	}
	return dashboard.Event{At: a.At, Kind: dashboard.AlertEvent, Subject: a.Service, Text: text}
}

// alertFired is the event for an alert a snapshot found newly open.
func alertFired(st health.Status, now time.Time) dashboard.Event {
	at := now
	if st.AlertSince != nil {
		at = *st.AlertSince
	}
	text := fmt.Sprintf("down alert: %d consecutive failures", st.ConsecutiveFailures)
	if st.Error != "" {
		text += ": " + redact.URLsIn(st.Error)
	}
	return dashboard.Event{At: at, Kind: dashboard.AlertEvent, Subject: st.Service, Text: text}
}
