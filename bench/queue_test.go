package bench

// Speed benchmarks of the fallback queue against hibiken/asynq (a
// dependency of this benchmark module only), both on the same real Redis,
// with the same payload and the same number of operations.
// docs/benchmarks.md has the figures and the commands, e.g.
//
//	cd bench && go test -run '^$' -bench 'Enqueue|DrainNoop' -benchtime 3x -count 6
//
// The queue's benchmarks that have no peer (BenchmarkDrainScaleOut) stay
// in internal/engine/queue.
//
// One b.N iteration handles a fixed number of operations (enqueueOps or
// drainOps) in a namespace (or asynq queue) of its own, deleted after it
// untimed; ns/op and every */op metric are per operation, not per
// iteration. Each iteration is bounded by benchTimeout.

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/haderos/haderctl/internal/engine/queue"
	"github.com/haderos/haderctl/internal/engine/store"
	"github.com/haderos/haderctl/internal/testredis"
	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
)

const (
	// enqueueOps operations are pushed per iteration of the enqueue
	// benchmarks, drainOps pushed (untimed) and drained per iteration of
	// the drain benchmarks.
	enqueueOps = 10000
	drainOps   = 20000
	// warmOps go through one untimed, unmetered round first: scripts
	// loaded, connection pools filled.
	warmOps = 200
	// benchTimeout bounds one iteration: a benchmark stops by itself.
	benchTimeout = 2 * time.Minute
	benchQueue   = "orders"
	benchTask    = "create_order"
)

var (
	// asynqEnqueueGoroutines are the concurrent Enqueue callers tried for
	// asynq's bulk path (it has no batch API).
	asynqEnqueueGoroutines = []int{8, 32, 128}
	// drainConcurrency are the handler concurrencies of the drains (ours:
	// DrainOptions.Concurrency; asynq: Config.Concurrency).
	drainConcurrency = []int{8, 64, 256}
)

// benchPayload is the data of every operation (asynq: the task payload).
var benchPayload = json.RawMessage(`{"order_id":1042,"lines":[{"sku":"A-1","qty":2}],"total":"199.00"}`)

// round runs one iteration of n operations. It is called with the timer
// stopped, starts it around what is timed, and measures Redis' work in
// cost (nil in the warm-up round) around what is metered.
type round func(b *testing.B, n int, cost *redisCost)

// runRounds runs a warm-up round, then b.N rounds of n operations, and
// reports per-operation figures.
func runRounds(b *testing.B, n int, hook *directCounter, r round) {
	b.Helper()
	b.StopTimer()
	r(b, warmOps, nil)
	cost := newRedisCost(b, hook)
	b.ResetTimer()
	for range b.N {
		r(b, n, cost)
	}
	ops := b.N * n
	ns := float64(b.Elapsed().Nanoseconds()) / float64(ops)
	b.ReportMetric(ns, "ns/op")
	b.ReportMetric(1e9/ns, "ops/s")
	cost.Report(b, ops)
}

func (c *redisCost) start(b *testing.B) {
	if c != nil {
		c.Start(b)
	}
}

func (c *redisCost) stop(b *testing.B) {
	if c != nil {
		c.Stop(b)
	}
}

// ours is a queue client in a fresh namespace, deleted when clean is called.
func ours(b *testing.B, rdb *redis.Client) (c *queue.Client, clean func()) {
	ns := testredis.Namespace(b)
	c = queue.New(rdb, store.Keys{Namespace: ns}, queue.Settings{})
	return c, func() { deleteKeys(b, rdb, ns+":*") }
}

// oursRounds runs rounds of enqueueOps fresh operations (ids prefix0…)
// in a namespace of their own: timed is what is measured, with Redis' work
// metered around it.
func oursRounds(b *testing.B, prefix string, timed func(ctx context.Context, c *queue.Client, ops []*queue.Operation)) {
	hook := newDirectCounter()
	rdb := benchRedis(b, hook, 0)
	runRounds(b, enqueueOps, hook, func(b *testing.B, n int, cost *redisCost) {
		ctx, cancel := context.WithTimeout(context.Background(), benchTimeout)
		defer cancel()
		c, clean := ours(b, rdb)
		defer clean()
		ops := newOps(n, prefix)
		cost.start(b)
		b.StartTimer()
		timed(ctx, c, ops)
		b.StopTimer()
		cost.stop(b)
	})
}

// newOps makes n operations with ids prefix0…; Check is left to the caller.
func newOps(n int, prefix string) []*queue.Operation {
	ops := make([]*queue.Operation, n)
	for i := range ops {
		ops[i] = &queue.Operation{ID: prefix + strconv.Itoa(i), Queue: benchQueue, Operation: benchTask,
			Service: "shopify", Data: benchPayload}
	}
	return ops
}

func checkAll(b *testing.B, c *queue.Client, ops []*queue.Operation) {
	for _, o := range ops {
		if err := c.Check(o); err != nil {
			b.Fatal(err)
		}
	}
}

func pushAll(b *testing.B, ctx context.Context, c *queue.Client, ops []*queue.Operation) {
	res, err := c.Push(ctx, ops)
	if err != nil {
		b.Fatal(err)
	}
	if len(res) != len(ops) {
		b.Fatalf("push: %d results for %d operations", len(res), len(ops))
	}
	for _, r := range res {
		if r.Status != "enqueued" {
			b.Fatalf("push %s: %s", r.ID, r.Status)
		}
	}
}

// asynqQueue is a fresh asynq queue name; clean deletes its keys.
func asynqQueue(b *testing.B, rdb *redis.Client) (q string, clean func()) {
	q = testredis.Namespace(b)
	return q, func() { cleanAsynqQueue(b, rdb, q) }
}

func asynqTasks(n int, q string) []*asynq.Task {
	tasks := make([]*asynq.Task, n)
	for i := range tasks {
		tasks[i] = asynq.NewTask(benchTask, benchPayload, asynq.TaskID("a"+strconv.Itoa(i)), asynq.Queue(q), asynq.MaxRetry(10))
	}
	return tasks
}

// BenchmarkEnqueueSingle: one operation per call, one call after the
// other. Ours: Check and a Push of one operation (the `queue push` path);
// asynq: NewTask and Client.Enqueue with a task id (its deduplication, as
// our ids are).
func BenchmarkEnqueueSingle(b *testing.B) {
	requireRealRedis(b)
	b.Run("haderctl", func(b *testing.B) {
		oursRounds(b, "s", func(ctx context.Context, c *queue.Client, ops []*queue.Operation) {
			one := make([]*queue.Operation, 1)
			for _, o := range ops {
				if err := c.Check(o); err != nil {
					b.Fatal(err)
				}
				one[0] = o
				if _, err := c.Push(ctx, one); err != nil {
					b.Fatal(err)
				}
			}
		})
	})
	b.Run("asynq", func(b *testing.B) {
		hook := newDirectCounter()
		rdb := benchRedis(b, hook, 0)
		client := asynq.NewClientFromRedisClient(rdb)
		defer client.Close()
		runRounds(b, enqueueOps, hook, func(b *testing.B, n int, cost *redisCost) {
			ctx, cancel := context.WithTimeout(context.Background(), benchTimeout)
			defer cancel()
			q, clean := asynqQueue(b, rdb)
			defer clean()
			cost.start(b)
			b.StartTimer()
			for i := range n {
				t := asynq.NewTask(benchTask, benchPayload, asynq.TaskID("a"+strconv.Itoa(i)), asynq.Queue(q), asynq.MaxRetry(10))
				if _, err := client.EnqueueContext(ctx, t); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			cost.stop(b)
		})
	})
}

// BenchmarkEnqueueSinglePaired: the single enqueues of ours and asynq's
// interleaved, one of each per step (in alternating order), each timed on
// its own, so a noisy machine slows both alike. It reports the mean time
// of one enqueue of each (haderctl-ns/op, asynq-ns/op) and their ratio
// (asynq-time/haderctl-time: above 1, ours is faster). One iteration is
// enqueueOps pairs.
func BenchmarkEnqueueSinglePaired(b *testing.B) {
	requireRealRedis(b)
	ourRdb := benchRedis(b, newDirectCounter(), 0)
	asynqRdb := benchRedis(b, newDirectCounter(), 0)
	client := asynq.NewClientFromRedisClient(asynqRdb)
	defer client.Close()
	var ourTime, asynqTime time.Duration
	pairs := 0
	for b.Loop() {
		ctx, cancel := context.WithTimeout(context.Background(), benchTimeout)
		c, clean := ours(b, ourRdb)
		q, cleanA := asynqQueue(b, asynqRdb)
		ops := newOps(enqueueOps+1, "s")
		checkAll(b, c, ops[:1])
		pushAll(b, ctx, c, ops[:1]) // registers the queue: the rest take the single path
		one := make([]*queue.Operation, 1)
		for i, o := range ops[1:] {
			ourOne := func() {
				start := time.Now()
				if err := c.Check(o); err != nil {
					b.Fatal(err)
				}
				one[0] = o
				if _, err := c.Push(ctx, one); err != nil {
					b.Fatal(err)
				}
				ourTime += time.Since(start)
			}
			asynqOne := func() {
				start := time.Now()
				t := asynq.NewTask(benchTask, benchPayload, asynq.TaskID("a"+strconv.Itoa(i)), asynq.Queue(q), asynq.MaxRetry(10))
				if _, err := client.EnqueueContext(ctx, t); err != nil {
					b.Fatal(err)
				}
				asynqTime += time.Since(start)
			}
			if i%2 == 0 {
				ourOne()
				asynqOne()
			} else {
				asynqOne()
				ourOne()
			}
			pairs++
		}
		cancel()
		b.StopTimer()
		clean()
		cleanA()
		b.StartTimer()
	}
	b.ReportMetric(float64(ourTime.Nanoseconds())/float64(pairs), "haderctl-ns/op")
	b.ReportMetric(float64(asynqTime.Nanoseconds())/float64(pairs), "asynq-ns/op")
	b.ReportMetric(float64(asynqTime)/float64(ourTime), "asynq/haderctl-time")
	b.ReportMetric(0, "ns/op")
}

// BenchmarkEnqueueBatch: many operations at once. Ours: Check each, then
// one Push of all of them (what `queue push --ndjson` does). asynq has no
// batch API: its fastest bulk path is Client.Enqueue from several
// goroutines at once, on a connection pool as large as that.
func BenchmarkEnqueueBatch(b *testing.B) {
	requireRealRedis(b)
	b.Run("haderctl-Push", func(b *testing.B) {
		oursRounds(b, "b", func(ctx context.Context, c *queue.Client, ops []*queue.Operation) {
			checkAll(b, c, ops)
			pushAll(b, ctx, c, ops)
		})
	})
	for _, g := range asynqEnqueueGoroutines {
		b.Run(fmt.Sprintf("asynq-Enqueue-goroutines=%d", g), func(b *testing.B) {
			hook := newDirectCounter()
			rdb := benchRedis(b, hook, g+8)
			client := asynq.NewClientFromRedisClient(rdb)
			defer client.Close()
			runRounds(b, enqueueOps, hook, func(b *testing.B, n int, cost *redisCost) {
				ctx, cancel := context.WithTimeout(context.Background(), benchTimeout)
				defer cancel()
				q, clean := asynqQueue(b, rdb)
				defer clean()
				cost.start(b)
				b.StartTimer()
				err := runParallel(n, g, func(i int) error {
					t := asynq.NewTask(benchTask, benchPayload, asynq.TaskID("a"+strconv.Itoa(i)), asynq.Queue(q), asynq.MaxRetry(10))
					_, err := client.EnqueueContext(ctx, t)
					return err
				})
				b.StopTimer()
				cost.stop(b)
				if err != nil {
					b.Fatal(err)
				}
			})
		})
	}
}

// BenchmarkDrainNoop: drainOps operations are pushed (untimed), then
// processed by a handler that only counts them. Timed: ours, Drain (no
// Follow) until it returns, every outcome settled in Redis; asynq, from
// Server.Start until the handler has seen them all (its acknowledgements
// of the last tasks still in flight, which favours asynq slightly). Redis'
// work is metered end to end: push and drain (and asynq's shutdown). Ours
// and asynq's run one after the other at each concurrency, so each pair
// is measured within seconds of each other on a machine whose load moves.
func BenchmarkDrainNoop(b *testing.B) {
	requireRealRedis(b)
	for _, conc := range drainConcurrency {
		b.Run(fmt.Sprintf("haderctl-concurrency=%d", conc), func(b *testing.B) { drainNoopOurs(b, conc) })
		b.Run(fmt.Sprintf("asynq-concurrency=%d", conc), func(b *testing.B) { drainNoopAsynq(b, conc) })
	}
}

// drainNoopOurs is BenchmarkDrainNoop's haderctl side at concurrency conc.
func drainNoopOurs(b *testing.B, conc int) {
	hook := newDirectCounter()
	rdb := benchRedis(b, hook, 0)
	runRounds(b, drainOps, hook, func(b *testing.B, n int, cost *redisCost) {
		ctx, cancel := context.WithTimeout(context.Background(), benchTimeout)
		defer cancel()
		c, clean := ours(b, rdb)
		defer clean()
		ops := newOps(n, "d")
		checkAll(b, c, ops)
		var seen atomic.Int64
		handler := func(context.Context, *queue.Operation) queue.Outcome {
			seen.Add(1)
			return queue.Outcome{Kind: queue.Done}
		}
		cost.start(b)
		pushAll(b, ctx, c, ops)
		b.StartTimer()
		s, err := c.Drain(ctx, queue.DrainOptions{Queues: []string{benchQueue}, Concurrency: conc, Handler: handler})
		b.StopTimer()
		cost.stop(b)
		if err != nil || s.Completed != n || seen.Load() != int64(n) {
			b.Fatalf("drain: %+v, handled %d of %d, err %v", s, seen.Load(), n, err)
		}
	})
}

// drainNoopAsynq is BenchmarkDrainNoop's asynq side at concurrency conc.
func drainNoopAsynq(b *testing.B, conc int) {
	hook := newDirectCounter()
	rdb := benchRedis(b, hook, conc+16)
	client := asynq.NewClientFromRedisClient(rdb)
	defer client.Close()
	runRounds(b, drainOps, hook, func(b *testing.B, n int, cost *redisCost) {
		ctx, cancel := context.WithTimeout(context.Background(), benchTimeout)
		defer cancel()
		q, clean := asynqQueue(b, rdb)
		defer clean()
		tasks := asynqTasks(n, q)
		var seen atomic.Int64
		all := make(chan struct{})
		mux := asynq.NewServeMux()
		mux.HandleFunc(benchTask, func(context.Context, *asynq.Task) error {
			if seen.Add(1) == int64(n) {
				close(all)
			}
			return nil
		})
		srv := asynq.NewServerFromRedisClient(rdb, asynq.Config{Concurrency: conc,
			Queues: map[string]int{q: 1}, LogLevel: asynq.FatalLevel, ShutdownTimeout: 10 * time.Second})
		cost.start(b)
		if err := runParallel(n, 32, func(i int) error { _, err := client.EnqueueContext(ctx, tasks[i]); return err }); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		if err := srv.Start(mux); err != nil {
			b.Fatal(err)
		}
		var timedOut bool
		select {
		case <-all:
		case <-ctx.Done():
			timedOut = true
		}
		b.StopTimer()
		srv.Shutdown()
		cost.stop(b)
		if timedOut {
			b.Fatalf("asynq handled %d of %d tasks within %s", seen.Load(), n, benchTimeout)
		}
	})
}
