package gateway

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// target is one way of reaching the upstream, measured once per round.
type target struct {
	name  string
	url   string
	conns int
	want  int // the status every measured request must get
	// before and after run around the measurement, outside it.
	before, after func()
}

// BenchmarkGateway measures every target once per iteration (a round)
// and reports medians over the rounds; the per-round ratios it logs are
// the figures to compare (see doc.go). BENCH_GATEWAY_MEASURE sets each
// target's measured time (default 3s), after a 500ms warm-up.
func BenchmarkGateway(b *testing.B) {
	measure := 3 * time.Second
	if v := os.Getenv("BENCH_GATEWAY_MEASURE"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 || d > time.Minute {
			b.Fatalf("BENCH_GATEWAY_MEASURE=%q: want a duration in (0, 1m]", v)
		}
		measure = d
	}
	const warmup = 500 * time.Millisecond
	const conns, slowConns = 16, 256
	t := buildTools(b)

	_, fast := start(b, "upstream", t.upstream, nil)
	_, slow := start(b, "upstream-slow", t.upstream, nil, "-delay", "10ms")
	_, copier := start(b, "tcpproxy", t.tcpproxy, nil, "-upstream", fast)
	_, rev := start(b, "revproxy", t.revproxy, nil, "-upstream", "http://"+fast)
	_, revSync := start(b, "revproxy-sync", t.revproxy, nil, "-upstream", "http://"+fast, "-transport", "sync")
	tox := startToxiproxy(b, fast)
	var h haderctl
	var gw, gwQuiet string
	bin, haveGateway := findHaderctl(b)
	if haveGateway {
		upstreams := map[string]string{"upstream": "http://" + fast, "slow": "http://" + slow}
		// The access log goes to a file (the child's stderr), as a
		// deployment's would; the second gateway says what it costs.
		h, gw = startGateway(b, "gateway", bin, upstreams)
		_, gwQuiet = startGateway(b, "gateway-nolog", bin, upstreams, "--access-log", "off")
	}
	gwURL := "http://" + gw + "/upstream/"

	// In this order in every round: the ways to the fast upstream side by
	// side, then the breaker open, then the slow upstream.
	targets := []target{
		{name: "direct", url: "http://" + fast + "/", conns: conns, want: http.StatusOK},
		{name: "io.Copy", url: "http://" + copier + "/", conns: conns, want: http.StatusOK},
	}
	if tox != "" {
		targets = append(targets, target{name: "toxiproxy", url: "http://" + tox + "/", conns: conns, want: http.StatusOK})
	}
	targets = append(targets,
		target{name: "ReverseProxy", url: "http://" + rev + "/", conns: conns, want: http.StatusOK},
		target{name: "ReverseProxy-sync", url: "http://" + revSync + "/", conns: conns, want: http.StatusOK})
	if haveGateway {
		targets = append(targets,
			target{name: "gateway", url: gwURL, conns: conns, want: http.StatusOK},
			target{name: "gateway-nolog", url: "http://" + gwQuiet + "/upstream/", conns: conns, want: http.StatusOK},
			target{name: "gateway-open", url: gwURL, conns: conns, want: http.StatusServiceUnavailable,
				before: func() {
					h.run(b, "breaker", "trip", "upstream", "--reason", "bench: fail-fast figure")
					waitStatus(b, gwURL, http.StatusServiceUnavailable)
				},
				after: func() {
					h.run(b, "breaker", "enable", "upstream", "--reason", "bench: fail-fast figure done")
					waitStatus(b, gwURL, http.StatusOK)
				}})
	}
	targets = append(targets, target{name: "direct-10ms", url: "http://" + slow + "/", conns: slowConns, want: http.StatusOK})
	if haveGateway {
		targets = append(targets, target{name: "gateway-10ms", url: "http://" + gw + "/slow/", conns: slowConns, want: http.StatusOK})
	}

	// The same targets over one connection: the latency a request pays
	// with no queue in front of it (at 16 connections on two cores a
	// closed loop's p50 is mostly waiting for a core).
	for _, name := range []string{"direct", "io.Copy", "toxiproxy", "ReverseProxy", "gateway"} {
		for _, tg := range targets {
			if tg.name == name {
				tg.name, tg.conns = name+"@1", 1
				targets = append(targets, tg)
			}
		}
	}

	var rounds []map[string]load
	for b.Loop() {
		round := map[string]load{}
		for _, tg := range targets {
			if tg.before != nil {
				tg.before()
			}
			round[tg.name] = runLoad(b, t.loadgen, tg.url, tg.conns, measure, warmup, tg.want)
			if tg.after != nil {
				tg.after()
			}
		}
		rounds = append(rounds, round)
	}
	b.StopTimer()
	s := summarize(targets, rounds)
	s.report(b)
	// stdout, not b.Log: the testing package trims a benchmark's log.
	fmt.Printf("\n%s\n", s.markdown())
	if dir := os.Getenv("BENCH_GATEWAY_OUT"); dir != "" {
		writeRounds(b, dir, rounds, s)
	}
}

// writeRounds keeps every round's loadgen reports (rounds.json) and the
// table (summary.md) in dir, for the docs and for a second look.
func writeRounds(b *testing.B, dir string, rounds []map[string]load, s summary) {
	data, err := json.MarshalIndent(rounds, "", "  ")
	if err != nil {
		b.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "rounds.json"), data, 0o644); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "summary.md"), []byte(s.markdown()), 0o644); err != nil {
		b.Fatal(err)
	}
}
