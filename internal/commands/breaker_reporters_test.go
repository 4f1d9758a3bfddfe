package commands

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"github.com/haderos/haderctl/internal/testredis"
)

// `breaker configure --min-reporters` is checked like every setting, and
// `breaker status` shows the reporters against it. Each `run` is a new
// engine, so a new reporter: as each `haderctl breaker record` is.
func TestMinReportersIsConfiguredAndShownByStatus(t *testing.T) {
	ns := testredis.Namespace(t)
	run(t, ns, "breaker", "record", "aramex", "failure") // stores the settings
	for _, c := range []struct{ args, want string }{
		{"--min-reporters 0", "haderctl: --min-reporters (min_reporters) must be at least 1, not 0\n"},
		{"--min-reporters -3", "haderctl: --min-reporters (min_reporters) must be at least 1, not -3\n"},
		{"--reporter-window 0s", "haderctl: --reporter-window (reporter_window) must be at least 1ms, not 0s\n"},
		{"--reporter-window 9000h", "haderctl: reporter_window must be at most 168h0m0s, not 9000h0m0s\n"},
	} {
		args := append([]string{"breaker", "configure", "aramex", "--reason", "x"}, strings.Fields(c.args)...)
		if code, _, stderr := run(t, ns, args...); code != 2 || stderr != c.want {
			t.Errorf("configure %s: exit %d, stderr %q; want 2 and %q", c.args, code, stderr, c.want)
		}
	}
	code, out, stderr := run(t, ns, "breaker", "configure", "aramex", "--min-reporters", "3", "--reporter-window", "30s", "--reason", "one bad gateway")
	if code != 0 || !strings.Contains(out, "min_reporters 1 → 3, reporter_window 1m0s → 30s") || !strings.Contains(out, "reporters 3 within 30s") {
		t.Fatalf("configure: exit %d, stdout %q, stderr %q", code, out, stderr)
	}
	// the failure before was not tracked (min_reporters was 1): two more
	// make three failures, the threshold, from two reporters
	run(t, ns, "breaker", "record", "aramex", "failure")
	run(t, ns, "breaker", "record", "aramex", "failure")
	if code, out, _ = run(t, ns, "breaker", "status", "aramex"); code != 0 ||
		!regexp.MustCompile(`(?m)^aramex +closed +3/3 +0/2 +2/3 `).MatchString(out) {
		t.Fatalf("status: exit %d\n%s\nwant aramex closed with 2/3 reporters", code, out)
	}
	_, out, _ = run(t, ns, "breaker", "status", "aramex", "-o", "json")
	var doc struct {
		CircuitBreakers map[string]struct {
			Reporters int `json:"reporters"`
			Settings  struct {
				MinReporters   int    `json:"min_reporters"`
				ReporterWindow string `json:"reporter_window"`
			} `json:"settings"`
		} `json:"circuit_breakers"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatal(err)
	}
	if b := doc.CircuitBreakers["aramex"]; b.Reporters != 2 || b.Settings.MinReporters != 3 || b.Settings.ReporterWindow != "30s" {
		t.Fatalf("status -o json: %+v, want 2 reporters under min_reporters 3 within 30s", b)
	}
	if _, out, _ = run(t, ns, "breaker", "record", "aramex", "failure"); !strings.Contains(out, "open") {
		t.Fatalf("a third reporter's failure: %q, want the breaker open", out)
	}
}
