package queue

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/haderos/haderctl/internal/engine/store"
)

// BenchDrainerEnv makes the test binary run as one drainer process of
// BenchmarkDrainScaleOut (TestMain): it connects to Redis at
// HADERCTL_BENCH_REDIS, drains queue HADERCTL_BENCH_QUEUE of namespace HADERCTL_BENCH_NS with
// HADERCTL_BENCH_CONCURRENCY workers whose handler sleeps
// HADERCTL_BENCH_HANDLER, and prints its Summary as JSON.
const BenchDrainerEnv = "HADERCTL_BENCH_DRAINER"

func runBenchDrainer() int {
	fail := func(err error) int { fmt.Fprintln(os.Stderr, err); return 1 }
	rdb, err := store.Open(store.Options{URL: os.Getenv("HADERCTL_BENCH_REDIS"), Timeout: 10 * time.Second})
	if err != nil {
		return fail(err)
	}
	defer rdb.Close()
	conc, err := strconv.Atoi(os.Getenv("HADERCTL_BENCH_CONCURRENCY"))
	if err != nil {
		return fail(err)
	}
	handlerTime, err := time.ParseDuration(os.Getenv("HADERCTL_BENCH_HANDLER"))
	if err != nil {
		return fail(err)
	}
	ctx := context.Background()
	c := New(rdb, store.Keys{Namespace: os.Getenv("HADERCTL_BENCH_NS")}, Settings{})
	s, err := c.Drain(ctx, DrainOptions{Queues: []string{os.Getenv("HADERCTL_BENCH_QUEUE")}, Concurrency: conc,
		Handler: func(context.Context, *Operation) Outcome {
			time.Sleep(handlerTime) // the replay's time: what the benchmark is about
			return Outcome{Kind: Done}
		}})
	if err != nil {
		return fail(err)
	}
	js, _ := json.Marshal(s)
	fmt.Println(string(js))
	return 0
}
