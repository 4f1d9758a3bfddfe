package commands

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/haderos/haderctl/internal/config"
	"github.com/haderos/haderctl/internal/engine/gateway/admin"
	"github.com/haderos/haderctl/internal/iostreams"
	"github.com/haderos/haderctl/internal/testredis"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

func httpGet(t *testing.T, url string) (int, []byte) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b
}

// withoutTimestamp decodes a document and drops its timestamp (two reads
// are two moments of Redis' clock).
func withoutTimestamp(t *testing.T, b []byte) map[string]any {
	t.Helper()
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatalf("%v: %s", err, b)
	}
	delete(doc, "timestamp")
	return doc
}

func TestMetricsServeExportsRedisStateAndTheCommandsDocuments(t *testing.T) {
	ns := testredis.Namespace(t)
	run(t, ns, "breaker", "record", "aramex", "failure")
	if code, _, stderr := run(t, ns, "breaker", "trip", "aramex", "--reason", "drill"); code != 0 {
		t.Fatalf("trip: exit %d: %s", code, stderr)
	}
	if code, _, stderr := run(t, ns, "queue", "push", "orders", "--operation", "x", "--service", "s", "--id", "o-1"); code != 0 {
		t.Fatalf("push: exit %d: %s", code, stderr)
	}
	env := map[string]string{"REDIS_URL": testredis.URL(t), "HADERCTL_NAMESPACE": ns}
	src := config.Sources{Dir: t.TempDir(), Getenv: func(k string) string { return env[k] }}
	s, _, _, _ := iostreams.Test()
	out, stderr := &lockedBuffer{}, &lockedBuffer{}
	s.Out, s.ErrOut = out, stderr
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	exit := make(chan ExitCode, 1)
	go func() { exit <- Run(ctx, s, []string{"metrics", "serve", "--listen", "127.0.0.1:0"}, src) }()
	addr := regexp.MustCompile(`on http://(127\.0\.0\.1:\d+) `)
	var base string
	testredis.Eventually(t, 10*time.Second, "the server says where it listens", func() bool {
		select {
		case code := <-exit:
			t.Fatalf("metrics serve exited %d: %s", code, stderr)
		default:
		}
		if m := addr.FindStringSubmatch(stderr.String()); m != nil {
			base = "http://" + m[1]
			return true
		}
		return false
	})

	code, body := httpGet(t, base+"/metrics")
	if code != 200 {
		t.Fatalf("/metrics: %d %s", code, body)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(string(body)))
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, m := range fams["haderos_circuitbreaker_state"].GetMetric() {
		l := map[string]string{}
		for _, lp := range m.Label {
			l[lp.GetName()] = lp.GetValue()
		}
		if l["name"] == "aramex" && l["state"] == "forced_open" && m.GetGauge().GetValue() == 1 {
			found = true
		}
	}
	if !found {
		t.Fatalf("haderos_circuitbreaker_state{name=aramex,state=forced_open} is not 1:\n%s", body)
	}
	for _, fam := range []string{"haderos_redis_up", "haderos_queue_operations", "haderos_queue_replays_total", "haderos_chaos_active_experiments"} {
		if fams[fam] == nil {
			t.Errorf("family %s absent", fam)
		}
	}
	// the same documents as the commands' -o json
	for path, args := range map[string][]string{
		admin.PathCircuitBreakers: {"breaker", "status", "-o", "json"},
		admin.PathQueues:          {"queue", "status", "-o", "json"},
		admin.PathChaos:           {"chaos", "status", "-o", "json"},
	} {
		code, body := httpGet(t, base+path)
		if code != 200 {
			t.Fatalf("%s: %d %s", path, code, body)
		}
		ecode, cli, errOut := run(t, ns, args...)
		if ecode != 0 {
			t.Fatalf("%v: exit %d: %s", args, ecode, errOut)
		}
		// ages and rates move with the clock; everything else must be
		// equal
		got, want := withoutTimestamp(t, body), withoutTimestamp(t, []byte(cli))
		if path == admin.PathCircuitBreakers {
			for _, doc := range []map[string]any{got, want} {
				delete(doc["circuit_breakers"].(map[string]any)["aramex"].(map[string]any), "time_since_last_failure")
			}
		}
		if path == admin.PathQueues {
			for _, doc := range []map[string]any{got, want} {
				for _, q := range []any{doc["overall"], doc["queues"].(map[string]any)["orders"]} {
					delete(q.(map[string]any), "oldest_pending_age_seconds")
					delete(q.(map[string]any), "throughput_per_second")
				}
			}
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s serves\n%v\n`haderctl %s` prints\n%v", path, got, strings.Join(args, " "), want)
		}
	}
	if code, body := httpGet(t, base+"/readyz"); code != 200 || !strings.Contains(string(body), `"ready":true`) {
		t.Fatalf("/readyz: %d %s", code, body)
	}
	stop()
	select {
	case code := <-exit:
		if code != 0 {
			t.Fatalf("metrics serve exited %d when stopped: %s", code, stderr)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("metrics serve did not stop when its context ended")
	}
}

func TestMetricsServeOffLoopbackNeedsTheToken(t *testing.T) {
	ns := testredis.Namespace(t)
	code, _, stderr := run(t, ns, "metrics", "serve", "--listen", "0.0.0.0:9464")
	if code != 2 || strings.Count(strings.TrimSpace(stderr), "\n") != 0 || !strings.Contains(stderr, admin.TokenEnv) {
		t.Fatalf("off loopback without a token: exit %d, stderr %q; want exit 2 and one line naming %s", code, stderr, admin.TokenEnv)
	}
	code, _, stderr = run(t, ns, "metrics", "serve", "--listen", "9464")
	if code != 2 || !strings.Contains(stderr, "invalid --listen") {
		t.Fatalf("a listen address without a port: exit %d, %q", code, stderr)
	}
	// with the token the flags are accepted (captured, not served)
	s, _, _, _ := iostreams.Test()
	var got *MetricsServeOptions
	cmd := NewCmdMetricsServe(nil, func(k string) string {
		return map[string]string{admin.TokenEnv: "tok"}[k]
	}, func(o *MetricsServeOptions) error { got = o; return nil })
	cmd.SetArgs([]string{"--listen", "0.0.0.0:9464"})
	cmd.SetOut(s.Out)
	cmd.SetErr(s.ErrOut)
	if err := cmd.Execute(); err != nil || got == nil || got.Token != "tok" || got.Listen != "0.0.0.0:9464" {
		t.Fatalf("with the token: %v, options %+v", err, got)
	}
}

func TestMetricsServeWithRedisUnreachableExits3(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := l.Addr().String()
	l.Close()
	env := map[string]string{"REDIS_URL": "redis://:pw-secret@" + dead + "/0", "HADERCTL_NAMESPACE": testredis.Namespace(t)}
	src := config.Sources{Dir: t.TempDir(), Getenv: func(k string) string { return env[k] }}
	s, _, _, errOut := iostreams.Test()
	if code := Run(context.Background(), s, []string{"metrics", "serve", "--listen", "127.0.0.1:0"}, src); code != 3 {
		t.Fatalf("exit %d, want 3: %s", code, errOut)
	}
	if strings.Contains(errOut.String(), "pw-secret") {
		t.Fatalf("the Redis password leaked: %s", errOut)
	}
}
