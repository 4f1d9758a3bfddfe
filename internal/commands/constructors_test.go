package commands

import (
	"io"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/haderos/haderctl/internal/cmdutil"
	"github.com/haderos/haderctl/internal/config"
	"github.com/haderos/haderctl/internal/iostreams"
	"github.com/spf13/cobra"
)

// The constructors parse and check flags; what they hand the run function
// is captured through runF, without Redis.

// execute runs a verb's command with args, as the root would.
func execute(t *testing.T, cmd *cobra.Command, args ...string) error {
	t.Helper()
	cmd.SetArgs(args)
	cmd.SetOut(io.Discard)
	cmd.SetErr(io.Discard)
	cmd.SilenceErrors, cmd.SilenceUsage = true, true
	return cmd.Execute()
}

func bareFactory() *cmdutil.Factory {
	s, _, _, _ := iostreams.Test()
	return &cmdutil.Factory{IO: s, Now: time.Now}
}

func TestChaosInjectHandsRunAParsedExperiment(t *testing.T) {
	for _, c := range []struct {
		args     []string
		services []string
		share    float64
		status   int
		delay    time.Duration
	}{
		{[]string{"latency", "--service", "shopify", "--delay", "1s", "--duration", "5m"}, []string{"shopify"}, 1, 0, time.Second},
		{[]string{"error", "--service", "all", "--probability", "30", "--duration", "2m"}, []string{"*"}, 0.3, 503, 0},
		{[]string{"error", "--service", "a,b", "--status", "429", "--duration", "1m"}, []string{"a", "b"}, 1, 429, 0},
		// the --status default belongs to error experiments only
		{[]string{"abort", "--service", "a", "--status", "500", "--duration", "1m"}, []string{"a"}, 1, 0, 0},
	} {
		var got *ChaosInjectOptions
		cmd := NewCmdChaosInject(bareFactory(), &chaosGlobals{}, func(o *ChaosInjectOptions) error { got = o; return nil })
		if err := execute(t, cmd, c.args...); err != nil {
			t.Fatalf("%v: %v", c.args, err)
		}
		e := got.Experiment
		if e.Kind != c.args[0] || !reflect.DeepEqual(e.Services, c.services) || e.Probability != c.share || e.Status != c.status || e.Delay != c.delay {
			t.Fatalf("%v: experiment %+v", c.args, e)
		}
	}
}

func TestConstructorsRefuseBadInputBeforeRunning(t *testing.T) {
	f := bareFactory()
	never := func(t *testing.T) func() { return func() { t.Helper(); t.Fatal("run reached with bad input") } }
	for _, c := range []struct {
		name string
		cmd  func(ran func()) *cobra.Command
		args []string
		want string
	}{
		{"inject probability 0", func(ran func()) *cobra.Command {
			return NewCmdChaosInject(f, &chaosGlobals{}, func(*ChaosInjectOptions) error { ran(); return nil })
		}, []string{"latency", "--service", "a", "--probability", "0", "--duration", "1m"}, "invalid --probability 0"},
		{"inject bad service", func(ran func()) *cobra.Command {
			return NewCmdChaosInject(f, &chaosGlobals{}, func(*ChaosInjectOptions) error { ran(); return nil })
		}, []string{"latency", "--service", "a b", "--duration", "1m"}, `invalid service name "a b"`},
		{"run scenario and file", func(ran func()) *cobra.Command {
			return NewCmdChaosRun(f, &chaosGlobals{}, func(*ChaosRunOptions) error { ran(); return nil })
		}, []string{"blackout", "--file", "x.yaml"}, "not both or neither"},
		{"run junit without wait", func(ran func()) *cobra.Command {
			return NewCmdChaosRun(f, &chaosGlobals{}, func(*ChaosRunOptions) error { ran(); return nil })
		}, []string{"blackout", "--junit", "r.xml"}, "need --wait"},
		{"run time scale", func(ran func()) *cobra.Command {
			return NewCmdChaosRun(f, &chaosGlobals{}, func(*ChaosRunOptions) error { ran(); return nil })
		}, []string{"blackout", "--time-scale", "11"}, "invalid --time-scale 11"},
		{"run bad service", func(ran func()) *cobra.Command {
			return NewCmdChaosRun(f, &chaosGlobals{}, func(*ChaosRunOptions) error { ran(); return nil })
		}, []string{"blackout", "--services", "ok,not ok"}, `invalid service name "not ok"`},
		{"audit limit", func(ran func()) *cobra.Command {
			return NewCmdChaosAudit(f, func(*ChaosAuditOptions) error { ran(); return nil })
		}, []string{"--limit", "0"}, "invalid --limit 0"},
		{"agent without service", func(ran func()) *cobra.Command {
			return NewCmdChaosAgent(f, func(*ChaosAgentOptions) error { ran(); return nil })
		}, nil, "--service is required"},
		{"health unregister bad name", func(ran func()) *cobra.Command {
			return NewCmdHealthUnregister(f, func(*HealthUnregisterOptions) error { ran(); return nil })
		}, []string{"a/b"}, `invalid service name "a/b"`},
		{"queue inspect bad id", func(ran func()) *cobra.Command {
			return NewCmdQueueInspect(f, func(*QueueInspectOptions) error { ran(); return nil })
		}, []string{"orders", "bad id"}, `invalid operation id "bad id"`},
		{"queue retry ids and all", func(ran func()) *cobra.Command {
			return NewCmdQueueRetry(f, func(*QueueRetryOptions) error { ran(); return nil })
		}, []string{"orders", "o-1", "--all-dead"}, "not both or neither"},
		{"queue purge off a terminal", func(ran func()) *cobra.Command {
			return NewCmdQueuePurge(f, func(*QueuePurgeOptions) error { ran(); return nil })
		}, []string{"orders", "--dead"}, "add --yes to confirm"},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := execute(t, c.cmd(never(t)), c.args...)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want one naming %q", err, c.want)
			}
			if code := cmdutil.ExitCode(err, true); code != cmdutil.ExitUsage {
				t.Fatalf("exit %d for %v, want %d", code, err, cmdutil.ExitUsage)
			}
		})
	}
}

func TestConstructorsFillDefaults(t *testing.T) {
	f := bareFactory()
	var stopAll *ChaosStopAllOptions
	if err := execute(t, NewCmdChaosStopAll(f, &chaosGlobals{}, func(o *ChaosStopAllOptions) error { stopAll = o; return nil })); err != nil {
		t.Fatal(err)
	}
	if stopAll.Reason != "emergency stop" {
		t.Fatalf("stop-all reason %q, want the default", stopAll.Reason)
	}
	var watch *HealthWatchOptions
	if err := execute(t, NewCmdHealthWatch(f, func(o *HealthWatchOptions) error { watch = o; return nil }), "a", "b"); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(watch.Names, []string{"a", "b"}) || watch.Rescan != 5*time.Second || watch.Redraw != time.Second {
		t.Fatalf("watch options %+v", watch)
	}
	var retry *QueueRetryOptions
	if err := execute(t, NewCmdQueueRetry(f, func(o *QueueRetryOptions) error { retry = o; return nil }), "orders", "--all-dead"); err != nil {
		t.Fatal(err)
	}
	if retry.Queue != "orders" || !retry.AllDead || len(retry.IDs) != 0 {
		t.Fatalf("retry options %+v", retry)
	}
}

// A malformed id is bad input: exit 2 naming it even with Redis down.
func TestQueueInspectBadIDIsExit2WithRedisDown(t *testing.T) {
	s, _, out, errOut := iostreams.Test()
	src := config.Sources{Dir: t.TempDir(), Getenv: func(k string) string {
		return map[string]string{"REDIS_URL": "redis://127.0.0.1:1/0"}[k]
	}}
	if code := Run(t.Context(), s, []string{"queue", "inspect", "orders", "bad id"}, src); code != 2 {
		t.Fatalf("exit %d, want 2: %s", code, errOut)
	}
	if out.String() != "" || errOut.String() != "haderctl: invalid operation id \"bad id\": use printable ASCII without spaces or braces\n" {
		t.Fatalf("stdout %q, stderr %q: want one line on stderr", out, errOut)
	}
}
