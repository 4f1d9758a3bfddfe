package health

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/haderos/haderctl/internal/benchutil"
	"github.com/haderos/haderctl/internal/engine/store"
	"github.com/haderos/haderctl/internal/testredis"
)

// serverEnv makes the test binary serve health endpoints on loopback
// (TestMain), so the benchmark's CPU figure is the watcher's alone.
const serverEnv = "HADERCTL_BENCH_HEALTH_SERVER"

func runHealthServer() int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println(ln.Addr().String())
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) })}
	go func() {
		// stop when the parent closes our stdin (the benchmark is over)
		bufio.NewReader(os.Stdin).ReadString('\n')
		srv.Close()
	}()
	_ = srv.Serve(ln)
	return 0
}

func cpuTime() time.Duration {
	d, _ := benchutil.ProcessCPU()
	return d
}

// BenchmarkWatch1000Services runs one watcher over 1,000 services on
// loopback at a 1 s interval; each b.N is one second of watching. It
// reports the watcher's CPU (in cores), Redis commands and Redis CPU per
// check.
func BenchmarkWatch1000Services(b *testing.B) {
	srv := exec.Command(os.Args[0], "-test.run=^$")
	srv.Env = append(os.Environ(), serverEnv+"=1")
	stdin, _ := srv.StdinPipe()
	out, _ := srv.StdoutPipe()
	if err := srv.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() { stdin.Close(); _ = srv.Wait() }()
	addr, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		b.Fatal(err)
	}
	addr = strings.TrimSpace(addr)

	rdb := testredis.Client(b)
	ns := testredis.Namespace(b)
	c := New(rdb, Options{Keys: store.Keys{Namespace: ns}})
	checks := make([]Check, 1000)
	for i := range checks {
		checks[i] = Check{Name: "svc-" + strconv.Itoa(i), URL: "http://" + addr + "/health/" + strconv.Itoa(i),
			Interval: time.Second, Timeout: 2 * time.Second}.WithDefaults()
	}
	var done atomic.Int64
	ctx, stop := context.WithCancel(context.Background())
	finished := make(chan struct{})
	go func() {
		_ = c.Watch(ctx, func(context.Context) ([]Check, error) { return checks, nil }, time.Hour, func(Result) { done.Add(1) })
		close(finished)
	}()
	// warm up: every service checked once (connections open, scripts loaded)
	for done.Load() < 1000 {
		time.Sleep(10 * time.Millisecond) // waiting for the warm-up round
	}
	b.ResetTimer()
	before, err := testredis.ReadStats(context.Background(), rdb)
	if err != nil {
		b.Fatal(err)
	}
	cpu0, checks0, wall0 := cpuTime(), done.Load(), time.Now()
	time.Sleep(time.Duration(b.N) * time.Second) // the measurement: b.N intervals of watching
	cpu, n, wall := cpuTime()-cpu0, done.Load()-checks0, time.Since(wall0)
	after, err := testredis.ReadStats(context.Background(), rdb)
	if err != nil {
		b.Fatal(err)
	}
	d := after.Sub(before)
	b.StopTimer()
	stop()
	<-finished
	b.ReportMetric(float64(n)/wall.Seconds(), "checks/s")
	b.ReportMetric(cpu.Seconds()/wall.Seconds(), "watcher-cores")
	b.ReportMetric(float64(d.Commands)/float64(n), "redis-cmds/check")
	b.ReportMetric(float64(d.CPU.Microseconds())/float64(n), "redis-cpu-us/check")
	b.ReportMetric(float64(d.Scripts)/float64(n), "scripts/check")
}
