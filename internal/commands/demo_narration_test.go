package commands

import (
	"net/http"
	"testing"

	"github.com/haderos/haderctl/internal/demo"
)

// A write answered 202 during the warm-up (an upstream's occasional 503)
// is one the replays must find too: the narration keeps it, though it
// says nothing in the warm-up. The demo's own test once counted 164
// queued writes in the traffic and 163 in the replay check.
func TestTheNarrationKeepsEveryQueuedWriteForTheReplayCheck(t *testing.T) {
	n := &demoNarration{phase: "warm-up"}
	write := func(id string) demo.Outcome {
		return demo.Outcome{Request: demo.Request{Name: "notify", Method: "POST", Route: "notifications"}, Status: http.StatusAccepted,
			WriteID: id, Operation: id}
	}
	n.outcome(write("w-1"))
	n.outcome(demo.Outcome{Request: demo.Request{Name: "notify", Method: "POST", Route: "notifications"}, Status: http.StatusOK, WriteID: "w-2"})
	if len(n.queued) != 1 || n.queued[0].WriteID != "w-1" {
		t.Fatalf("queued after a warm-up 202 and a 200: %+v, want w-1 alone", n.queued)
	}
}
