package main

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/haderos/haderctl/internal/testredis"
	"github.com/redis/go-redis/v9"
)

// builtBinary builds haderctl once for the tests that run it as a user
// would (the demo).
var builtBinary = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "haderctl-bin-")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "haderctl")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		return "", &buildError{err: err, out: string(out)}
	}
	return bin, nil
})

type buildError struct {
	err error
	out string
}

func (e *buildError) Error() string { return e.err.Error() + "\n" + e.out }

// demoJournal is the part of `demo --journal` the test reads.
type demoJournal struct {
	Verdict   string `json:"verdict"`
	Redis     string `json:"redis"`
	Namespace string `json:"namespace"`
	GameDays  []struct {
		Scenario string `json:"scenario"`
		Verdict  string `json:"verdict"`
	} `json:"game_days"`
	Traffic struct {
		Requests   int            `json:"requests"`
		Fallback   int            `json:"fallback"`
		Queued     int            `json:"queued"`
		ByProvider map[string]int `json:"by_provider"`
	} `json:"traffic"`
	Queued   int `json:"queued_writes"`
	Replayed int `json:"replayed_writes"`
}

// TestDemoPlaysTheGameDaysAndLeavesNothingBehind runs the built binary's
// `haderctl demo --duration 20s` with no terminal, once against the test's
// Redis (named with --redis-url) and once with no Redis named (the
// embedded server), and checks what the issue promises: the narrated
// phases, exit 0, requests that fell back to SMSA, queued writes that were
// replayed, the three reports, and no port left open afterwards (nor, on
// the named Redis, any key of the demo's namespace).
func TestDemoPlaysTheGameDaysAndLeavesNothingBehind(t *testing.T) {
	if testing.Short() {
		t.Skip("runs two 20 s demos; skipped with -short")
	}
	bin, err := builtBinary()
	if err != nil {
		t.Fatal(err)
	}
	url := testredis.URL(t)
	for _, tc := range []struct {
		name  string
		args  []string
		redis string
		// keep runs it with --keep: it must still serve after the verdict,
		// until Ctrl-C
		keep bool
	}{
		{name: "named redis, --keep", args: []string{"--redis-url", url, "--keep"}, redis: "external", keep: true},
		{name: "embedded", redis: "embedded"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			journal, junit, report := filepath.Join(dir, "demo.json"), filepath.Join(dir, "demo.xml"), filepath.Join(dir, "demo.md")
			args := append([]string{"demo", "--duration", "20s", "--journal", journal, "--junit", junit, "--report", report}, tc.args...)
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, bin, args...)
			cmd.Dir = dir
			// nothing of the caller's environment: no REDIS_URL, no config
			cmd.Env = []string{"HOME=" + dir, "PATH=" + os.Getenv("PATH"), "XDG_CONFIG_HOME=" + dir}
			var stdout, stderr lockedOutput
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			if tc.keep {
				testredis.Eventually(t, 2*time.Minute, "the demo keeps running after its verdict", func() bool {
					return strings.Contains(stdout.String(), "everything keeps running (--keep)")
				})
				gw := regexp.MustCompile(`gateway +(http://127\.0\.0\.1:\d+)`).FindStringSubmatch(stdout.String())
				if gw == nil {
					t.Fatalf("no gateway in the banner:\n%s", stdout.String())
				}
				resp, err := http.Get(gw[1] + "/api/v1/integrations/shipping/rates?kg=1")
				if err != nil {
					t.Fatalf("the gateway after the verdict, with --keep: %v", err)
				}
				resp.Body.Close()
				if resp.StatusCode != 200 {
					t.Fatalf("the gateway after the verdict, with --keep: %s", resp.Status)
				}
				if err := cmd.Process.Signal(os.Interrupt); err != nil {
					t.Fatal(err)
				}
			}
			err := cmd.Wait()
			out := stdout.String()
			if err != nil {
				t.Fatalf("haderctl demo: %v\nstdout:\n%s\nstderr:\n%s", err, out, stderr.String())
			}
			for _, want := range []string{
				"NOT FOR PRODUCTION",
				"warm-up: steady state",
				"game day 1/2: network_storm",
				"during: breakers_open_where_failing: ok",
				"recovery: experiments stopped",
				"game day network_storm: passed",
				"game day 2/2: blackout",
				"game day blackout: passed",
				"smsa answered (X-Hader-Fallback: true)",
				"failed everywhere: 202 Accepted",
				"drainer: replayed operation",
				"verdict: passed",
			} {
				if !strings.Contains(out, want) {
					t.Errorf("the narration lacks %q:\n%s", want, out)
				}
			}
			// the phases come in order
			last := -1
			for _, phase := range []string{"warm-up:", "game day 1/2", "recovery:", "game day 2/2", "recovery:", "replays:", "verdict:"} {
				i := strings.Index(out[last+1:], phase)
				if i < 0 {
					t.Fatalf("phase %q missing or out of order:\n%s", phase, out)
				}
				last += 1 + i
			}

			var j demoJournal
			data, err := os.ReadFile(journal)
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(data, &j); err != nil {
				t.Fatal(err)
			}
			if j.Verdict != "passed" || j.Redis != tc.redis || len(j.GameDays) != 2 || j.GameDays[0].Scenario != "network_storm" ||
				j.GameDays[1].Scenario != "blackout" || j.GameDays[0].Verdict != "passed" || j.GameDays[1].Verdict != "passed" {
				t.Fatalf("journal: %s", data)
			}
			if j.Traffic.Fallback == 0 || j.Traffic.ByProvider["smsa"] == 0 {
				t.Errorf("no request fell back to smsa: %+v", j.Traffic)
			}
			if j.Queued == 0 || j.Replayed != j.Queued || j.Traffic.Queued != j.Queued {
				t.Errorf("queued writes: %d queued (%d by the traffic's count), %d replayed", j.Queued, j.Traffic.Queued, j.Replayed)
			}

			var suites struct {
				Suites []struct {
					Name     string `xml:"name,attr"`
					Failures int    `xml:"failures,attr"`
					Tests    int    `xml:"tests,attr"`
				} `xml:"testsuite"`
			}
			data, err = os.ReadFile(junit)
			if err != nil {
				t.Fatal(err)
			}
			if err := xml.Unmarshal(data, &suites); err != nil {
				t.Fatal(err)
			}
			if len(suites.Suites) != 3 || suites.Suites[2].Name != "chaos.demo" {
				t.Fatalf("junit: %s", data)
			}
			for _, s := range suites.Suites {
				if s.Failures != 0 || s.Tests == 0 {
					t.Errorf("junit suite %s: %d tests, %d failures", s.Name, s.Tests, s.Failures)
				}
			}
			md, err := os.ReadFile(report)
			if err != nil {
				t.Fatal(err)
			}
			for _, want := range []string{"## Hypothesis", "## Game day 1: network_storm (passed)", "## Run log", "## Verdict\n\n**passed**"} {
				if !bytes.Contains(md, []byte(want)) {
					t.Errorf("the report lacks %q:\n%s", want, md)
				}
			}

			// nothing the demo started listens any more
			addrs := regexp.MustCompile(`(?:http|redis)://(127\.0\.0\.1:\d+)`).FindAllStringSubmatch(out, -1)
			if len(addrs) < 6 {
				t.Fatalf("the banner names %d addresses, want the upstreams, the gateway, its admin (and Redis):\n%s", len(addrs), out)
			}
			for _, a := range addrs {
				if tc.redis == "external" && strings.Contains(url, a[1]) {
					continue // the test's own Redis
				}
				if c, err := net.DialTimeout("tcp", a[1], time.Second); err == nil {
					c.Close()
					t.Errorf("%s still listens after the demo ended", a[1])
				}
			}
			if tc.redis == "external" {
				if !strings.HasPrefix(j.Namespace, "hader-demo-") {
					t.Fatalf("the demo used namespace %q of the named Redis, want a hader-demo-… of its own", j.Namespace)
				}
				opt, err := redis.ParseURL(url)
				if err != nil {
					t.Fatal(err)
				}
				rdb := redis.NewClient(opt)
				defer rdb.Close()
				keys, err := rdb.Keys(context.Background(), j.Namespace+":*").Result()
				if err != nil {
					t.Fatal(err)
				}
				if len(keys) != 0 {
					t.Errorf("the demo left %d keys of %s behind: %v", len(keys), j.Namespace, keys[:min(len(keys), 5)])
				}
			}
		})
	}
}

// TestDemoCtrlCStopsEverything interrupts a narrated demo once its first
// game day has started: it stops the experiments, exits 130 and leaves
// nothing listening. The Redis it names listens nowhere: the demo says so
// (its password masked) and uses the embedded one.
func TestDemoCtrlCStopsEverything(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the demo; skipped with -short")
	}
	bin, err := builtBinary()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dead, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadAddr := dead.Addr().String()
	dead.Close() // a port where nothing listens
	cmd := exec.CommandContext(ctx, bin, "demo", "--duration", "40s", "--journal", filepath.Join(dir, "demo.json"),
		"--redis-url", "redis://oncall:s3cr3t-pw@"+deadAddr+"/0")
	cmd.Dir = dir
	cmd.Env = []string{"HOME=" + dir, "PATH=" + os.Getenv("PATH"), "XDG_CONFIG_HOME=" + dir}
	out := &lockedOutput{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	testredis.Eventually(t, time.Minute, "the first game day schedules its three experiments", func() bool {
		return strings.Count(out.String(), "scheduled ch-") == 3
	})
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	err = cmd.Wait()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 130 {
		t.Fatalf("demo after Ctrl-C: %v, want exit 130\n%s", err, out)
	}
	text := out.String()
	if strings.Contains(text, "s3cr3t-pw") {
		t.Errorf("the output shows the named Redis' password:\n%s", text)
	}
	for _, want := range []string{"no Redis answered at redis://oncall:***@" + deadAddr + "/0", "using the embedded one",
		"(embedded miniredis", "stopped 3 experiments", "game day network_storm: interrupted", "verdict: interrupted"} {
		if !strings.Contains(text, want) {
			t.Errorf("the narration lacks %q:\n%s", want, text)
		}
	}
	for _, a := range regexp.MustCompile(`(?:http|redis)://(127\.0\.0\.1:\d+)`).FindAllStringSubmatch(text, -1) {
		if a[1] == deadAddr {
			continue
		}
		if c, err := net.DialTimeout("tcp", a[1], time.Second); err == nil {
			c.Close()
			t.Errorf("%s still listens after the demo ended", a[1])
		}
	}
}

// lockedOutput is a process' output read while it runs.
type lockedOutput struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedOutput) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedOutput) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestDemoNamedRedisThatRefusesIsExit3 names a Redis that answers but
// refuses the password: that is not "no Redis" (the demo would quietly run
// elsewhere), it is exit 3 with the cause, the password masked.
func TestDemoNamedRedisThatRefusesIsExit3(t *testing.T) {
	srv, err := testredis.StartServer(t.TempDir(), "--requirepass", "right-one")
	if err != nil {
		t.Skipf("needs a redis-server of its own: %v", err)
	}
	defer srv.Stop(true)
	bin, err := builtBinary()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cmd := exec.Command(bin, "demo", "--redis-url", "redis://:wrong-one@"+srv.Addr+"/0")
	cmd.Dir = dir
	cmd.Env = []string{"HOME=" + dir, "PATH=" + os.Getenv("PATH"), "XDG_CONFIG_HOME=" + dir}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 3 {
		t.Fatalf("demo against a Redis refusing its password: %v, want exit 3\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
	}
	if msg := stderr.String(); !strings.Contains(msg, "refused") || strings.Contains(msg, "wrong-one") || strings.Count(msg, "\n") != 1 {
		t.Errorf("stderr: %q, want one line naming the refusal without the password", msg)
	}
	if strings.Contains(stdout.String(), "game day") {
		t.Errorf("the demo ran anyway:\n%s", stdout.String())
	}
}
