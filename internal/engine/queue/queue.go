package queue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/haderos/haderctl/internal/engine/store"
	"github.com/redis/go-redis/v9"
)

// Settings are the queue's tunables (docs/configuration.md, queue:).
type Settings struct {
	// MaxAttempts before an operation is dead (default 10).
	MaxAttempts int `yaml:"max_attempts,omitempty"`
	// Backoff: a retry waits a uniformly random time in
	// [0, min(Cap, Base·Factor^(attempt-1))) ("full jitter").
	BackoffBase   time.Duration `yaml:"backoff_base,omitempty"`
	BackoffFactor float64       `yaml:"backoff_factor,omitempty"`
	BackoffCap    time.Duration `yaml:"backoff_cap,omitempty"`
	// MaxDataBytes refuses larger data (default 1 MiB).
	MaxDataBytes int `yaml:"max_data_bytes,omitempty"`
	// Retention keeps completed operations' ids (the deduplication
	// window; `queue inspect` shows when they completed), default 24 h.
	Retention time.Duration `yaml:"retention,omitempty"`
	// DeadMax and DeadMaxAge cap the dead set (default 10,000 and 90 days);
	// what is trimmed is counted in dead_trimmed and logged, never silent.
	DeadMax    int           `yaml:"dead_max,omitempty"`
	DeadMaxAge time.Duration `yaml:"dead_max_age,omitempty"`
	// MaxStalls is how many times an operation's lease may expire (its
	// drainer stopped reporting) before it is taken to kill its drainers
	// and goes dead (default 3). A stall is not an attempt.
	MaxStalls int `yaml:"max_stalls,omitempty"`
}

// Defaults fills unset settings.
func (s Settings) Defaults() Settings {
	if s.MaxAttempts <= 0 {
		s.MaxAttempts = 10
	}
	if s.BackoffBase <= 0 {
		s.BackoffBase = time.Second
	}
	if s.BackoffFactor < 1 {
		s.BackoffFactor = 2
	}
	if s.BackoffCap <= 0 {
		s.BackoffCap = time.Hour
	}
	if s.MaxDataBytes <= 0 {
		s.MaxDataBytes = 1 << 20
	}
	if s.Retention <= 0 {
		s.Retention = 24 * time.Hour
	}
	if s.DeadMax <= 0 {
		s.DeadMax = 10000
	}
	if s.MaxStalls <= 0 {
		s.MaxStalls = 3
	}
	if s.DeadMaxAge <= 0 {
		s.DeadMaxAge = 90 * 24 * time.Hour
	}
	return s
}

// Client reads and changes the queues of one namespace.
type Client struct {
	rdb  redis.UniversalClient
	keys store.Keys
	set  Settings
	// registered holds the queues this process has put in the registry.
	registered sync.Map
}

// New makes a client.
func New(rdb redis.UniversalClient, keys store.Keys, s Settings) *Client {
	return &Client{rdb: rdb, keys: keys, set: s.Defaults()}
}

// Settings are the client's effective settings.
func (c *Client) Settings() Settings { return c.set }

// queueKeys are the nine keys of the scripts built on prelude (scripts.go).
func (c *Client) queueKeys(q string) []string {
	k := c.keys
	return []string{k.Queue(q), k.QueueReady(q), k.QueueDelayed(q), k.QueueLeased(q),
		k.QueueDead(q), k.QueueOps(q), k.QueueLeases(q), k.QueueErrors(q), k.QueueDone(q)}
}

// enqueueKeys are the keys of the enqueue scripts.
func (c *Client) enqueueKeys(q string) []string {
	k := c.keys
	return []string{k.Queue(q), k.QueueReady(q), k.QueueOps(q), k.QueueDelayed(q), k.QueueLeased(q), k.QueueDead(q)}
}

// entry is the operation's entry in the ops hash, first queued at nowMs:
// "<ready score> 0 <max attempts> <service>\n<meta JSON>\n<data>"; and its
// ready score.
func (o *Operation) entry(nowMs int64) (score int64, e string) {
	score = int64(o.Priority.Rank())*band + nowMs
	b := make([]byte, 0, 64+len(o.Service)+len(o.Data)+len(o.Operation))
	b = strconv.AppendInt(b, score, 10)
	b = append(b, " 0 "...)
	b = strconv.AppendInt(b, int64(o.MaxAttempts), 10)
	b = append(b, ' ')
	b = append(b, o.Service...)
	b = append(b, '\n')
	b = appendMeta(b, meta{Operation: o.Operation, Error: o.Error, Request: o.Request})
	b = append(b, '\n')
	b = append(b, o.Data...)
	return score, string(b)
}

// appendMeta appends the meta line's JSON: written by hand in the common
// case (no request, plain text), by encoding/json otherwise. plainMeta
// reads back exactly what this writes by hand.
func appendMeta(b []byte, m meta) []byte {
	if m.Request == nil && plainJSON(m.Operation) && plainJSON(m.Error) {
		b = append(b, `{"operation":"`...)
		b = append(b, m.Operation...)
		if m.Error != "" {
			b = append(b, `","error":"`...)
			b = append(b, m.Error...)
		}
		return append(b, `"}`...)
	}
	js, _ := json.Marshal(m)
	return append(b, js...)
}

// plainJSON reports whether s is the same inside JSON quotes as
// encoding/json would write it: printable ASCII without escapes.
func plainJSON(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			return false
		}
	}
	return true
}

// PushResult says what happened to one pushed operation.
type PushResult struct {
	ID    string `json:"id"`
	Queue string `json:"queue"`
	// Status is "enqueued" or "duplicate".
	Status string `json:"status"`
	// State is the existing operation's state for a duplicate.
	State string `json:"state,omitempty"`
}

// Check validates an operation before it is pushed, filling defaults
// (id, priority, max attempts, method).
func (s Settings) Check(o *Operation) error {
	if err := store.ValidName("queue", o.Queue); err != nil {
		return err
	}
	if o.Operation == "" {
		return &InputError{"an operation name is required (--operation)"}
	}
	if err := store.ValidName("service", o.Service); err != nil {
		return err
	}
	if o.ID == "" {
		o.ID = newID()
	}
	if err := ValidID(o.ID); err != nil {
		return err
	}
	if len(o.Data) == 0 {
		o.Data = json.RawMessage("null")
	}
	n := len(o.Data)
	if raw := o.Request.bodyLen(); raw > 0 {
		n = raw // the data is null then (below), and not counted
	}
	if n > s.MaxDataBytes {
		return &InputError{fmt.Sprintf("operation %s: data is %d bytes, over the %d-byte limit (queue.max_data_bytes)", o.ID, n, s.MaxDataBytes)}
	}
	if !json.Valid(o.Data) {
		return &InputError{fmt.Sprintf("operation %s: data is not valid JSON", o.ID)}
	}
	p, err := ParsePriority(string(o.Priority))
	if err != nil {
		return err
	}
	o.Priority = p
	if o.MaxAttempts == 0 {
		o.MaxAttempts = s.MaxAttempts
	}
	if o.MaxAttempts < 1 {
		return &InputError{fmt.Sprintf("operation %s: max attempts must be at least 1", o.ID)}
	}
	if o.Request != nil {
		o.Request.Method = strings.ToUpper(o.Request.Method)
		if o.Request.Method == "" {
			o.Request.Method = "POST"
		}
		for _, ch := range o.Request.Method {
			if ch < 'A' || ch > 'Z' {
				return &InputError{fmt.Sprintf("operation %s: invalid HTTP method %q", o.ID, o.Request.Method)}
			}
		}
		if o.Request.URL == "" {
			return &InputError{fmt.Sprintf("operation %s: a request needs a path or URL (--path)", o.ID)}
		}
		if len(o.Request.Body) > 0 && string(o.Data) != "null" {
			return &InputError{fmt.Sprintf("operation %s: a raw request body and data cannot both be given", o.ID)}
		}
	}
	return nil
}

// bodyLen is the length of a raw body, 0 for none (or no request).
func (r *Request) bodyLen() int {
	if r == nil {
		return 0
	}
	return len(r.Body)
}

// Check is the client's Settings().Check.
func (c *Client) Check(o *Operation) error { return c.set.Check(o) }

// Push enqueues operations (already Checked) in pipelined batches. An id
// that exists (pending, dead, or completed within the retention) is not
// enqueued again: its result says duplicate.
func (c *Client) Push(ctx context.Context, ops []*Operation) ([]PushResult, error) {
	if len(ops) == 1 {
		if _, seen := c.registered.Load(ops[0].Queue); seen {
			return c.pushOne(ctx, ops[0])
		}
	}
	const batch = 64
	out := make([]PushResult, 0, len(ops))
	queues := map[string]bool{}
	for start := 0; start < len(ops); start += batch * 16 {
		end := min(start+batch*16, len(ops))
		var cmds []*redis.Cmd
		var groups [][]*Operation
		run := func(p redis.Pipeliner) error {
			cmds, groups = nil, nil
			// group consecutive operations of the same queue into one script call
			for i := start; i < end; {
				j := i
				for j < end && j-i < batch && ops[j].Queue == ops[i].Queue {
					j++
				}
				g := ops[i:j]
				now := time.Now().UnixMilli()
				args := make([]any, 0, 2+3*len(g))
				args = append(args, now, c.set.Retention.Milliseconds())
				for _, o := range g {
					score, e := o.entry(now)
					args = append(args, o.ID, score, e)
					queues[o.Queue] = true
				}
				cmds = append(cmds, enqueueScript.EvalSha(ctx, p, c.enqueueKeys(g[0].Queue), args...))
				groups = append(groups, g)
				i = j
			}
			// the registry and the schema claim once per queue per process
			claim := false
			for q := range queues {
				if _, seen := c.registered.Load(q); !seen {
					p.SAdd(ctx, c.keys.Queues(), q)
					claim = true
				}
			}
			if claim {
				p.SetNX(ctx, c.keys.Schema(), store.SchemaVersion, 0)
			}
			return nil
		}
		if err := c.pipelineScripts(ctx, run, enqueueScript); err != nil {
			return out, err
		}
		for q := range queues {
			c.registered.Store(q, true)
		}
		for gi, cmd := range cmds {
			res, err := cmd.StringSlice()
			if err != nil {
				return out, err
			}
			for i, o := range groups[gi] {
				r := PushResult{ID: o.ID, Queue: o.Queue, Status: "enqueued"}
				if st, dup := strings.CutPrefix(res[i], "dup:"); dup {
					r.Status, r.State = "duplicate", st
				}
				out = append(out, r)
			}
		}
	}
	return out, nil
}

// pushOne is the single-operation path once the queue is registered: one
// EVALSHA, no pipeline.
func (c *Client) pushOne(ctx context.Context, o *Operation) ([]PushResult, error) {
	now := time.Now().UnixMilli()
	score, e := o.entry(now)
	keys := c.enqueueKeys(o.Queue)
	n, err := enqueueOneScript.Run(ctx, c.rdb, keys[1:3], o.ID, score, e).Int()
	res := "new"
	if err == nil && n == 0 {
		// an id seen before: the full script tells its state, or takes
		// the place of a completion older than the retention
		var all []string
		all, err = enqueueScript.Run(ctx, c.rdb, keys, now, c.set.Retention.Milliseconds(), o.ID, score, e).StringSlice()
		if err == nil {
			res = all[0]
		}
	}
	if err != nil {
		return nil, err
	}
	r := PushResult{ID: o.ID, Queue: o.Queue, Status: "enqueued"}
	if st, dup := strings.CutPrefix(res, "dup:"); dup {
		r.Status, r.State = "duplicate", st
	}
	return []PushResult{r}, nil
}

// pipelineScripts runs a pipeline of EVALSHA calls, loading the scripts
// and running it once more if Redis had lost them (NOSCRIPT, e.g. after a
// restart). The pipeline's work must be idempotent up to NOSCRIPT, which
// it is: a NOSCRIPT call did nothing.
func (c *Client) pipelineScripts(ctx context.Context, fill func(redis.Pipeliner) error, scripts ...*redis.Script) error {
	for try := 0; ; try++ {
		p := c.rdb.Pipeline()
		if err := fill(p); err != nil {
			return err
		}
		cmds, err := p.Exec(ctx)
		if err == nil {
			return nil
		}
		noscript := false
		for _, cmd := range cmds {
			if e := cmd.Err(); e != nil && strings.HasPrefix(e.Error(), "NOSCRIPT") {
				noscript = true
			}
		}
		if !noscript || try > 0 {
			return err
		}
		for _, s := range scripts {
			if err := s.Load(ctx, c.rdb).Err(); err != nil {
				return err
			}
		}
	}
}

// Known lists the queues the namespace has seen, sorted.
func (c *Client) Known(ctx context.Context) ([]string, error) {
	names, err := c.rdb.SMembers(ctx, c.keys.Queues()).Result()
	if err != nil {
		return nil, err
	}
	slices.Sort(names)
	return names, nil
}

// UnknownQueueError names queues that were never pushed to (exit 2).
type UnknownQueueError struct{ Names []string }

func (e *UnknownQueueError) Error() string {
	return fmt.Sprintf("unknown queue %s: nothing was ever pushed to it (see `haderctl queue status`)", strings.Join(e.Names, ", "))
}

// Resolve returns names, or every known queue when names is empty; a name
// never pushed to is an UnknownQueueError.
func (c *Client) Resolve(ctx context.Context, names []string) ([]string, error) {
	known, err := c.Known(ctx)
	if err != nil {
		return nil, err
	}
	if len(names) == 0 {
		return known, nil
	}
	var unknown []string
	for _, n := range names {
		if err := store.ValidName("queue", n); err != nil {
			return nil, err
		}
		if !slices.Contains(known, n) {
			unknown = append(unknown, n)
		}
	}
	if len(unknown) > 0 {
		return nil, &UnknownQueueError{Names: unknown}
	}
	return names, nil
}

// Pause stops claims from a queue until Resume.
func (c *Client) Pause(ctx context.Context, q, who string) error {
	return c.rdb.HSet(ctx, c.keys.Queue(q), "paused", "1", "paused_by", who, "paused_at", strconv.FormatInt(time.Now().UnixMilli(), 10)).Err()
}

// Resume lets drainers claim from a queue again.
func (c *Client) Resume(ctx context.Context, q string) error {
	return c.rdb.HDel(ctx, c.keys.Queue(q), "paused", "paused_by", "paused_at").Err()
}

// RetryResult says what Retry did.
type RetryResult struct {
	Moved int
	// NotDead are ids that are not in the dead set.
	NotDead []string
	// Corrupt are dead ids whose entry cannot be read: they stay dead
	// (inspect them, then purge or push them again).
	Corrupt []string
}

// Retry moves dead operations back to ready with their attempts reset;
// ids nil means every dead one.
func (c *Client) Retry(ctx context.Context, q string, ids []string) (RetryResult, error) {
	args := []any{"all"}
	if ids != nil {
		args[0] = "ids"
		for _, id := range ids {
			args = append(args, id)
		}
	}
	res, err := retryScript.Run(ctx, c.rdb, c.queueKeys(q), args...).Slice()
	if err != nil {
		return RetryResult{}, err
	}
	moved, _ := res[0].(int64)
	r := RetryResult{Moved: int(moved), NotDead: strs(res[1]), Corrupt: strs(res[2])}
	slices.Sort(r.Corrupt)
	return r, nil
}

// strs reads a script's array reply of strings.
func strs(v any) []string {
	a, _ := v.([]any)
	out := make([]string, 0, len(a))
	for _, x := range a {
		s, _ := x.(string)
		out = append(out, s)
	}
	return out
}

// PurgeDead deletes every dead operation of a queue.
func (c *Client) PurgeDead(ctx context.Context, q string) (int, error) {
	total := 0
	for {
		ids, err := c.rdb.ZRange(ctx, c.keys.QueueDead(q), 0, 499).Result()
		if err != nil || len(ids) == 0 {
			return total, err
		}
		n, err := c.removeDead(ctx, q, "purged", ids)
		total += n
		if err != nil {
			return total, err
		}
	}
}

// TrimDead applies the dead set's caps (DeadMax, DeadMaxAge), oldest
// first, and returns how many it removed (counted in dead_trimmed).
func (c *Client) TrimDead(ctx context.Context, q string) (int, error) {
	key := c.keys.QueueDead(q)
	now, err := c.rdb.Time(ctx).Result()
	if err != nil {
		return 0, err
	}
	cutoff := now.Add(-c.set.DeadMaxAge).UnixMilli()
	old, err := c.rdb.ZRangeByScore(ctx, key, &redis.ZRangeBy{Min: "-inf", Max: strconv.FormatInt(cutoff, 10), Count: 1000}).Result()
	if err != nil {
		return 0, err
	}
	n, err := c.rdb.ZCard(ctx, key).Result()
	if err != nil {
		return 0, err
	}
	if over := n - int64(len(old)) - int64(c.set.DeadMax); over > 0 {
		more, err := c.rdb.ZRange(ctx, key, int64(len(old)), int64(len(old))+min(over, 1000)-1).Result()
		if err != nil {
			return 0, err
		}
		old = append(old, more...)
	}
	if len(old) == 0 {
		return 0, nil
	}
	return c.removeDead(ctx, q, "dead_trimmed", old)
}

func (c *Client) removeDead(ctx context.Context, q, counter string, ids []string) (int, error) {
	args := make([]any, 0, len(ids)+1)
	args = append(args, counter)
	for _, id := range ids {
		args = append(args, id)
	}
	n, err := removeDeadScript.Run(ctx, c.rdb, c.queueKeys(q), args...).Int()
	return n, err
}

// newID is a random operation id: 16 hex digits after "op-".
func newID() string {
	return fmt.Sprintf("op-%016x", rand.Uint64())
}

// IsInput reports whether err is bad input (exit 2).
func IsInput(err error) bool {
	var ie *InputError
	var ne *store.NameError
	var ue *UnknownQueueError
	return errors.As(err, &ie) || errors.As(err, &ne) || errors.As(err, &ue)
}
