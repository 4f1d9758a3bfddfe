package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/haderos/haderctl/internal/testredis"
	"github.com/redis/go-redis/v9"
	"github.com/rogpeppe/go-internal/testscript"
)

// TestStoreScripts runs testdata/store/*.txtar: how haderctl meets the
// Redis deployments the docs promise and their refusals (ACLs, memory,
// wrong-typed keys, TLS, Sentinel). Scripts start servers of their own, so
// this needs redis-server; it has the same environment as TestScripts,
// plus $REDIS_ADDR (host:port of $REDIS_URL), and these commands:
//
//	redisserver NAME [ARGS...]  start a redis-server with ARGS: $NAME_URL, $NAME_ADDR
//	tlsserver NAME [clientauth] a TLS-only redis-server with a private CA made here:
//	                            $NAME_URL (rediss://), $NAME_ADDR, $NAME_CA, $NAME_CERT, $NAME_KEY
//	sentinel NAME               a Sentinel that knows no master: $NAME_ADDR
//	redisat URL ARGS...         one raw command to the Redis at URL
func TestStoreScripts(t *testing.T) {
	if _, err := exec.LookPath("redis-server"); err != nil {
		if testredis.Required() {
			t.Fatal("HADERCTL_TEST_REQUIRE_REDIS is set but there is no redis-server on PATH")
		}
		t.Skip("needs redis-server on PATH")
	}
	url := testredis.URL(t)
	testscript.Run(t, testscript.Params{
		Dir:                 "../../testdata/store",
		RequireExplicitExec: true,
		Setup: func(env *testscript.Env) error {
			ns := testredis.Namespace(t)
			opt, err := redis.ParseURL(url)
			if err != nil {
				return err
			}
			isolate(env, url, ns)
			env.Setenv("REDIS_ADDR", opt.Addr)
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"exits":       cmdExits,
			"redis":       cmdRedis,
			"expandenv":   cmdExpandEnv,
			"redisserver": cmdRedisServer,
			"tlsserver":   cmdTLSServer,
			"sentinel":    cmdSentinel,
			"redisat":     cmdRedisAt,
		},
	})
}

// serverDir is a fresh directory for one server of the script.
func serverDir(ts *testscript.TestScript, name string) string {
	dir := ts.MkAbs(name + "-redis")
	ts.Check(os.MkdirAll(dir, 0o755))
	return dir
}

func exportServer(ts *testscript.TestScript, name string, s *testredis.Server) {
	ts.Defer(func() { s.Stop(true) })
	up := strings.ToUpper(name)
	ts.Setenv(up+"_URL", s.URL())
	ts.Setenv(up+"_ADDR", s.Addr)
}

func cmdRedisServer(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 1 {
		ts.Fatalf("usage: redisserver NAME [ARGS...]")
	}
	s, err := testredis.StartServer(serverDir(ts, args[0]), args[1:]...)
	ts.Check(err)
	exportServer(ts, args[0], s)
}

func cmdTLSServer(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 1 || len(args) > 2 || len(args) == 2 && args[1] != "clientauth" {
		ts.Fatalf("usage: tlsserver NAME [clientauth]")
	}
	dir := serverDir(ts, args[0])
	certs, err := testredis.NewCerts(dir)
	ts.Check(err)
	s, err := testredis.StartTLSServer(dir, certs, len(args) == 2)
	ts.Check(err)
	exportServer(ts, args[0], s)
	up := strings.ToUpper(args[0])
	ts.Setenv(up+"_CA", certs.CAFile)
	ts.Setenv(up+"_CERT", certs.ClientCertFile)
	ts.Setenv(up+"_KEY", certs.ClientKeyFile)
}

func cmdSentinel(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: sentinel NAME")
	}
	s, err := testredis.StartSentinel(serverDir(ts, args[0]))
	ts.Check(err)
	exportServer(ts, args[0], s)
}

// redisat URL ARGS...: like redis, at another server (plain redis:// only).
func cmdRedisAt(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: redisat URL ARGS...")
	}
	opt, err := redis.ParseURL(args[0])
	ts.Check(err)
	c := redis.NewClient(opt)
	defer c.Close()
	cmdArgs := make([]any, len(args)-1)
	for i, a := range args[1:] {
		cmdArgs[i] = a
	}
	v, err := c.Do(context.Background(), cmdArgs...).Result()
	ts.Check(err)
	fmt.Fprintln(ts.Stdout(), v)
}
