package commands

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"sort"
	"strings"
	"testing"

	"github.com/haderos/haderctl/internal/cmdutil"
	"github.com/haderos/haderctl/internal/config"
	"github.com/haderos/haderctl/internal/engine/breaker"
	"github.com/haderos/haderctl/internal/engine/store"
	"github.com/haderos/haderctl/internal/iostreams"
	"github.com/haderos/haderctl/internal/testredis"
)

func TestMain(m *testing.M) { os.Exit(testredis.Main(m)) }

// run runs haderctl in-process against the test Redis in its own namespace.
func run(t *testing.T, ns string, args ...string) (code ExitCode, stdout, stderr string) {
	t.Helper()
	io, _, out, errOut := iostreams.Test()
	src := config.Sources{Dir: t.TempDir(), Getenv: func(k string) string {
		return map[string]string{"REDIS_URL": testredis.URL(t), "HADERCTL_NAMESPACE": ns}[k]
	}}
	code = Run(context.Background(), io, args, src)
	return code, out.String(), errOut.String()
}

func keys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// The seed's monitoring shape, plus each breaker's settings in force, its
// reporters and its fallback reporters (the additions: a consumer of the
// seed's shape ignores them).
func TestStatusJSONIsTheSeedMonitoringShapePlusSettings(t *testing.T) {
	ns := testredis.Namespace(t)
	run(t, ns, "breaker", "record", "aramex", "failure")
	for i := 0; i < 3; i++ {
		run(t, ns, "breaker", "record", "shopify", "failure")
	}
	code, out, stderr := run(t, ns, "breaker", "status", "-o", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var doc map[string]any
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(keys(doc), ","); got != "alerts,circuit_breakers,timestamp" {
		t.Fatalf("top-level keys %s", got)
	}
	cbs := doc["circuit_breakers"].(map[string]any)
	aramex := cbs["aramex"].(map[string]any)
	want := "failure_count,fallback_reporters,last_failure_time,reporters,settings,settings_stored,should_attempt_reset,state,success_count,time_since_last_failure"
	if got := strings.Join(keys(aramex), ","); got != want {
		t.Fatalf("breaker keys %s, want %s", got, want)
	}
	if aramex["state"] != "closed" || aramex["failure_count"] != 1.0 || aramex["last_failure_time"] == nil || aramex["should_attempt_reset"] != false {
		t.Fatalf("aramex %v", aramex)
	}
	settings := aramex["settings"].(map[string]any)
	if got := strings.Join(keys(settings), ","); got != "failure_threshold,max_probes,min_reporters,probe_lease,recovery_timeout,reporter_window,success_threshold" ||
		settings["failure_threshold"] != 3.0 || settings["recovery_timeout"] != "2m0s" || aramex["settings_stored"] != true {
		t.Fatalf("aramex settings %v (stored %v)", settings, aramex["settings_stored"])
	}
	alerts := doc["alerts"].([]any)
	if len(alerts) != 1 || alerts[0].(map[string]any)["service"] != "shopify" || alerts[0].(map[string]any)["severity"] != "critical" {
		t.Fatalf("alerts %v, want one critical alert for the open shopify breaker", alerts)
	}
}

func TestNeverUsedBreakerHasNullLastFailure(t *testing.T) {
	ns := testredis.Namespace(t)
	run(t, ns, "breaker", "record", "erp", "success")
	_, out, _ := run(t, ns, "breaker", "status", "erp", "-o", "json")
	if !strings.Contains(out, `"last_failure_time": null`) || !strings.Contains(out, `"time_since_last_failure": 0`) {
		t.Fatalf("a breaker that never failed: %s", out)
	}
}

func TestExitCodeMapping(t *testing.T) {
	for _, c := range []struct {
		err  error
		ran  bool
		want int
	}{
		{nil, true, 0},
		{errors.New("unknown command"), false, 2},
		{cmdutil.UsageErrorf("bad"), true, 2},
		{cmdutil.Unhealthyf("open"), true, 1},
		{&store.UnavailableError{Addr: "x", Err: errors.New("refused")}, true, 3},
		{&store.SchemaError{Namespace: "h", Stored: "9"}, true, 3},
		{&store.NameError{Msg: "bad"}, true, 2},
		{&config.Error{Msg: "bad"}, true, 2},
		{&breaker.CorruptError{Name: "x"}, true, 1},
		{&cmdutil.ExitError{Code: 75}, true, 75},
	} {
		if got := cmdutil.ExitCode(c.err, c.ran); got != c.want {
			t.Errorf("ExitCode(%v, ran=%v) = %d, want %d", c.err, c.ran, got, c.want)
		}
	}
}

func TestOneLineErrorsOnStderrAndNothingOnStdout(t *testing.T) {
	ns := testredis.Namespace(t)
	code, out, stderr := run(t, ns, "breaker", "trip", "nosuch", "--reason", "x")
	if code != 2 || out != "" || strings.Count(stderr, "\n") != 1 || !strings.HasPrefix(stderr, "haderctl: unknown breaker \"nosuch\"") {
		t.Fatalf("exit %d stdout %q stderr %q", code, out, stderr)
	}
}
