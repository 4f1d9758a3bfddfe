package chaos

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/haderos/haderctl/internal/engine/store"
	"github.com/redis/go-redis/v9"
)

// Client is the control plane: switch, experiments, emergency stop, audit.
type Client struct {
	rdb     redis.UniversalClient
	keys    store.Keys
	Limits  Limits
	env     string
	allowed []string
	// Who is "user@host" (plus the CI job when there is one).
	Who   string
	CIJob string
}

// Options configure a Client.
type Options struct {
	Keys   store.Keys
	Limits Limits
	// Environment is where this process runs; Allowed the environments
	// chaos may act in (default development, test, staging).
	Environment string
	Allowed     []string
	Getenv      func(string) string
}

// New makes a client.
func New(rdb redis.UniversalClient, o Options) *Client {
	c := &Client{rdb: rdb, keys: o.Keys, Limits: o.Limits.WithDefaults(), env: o.Environment, allowed: o.Allowed}
	c.Who, c.CIJob = Identity(o.Getenv)
	return c
}

func (c *Client) baseKeys(extra ...string) []string { return baseKeys(c.keys, extra...) }

// Guard refuses when this process' environment is not allowed; the
// refusal is audited.
func (c *Client) Guard(ctx context.Context, what string) error {
	err := EnvironmentAllowed(c.env, c.allowed)
	if err != nil {
		c.rdb.XAdd(ctx, &redis.XAddArgs{Stream: c.keys.ChaosAudit(), MaxLen: 10000, Approx: true,
			Values: []any{"event", "refused", "id", what, "by", c.Who, "detail", err.Error(), "at", strconv.FormatInt(time.Now().UnixMilli(), 10)}})
	}
	return err
}

// Enable turns chaos on (refused outside the allowed environments).
func (c *Client) Enable(ctx context.Context) error {
	if err := c.Guard(ctx, "enable"); err != nil {
		return err
	}
	return switchScript.Run(ctx, c.rdb, c.baseKeys(), c.Who, c.keys.ChaosChannel(), "enabled", "1", "enabled").Err()
}

// Disable turns chaos off and stops every experiment (no halt latch).
// Like StopAll it works when Redis is at maxmemory: switching off and
// ending experiments free memory; what it could not record is in the
// result's Warnings.
func (c *Client) Disable(ctx context.Context, reason string) (StopResult, error) {
	return c.stopAll(ctx, "chaos disabled: "+reason, "disable")
}

// Resume clears the halt latch set by StopAll.
func (c *Client) Resume(ctx context.Context) error {
	return switchScript.Run(ctx, c.rdb, c.baseKeys(), c.Who, c.keys.ChaosChannel(), "halted", "0", "resumed").Err()
}

// Start starts an experiment after the guards: environment, switch, halt
// latch, limits. It returns the experiment as stored (start and end on
// Redis' clock).
func (c *Client) Start(ctx context.Context, e Experiment) (Experiment, error) {
	return c.Schedule(ctx, e, 0)
}

// Schedule is Start for an experiment that begins after a delay (a
// game-day phase). It counts toward the limits from now.
func (c *Client) Schedule(ctx context.Context, e Experiment, after time.Duration) (Experiment, error) {
	if e.ID == "" {
		e.ID = fmt.Sprintf("ch-%012x", rand.Uint64()>>16)
	}
	if err := c.Guard(ctx, e.ID); err != nil {
		return e, err
	}
	if err := e.Validate(c.Limits); err != nil {
		if _, refused := err.(*RefusedError); refused {
			c.auditRefusal(ctx, e.ID, err)
		}
		return e, err
	}
	e.By, e.CIJob, e.StartMs, e.EndMs = c.Who, c.CIJob, 0, 0
	js, err := json.Marshal(e)
	if err != nil {
		return e, err
	}
	res, err := startScript.Run(ctx, c.rdb, c.baseKeys(c.keys.ChaosExperiment(e.ID)), c.Who, c.keys.ChaosChannel(),
		string(js), e.Duration.Milliseconds(), c.Limits.MaxConcurrent, c.Limits.MaxPerHour, e.ID, after.Milliseconds()).StringSlice()
	if err != nil {
		return e, err
	}
	if res[0] != "ok" {
		return e, &RefusedError{"chaos refused: " + res[1]}
	}
	var stored Experiment
	if err := json.Unmarshal([]byte(res[1]), &stored); err != nil {
		return e, err
	}
	return stored, nil
}

func (c *Client) auditRefusal(ctx context.Context, id string, why error) {
	c.rdb.XAdd(ctx, &redis.XAddArgs{Stream: c.keys.ChaosAudit(), MaxLen: 10000, Approx: true,
		Values: []any{"event", "refused", "id", id, "by", c.Who, "detail", why.Error(), "at", strconv.FormatInt(time.Now().UnixMilli(), 10)}})
}

// Note appends an entry to the audit stream for an act of chaos made
// outside the experiments (the gateway's header-driven faults).
func (c *Client) Note(ctx context.Context, event, target, detail string) error {
	return c.rdb.XAdd(ctx, &redis.XAddArgs{Stream: c.keys.ChaosAudit(), MaxLen: 10000, Approx: true,
		Values: []any{"event", event, "id", target, "by", c.Who, "detail", detail, "at", strconv.FormatInt(time.Now().UnixMilli(), 10)}}).Err()
}

// StopResult is what a stop ended, and the bookkeeping it could not
// write after. With Warnings the stop is still done: the experiments'
// keys and index entries are gone, so every data plane injects nothing
// after its next re-read (at once on the pub/sub notice, within a second
// without it).
type StopResult struct {
	Stopped []string `json:"stopped"`
	// Halted says whether stop-all latched the halt.
	Halted bool `json:"halted"`
	// Warnings name the bookkeeping (audit entries, halt latch, who
	// disabled chaos) that Redis refused, e.g. at maxmemory or with a
	// key of the wrong type.
	Warnings []string `json:"warnings,omitempty"`
}

// Stop ends one experiment; Stopped is empty when it was not running.
func (c *Client) Stop(ctx context.Context, id, reason string) (StopResult, error) {
	var r StopResult
	stopped, expired, err := c.end(ctx, []string{id}, false, &r)
	if err != nil {
		return r, err
	}
	r.Stopped = stopped
	// even with nothing stopped: the bookkeeping also sweeps the other
	// experiments that ended
	c.book(ctx, reason, "", stopped, expired, &r)
	return r, nil
}

// StopAll is the emergency stop: it ends every experiment, then latches
// the halt (no new experiment until Resume); data planes hear of it at
// once over pub/sub, and within a second by their re-read. Ending comes
// first and needs no memory, so it works when Redis is at maxmemory;
// the latch and the audit entries are bookkeeping written after, and
// what Redis refused of them is in Warnings (the stop is still done).
func (c *Client) StopAll(ctx context.Context, reason string) (StopResult, error) {
	return c.stopAll(ctx, reason, "halt")
}

// stopAll ends what the index lists, writes the bookkeeping of mode
// ("halt", "disable"), and repeats until a pass finds nothing: a start
// that ran between reading the index and the latch (or switch) is caught
// by the next pass.
func (c *Client) stopAll(ctx context.Context, reason, mode string) (StopResult, error) {
	var r StopResult
	for pass := 0; pass < 10; pass++ {
		ids, err := c.rdb.ZRange(ctx, c.keys.ChaosActive(), 0, -1).Result()
		if err != nil && pass > 0 {
			// what the first pass read is ended already
			r.Warnings = append(r.Warnings, "could not look again for experiments started meanwhile: "+err.Error())
			break
		}
		if err != nil {
			return r, err
		}
		if len(ids) == 0 && pass > 0 {
			break
		}
		stopped, expired, err := c.end(ctx, ids, pass == 0 && mode == "disable", &r)
		if err != nil {
			return r, err
		}
		r.Stopped = append(r.Stopped, stopped...)
		bookMode := mode
		if pass > 0 {
			bookMode = ""
		}
		if bookMode != "" || len(stopped)+len(expired) > 0 {
			c.book(ctx, reason, bookMode, stopped, expired, &r)
		}
	}
	return r, nil
}

// end runs endScript on ids: the ones it stopped, and the ones that had
// expired already (to be audited as such); a failure to turn chaos off
// is added to r's warnings.
func (c *Client) end(ctx context.Context, ids []string, switchOff bool, r *StopResult) (stopped, expired []string, err error) {
	keys := []string{c.keys.ChaosState(), c.keys.ChaosActive()}
	args := []any{c.keys.ChaosChannel(), "0"}
	if switchOff {
		args[1] = "1"
	}
	for _, id := range ids {
		keys = append(keys, c.keys.ChaosExperiment(id))
		args = append(args, id)
	}
	res, err := endScript.Run(ctx, c.rdb, keys, args...).Slice()
	if err != nil {
		return nil, nil, err
	}
	strs := func(v any) []string {
		list, _ := v.([]any)
		var out []string
		for _, x := range list {
			if s, ok := x.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	if len(res) == 3 {
		stopped, expired = strs(res[0]), strs(res[1])
		if why, _ := res[2].(string); why != "" {
			r.Warnings = append(r.Warnings, "chaos not switched off: "+why)
		}
	}
	return stopped, expired, nil
}

// book runs bookScript. Redis refusing a part, or the whole script, is a
// warning in r: the experiments are already gone.
func (c *Client) book(ctx context.Context, reason, mode string, stopped, expired []string, r *StopResult) {
	args := []any{c.Who, c.keys.ChaosChannel(), reason, mode, len(stopped)}
	for _, id := range append(slices.Clip(stopped), expired...) {
		args = append(args, id)
	}
	res, err := bookScript.Run(ctx, c.rdb, c.baseKeys(), args...).StringSlice()
	if err != nil {
		r.Warnings = append(r.Warnings, "bookkeeping not written: "+err.Error())
		return
	}
	if len(res) > 0 {
		if mode == "halt" {
			r.Halted = res[0] == "1"
		}
		r.Warnings = append(r.Warnings, res[1:]...)
	}
}

// Active returns the experiments that have not ended (running, or
// scheduled to start later), by end, on Redis' clock. It writes nothing:
// expiries are swept and audited by the data planes' tick and by the
// commands that write (start, stop, stop-all, enable, disable, resume).
func (c *Client) Active(ctx context.Context) ([]Experiment, error) {
	set, err := ReadActive(ctx, c.rdb, c.keys)
	return set.Experiments, err
}

// State is the switch and the latch.
type State struct {
	Enabled     bool   `json:"enabled"`
	EnabledBy   string `json:"enabled_by,omitempty"`
	Halted      bool   `json:"halted"`
	HaltedBy    string `json:"halted_by,omitempty"`
	HaltReason  string `json:"halt_reason,omitempty"`
	Environment string `json:"environment"`
	// EnvironmentOK says whether chaos may act here, and why not.
	EnvironmentOK bool   `json:"environment_allowed"`
	Refusal       string `json:"environment_refusal,omitempty"`
	Limits        Limits `json:"limits"`
}

// State reads the switch, the latch and this process' environment.
func (c *Client) State(ctx context.Context) (State, error) {
	h, err := c.rdb.HGetAll(ctx, c.keys.ChaosState()).Result()
	if err != nil {
		return State{}, err
	}
	s := State{Enabled: h["enabled"] == "1", EnabledBy: h["enabled_by"], Halted: h["halted"] == "1",
		Environment: c.env, Limits: c.Limits}
	if s.Halted {
		s.HaltedBy, s.HaltReason = h["halted_by"], h["halt_reason"]
	}
	if err := EnvironmentAllowed(c.env, c.allowed); err != nil {
		s.Refusal = strings.TrimPrefix(err.Error(), "chaos refused: ")
	} else {
		s.EnvironmentOK = true
	}
	return s, nil
}

// AuditEntry is one line of the audit stream.
type AuditEntry struct {
	ID     string    `json:"stream_id"`
	At     time.Time `json:"at"`
	Event  string    `json:"event"`
	Target string    `json:"experiment"`
	By     string    `json:"by"`
	Detail string    `json:"detail,omitempty"`
}

func auditEntry(m redis.XMessage) AuditEntry {
	str := func(k string) string { s, _ := m.Values[k].(string); return s }
	ms, _ := strconv.ParseInt(str("at"), 10, 64)
	return AuditEntry{ID: m.ID, At: time.UnixMilli(ms), Event: str("event"), Target: str("id"), By: str("by"), Detail: str("detail")}
}

// Audit returns the last limit audit entries, oldest first. It sweeps
// first, so the expiries no data plane has swept yet are in it: the audit
// is what a sweep writes, and its reader asks for all of it.
func (c *Client) Audit(ctx context.Context, limit int64) ([]AuditEntry, error) {
	if err := c.Sweep(ctx); err != nil {
		return nil, err
	}
	msgs, err := c.rdb.XRevRangeN(ctx, c.keys.ChaosAudit(), "+", "-", limit).Result()
	if err != nil {
		return nil, err
	}
	out := make([]AuditEntry, len(msgs))
	for i, m := range msgs {
		out[len(msgs)-1-i] = auditEntry(m)
	}
	return out, nil
}

// FollowAudit calls fn for each new audit entry after lastID ("$": from
// now) until ctx is done, sweeping expiries as it goes.
func (c *Client) FollowAudit(ctx context.Context, lastID string, fn func(AuditEntry)) error {
	if lastID == "$" {
		// pin "now" once, so nothing between two reads is missed
		last, err := c.rdb.XRevRangeN(ctx, c.keys.ChaosAudit(), "+", "-", 1).Result()
		if err != nil {
			return err
		}
		lastID = "0-0"
		if len(last) == 1 {
			lastID = last[0].ID
		}
	}
	for ctx.Err() == nil {
		_ = c.Sweep(ctx)
		res, err := c.rdb.XRead(ctx, &redis.XReadArgs{Streams: []string{c.keys.ChaosAudit(), lastID}, Block: time.Second, Count: 100}).Result()
		if err == redis.Nil {
			continue
		}
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		for _, s := range res {
			for _, m := range s.Messages {
				fn(auditEntry(m))
				lastID = m.ID
			}
		}
	}
	return nil
}
