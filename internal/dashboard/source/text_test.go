package source

import (
	"testing"
	"time"

	"github.com/haderos/haderctl/internal/dashboard"
	"github.com/haderos/haderctl/internal/engine/breaker"
)

// A fallback report reads in the events tail as its reason, which names
// the span, the calls and the reporter: no "settings" prefix, no who.
func TestAFallbackEventReadsAsItsReason(t *testing.T) {
	at := time.Date(2026, 12, 2, 10, 3, 5, 0, time.UTC)
	reason := "ran on its in-memory breaker from 10:01:02 to 10:03:04 UTC (12 calls) — gw-1/42/ab12cd34"
	got := breakerEvent(breaker.Event{Name: "aramex", From: breaker.Closed, To: breaker.Closed, Action: breaker.ActionFallback,
		Reason: reason, At: at, Host: "gw-1", User: "svc", Calls: 12, Reporter: "gw-1/42/ab12cd34"})
	want := dashboard.Event{At: at, Kind: dashboard.BreakerEvent, Subject: "aramex", Text: reason}
	if got != want {
		t.Fatalf("tail event %+v, want %+v", got, want)
	}
}
