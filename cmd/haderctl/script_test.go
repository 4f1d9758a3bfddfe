package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/haderos/haderctl/internal/commands"
	"github.com/haderos/haderctl/internal/testredis"
	"github.com/redis/go-redis/v9"
	"github.com/rogpeppe/go-internal/testscript"
)

// withRedis stops the test Redis after the tests have run.
type withRedis struct{ m *testing.M }

func (w withRedis) Run() int { return testredis.Main(w.m) }

func TestMain(m *testing.M) {
	os.Exit(testscript.RunMain(withRedis{m}, map[string]func() int{
		"haderctl": func() int { return int(commands.Main()) },
	}))
}

// TestScripts runs testdata/scripts/*.txtar against the real binary and a
// real Redis. Each script gets its own namespace, HOME and config dir, and:
//
//	$REDIS_URL        the test Redis
//	$NS               the script's namespace (also HADERCTL_NAMESPACE)
//	$DEAD_REDIS_URL   a URL, with a password, where nothing listens
//
// The commands beyond testscript's own are in Cmds below; those of the
// gateway scripts (loopback upstreams, an HTTP client, /metrics read with
// Prometheus' parser) are in httpserve_test.go, gateway_script_test.go and
// monitoring_script_test.go, each documented with its usage.
func TestScripts(t *testing.T) {
	url := testredis.URL(t)
	testscript.Run(t, testscript.Params{
		Dir:                 "../../testdata/scripts",
		RequireExplicitExec: true,
		Setup: func(env *testscript.Env) error {
			ns := testredis.Namespace(t)
			dead, err := deadPort()
			if err != nil {
				return err
			}
			isolate(env, url, ns)
			env.Setenv("DEAD_REDIS_URL", fmt.Sprintf("redis://oncall:s3cr3t-pw@127.0.0.1:%d/0", dead))
			silent, err := silentServer(env)
			if err != nil {
				return err
			}
			env.Setenv("SILENT_REDIS_URL", "redis://:hung-pw@"+silent+"/0")
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"exits":        cmdExits,
			"redis":        cmdRedis,
			"waitsubs":     cmdWaitSubs,
			"waitstdout":   cmdWaitStdout,
			"waitcontains": cmdWaitContains,
			"httpserve":    cmdHTTPServe,
			"httpset":      cmdHTTPSet,
			"httpreqs":     cmdHTTPReqs,
			"httpcount":    cmdHTTPCount,
			"waitcount":    cmdWaitCount,
			"expandenv":    cmdExpandEnv,
			"freeport":     cmdFreePort,
			"httpdo":       cmdHTTPDo,
			"waithttp":     cmdWaitHTTP,
			"signal":       cmdSignal,
			"httpstart":    cmdHTTPStart,
			"httpwait":     cmdHTTPWait,
			"promcheck":    cmdPromCheck,
			"promvalue":    cmdPromValue,
			"jsonkeys":     cmdJSONKeys,
			"rss":          cmdRSS,
			"waitrss":      cmdWaitRSS,
			"tmux":         cmdTmux,
		},
		Condition: func(cond string) (bool, error) {
			if cond == "tmux" {
				return tmuxCondition()
			}
			return false, fmt.Errorf("unknown condition %q", cond)
		},
	})
}

// isolate gives a script the Redis at url, its own namespace ns ($NS and
// HADERCTL_NAMESPACE), a HOME and config dir of its own, and no colour.
func isolate(env *testscript.Env, url, ns string) {
	env.Setenv("REDIS_URL", url)
	env.Setenv("NS", ns)
	env.Setenv("HADERCTL_NAMESPACE", ns)
	env.Setenv("HOME", env.Getenv("WORK")+"/home")
	env.Setenv("XDG_CONFIG_HOME", env.Getenv("WORK")+"/home/.config")
	env.Setenv("NO_COLOR", "1")
}

// silentServer listens on loopback and accepts connections but never
// answers: a hung Redis. It stops when the script ends.
func silentServer(env *testscript.Env) (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	var conns []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
		}
	}()
	env.Defer(func() {
		l.Close()
		<-done
		for _, c := range conns {
			c.Close()
		}
	})
	return l.Addr().String(), nil
}

// deadPort returns a loopback port nothing listens on.
func deadPort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	port := l.Addr().(*net.TCPAddr).Port
	return port, l.Close()
}

func scriptClient(ts *testscript.TestScript) *redis.Client {
	opt, err := redis.ParseURL(ts.Getenv("REDIS_URL"))
	ts.Check(err)
	return redis.NewClient(opt)
}

// exits N PROG ARGS...: runs PROG like exec and checks its exit code is N
// (exec alone can only tell zero from non-zero).
func cmdExits(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: exits N PROG [ARGS...]")
	}
	want, err := strconv.Atoi(args[0])
	ts.Check(err)
	got := 0
	if err := ts.Exec(args[1], args[2:]...); err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			ts.Fatalf("%s: %v", args[1], err)
		}
		got = ee.ExitCode()
	}
	if got != want {
		ts.Fatalf("%s exited %d, want %d", args[1], got, want)
	}
}

// redis ARGS...: runs one raw Redis command (to plant garbage or read a
// key) and prints its reply. An argument "@file:NAME" is the content of
// the script's file NAME, without its last newline.
func cmdRedis(ts *testscript.TestScript, neg bool, args []string) {
	c := scriptClient(ts)
	defer c.Close()
	cmdArgs := make([]any, len(args))
	for i, a := range args {
		cmdArgs[i] = a
		if name, ok := strings.CutPrefix(a, "@file:"); ok {
			cmdArgs[i] = strings.TrimSuffix(ts.ReadFile(name), "\n")
		}
	}
	v, err := c.Do(context.Background(), cmdArgs...).Result()
	if err == redis.Nil {
		err, v = nil, "(nil)"
	}
	if neg {
		if err == nil {
			ts.Fatalf("redis %v succeeded", args)
		}
		return
	}
	ts.Check(err)
	fmt.Fprintln(ts.Stdout(), v)
}

// expandenv SRC DST: copies SRC to DST with $NAME and ${NAME} replaced by
// the script's environment, for config files naming a URL only known at
// run time (a loopback service's).
func cmdExpandEnv(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: expandenv SRC DST")
	}
	ts.Check(os.WriteFile(ts.MkAbs(args[1]), []byte(os.Expand(ts.ReadFile(args[0]), ts.Getenv)), 0o644))
}

// waitsubs CHANNEL N: waits until N clients subscribe to CHANNEL.
func cmdWaitSubs(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: waitsubs CHANNEL N")
	}
	c := scriptClient(ts)
	defer c.Close()
	var want int64
	fmt.Sscan(args[1], &want)
	poll(ts, "subscribers of "+args[0], func() bool {
		n, err := c.PubSubNumSub(context.Background(), args[0]).Result()
		return err == nil && n[args[0]] >= want
	})
}

// waitcontains FILE TEXT: waits until FILE contains TEXT.
func cmdWaitContains(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: waitcontains FILE TEXT")
	}
	poll(ts, args[0]+" containing "+args[1], func() bool {
		b, err := os.ReadFile(ts.MkAbs(args[0]))
		return err == nil && strings.Contains(string(b), args[1])
	})
}

// waitstdout REGEXP PROG ARGS...: runs PROG until its stdout matches.
func cmdWaitStdout(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) < 2 {
		ts.Fatalf("usage: waitstdout REGEXP PROG [ARGS...]")
	}
	re, err := regexp.Compile(args[0])
	ts.Check(err)
	poll(ts, args[1]+" printing "+args[0], func() bool {
		_ = ts.Exec(args[1], args[2:]...)
		return re.MatchString(ts.ReadFile("stdout"))
	})
}

// poll waits for cond with a deadline: scripts never sleep to synchronise.
func poll(ts *testscript.TestScript, what string, cond func() bool) {
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			ts.Fatalf("waited 10s for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
