// Package breaker is the circuit breaker shared through Redis.
//
// Every process that runs the engine sees one state per breaker:
//
//	caller ──Allow──▶ cache (CLOSED/DISABLED/OPEN: answered locally)
//	                    │ miss, HALF_OPEN, OPEN past its recovery time
//	                    ▼
//	                 acquire.lua ──▶ Redis hash + probes zset + events stream
//	                                 (+ reporters zset, with min_reporters > 1)
//	caller ──done(ok)──▶ record.lua (failures always; successes only when
//	                    they can change something)
//	transitions ──PUBLISH──▶ every engine's cache; a 1 s re-read backstops it
//
// Transitions are atomic Lua scripts on Redis TIME (scripts.go). While Redis
// is unreachable each process falls back to a local in-memory breaker
// (local.go) or, with redis_unavailable: deny, refuses calls.
package breaker

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/haderos/haderctl/internal/engine/store"
	"github.com/redis/go-redis/v9"
)

// Options configure an Engine. Zero values are documented per field.
type Options struct {
	// Keys names the namespace's keys. Required.
	Keys store.Keys
	// Settings returns this process' own settings for a breaker (its
	// config); nil means the defaults for every breaker. The result is
	// filled in with WithDefaults. They seed a breaker this process creates;
	// afterwards the breaker runs with the settings stored with it in Redis
	// (a difference is logged once as a warning).
	Settings func(name string) Settings
	// Who is recorded in events; the zero value means ThisProcess().
	Who Who
	// Reporter identifies this engine among the processes that report a
	// breaker's failures (Settings.MinReporters counts distinct ones); the
	// zero value means "<host>/<pid>/<random>" from Who, so two engines
	// never share one by accident, and a restarted process is a new one.
	Reporter string
	// OnTransition is called, in the process whose script made it, for
	// every transition that process made (alerts hook in here).
	OnTransition func(Event)
	// Clock overrides Redis TIME; nil means Redis TIME. Tests only.
	Clock func() time.Time
	// RefreshInterval is the backstop re-read of cached states; zero means 1 s.
	RefreshInterval time.Duration
	// Timeout bounds the Redis calls made to report outcomes; zero means 5 s.
	Timeout time.Duration
	// StreamCap is the approximate length the event streams are trimmed to;
	// zero means 1000.
	StreamCap int
	// Logger receives debug logs; nil discards them.
	Logger *slog.Logger
}

// Engine runs breakers over one Redis client. It is safe for concurrent
// use. Call Close to stop its background work.
type Engine struct {
	rdb  redis.UniversalClient
	opts Options
	// who is the scripts' ARGV[7] up to the per-breaker seeds: Who and the
	// reporter id as JSON, without its closing brace
	who string
	log *slog.Logger

	mu    sync.RWMutex
	cache map[string]*cached
	// shared are the settings each breaker runs with, as the last script
	// reply or re-read said; warned the shared settings already warned of.
	shared     map[string]Settings
	warned     map[string]Settings
	registered sync.Map // name → struct{}: SADDed to the registry

	localMu sync.Mutex
	local   map[string]*localBreaker
	// localUsed are the breakers run in memory during the current outage,
	// in the order first used, at most maxFallbackNames
	localUsed []fallbackUse
	down      downState
	reports   sync.WaitGroup // fallback reports under way (Close waits)

	startOnce sync.Once
	stop      context.CancelFunc
	done      chan struct{}
}

// cached is what a process knows of one breaker between Redis reads.
type cached struct {
	state      State
	generation int64
	failures   int64
	// openUntil is the local monotonic time before which an OPEN breaker
	// certainly still refuses (its recovery time on Redis' clock).
	openUntil time.Time
	readAt    time.Time
}

// New makes an engine. It does not touch Redis until first used.
func New(rdb redis.UniversalClient, opts Options) *Engine {
	if opts.Who == (Who{}) {
		opts.Who = ThisProcess()
	}
	if opts.RefreshInterval <= 0 {
		opts.RefreshInterval = time.Second
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 5 * time.Second
	}
	if opts.StreamCap <= 0 {
		opts.StreamCap = 1000
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Reporter == "" {
		opts.Reporter = fmt.Sprintf("%s/%d/%s", opts.Who.Host, opts.Who.PID, newToken()[:8])
	}
	who, _ := json.Marshal(struct {
		Who
		Reporter string `json:"reporter"`
	}{opts.Who, opts.Reporter})
	return &Engine{rdb: rdb, opts: opts, who: strings.TrimSuffix(string(who), "}"), log: opts.Logger,
		cache: map[string]*cached{}, local: map[string]*localBreaker{},
		shared: map[string]Settings{}, warned: map[string]Settings{}}
}

// OwnSettings returns this process' own filled-in settings of a breaker
// (Options.Settings): what it seeds a new breaker with.
func (e *Engine) OwnSettings(name string) Settings {
	var s Settings
	if e.opts.Settings != nil {
		s = e.opts.Settings(name)
	}
	return s.WithDefaults()
}

// SettingsFor returns the settings a breaker runs with as far as this
// process knows: those stored in Redis once a script or re-read has told
// it, else its own. RedisUnavailable is always this process' own: it says
// what this process does when it cannot reach Redis.
func (e *Engine) SettingsFor(name string) Settings {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return e.settingsLocked(name)
}

// settingsLocked is SettingsFor with e.mu held.
func (e *Engine) settingsLocked(name string) Settings {
	if s, ok := e.shared[name]; ok {
		return s // learn keeps this process' RedisUnavailable in it
	}
	return e.OwnSettings(name)
}

// learn records the settings a breaker runs with in Redis and warns, once
// per breaker and stored value, when this process' own differ (not when
// this process has just set them: configure). e.mu is held.
func (e *Engine) learn(name string, shared Settings, warn bool) {
	own := e.OwnSettings(name)
	shared.RedisUnavailable = own.RedisUnavailable
	e.shared[name] = shared
	diff := own.Diff(shared)
	if len(diff) == 0 {
		delete(e.warned, name)
		return
	}
	if prev, ok := e.warned[name]; (ok && prev == shared) || !warn {
		e.warned[name] = shared
		return
	}
	e.warned[name] = shared
	e.log.Warn("breaker: the settings stored in Redis differ from this process' config; following Redis",
		"breaker", name, "fields", strings.Join(diff, ", "))
}

// Execute runs fn if the breaker admits the call and records its outcome:
// an error from fn is a failure. A refusal returns an *OpenError.
func (e *Engine) Execute(ctx context.Context, name string, fn func(context.Context) error) error {
	c, err := e.Admit(ctx, name)
	if err != nil {
		return err
	}
	err = fn(ctx)
	c.Done(err == nil)
	return err
}

// Allow asks to make one call. On admission it returns done, which must be
// called once with the call's outcome. A refusal returns an *OpenError.
// It is Admit without Release: a probe slot its caller's cancelled
// admission may have taken is given back all the same.
func (e *Engine) Allow(ctx context.Context, name string) (done func(success bool), err error) {
	c, err := e.Admit(ctx, name)
	if err != nil {
		return nil, err
	}
	return c.Done, nil
}

func outcome(success bool) string {
	if success {
		return "success"
	}
	return "failure"
}

// report sends an outcome to Redis on a context of its own: the caller's
// may be done by the time the call finishes.
func (e *Engine) report(name, outcome string, gen int64, token string) {
	ctx, cancel := context.WithTimeout(context.Background(), e.opts.Timeout)
	defer cancel()
	if _, err := e.run(ctx, recordScript, name, outcome, strconv.FormatInt(gen, 10), token); err != nil {
		if store.IsUnavailable(err) {
			e.down.mark(e.log, err)
			e.recordLocal(name, outcome == "success")
			return
		}
		e.log.Warn("breaker: recording an outcome failed", "breaker", name, "err", err)
	}
}

// Release gives back a call admitted by Allow without an outcome (the call
// was never made): a probe slot is freed at once.
func (e *Engine) release(ctx context.Context, name, token string, gen int64) error {
	_, err := e.run(ctx, recordScript, name, "release", strconv.FormatInt(gen, 10), token)
	return err
}

// Admission is the result of Acquire: a call admitted, to be finished with
// Finish or Release (for callers, like `breaker exec`, that span a process).
type Admission struct {
	Name       string
	Generation int64
	Token      string // non-empty for a half-open probe
	Local      bool   // admitted by the in-memory fallback: Redis was unreachable
	failures   int64
	stop       func() // stops renewing the probe lease
}

func (a *Admission) stopRenewing() {
	if a.stop != nil {
		a.stop()
	}
}

// Acquire asks Redis directly (no cache) to make one call. It is Allow for
// a short-lived process: the CLI's `breaker exec`.
func (e *Engine) Acquire(ctx context.Context, name string) (*Admission, error) {
	if err := store.ValidName("breaker", name); err != nil {
		return nil, err
	}
	token := newToken()
	r, err := e.run(ctx, acquireScript, name, token)
	if err != nil {
		if store.IsUnavailable(err) && e.SettingsFor(name).RedisUnavailable == "allow" {
			return &Admission{Name: name, Local: true}, nil
		}
		return nil, err
	}
	switch r.verdict {
	case "allow":
		return &Admission{Name: name, Generation: r.generation, failures: r.failures}, nil
	case "probe":
		return &Admission{Name: name, Generation: r.generation, Token: token, stop: e.keepProbe(name, token)}, nil
	}
	return nil, &OpenError{Name: name, State: r.state, RetryAfter: r.wait}
}

// Finish records the outcome of an admitted call. It returns the breaker's
// state afterwards and whether the result counted (false: stale, the
// breaker changed generation meanwhile, or nothing needed recording).
func (e *Engine) Finish(ctx context.Context, a *Admission, success bool) (Result, error) {
	a.stopRenewing()
	if a.Local {
		return Result{}, nil
	}
	if success && a.Token == "" && a.failures == 0 {
		return Result{Counted: true}, nil
	}
	r, err := e.run(ctx, recordScript, a.Name, outcome(success), strconv.FormatInt(a.Generation, 10), a.Token)
	if err != nil {
		return Result{}, err
	}
	return r.result(), nil
}

// Release frees an admitted call that was never made.
func (e *Engine) Release(ctx context.Context, a *Admission) error {
	a.stopRenewing()
	if a.Local || a.Token == "" {
		return nil
	}
	return e.release(ctx, a.Name, a.Token, a.Generation)
}

// Result is the state of a breaker after a script.
type Result struct {
	State      State  `json:"state"`
	Generation int64  `json:"generation"`
	Failures   int64  `json:"failures"`
	Successes  int64  `json:"successes"`
	Counted    bool   `json:"counted"`
	Transition *Event `json:"transition"`
	// Settings are those the breaker runs with (stored in Redis).
	Settings Settings `json:"settings"`
	// Reporters is how many distinct processes have reported a failure
	// within the reporter window, as this call saw it: counted only when
	// it recorded a failure on a CLOSED breaker whose min_reporters is
	// above 1, else 0.
	Reporters int64 `json:"reporters"`
}

// Record reports an outcome not tied to an admission (an untracked report,
// as a service in another language or `haderctl breaker record` makes).
func (e *Engine) Record(ctx context.Context, name string, success bool) (Result, error) {
	if err := store.ValidName("breaker", name); err != nil {
		return Result{}, err
	}
	r, err := e.run(ctx, recordScript, name, outcome(success), "", "")
	if err != nil {
		return Result{}, err
	}
	return r.result(), nil
}

// Reset closes a breaker, clears its counts and bumps its generation.
func (e *Engine) Reset(ctx context.Context, name, reason string) (Result, error) {
	return e.set(ctx, name, Closed, reason)
}

// Trip forces a breaker open until it is reset (for drills).
func (e *Engine) Trip(ctx context.Context, name, reason string) (Result, error) {
	return e.set(ctx, name, ForcedOpen, reason)
}

// Disable makes a breaker admit every call; outcomes still count.
func (e *Engine) Disable(ctx context.Context, name, reason string) (Result, error) {
	return e.set(ctx, name, Disabled, reason)
}

// Enable ends an override: the breaker is CLOSED with clear counts.
func (e *Engine) Enable(ctx context.Context, name, reason string) (Result, error) {
	return e.set(ctx, name, Closed, reason)
}

func (e *Engine) set(ctx context.Context, name string, to State, reason string) (Result, error) {
	if err := store.ValidName("breaker", name); err != nil {
		return Result{}, err
	}
	r, err := e.run(ctx, setScript, name, string(to), reason)
	if err != nil {
		return Result{}, err
	}
	return r.result(), nil
}

// scriptReply is the decoded flat reply of a script (see reply() in Lua).
type scriptReply struct {
	verdict     string
	state       State
	generation  int64
	failures    int64
	successes   int64
	wait        time.Duration
	openedAt    int64
	lastFailure int64
	now         int64
	// events are those the script appended, in order; event the last.
	events    []Event
	event     *Event
	settings  Settings
	reporters int64
}

func (r scriptReply) result() Result {
	return Result{State: r.state, Generation: r.generation, Failures: r.failures, Successes: r.successes,
		Counted: r.verdict != "stale", Transition: r.event, Settings: r.settings, Reporters: r.reporters}
}

// run calls a breaker script with the common arguments, registers the name,
// updates the cache and reports a transition this process made.
func (e *Engine) run(ctx context.Context, script *redis.Script, name string, extra ...string) (scriptReply, error) {
	keys, args, err := e.scriptArgs(ctx, name, extra...)
	if err != nil {
		return scriptReply{}, err
	}
	if script == fallbackScript {
		keys = append(keys, e.opts.Keys.BreakerFallbacks(name))
	}
	raw, err := script.Run(ctx, e.rdb, keys, args...).StringSlice()
	if err != nil {
		if msg, ok := strings.CutPrefix(err.Error(), "CORRUPT "); ok {
			return scriptReply{}, &CorruptError{Name: name, Detail: msg}
		}
		if msg, ok := strings.CutPrefix(err.Error(), "INVALID "); ok {
			return scriptReply{}, &SettingsError{Name: name, Msg: msg}
		}
		if strings.HasPrefix(err.Error(), "WRONGTYPE") {
			return scriptReply{}, &CorruptError{Name: name, Detail: "the key is not a hash"}
		}
		return scriptReply{}, err
	}
	r, err := decodeReply(raw)
	if err != nil {
		return scriptReply{}, fmt.Errorf("breaker %s: %w", name, err)
	}
	e.remember(name, r, script != configureScript)
	for _, ev := range r.events {
		if ev.Action == ActionFallback {
			e.log.Debug("breaker: reported running on the in-memory breaker", "breaker", name, "reason", ev.Reason)
			continue
		}
		if ev.Action != "" {
			e.log.Debug("breaker settings changed", "breaker", name, "action", ev.Action, "reason", ev.Reason)
			continue
		}
		e.log.Debug("breaker transition", "breaker", name, "from", ev.From, "to", ev.To, "reason", ev.Reason)
		if e.opts.OnTransition != nil {
			e.opts.OnTransition(ev)
		}
	}
	return r, nil
}

// scriptArgs builds the common KEYS and ARGV of the breaker scripts. The
// first call for a name in this process also registers the name and claims
// the namespace's schema version (both idempotent), in one round trip.
func (e *Engine) scriptArgs(ctx context.Context, name string, extra ...string) ([]string, []any, error) {
	s := e.OwnSettings(name)
	if err := s.Validate(); err != nil {
		return nil, nil, fmt.Errorf("breaker %s: %w", name, err)
	}
	k := e.opts.Keys
	clock := ""
	if e.opts.Clock != nil {
		clock = strconv.FormatInt(e.opts.Clock().UnixMilli(), 10)
	}
	// the newer settings' seeds ride in who (see scripts.go)
	who := e.who + `,"min_reporters":` + strconv.Itoa(s.MinReporters) +
		`,"reporter_window_ms":` + strconv.FormatInt(s.ReporterWindow.Milliseconds(), 10) + "}"
	args := make([]any, 0, 10+len(extra))
	args = append(args, clock, s.FailureThreshold, s.SuccessThreshold, s.RecoveryTimeout.Milliseconds(),
		s.MaxProbes, s.ProbeLease.Milliseconds(), who, k.BreakerChannel(), e.opts.StreamCap, name)
	for _, x := range extra {
		args = append(args, x)
	}
	keys := []string{k.Breaker(name), k.BreakerProbes(name), k.BreakerEvents(name), k.BreakerReporters(name)}
	if _, seen := e.registered.Load(name); !seen {
		pipe := e.rdb.Pipeline()
		pipe.SetNX(ctx, k.Schema(), store.SchemaVersion, 0)
		pipe.SAdd(ctx, k.Breakers(), name)
		if _, err := pipe.Exec(ctx); err != nil {
			return nil, nil, e.registryError(ctx, err)
		}
		e.registered.Store(name, struct{}{})
	}
	return keys, args, nil
}

// renewInterval is how often a probe's lease is renewed: every third of it.
func renewInterval(lease time.Duration) time.Duration { return max(lease/3, time.Millisecond) }

// keepProbe renews a probe's lease every third of it until stopped, so a
// call that outlives the lease keeps its slot; only a probe whose process
// died lets its slot go.
func (e *Engine) keepProbe(name, token string) (stop func()) {
	lease := e.SettingsFor(name).ProbeLease
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		tick := time.NewTicker(renewInterval(lease))
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			rctx, rcancel := context.WithTimeout(ctx, e.opts.Timeout)
			keys, args, err := e.scriptArgs(rctx, name, token)
			var renewed int64
			if err == nil {
				renewed, err = renewScript.Run(rctx, e.rdb, keys, args...).Int64()
			}
			rcancel()
			if err == nil && renewed == 0 {
				return // the probe is gone: the breaker moved on
			}
			if inForce := durationMs(renewed); err == nil && inForce != lease {
				// the lease was changed mid-probe: renew by the one in force,
				// or a shorter lease expires between ticks
				lease = inForce
				tick.Reset(renewInterval(lease))
			}
		}
	}()
	var once sync.Once
	return func() { once.Do(cancel) }
}

func decodeReply(raw []string) (scriptReply, error) {
	if len(raw) != 18 {
		return scriptReply{}, fmt.Errorf("unexpected script reply of %d fields", len(raw))
	}
	n := func(i int) int64 { v, _ := strconv.ParseInt(raw[i], 10, 64); return v }
	r := scriptReply{verdict: raw[0], state: State(raw[1]), generation: n(2), failures: n(3), successes: n(4),
		wait: durationMs(n(5)), openedAt: n(6), lastFailure: n(7), now: n(8),
		settings: Settings{FailureThreshold: int(n(10)), SuccessThreshold: int(n(11)),
			RecoveryTimeout: durationMs(n(12)), MaxProbes: int(n(13)), ProbeLease: durationMs(n(14)),
			MinReporters: int(n(15)), ReporterWindow: durationMs(n(16))},
		reporters: n(17)}
	if n(5) < 0 {
		r.wait = -1
	}
	if raw[9] != "" {
		var wire []eventWire
		if err := json.Unmarshal([]byte(raw[9]), &wire); err != nil {
			return scriptReply{}, fmt.Errorf("undecodable breaker events: %w", err)
		}
		for _, w := range wire {
			r.events = append(r.events, w.event())
		}
		r.event = &r.events[len(r.events)-1]
	}
	return r, nil
}

// durationMs converts milliseconds, saturating instead of overflowing.
func durationMs(ms int64) time.Duration {
	const maxMs = int64(1<<63-1) / int64(time.Millisecond)
	switch {
	case ms > maxMs:
		return time.Duration(maxMs) * time.Millisecond
	case ms < -maxMs:
		return -time.Duration(maxMs) * time.Millisecond
	}
	return time.Duration(ms) * time.Millisecond
}

// eventWire is an event as the scripts encode it (times in Unix ms).
type eventWire struct {
	ID         string  `json:"id"`
	Name       string  `json:"name"`
	From       State   `json:"from"`
	To         State   `json:"to"`
	Reason     string  `json:"reason"`
	Generation float64 `json:"generation"`
	Failures   float64 `json:"failures"`
	Successes  float64 `json:"successes"`
	At         float64 `json:"at"`
	Host       string  `json:"host"`
	PID        float64 `json:"pid"`
	User       string  `json:"user"`
	Action     string  `json:"action"`
	// Changes is a JSON array; Lua's cjson encodes an empty one as {}.
	Changes json.RawMessage `json:"changes"`
	// since, until, calls, reporter: an ActionFallback event's
	Since    float64 `json:"since"`
	Until    float64 `json:"until"`
	Calls    float64 `json:"calls"`
	Reporter string  `json:"reporter"`
}

func (w eventWire) event() Event {
	return Event{ID: w.ID, Name: w.Name, From: w.From, To: w.To, Reason: w.Reason, Generation: int64(w.Generation),
		Failures: int64(w.Failures), Successes: int64(w.Successes), At: time.UnixMilli(int64(w.At)).UTC(),
		Host: w.Host, PID: int(w.PID), User: w.User, Action: w.Action, Changes: decodeChanges(w.Changes),
		Since: unixMsOrZero(int64(w.Since)), Until: unixMsOrZero(int64(w.Until)), Calls: int64(w.Calls),
		Reporter: w.Reporter}
}

func decodeEventJSON(b []byte) (Event, error) {
	var w eventWire
	if err := json.Unmarshal(b, &w); err != nil {
		return Event{}, fmt.Errorf("undecodable breaker event: %w", err)
	}
	return w.event(), nil
}

// remember stores what a script said about a breaker in the cache.
func (e *Engine) remember(name string, r scriptReply, warn bool) {
	c := &cached{state: r.state, generation: r.generation, failures: r.failures, readAt: time.Now()}
	if r.state == Open {
		recovery := r.settings.RecoveryTimeout
		c.openUntil = c.readAt.Add(durationMs(r.openedAt + recovery.Milliseconds() - r.now))
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.learn(name, r.settings, warn)
	if prev := e.cache[name]; prev != nil && prev.generation > c.generation {
		return // a newer transition arrived by pub/sub while the script ran
	}
	e.cache[name] = c
}

// fresh returns the cached state if the backstop re-read has kept it
// current; nil sends the caller to Redis.
func (e *Engine) fresh(name string) *cached {
	e.mu.RLock()
	c := e.cache[name]
	e.mu.RUnlock()
	if c == nil || time.Since(c.readAt) > 3*e.opts.RefreshInterval {
		return nil
	}
	return c
}

func newToken() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
