package queue

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/haderos/haderctl/internal/engine/store"
	"github.com/redis/go-redis/v9"
)

// Kind is what became of one replay.
type Kind string

// Outcome kinds a Handler returns.
const (
	// Done: replayed; the operation is completed.
	Done Kind = "done"
	// Retry: failed; retried after a backoff, or dead after max attempts.
	Retry Kind = "retry"
	// Dead: failed for good (e.g. HTTP 400): dead at once.
	Dead Kind = "dead"
	// Defer: not attempted (the service's breaker is open); back after
	// Delay without spending an attempt.
	Defer Kind = "defer"
	// Release: not attempted (the drainer is stopping); ready again now.
	Release Kind = "release"
)

// Outcome is a Handler's verdict on one operation.
type Outcome struct {
	Kind  Kind
	Err   string
	Delay time.Duration
}

// Handler replays one operation.
type Handler func(ctx context.Context, op *Operation) Outcome

// Report is one operation's outcome as settled in Redis (one NDJSON line).
type Report struct {
	Time      time.Time `json:"time"`
	Queue     string    `json:"queue"`
	ID        string    `json:"id"`
	Operation string    `json:"operation,omitempty"`
	Service   string    `json:"service,omitempty"`
	// Outcome is completed, retry, dead, deferred, released, or lost (the
	// lease expired first; another drainer owns the operation now).
	Outcome       string     `json:"outcome"`
	Attempt       int        `json:"attempt"`
	Error         string     `json:"error,omitempty"`
	NextAttemptAt *time.Time `json:"next_attempt_at,omitempty"`
	DurationMs    float64    `json:"duration_ms"`
}

// DrainOptions tune a drain.
type DrainOptions struct {
	Queues []string
	// Service drains only this service's operations.
	Service     string
	Concurrency int
	// Max stops after claiming this many (0: no limit).
	Max int
	// Follow keeps waiting for new operations until ctx is done.
	Follow bool
	// Lease is how long a claimed operation stays with this drainer
	// without renewal; leases are renewed every Lease/3.
	Lease time.Duration
	// Grace bounds how long in-flight replays may finish once ctx is done.
	Grace   time.Duration
	Handler Handler
	// OnReport is called for every settled outcome (and every operation a
	// claim moved to dead), never concurrently.
	OnReport func(Report)
	Logger   *slog.Logger
	// Poll is the idle wait between claims with --follow.
	Poll time.Duration
	// GiveUp is how long Redis may stay unreachable before the drain
	// stops with an error (its leases then expire and nothing is lost);
	// 0 is DefaultGiveUp.
	GiveUp time.Duration
	// Jitter draws a retry's backoff fraction in [0, 1): the wait is that
	// fraction of min(cap, base·factor^(attempt-1)) ("full jitter"). nil:
	// math/rand/v2's Float64. Tests inject a fixed one.
	Jitter func() float64

	// beforeRenew, when set (tests), runs after the renewer's snapshot of
	// what is held and before its renewal call for q.
	beforeRenew func(q string)
}

// Summary counts a drain's outcomes.
type Summary struct {
	Claimed   int `json:"claimed"`
	Completed int `json:"completed"`
	Retried   int `json:"retried"`
	Dead      int `json:"dead"`
	Deferred  int `json:"deferred"`
	Released  int `json:"released"`
	Lost      int `json:"lost"`
	// Paused lists queues skipped because they are paused.
	Paused []string `json:"paused,omitempty"`
}

type item struct {
	queue, id, token string
	attempts         int
	// created is the operation's first-failed Unix ms.
	created int64
	op      *Operation
	corrupt string
	// settling is set (under drain.mu) once its outcome is on its way to
	// Redis: a lease it gave up meanwhile is no loss.
	settling bool
}

type result struct {
	it  *item
	out Outcome
	dur time.Duration
	// ran is set when the handler ran (dur is its time): what the
	// prefetch window is measured on.
	ran bool
}

type drain struct {
	c      *Client
	o      DrainOptions
	log    *slog.Logger
	mu     sync.Mutex
	held   map[string]map[string]*item // queue → id → item
	freed  chan struct{}
	sum    Summary
	sumMu  sync.Mutex
	settle chan result
	// owner names this drain in its lease tokens.
	owner string
	// trimming is set while a periodic trim of the dead set runs.
	trimming atomic.Bool
	// orphans is set when a claim may have run in Redis without its reply
	// reaching us; the next claim round adopts what was leased to us.
	orphans bool
	// handlerNs is the moving average of the handler's time (ns; 0 until
	// one replay has been measured), kept by the settler, read by the
	// claim loop to size the prefetch.
	handlerNs atomic.Int64
}

// DefaultGiveUp is how long a drain keeps retrying an unreachable Redis.
const DefaultGiveUp = time.Minute

// Drain claims and replays operations until the queues are empty (or,
// with Follow, until ctx is done), then returns what it did. Cancelling
// ctx stops claiming at once; replays in flight get Grace to finish, the
// rest are released at once.
func (c *Client) Drain(ctx context.Context, o DrainOptions) (Summary, error) {
	if o.Concurrency < 1 {
		o.Concurrency = 1
	}
	if o.Lease <= 0 {
		o.Lease = 30 * time.Second
	}
	if o.Grace <= 0 {
		o.Grace = 10 * time.Second
	}
	if o.Poll <= 0 {
		o.Poll = 200 * time.Millisecond
	}
	if o.GiveUp <= 0 {
		o.GiveUp = DefaultGiveUp
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Jitter == nil {
		o.Jitter = rand.Float64
	}
	d := &drain{c: c, o: o, log: o.Logger, held: map[string]map[string]*item{},
		freed: make(chan struct{}, 1), settle: make(chan result, 4*o.Concurrency), owner: newOwner()}

	// Replays run under workCtx, which outlives ctx by the grace period.
	workCtx, cancelWork := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelWork()
	stopGrace := context.AfterFunc(ctx, func() {
		t := time.NewTimer(o.Grace)
		defer t.Stop()
		select {
		case <-t.C:
			cancelWork()
		case <-workCtx.Done():
		}
	})
	defer stopGrace()

	work := make(chan *item, d.ceiling())
	var workers sync.WaitGroup
	for range o.Concurrency {
		workers.Add(1)
		go func() {
			defer workers.Done()
			for it := range work {
				d.settle <- d.run(ctx, workCtx, it)
			}
		}()
	}
	settled := make(chan error, 1)
	go func() { settled <- d.settler() }()
	renewDone := make(chan struct{})
	go d.renewer(renewDone)

	claimErr := d.claimLoop(ctx, work)
	close(work)
	workers.Wait()
	close(d.settle)
	settleErr := <-settled
	close(renewDone)
	if claimErr == nil {
		claimErr = settleErr
	}
	if d.sum.Dead > 0 {
		d.trimDead()
	}
	return d.sum, claimErr
}

// trimDead applies the dead set's caps after operations died; what it
// removes is counted (dead_trimmed) and logged, never silent.
func (d *drain) trimDead() {
	for _, q := range d.o.Queues {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		n, err := d.c.TrimDead(ctx, q)
		cancel()
		if err != nil {
			d.log.Warn("could not apply the dead set's caps", "queue", q, "err", err)
		} else if n > 0 {
			d.log.Warn("dead set over its caps: oldest dead operations deleted", "queue", q, "deleted", n,
				"dead_max", d.c.set.DeadMax, "dead_max_age", d.c.set.DeadMaxAge)
		}
	}
}

// run replays one item, or releases it when the drain is stopping.
func (d *drain) run(ctx, workCtx context.Context, it *item) result {
	if it.corrupt != "" {
		return result{it: it, out: Outcome{Kind: Dead, Err: "corrupt operation: " + it.corrupt}}
	}
	if ctx.Err() != nil {
		return result{it: it, out: Outcome{Kind: Release}}
	}
	start := time.Now()
	out := d.o.Handler(workCtx, it.op)
	if workCtx.Err() != nil && out.Kind != Done {
		// cut short by the end of the grace period: not an attempt
		out = Outcome{Kind: Release}
	}
	return result{it: it, out: out, dur: time.Since(start), ran: true}
}

// PrefetchWindow is how far ahead a drainer claims: beyond the operations
// its workers are replaying it holds no more than they start within this
// window at the measured handler time. Several drainers on one backlog so
// split it evenly (each holds about what it is about to do, not a
// thousand operations another drainer could have started), while a fast
// handler still gets large batches.
const PrefetchWindow = 50 * time.Millisecond

// ceiling is the most operations a drain holds at once, however fast its
// handler: what one claim round trip can usefully bring.
func (d *drain) ceiling() int { return min(max(4*d.o.Concurrency, 1024), 2048) }

// heldLimit is how many operations a drain with concurrency workers may
// hold (replaying, waiting for a worker, or waiting to be settled): the
// concurrency plus a prefetch of what the workers start within
// PrefetchWindow when a replay takes handler, at least 1 and at most
// ceiling in all. Before any replay is measured (handler 0) the prefetch
// is the concurrency. It grows at most twofold from prev (0: none yet) per
// pass of the claim loop, so one fast first replay does not fill a
// drainer at once; it shrinks at once when replays get slower.
func heldLimit(concurrency int, handler time.Duration, prev, ceiling int) int {
	prefetch := concurrency
	if handler > 0 {
		prefetch = int(min(int64(ceiling), int64(concurrency)*int64(PrefetchWindow)/int64(handler)))
	}
	limit := min(concurrency+max(prefetch, 1), ceiling)
	if prev > 0 {
		limit = min(limit, 2*prev)
	}
	return max(limit, 1)
}

// measure adds a replay's time to the moving average of the handler's
// (weight 1/8; the first sets it).
func (d *drain) measure(r result) {
	if !r.ran {
		return
	}
	dur := max(r.dur.Nanoseconds(), 1)
	avg := d.handlerNs.Load()
	if avg == 0 {
		avg = dur
	} else {
		avg += (dur - avg) / 8
	}
	d.handlerNs.Store(max(avg, 1))
}

func (d *drain) inflight() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	n := 0
	for _, m := range d.held {
		n += len(m)
	}
	return n
}

func (d *drain) claimLoop(ctx context.Context, work chan<- *item) error {
	capacity := 0
	var downSince time.Time
	backoff := 50 * time.Millisecond
	lastTrim, deadAtTrim := time.Now(), 0
	for ctx.Err() == nil {
		if d.o.Max > 0 && d.sum.Claimed >= d.o.Max {
			return nil
		}
		// a long drain (--follow) applies the dead set's caps as it goes
		if time.Since(lastTrim) > time.Minute {
			d.sumMu.Lock()
			dead := d.sum.Dead
			d.sumMu.Unlock()
			if dead > deadAtTrim && d.trimming.CompareAndSwap(false, true) {
				go func() { // off the claim loop: a slow Redis must not hold claims or a stop
					defer d.trimming.Store(false)
					d.trimDead()
				}()
			}
			lastTrim, deadAtTrim = time.Now(), dead
		}
		capacity = heldLimit(d.o.Concurrency, time.Duration(d.handlerNs.Load()), capacity, d.ceiling())
		inflight := d.inflight()
		free := capacity - inflight
		// claim in batches: a round trip for one operation at a time would
		// cap the rate at one per round trip
		if free <= 0 || (inflight > 0 && free < capacity/4) {
			d.wait(ctx, d.o.Poll)
			continue
		}
		n := min(free, 512)
		if d.o.Max > 0 {
			n = min(n, d.o.Max-d.sum.Claimed)
		}
		got := 0
		var err error
		paused := []string{}
		if d.orphans {
			var items []*item
			if items, err = d.adopt(ctx); err == nil {
				d.orphans = false
				for _, it := range items {
					work <- it
				}
				got += len(items)
			}
		}
		for _, q := range d.o.Queues {
			if err != nil || ctx.Err() != nil {
				break
			}
			var items []*item
			var isPaused bool
			// the claim runs to its end even if ctx is cancelled meanwhile:
			// its reply must not be lost (what it leased would wait out
			// the lease); a stopping drain releases what it brings
			cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			items, isPaused, err = d.claim(cctx, q, n-got)
			cancel()
			if err != nil {
				break
			}
			if isPaused {
				paused = append(paused, q)
			}
			for _, it := range items {
				work <- it
			}
			got += len(items)
			if got >= n {
				break
			}
		}
		d.sumMu.Lock()
		d.sum.Claimed += got
		d.sum.Paused = paused
		d.sumMu.Unlock()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if !store.IsUnavailable(err) && !isLoading(err) {
				return err
			}
			d.orphans = true
			if downSince.IsZero() {
				downSince = time.Now()
				d.log.Warn("Redis unreachable; retrying claims", "err", err)
			} else if time.Since(downSince) > d.o.GiveUp {
				return err
			}
			d.wait(ctx, backoff)
			backoff = min(2*backoff, time.Second)
			continue
		}
		if !downSince.IsZero() {
			d.log.Info("Redis reachable again; claims resumed")
		}
		downSince, backoff = time.Time{}, 50*time.Millisecond
		if got == 0 {
			if !d.o.Follow && d.inflight() == 0 {
				return nil
			}
			d.wait(ctx, d.o.Poll)
		}
	}
	return nil
}

// wait returns when a settle frees capacity, after d, or when ctx is done.
func (d *drain) wait(ctx context.Context, dur time.Duration) {
	t := time.NewTimer(dur)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-d.freed:
	case <-t.C:
	}
}

// ServiceScan is how many ready operations a claim with a service filter
// looks through for that service's.
const ServiceScan = 2000

// entryOverhead bounds what an entry holds besides its data (the control
// and meta lines: operation name, error, request with headers), for the
// claim's byte budget.
const entryOverhead = 64 << 10

// claim leases up to n operations of q.
func (d *drain) claim(ctx context.Context, q string, n int) ([]*item, bool, error) {
	c := d.c
	res, err := claimScript.Run(ctx, c.rdb, c.queueKeys(q), n, d.o.Lease.Milliseconds(), d.o.Service, ServiceScan, d.owner, c.set.MaxStalls,
		c.set.MaxDataBytes+entryOverhead).Slice()
	if err != nil {
		return nil, false, err
	}
	if back, _ := res[4].(int64); back > 0 {
		d.log.Warn("expired leases reaped: back to ready", "queue", q, "count", back)
	}
	d.buried(q, res[6])
	if res[0] == "paused" {
		return nil, true, nil
	}
	token, _ := res[3].(string)
	claimed, _ := res[7].([]any)
	items := make([]*item, 0, len(claimed)/2)
	for i := 0; i+1 < len(claimed); i += 2 {
		id, _ := claimed[i].(string)
		v, _ := claimed[i+1].(string)
		items = append(items, &item{queue: q, id: id, token: token})
		d.fill(items[len(items)-1], v)
	}
	d.hold(q, items)
	return items, false, nil
}

// buried reports the operations a claim moved to dead (an entry that
// cannot be read, a lease that expired on the last attempt): they went
// dead during this drain.
func (d *drain) buried(q string, v any) {
	b, _ := v.([]any)
	if len(b) == 0 {
		return
	}
	now := time.Now()
	d.sumMu.Lock()
	defer d.sumMu.Unlock()
	for i := 0; i+2 < len(b); i += 3 {
		id, _ := b[i].(string)
		why, _ := b[i+1].(string)
		att, _ := b[i+2].(int64)
		d.log.Warn("operation moved to dead by the claim", "queue", q, "id", id, "why", why)
		d.sum.Dead++
		if d.o.OnReport != nil {
			d.o.OnReport(Report{Time: now, Queue: q, ID: id, Outcome: "dead", Attempt: int(att), Error: why})
		}
	}
}

// fill reads an item's entry; one that cannot be read is settled dead.
func (d *drain) fill(it *item, v string) {
	e, err := parseEntry(it.queue, it.id, v)
	if err != nil {
		it.corrupt = err.(*CorruptError).Why
		d.log.Warn("corrupt operation moved to dead", "queue", it.queue, "id", it.id, "why", it.corrupt)
		return
	}
	e.op.State = "leased"
	it.op, it.attempts, it.created = e.op, e.attempts, e.score%band
}

// adopt finds operations leased to this drain that it does not hold: a
// claim that ran in Redis while its reply was lost to a dropped
// connection. Without this they would wait out their lease.
func (d *drain) adopt(ctx context.Context) ([]*item, error) {
	var all []*item
	for _, q := range d.o.Queues {
		// what we hold, read before Redis: an operation settled meanwhile
		// has left the lease hash by the time it leaves held, so it
		// cannot be mistaken for an orphan
		d.mu.Lock()
		held := maps.Clone(d.held[q])
		d.mu.Unlock()
		leases, err := d.c.rdb.HGetAll(ctx, d.c.keys.QueueLeases(q)).Result()
		if err != nil {
			return nil, err
		}
		var items []*item
		for id, tok := range leases {
			if _, mine := held[id]; !mine && strings.HasSuffix(tok, "@"+d.owner) {
				items = append(items, &item{queue: q, id: id, token: tok})
			}
		}
		if len(items) == 0 {
			continue
		}
		vs, err := d.c.rdb.HMGet(ctx, d.c.keys.QueueOps(q), ids(items)...).Result()
		if err != nil {
			return nil, err
		}
		for i, v := range vs {
			s, ok := v.(string)
			if !ok {
				items[i].corrupt = "the operation's entry is missing"
				continue
			}
			d.fill(items[i], s)
		}
		d.log.Info("adopted operations whose claim reply was lost", "queue", q, "count", len(items))
		d.hold(q, items)
		all = append(all, items...)
	}
	return all, nil // counted as claimed by the claim loop
}

func ids(items []*item) []string {
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = it.id
	}
	return out
}

// hold records claimed items as held (renewed, released on stop).
func (d *drain) hold(q string, items []*item) {
	d.mu.Lock()
	defer d.mu.Unlock()
	m := d.held[q]
	if m == nil {
		m = map[string]*item{}
		d.held[q] = m
	}
	for _, it := range items {
		m[it.id] = it
	}
}

func newOwner() string { return fmt.Sprintf("%08x", rand.Uint32()) }

// settler batches outcomes into one settle script call per queue, sends
// the reports, and frees capacity. A failed call is retried (Redis may be
// restarting) until it works or GiveUp passes; what is never settled comes
// back when its lease expires.
func (d *drain) settler() error {
	var firstErr error
	pending := []result{}
	flush := func() {
		if len(pending) == 0 {
			return
		}
		byQueue := map[string][]result{}
		var order []string
		for _, r := range pending {
			if _, ok := byQueue[r.it.queue]; !ok {
				order = append(order, r.it.queue)
			}
			byQueue[r.it.queue] = append(byQueue[r.it.queue], r)
		}
		pending = pending[:0]
		for _, q := range order {
			if err := d.settleBatch(q, byQueue[q]); err != nil && firstErr == nil {
				firstErr = err
			}
		}
		select {
		case d.freed <- struct{}{}:
		default:
		}
	}
	for {
		r, ok := <-d.settle
		if !ok {
			flush()
			return firstErr
		}
		pending = append(pending, r)
		d.measure(r)
		// gather what else comes within a millisecond, then flush: batches
		// grow with load, and one settle call covers many outcomes
		linger := time.NewTimer(time.Millisecond)
		for more := true; more && len(pending) < 512; {
			select {
			case r, ok := <-d.settle:
				if !ok {
					linger.Stop()
					flush()
					return firstErr
				}
				pending = append(pending, r)
				d.measure(r)
			case <-linger.C:
				more = false
			}
		}
		linger.Stop()
		flush()
	}
}

func (d *drain) settleBatch(q string, rs []result) error {
	c := d.c
	keys := c.queueKeys(q)
	// done outcomes first, three arguments each: the common case costs
	// Redis the least to read
	sorted := make([]result, 0, len(rs))
	for _, r := range rs {
		if r.out.Kind == Done {
			sorted = append(sorted, r)
		}
	}
	ndone := len(sorted)
	for _, r := range rs {
		if r.out.Kind != Done {
			sorted = append(sorted, r)
		}
	}
	rs = sorted
	args := make([]any, 0, 5+3*ndone+5*(len(rs)-ndone))
	args = append(args, c.set.Retention.Milliseconds(), c.set.BackoffBase.Milliseconds(), c.set.BackoffFactor, c.set.BackoffCap.Milliseconds(), ndone)
	for _, r := range rs[:ndone] {
		var first any = r.it.created
		if r.it.attempts > 0 {
			first = strconv.FormatInt(r.it.created, 10) + ":" + strconv.Itoa(r.it.attempts)
		}
		args = append(args, r.it.id, r.it.token, first)
	}
	for _, r := range rs[ndone:] {
		x := 0.0
		switch r.out.Kind {
		case Retry:
			x = min(max(d.o.Jitter(), 0), 1)
		case Defer:
			delay := r.out.Delay
			if delay < 0 { // forced open: no probe time to wait for
				delay = time.Minute
			}
			x = float64(max(delay, time.Second).Milliseconds())
		}
		args = append(args, r.it.id, r.it.token, string(r.out.Kind), x, r.out.Err)
	}
	d.mu.Lock()
	for _, r := range rs {
		r.it.settling = true
	}
	d.mu.Unlock()
	var reply []string
	var err error
	deadline := time.Now().Add(d.o.GiveUp)
	retried := false
	for wait := 50 * time.Millisecond; ; wait = min(2*wait, time.Second) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		reply, err = settleScript.Run(ctx, c.rdb, keys, args...).StringSlice()
		cancel()
		if err == nil || !store.IsUnavailable(err) && !isLoading(err) || time.Now().After(deadline) {
			break
		}
		retried = true
		d.log.Warn("settling outcomes failed; retrying", "queue", q, "err", err)
		time.Sleep(wait) // back-off between retries of an unreachable Redis
	}
	if err == nil && retried {
		d.recheckStale(q, rs[:ndone], reply)
	}
	d.mu.Lock()
	for _, r := range rs {
		delete(d.held[q], r.it.id)
	}
	d.mu.Unlock()
	if err != nil {
		return err
	}
	now := time.Now()
	d.sumMu.Lock()
	defer d.sumMu.Unlock()
	for i, r := range rs {
		rep := Report{Time: now, Queue: q, ID: r.it.id, Attempt: r.it.attempts + 1, Error: r.out.Err,
			DurationMs: float64(r.dur.Microseconds()) / 1000}
		if r.it.op != nil {
			rep.Operation, rep.Service = r.it.op.Operation, r.it.op.Service
		}
		kind, due, _ := strings.Cut(reply[i], ":")
		if ms, err := strconv.ParseInt(due, 10, 64); err == nil {
			t := time.UnixMilli(ms)
			rep.NextAttemptAt = &t
		}
		switch kind {
		case "done":
			rep.Outcome = "completed"
			d.sum.Completed++
		case "retry":
			rep.Outcome = "retry"
			d.sum.Retried++
		case "dead":
			rep.Outcome = "dead"
			d.sum.Dead++
		case "defer":
			rep.Outcome, rep.Attempt = "deferred", r.it.attempts
			d.sum.Deferred++
		case "release":
			rep.Outcome, rep.Attempt, rep.Error = "released", r.it.attempts, ""
			d.sum.Released++
		default:
			rep.Outcome = "lost"
			rep.Error = "the lease expired before the outcome was recorded; another drainer owns the operation now"
			d.sum.Lost++
		}
		if d.o.OnReport != nil {
			d.o.OnReport(rep)
		}
	}
	return nil
}

// recheckStale looks again at done outcomes a retried settle called stale:
// the failed call may have run in Redis with its reply lost, and then the
// operation is completed (its entry is a done marker), not lost.
func (d *drain) recheckStale(q string, done []result, reply []string) {
	var stale []string
	for i, r := range done {
		if reply[i] == "stale" {
			stale = append(stale, r.it.id)
		}
	}
	if len(stale) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	vs, err := d.c.rdb.HMGet(ctx, d.c.keys.QueueOps(q), stale...).Result()
	if err != nil {
		return // reported lost: the conservative answer
	}
	j := 0
	for i := range done {
		if reply[i] != "stale" {
			continue
		}
		if v, ok := vs[j].(string); ok && strings.HasPrefix(v, "done ") {
			reply[i] = "done"
		}
		j++
	}
}

// renewer extends the leases of everything held, every Lease/3. It warns
// only about leases really lost: an operation settled while the renewal
// ran gave its lease up, it did not lose it.
func (d *drain) renewer(done <-chan struct{}) {
	t := time.NewTicker(d.o.Lease / 3)
	defer t.Stop()
	for {
		select {
		case <-done:
			return
		case <-t.C:
		}
		d.mu.Lock()
		snap := map[string][]any{}
		for q, m := range d.held {
			for id, it := range m {
				snap[q] = append(snap[q], id, it.token)
			}
		}
		d.mu.Unlock()
		for q, args := range snap {
			if d.o.beforeRenew != nil {
				d.o.beforeRenew(q)
			}
			ctx, cancel := context.WithTimeout(context.Background(), d.o.Lease/3)
			lost, err := renewScript.Run(ctx, d.c.rdb, []string{d.c.keys.QueueLeased(q), d.c.keys.QueueLeases(q)},
				append([]any{d.o.Lease.Milliseconds()}, args...)...).StringSlice()
			cancel()
			if err != nil {
				d.log.Warn("lease renewal failed", "queue", q, "err", err)
			} else if n := d.reallyLost(q, args, lost); n > 0 {
				d.log.Warn("leases lost", "queue", q, "ids", n)
			}
		}
	}
}

// reallyLost counts the ids of a renewal's lost reply that are still held
// with the token renewed and not being settled: the others were settled
// (or began settling) after the snapshot, and gave their leases up.
func (d *drain) reallyLost(q string, renewed []any, lost []string) int {
	if len(lost) == 0 {
		return 0
	}
	tokens := make(map[string]any, len(renewed)/2)
	for i := 0; i+1 < len(renewed); i += 2 {
		tokens[renewed[i].(string)] = renewed[i+1]
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	n := 0
	for _, id := range lost {
		if it, ok := d.held[q][id]; ok && !it.settling && tokens[id] == any(it.token) {
			n++
		}
	}
	return n
}

func isLoading(err error) bool {
	return err != nil && (strings.HasPrefix(err.Error(), "LOADING") || err == redis.ErrClosed)
}
