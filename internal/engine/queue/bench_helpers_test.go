package queue_test

// Helpers of the queue's own benchmarks (bench_scaleout_test.go). The
// comparisons with hibiken/asynq live in the benchmark module at bench/
// (bench/queue_test.go), so asynq stays out of the main go.mod.

import (
	"context"
	"encoding/json"
	"strconv"
	"testing"
	"time"

	"github.com/haderos/haderctl/internal/engine/queue"
	"github.com/haderos/haderctl/internal/testredis"
	"github.com/redis/go-redis/v9"
)

const (
	// benchTimeout bounds one iteration: a benchmark stops by itself.
	benchTimeout = 2 * time.Minute
	benchQueue   = "orders"
	benchTask    = "create_order"
)

// benchPayload is the data of every operation.
var benchPayload = json.RawMessage(`{"order_id":1042,"lines":[{"sku":"A-1","qty":2}],"total":"199.00"}`)

// requireRealRedis fails a benchmark whose Redis is the embedded
// miniredis: that would measure something else.
func requireRealRedis(b *testing.B) {
	b.Helper()
	if !testredis.Real(b) {
		b.Fatalf("queue benchmarks need a real Redis: put redis-server on PATH or set HADERCTL_TEST_REDIS_URL (got %s)", testredis.Kind())
	}
}

// benchRedis is a client of the test Redis (poolSize 0: go-redis' default).
func benchRedis(b *testing.B, poolSize int) *redis.Client {
	b.Helper()
	opt, err := redis.ParseURL(testredis.URL(b))
	if err != nil {
		b.Fatal(err)
	}
	if poolSize > 0 {
		opt.PoolSize = poolSize
	}
	rdb := redis.NewClient(opt)
	b.Cleanup(func() { rdb.Close() })
	return rdb
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

// deleteKeys removes every key matching pattern (SCAN, then UNLINK in
// batches): the clean-up of a benchmark's namespace.
func deleteKeys(b *testing.B, rdb *redis.Client, pattern string) {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	iter := rdb.Scan(ctx, 0, pattern, 5000).Iterator()
	batch := make([]string, 0, 5000)
	flush := func() {
		if len(batch) > 0 {
			if err := rdb.Unlink(ctx, batch...).Err(); err != nil {
				b.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	for iter.Next(ctx) {
		batch = append(batch, iter.Val())
		if len(batch) == cap(batch) {
			flush()
		}
	}
	if err := iter.Err(); err != nil {
		b.Fatal(err)
	}
	flush()
}
