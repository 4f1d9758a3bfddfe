package main

import (
	"testing"

	"github.com/haderos/haderctl/internal/testredis"
	"github.com/rogpeppe/go-internal/testscript"
)

// TestClusterScripts runs testdata/cluster/*.txtar, the end-to-end flows
// of every part of the engine, against a three-master Redis Cluster
// (testredis.ClusterURL): a multi-key script, transaction or command whose
// keys span slots fails there with CROSSSLOT. Each script gets its own
// namespace, HOME and config dir, and:
//
//	$REDIS_URL   the cluster, as redis-cluster://h1:p1,h2:p2,h3:p3
//	$NS          the script's namespace (also HADERCTL_NAMESPACE)
func TestClusterScripts(t *testing.T) {
	url := testredis.ClusterURL(t)
	testscript.Run(t, testscript.Params{
		Dir:                 "../../testdata/cluster",
		RequireExplicitExec: true,
		Setup: func(env *testscript.Env) error {
			ns := testredis.Namespace(t)
			isolate(env, url, ns)
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"exits":        cmdExits,
			"waitstdout":   cmdWaitStdout,
			"waitcontains": cmdWaitContains,
			"httpserve":    cmdHTTPServe,
			"httpset":      cmdHTTPSet,
			"httpreqs":     cmdHTTPReqs,
			"httpcount":    cmdHTTPCount,
			"expandenv":    cmdExpandEnv,
		},
	})
}
