package queue_test

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/haderos/haderctl/internal/engine/queue"
	"github.com/haderos/haderctl/internal/engine/store"
	"github.com/haderos/haderctl/internal/testredis"
	"github.com/redis/go-redis/v9"
)

const (
	// scaleOutOps operations are drained per round of
	// BenchmarkDrainScaleOut, by drainer processes with
	// scaleOutConcurrency workers each whose handler takes scaleOutHandler.
	scaleOutOps         = 2000
	scaleOutConcurrency = 10
	scaleOutHandler     = 20 * time.Millisecond
)

// scaleOutDrainers are the numbers of drainer processes compared.
var scaleOutDrainers = []int{1, 2, 4}

// BenchmarkDrainScaleOut: scaleOutOps operations are pushed (untimed), then
// drained by 1, 2 and 4 drainer processes at once (each --concurrency 10,
// a 20 ms handler). Every drainer is a real process of its own (this test
// binary re-entered through TestMain, with its own Redis client), started
// one after the other as a deployment would start them; the time runs
// from the first start to the last exit, process start-up included. One iteration is one round of
// each count, in rotating order, so a noisy machine slows all alike. It
// reports each count's rate (drainers=N-ops/s), the speed-up of 2 and 4
// drainers over 1 (speedup-N: the one-drainer time over the N-drainer
// time, from the summed times of all iterations), and the largest share
// of a round's operations that one drainer of 4 took (max-share-4; 0.25
// is an even split).
func BenchmarkDrainScaleOut(b *testing.B) {
	requireRealRedis(b)
	rdb := benchRedis(b, 0)
	exe, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	elapsed := map[int]time.Duration{}
	maxShare := 0.0
	rounds := 0
	for b.Loop() {
		for k := range scaleOutDrainers {
			n := scaleOutDrainers[(k+rounds)%len(scaleOutDrainers)]
			b.StopTimer()
			dur, shares := scaleOutRound(b, rdb, exe, n)
			b.StartTimer()
			elapsed[n] += dur
			if n == 4 {
				for _, s := range shares {
					maxShare = max(maxShare, s)
				}
			}
		}
		rounds++
	}
	for _, n := range scaleOutDrainers {
		b.ReportMetric(float64(rounds*scaleOutOps)/elapsed[n].Seconds(), "drainers="+strconv.Itoa(n)+"-ops/s")
		if n > 1 {
			b.ReportMetric(float64(elapsed[1])/float64(elapsed[n]), "speedup-"+strconv.Itoa(n))
		}
	}
	b.ReportMetric(maxShare, "max-share-4")
	b.ReportMetric(0, "ns/op")
}

// scaleOutRound pushes scaleOutOps operations into a fresh namespace and
// drains them with n drainer processes: it returns the time from the first
// start to the last exit, and each drainer's share of the operations.
func scaleOutRound(b *testing.B, rdb *redis.Client, exe string, n int) (time.Duration, []float64) {
	ctx, cancel := context.WithTimeout(context.Background(), benchTimeout)
	defer cancel()
	ns := testredis.Namespace(b)
	c := queue.New(rdb, store.Keys{Namespace: ns}, queue.Settings{})
	defer deleteKeys(b, rdb, ns+":*")
	ops := newOps(scaleOutOps, "x")
	checkAll(b, c, ops)
	pushAll(b, ctx, c, ops)
	type proc struct {
		cmd *exec.Cmd
		out *bufio.Reader
	}
	procs := make([]proc, n)
	start := time.Now()
	for i := range procs {
		cmd := exec.CommandContext(ctx, exe, "-test.run", "^$")
		cmd.Env = append(os.Environ(), queue.BenchDrainerEnv+"=1", "HADERCTL_BENCH_REDIS="+testredis.URL(b),
			"HADERCTL_BENCH_NS="+ns, "HADERCTL_BENCH_QUEUE="+benchQueue,
			"HADERCTL_BENCH_CONCURRENCY="+strconv.Itoa(scaleOutConcurrency), "HADERCTL_BENCH_HANDLER="+scaleOutHandler.String())
		cmd.Stderr = os.Stderr
		out, err := cmd.StdoutPipe()
		if err != nil {
			b.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		procs[i] = proc{cmd, bufio.NewReader(out)}
	}
	sums := make([]queue.Summary, n)
	for i, p := range procs {
		line, err := p.out.ReadString('\n')
		if err != nil {
			b.Fatalf("drainer %d: %v", i, err)
		}
		if err := json.Unmarshal([]byte(strings.TrimSpace(line)), &sums[i]); err != nil {
			b.Fatalf("drainer %d: %q: %v", i, line, err)
		}
		if err := p.cmd.Wait(); err != nil {
			b.Fatalf("drainer %d: %v", i, err)
		}
	}
	dur := time.Since(start)
	total := 0
	shares := make([]float64, n)
	for i, s := range sums {
		total += s.Completed
		shares[i] = float64(s.Completed) / scaleOutOps
		if s.Lost != 0 || s.Completed != s.Claimed {
			b.Fatalf("drainer %d: %+v", i, s)
		}
	}
	if total != scaleOutOps {
		b.Fatalf("%d drainers completed %d of %d (%v)", n, total, scaleOutOps, sums)
	}
	return dur, shares
}
