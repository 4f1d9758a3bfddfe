package queue

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/haderos/haderctl/internal/engine/store"
	"github.com/haderos/haderctl/internal/testredis"
	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
)

// The queue benchmarks run against the test Redis and compare with
// hibiken/asynq (a test-only dependency) measured the same way: same
// Redis, same machine, same payload. docs/benchmarks.md has the figures.

const benchOps = 20000

var benchPayload = json.RawMessage(`{"order_id":1042,"lines":[{"sku":"A-1","qty":2}],"total":"199.00"}`)

func benchClient(b *testing.B) (*Client, *redis.Client) {
	rdb := testredis.Client(b)
	return New(rdb, store.Keys{Namespace: testredis.Namespace(b)}, Settings{}), rdb
}

func benchOpsFor(c *Client, q string, n int, prefix string) []*Operation {
	ops := make([]*Operation, n)
	for i := range ops {
		ops[i] = &Operation{ID: prefix + strconv.Itoa(i), Queue: q, Operation: "create_order", Service: "shopify", Data: benchPayload}
		if err := c.Check(ops[i]); err != nil {
			panic(err)
		}
	}
	return ops
}

// redisCost reports Redis commands (those inside scripts included), script
// calls and Redis CPU µs per operation, from deltas of Redis' counters.
type redisCost struct {
	rdb    *redis.Client
	before testredis.Stats
}

func startCost(rdb *redis.Client) *redisCost {
	st, _ := testredis.ReadStats(context.Background(), rdb)
	return &redisCost{rdb: rdb, before: st}
}

func (c *redisCost) report(b *testing.B, ops int) {
	now, err := testredis.ReadStats(context.Background(), c.rdb)
	if err != nil {
		b.Fatal(err)
	}
	d := now.Sub(c.before)
	b.ReportMetric(float64(d.Commands)/float64(ops), "redis-cmds/op")
	b.ReportMetric(float64(d.Scripts)/float64(ops), "scripts/op")
	b.ReportMetric(float64(d.CPU.Microseconds())/float64(ops), "redis-cpu-us/op")
}

// BenchmarkEnqueueSingle: one Push per operation, one after the other.
func BenchmarkEnqueueSingle(b *testing.B) {
	c, rdb := benchClient(b)
	ctx := context.Background()
	ops := benchOpsFor(c, "orders", b.N, "s-")
	cost := startCost(rdb)
	b.ResetTimer()
	for i := range b.N {
		if _, err := c.Push(ctx, ops[i:i+1]); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	cost.report(b, b.N)
}

// BenchmarkEnqueueBatch: Push of many operations (the --ndjson path).
func BenchmarkEnqueueBatch(b *testing.B) {
	c, rdb := benchClient(b)
	ctx := context.Background()
	ops := benchOpsFor(c, "orders", b.N, "b-")
	cost := startCost(rdb)
	b.ResetTimer()
	for start := 0; start < b.N; start += 5000 {
		if _, err := c.Push(ctx, ops[start:min(start+5000, b.N)]); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	cost.report(b, b.N)
}

func asynqTask(i int) *asynq.Task {
	return asynq.NewTask("create_order", benchPayload, asynq.TaskID("a-"+strconv.Itoa(i)), asynq.Queue("orders"))
}

func asynqOpt(b *testing.B) asynq.RedisClientOpt {
	opt, err := redis.ParseURL(testredis.URL(b))
	if err != nil {
		b.Fatal(err)
	}
	return asynq.RedisClientOpt{Addr: opt.Addr, DB: opt.DB}
}

// BenchmarkAsynqEnqueueSingle: asynq Client.Enqueue, one after the other.
func BenchmarkAsynqEnqueueSingle(b *testing.B) {
	rdb := testredis.Client(b)
	rdb.FlushDB(context.Background())
	client := asynq.NewClient(asynqOpt(b))
	defer client.Close()
	cost := startCost(rdb)
	b.ResetTimer()
	for i := range b.N {
		if _, err := client.Enqueue(asynqTask(i)); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	cost.report(b, b.N)
}

// BenchmarkAsynqEnqueueParallel: asynq has no batch API; its fastest bulk
// path is Enqueue from many goroutines at once (32 here).
func BenchmarkAsynqEnqueueParallel(b *testing.B) {
	rdb := testredis.Client(b)
	rdb.FlushDB(context.Background())
	client := asynq.NewClient(asynqOpt(b))
	defer client.Close()
	cost := startCost(rdb)
	var next atomic.Int64
	b.ResetTimer()
	var wg sync.WaitGroup
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= b.N {
					return
				}
				if _, err := client.Enqueue(asynqTask(i)); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	cost.report(b, b.N)
}

// BenchmarkDrainNoop: push benchOps operations (untimed), then time a
// drain of all of them with a no-op handler, 64 replays in flight.
func BenchmarkDrainNoop(b *testing.B) {
	c, rdb := benchClient(b)
	ctx := context.Background()
	var total time.Duration
	cost := startCost(rdb)
	for i := range b.N {
		ops := benchOpsFor(c, "orders", benchOps, fmt.Sprintf("d%d-", i))
		if _, err := c.Push(ctx, ops); err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		s, err := c.Drain(ctx, DrainOptions{Queues: []string{"orders"}, Concurrency: 64, Handler: done})
		if err != nil || s.Completed != benchOps {
			b.Fatalf("drain: %+v %v", s, err)
		}
		total += time.Since(start)
	}
	b.ReportMetric(float64(b.N*benchOps)/total.Seconds(), "ops/s")
	cost.report(b, b.N*benchOps) // push and drain together: end to end
}

// BenchmarkAsynqDrainNoop: the same with an asynq server (concurrency 64,
// a no-op handler), timed from start until the handler has seen them all.
func BenchmarkAsynqDrainNoop(b *testing.B) {
	rdb := testredis.Client(b)
	ctx := context.Background()
	var total time.Duration
	cost := startCost(rdb)
	for i := range b.N {
		rdb.FlushDB(ctx)
		client := asynq.NewClient(asynqOpt(b))
		for j := range benchOps {
			if _, err := client.Enqueue(asynqTask(i*benchOps + j)); err != nil {
				b.Fatal(err)
			}
		}
		client.Close()
		var seen atomic.Int64
		all := make(chan struct{})
		srv := asynq.NewServer(asynqOpt(b), asynq.Config{Concurrency: 64, Queues: map[string]int{"orders": 1},
			LogLevel: asynq.FatalLevel})
		mux := asynq.NewServeMux()
		mux.HandleFunc("create_order", func(context.Context, *asynq.Task) error {
			if seen.Add(1) == benchOps {
				close(all)
			}
			return nil
		})
		start := time.Now()
		if err := srv.Start(mux); err != nil {
			b.Fatal(err)
		}
		<-all
		total += time.Since(start)
		srv.Shutdown()
	}
	b.ReportMetric(float64(b.N*benchOps)/total.Seconds(), "ops/s")
	cost.report(b, b.N*benchOps)
}
