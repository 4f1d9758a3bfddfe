package queue

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/haderos/haderctl/internal/engine/store"
	"github.com/redis/go-redis/v9"
)

// Stats are one queue's numbers (the seed's get_system_status, per queue).
type Stats struct {
	Queue  string `json:"queue"`
	Paused bool   `json:"paused"`
	// Pending are ready operations by priority.
	Pending      map[Priority]int64 `json:"pending"`
	PendingTotal int64              `json:"pending_total"`
	Delayed      int64              `json:"delayed"`
	InFlight     int64              `json:"in_flight"`
	// Dead is how many are in the dead set now.
	Dead int64 `json:"dead"`
	// Counters since the queue was first used.
	Enqueued    int64 `json:"enqueued"`
	Completed   int64 `json:"completed"`
	Failed      int64 `json:"failed"`
	Retried     int64 `json:"retried"`
	Deferred    int64 `json:"deferred"`
	Duplicates  int64 `json:"duplicates"`
	DeadTrimmed int64 `json:"dead_trimmed"`
	// AvgRetrySeconds is the mean time from first failure to success.
	AvgRetrySeconds float64 `json:"average_retry_time_seconds"`
	// RetrySuccessRate is completed / (completed + failed), 0..1.
	RetrySuccessRate float64 `json:"retry_success_rate"`
	// OldestPendingSeconds is the age of the oldest ready operation.
	OldestPendingSeconds float64 `json:"oldest_pending_age_seconds"`
	// ThroughputPerSecond is completions per second over the last minute.
	ThroughputPerSecond float64 `json:"throughput_per_second"`
	// Problem names a key of the queue that holds another type than the
	// engine keeps there (the numbers it would give are left at zero);
	// empty when every key read.
	Problem string `json:"problem,omitempty"`
}

// Stats reads the numbers of each queue in one pipelined round trip.
func (c *Client) Stats(ctx context.Context, names []string) ([]Stats, time.Time, error) {
	p := c.rdb.Pipeline()
	tcmd := p.Time(ctx)
	reads := make([]statsRead, len(names))
	for i, q := range names {
		reads[i] = queueStatsRead(ctx, p, c.keys, q)
	}
	if _, err := p.Exec(ctx); err != nil {
		return nil, time.Time{}, err
	}
	now := tcmd.Val()
	out := make([]Stats, len(names))
	for i, q := range names {
		st, err := reads[i].decode(q, now)
		if err != nil {
			return nil, time.Time{}, err
		}
		out[i] = st
	}
	return out, now, nil
}

// statsRead is one queue's reads queued on a pipeline.
type statsRead struct {
	h                     *redis.MapStringStringCmd
	pend                  []*redis.IntCmd
	first                 []*redis.ZSliceCmd
	delayed, leased, dead *redis.IntCmd
}

func queueStatsRead(ctx context.Context, p redis.Pipeliner, k store.Keys, q string) statsRead {
	x := statsRead{h: p.HGetAll(ctx, k.Queue(q))}
	for r := range Priorities {
		lo, hi := strconv.FormatFloat(float64(r)*band, 'f', 0, 64), "("+strconv.FormatFloat(float64(r+1)*band, 'f', 0, 64)
		x.pend = append(x.pend, p.ZCount(ctx, k.QueueReady(q), lo, hi))
		x.first = append(x.first, p.ZRangeByScoreWithScores(ctx, k.QueueReady(q), &redis.ZRangeBy{Min: lo, Max: hi, Count: 1}))
	}
	x.delayed = p.ZCard(ctx, k.QueueDelayed(q))
	x.leased = p.ZCard(ctx, k.QueueLeased(q))
	x.dead = p.ZCard(ctx, k.QueueDead(q))
	return x
}

// decode computes the numbers on Redis' clock now. A key of the wrong
// type is this queue's problem (Stats.Problem names it; its numbers are
// zero), not the read's: the other queues are still shown. Any other
// error reply (the connection, an ACL) is returned, naming the queue.
func (x statsRead) decode(q string, now time.Time) (Stats, error) {
	cmds := []redis.Cmder{x.h, x.delayed, x.leased, x.dead}
	for r := range x.pend {
		cmds = append(cmds, x.pend[r], x.first[r])
	}
	problem := ""
	for _, c := range cmds {
		err := c.Err()
		if err == nil {
			continue
		}
		if !redis.HasErrorPrefix(err, "WRONGTYPE") {
			return Stats{}, fmt.Errorf("queue %s: %w", q, err)
		}
		if problem == "" {
			problem = fmt.Sprintf("key %v holds another type than the engine keeps there (WRONGTYPE)", c.Args()[1])
		}
	}
	nowMs := now.UnixMilli()
	h := x.h.Val()
	n := func(f string) int64 {
		v, ok := h[f]
		if !ok {
			return 0 // not there: no parse, no error value built
		}
		i, _ := strconv.ParseInt(v, 10, 64)
		return i
	}
	s := Stats{Queue: q, Paused: h["paused"] != "", Pending: map[Priority]int64{},
		Delayed: x.delayed.Val(), InFlight: x.leased.Val(), Dead: x.dead.Val(),
		Completed: n("completed"), Failed: n("died"), Retried: n("retried"),
		Deferred: n("deferred"), Duplicates: n("duplicates"), DeadTrimmed: n("dead_trimmed"), Problem: problem}
	var oldest int64
	for r, pr := range Priorities {
		s.Pending[pr] = x.pend[r].Val()
		s.PendingTotal += s.Pending[pr]
		if z := x.first[r].Val(); len(z) > 0 {
			created := int64(z[0].Score) - int64(r)*int64(band)
			if oldest == 0 || created < oldest {
				oldest = created
			}
		}
	}
	// every operation enqueued is pending, delayed, in flight or dead
	// now, or was completed, purged or trimmed from the dead set
	s.Enqueued = s.PendingTotal + s.Delayed + s.InFlight + s.Dead + s.Completed + n("purged") + s.DeadTrimmed
	if oldest > 0 {
		// created times are the pushing clients' clocks: never negative
		s.OldestPendingSeconds = float64(max(nowMs-oldest, 0)) / 1000
	}
	if s.Completed > 0 {
		s.AvgRetrySeconds = float64(n("retry_ms_total")) / float64(s.Completed) / 1000
	}
	if s.Completed+s.Failed > 0 {
		s.RetrySuccessRate = float64(s.Completed) / float64(s.Completed+s.Failed)
	}
	// throughput: the 10 s buckets of the last minute, the current
	// one counted for the part of it that has passed
	cur := nowMs / 10000
	var done int64
	for slot := 0; slot < 8; slot++ {
		b, err := strconv.ParseInt(h["tp_b"+strconv.Itoa(slot)], 10, 64)
		if err == nil && b > cur-6 && b <= cur {
			done += n("tp_n" + strconv.Itoa(slot))
		}
	}
	window := float64(50000+nowMs%10000) / 1000
	s.ThroughputPerSecond = float64(done) / window
	return s, nil
}

// Overall sums the queues' numbers into the seed's "overall" entry.
func Overall(stats []Stats) Stats {
	o := Stats{Queue: "overall", Pending: map[Priority]int64{}}
	var retryMs float64
	for _, s := range stats {
		for p, n := range s.Pending {
			o.Pending[p] += n
		}
		o.PendingTotal += s.PendingTotal
		o.Delayed += s.Delayed
		o.InFlight += s.InFlight
		o.Dead += s.Dead
		o.Enqueued += s.Enqueued
		o.Completed += s.Completed
		o.Failed += s.Failed
		o.Retried += s.Retried
		o.Deferred += s.Deferred
		o.Duplicates += s.Duplicates
		o.DeadTrimmed += s.DeadTrimmed
		o.ThroughputPerSecond += s.ThroughputPerSecond
		retryMs += s.AvgRetrySeconds * float64(s.Completed)
		o.OldestPendingSeconds = max(o.OldestPendingSeconds, s.OldestPendingSeconds)
	}
	for _, p := range Priorities {
		o.Pending[p] += 0
	}
	if o.Completed > 0 {
		o.AvgRetrySeconds = retryMs / float64(o.Completed)
	}
	if o.Completed+o.Failed > 0 {
		o.RetrySuccessRate = float64(o.Completed) / float64(o.Completed+o.Failed)
	}
	return o
}

// States an operation can be listed in.
var States = []string{"ready", "delayed", "leased", "dead"}

func (c *Client) stateKey(q, state string) string {
	switch state {
	case "ready":
		return c.keys.QueueReady(q)
	case "delayed":
		return c.keys.QueueDelayed(q)
	case "leased":
		return c.keys.QueueLeased(q)
	case "dead":
		return c.keys.QueueDead(q)
	}
	return ""
}

// List returns up to limit operations in one state, in claim order
// (ready), due order (delayed), deadline order (leased) or death order
// (dead). Operations whose hash is corrupt come back with State "corrupt"
// and the reason in LastError.
func (c *Client) List(ctx context.Context, q, state string, limit int64) ([]*Operation, error) {
	key := c.stateKey(q, state)
	if key == "" {
		return nil, &InputError{"unknown state " + strconv.Quote(state) + ": use ready, delayed, leased or dead"}
	}
	z, err := c.rdb.ZRangeWithScores(ctx, key, 0, limit-1).Result()
	if err != nil {
		return nil, err
	}
	ids := make([]string, len(z))
	for i, m := range z {
		ids[i] = m.Member.(string)
	}
	ops, err := c.load(ctx, q, ids)
	if err != nil {
		return nil, err
	}
	for i, o := range ops {
		o.inState(state, time.UnixMilli(int64(z[i].Score)))
	}
	return ops, nil
}

// inState marks an operation read from a state's set with that state
// (a corrupt one stays corrupt) and the set's score as the time it
// stands for: when it is due (delayed), its lease ends (leased) or it
// died (dead).
func (o *Operation) inState(state string, at time.Time) {
	if o.State != "corrupt" {
		o.State = state
	}
	switch state {
	case "delayed":
		o.NextAttemptAt = &at
	case "leased":
		o.LeaseDeadline = &at
	case "dead":
		o.DiedAt = &at
	}
}

// Inspect returns one operation with its state, or nil if the queue has
// no such id. A completed operation (within the retention) comes back with
// only its id, state and completion time: its entry is gone.
func (c *Client) Inspect(ctx context.Context, q, id string) (*Operation, error) {
	p := c.rdb.Pipeline()
	scores := make([]*redis.FloatCmd, len(States))
	for i, st := range States {
		scores[i] = p.ZScore(ctx, c.stateKey(q, st), id)
	}
	entry := p.HGet(ctx, c.keys.QueueOps(q), id)
	if _, err := p.Exec(ctx); err != nil && err != redis.Nil {
		return nil, err
	}
	state := ""
	var at time.Time
	for i, st := range States {
		if v, err := scores[i].Result(); err == nil {
			state, at = st, time.UnixMilli(int64(v))
		}
	}
	if state == "" {
		return completed(q, id, entry.Val()), nil
	}
	ops, err := c.load(ctx, q, []string{id})
	if err != nil {
		return nil, err
	}
	ops[0].inState(state, at)
	return ops[0], nil
}

// completed reads a completed operation's entry, "done <ms>[ <attempts>]"
// (attempts when more than one); nil if it is not one.
func completed(q, id, v string) *Operation {
	rest, ok := strings.CutPrefix(v, "done ")
	ms, att, _ := strings.Cut(rest, " ")
	n, err := strconv.ParseInt(ms, 10, 64)
	if !ok || err != nil {
		return nil
	}
	t := time.UnixMilli(n)
	o := &Operation{ID: id, Queue: q, State: "completed", CompletedAt: &t, Attempts: 1}
	if a, err := strconv.Atoi(att); err == nil {
		o.Attempts = a
	}
	return o
}

// load reads operations with their attempts and last error; an entry that
// is missing or corrupt gives an Operation with State "corrupt" and the
// reason in LastError.
func (c *Client) load(ctx context.Context, q string, ids []string) ([]*Operation, error) {
	if len(ids) == 0 {
		return []*Operation{}, nil
	}
	p := c.rdb.Pipeline()
	vs := p.HMGet(ctx, c.keys.QueueOps(q), ids...)
	errs := p.HMGet(ctx, c.keys.QueueErrors(q), ids...)
	if _, err := p.Exec(ctx); err != nil {
		return nil, err
	}
	out := make([]*Operation, len(ids))
	for i, id := range ids {
		last, _ := errs.Val()[i].(string)
		v, ok := vs.Val()[i].(string)
		if !ok {
			out[i] = &Operation{ID: id, Queue: q, State: "corrupt", LastError: "the operation's entry is missing"}
			continue
		}
		e, err := parseEntry(q, id, v)
		if err != nil {
			out[i] = &Operation{ID: id, Queue: q, State: "corrupt", LastError: err.(*CorruptError).Why}
			continue
		}
		e.op.LastError = last
		out[i] = e.op
	}
	return out, nil
}
