package breaker

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Status is one breaker as read from Redis, with what follows from it at
// the moment of reading (on Redis' clock).
type Status struct {
	Name string `json:"name"`
	// Known is false for a name with no state in Redis and no registration.
	Known       bool      `json:"known"`
	State       State     `json:"state"`
	Failures    int64     `json:"failures"`
	Successes   int64     `json:"successes"`
	Generation  int64     `json:"generation"`
	OpenedAt    time.Time `json:"opened_at"`
	LastFailure time.Time `json:"last_failure"`
	LastSuccess time.Time `json:"last_success"`
	ChangedAt   time.Time `json:"changed_at"`
	// ProbesInFlight counts the half-open probes whose lease is live.
	ProbesInFlight int64 `json:"probes_in_flight"`
	// Reporters counts the distinct processes whose last failure is within
	// the reporter window, of a CLOSED breaker whose min_reporters is above
	// 1 (only then are reporters tracked); 0 otherwise.
	Reporters int64 `json:"reporters"`
	// FallbackReporters counts the processes that reported, once Redis was
	// reachable from them again, having run this breaker on their
	// in-memory fallback, within FallbackWindow (the fallbacks key).
	FallbackReporters int64 `json:"fallback_reporters"`
	// UntilHalfOpen is the time until an OPEN breaker admits probes; zero
	// when it already would, or when it is not OPEN.
	UntilHalfOpen time.Duration `json:"until_half_open"`
	// ShouldAttemptReset is true for an OPEN breaker past its recovery time.
	ShouldAttemptReset bool `json:"should_attempt_reset"`
	// Problem describes a corrupt hash; State is Corrupt then.
	Problem string `json:"problem,omitempty"`
	// InMemory is set for a status of this process' in-memory fallback
	// breaker (Redis unreachable), not of the shared state.
	InMemory bool `json:"in_memory"`
	// Settings are those the breaker runs with: stored with it in Redis,
	// or, for a field not stored yet, this process' own (the next write
	// stores them: SettingsStored is false until then; it does not wait
	// for min_reporters and reporter_window, which older versions did not
	// store).
	Settings       Settings `json:"settings"`
	SettingsStored bool     `json:"settings_stored"`
	// reportersStored is whether min_reporters and reporter_window are
	// stored too (for Plan).
	reportersStored bool
	// Events are the latest transitions, oldest first, when the read asked
	// for them (snapshot.Filter.Events).
	Events []Event `json:"events,omitempty"`
}

// Names returns every breaker name the namespace has registered, sorted.
func (e *Engine) Names(ctx context.Context) ([]string, error) {
	names, err := e.rdb.SMembers(ctx, e.opts.Keys.Breakers()).Result()
	if err != nil {
		return nil, e.registryError(ctx, err)
	}
	sort.Strings(names)
	return names, nil
}

// RegistryError says the namespace's registry of breaker names is not a
// set (someone wrote into it by hand).
type RegistryError struct {
	Key  string
	Type string
}

func (e *RegistryError) Error() string {
	return fmt.Sprintf("the breaker registry %s is unreadable: it is a %s, not a set (delete it; every process registers the breakers it uses again)", e.Key, e.Type)
}

// registryError turns a WRONGTYPE reply about the registry into a
// RegistryError; other errors pass through.
func (e *Engine) registryError(ctx context.Context, err error) error {
	if !strings.HasPrefix(err.Error(), "WRONGTYPE") {
		return err
	}
	key := e.opts.Keys.Breakers()
	typ, terr := e.rdb.Type(ctx, key).Result()
	if terr != nil {
		typ = "key of another type"
	}
	return &RegistryError{Key: key, Type: typ}
}

// Snapshot reads the named breakers in one pipelined round trip, together
// with Redis' clock: each hash, registry membership and probe leases (the
// live ones are counted against the same TIME). Names with no state are
// Known only if registered. The whole read side of every part is
// internal/engine/snapshot; this reads only breakers, for callers that
// hold an engine.
func (e *Engine) Snapshot(ctx context.Context, names []string) ([]Status, time.Time, error) {
	k := e.opts.Keys
	pipe := e.rdb.Pipeline()
	timeCmd := pipe.Time(ctx)
	reads := make([]statusRead, len(names))
	members := make([]*redis.BoolCmd, len(names))
	for i, n := range names {
		reads[i] = queueStatusRead(ctx, pipe, k, n, true, true, 0)
		members[i] = pipe.SIsMember(ctx, k.Breakers(), n)
	}
	if _, err := pipe.Exec(ctx); err != nil && !isDataError(err) {
		return nil, time.Time{}, err
	}
	now, err := timeCmd.Result()
	if err != nil {
		return nil, time.Time{}, err
	}
	if e.opts.Clock != nil {
		now = e.opts.Clock()
	}
	out := make([]Status, len(names))
	for i, n := range names {
		st, err := reads[i].decode(n, e.OwnSettings(n), now)
		if err != nil {
			return nil, time.Time{}, err
		}
		registered, err := members[i].Result()
		if err != nil {
			return nil, time.Time{}, e.registryError(ctx, err)
		}
		st.Known = st.Known || registered
		out[i] = st
	}
	return out, now, nil
}

// isDataError is an error reply about one command's data (WRONGTYPE), as
// opposed to the connection failing.
func isDataError(err error) bool {
	_, ok := err.(redis.Error)
	return ok
}

// futureBound is how far ahead of the clock opened_at may be (the
// scripts' FUTURE_MS): further, and no script wrote it.
const futureBound = time.Hour

// statusFields are the hash fields a status reads, in the order of
// fieldIndex: reading only them (HMGET) costs half the strings of HGETALL.
var statusFields = []string{"state", "failures", "successes", "generation", "opened_at", "last_failure", "last_success",
	"changed_at", "failure_threshold", "success_threshold", "recovery_timeout_ms", "max_probes", "probe_lease_ms",
	"min_reporters", "reporter_window_ms"}

var fieldIndex = func() map[string]int {
	m := make(map[string]int, len(statusFields))
	for i, f := range statusFields {
		m[f] = i
	}
	return m
}()

// statusFieldArgs are statusFields boxed once, as command arguments.
var statusFieldArgs = func() []any {
	out := make([]any, len(statusFields))
	for i, f := range statusFields {
		out[i] = f
	}
	return out
}()

// fields is a breaker hash as read: a map (HGETALL) or HMGET's values.
type fields interface {
	get(field string) (string, bool)
	empty() bool
}

type mapFields map[string]string

func (m mapFields) get(f string) (string, bool) { v, ok := m[f]; return v, ok }
func (m mapFields) empty() bool                 { return len(m) == 0 }

// hmgetFields are HMGET's replies to statusFields, "" for a field not
// there (the scripts never store an empty value).
type hmgetFields []string

func (h hmgetFields) get(f string) (string, bool) {
	i, ok := fieldIndex[f]
	if !ok || i >= len(h) || h[i] == "" {
		return "", false
	}
	return h[i], true
}

func (h hmgetFields) empty() bool {
	for _, v := range h {
		if v != "" {
			return false
		}
	}
	return true
}

// parseStatus applies the same validation as the scripts' load().
func parseStatus(name string, h map[string]string, herr error, own Settings, now time.Time) Status {
	return parseFields(name, mapFields(h), herr, own, now)
}

func parseFields(name string, h fields, herr error, own Settings, now time.Time) Status {
	st := Status{Name: name, State: Closed, Settings: own}
	if herr != nil {
		st.State, st.Problem = Corrupt, "the key is not a hash"
		return st
	}
	if s, ok := h.get("state"); ok {
		st.State = State(s)
		if !st.State.Valid() {
			st.State, st.Problem = Corrupt, fmt.Sprintf("field 'state' holds %q", s)
		}
	}
	bad := func(field, v string) {
		if st.Problem == "" {
			st.Problem = fmt.Sprintf("field '%s' holds %q", field, v)
		}
		st.State = Corrupt
	}
	// num returns a stored count and whether it is stored; max < 0: no bound.
	num := func(field string, max int64) (int64, bool) {
		v, ok := h.get(field)
		if !ok || v == "" {
			return 0, false
		}
		n, ok := parseCount(v)
		if !ok || (max >= 0 && n > max) {
			bad(field, v)
			return 0, false
		}
		return n, true
	}
	count := func(field string) int64 { n, _ := num(field, -1); return n }
	ms := func(field string, max int64) time.Time {
		if n, _ := num(field, max); n > 0 {
			return time.UnixMilli(n).UTC()
		}
		return time.Time{}
	}
	st.Failures, st.Successes, st.Generation = count("failures"), count("successes"), count("generation")
	st.OpenedAt = ms("opened_at", now.Add(futureBound).UnixMilli())
	st.LastFailure, st.LastSuccess, st.ChangedAt = ms("last_failure", -1), ms("last_success", -1), ms("changed_at", -1)
	stored := 0
	setting := func(field string, max int64, set func(int64)) {
		n, ok := num(field, max)
		if ok && n == 0 {
			bad(field, "0")
			ok = false
		}
		if ok {
			set(n)
			stored++
		}
	}
	maxMs := MaxDuration.Milliseconds()
	setting("failure_threshold", MaxThreshold, func(n int64) { st.Settings.FailureThreshold = int(n) })
	setting("success_threshold", MaxThreshold, func(n int64) { st.Settings.SuccessThreshold = int(n) })
	setting("recovery_timeout_ms", maxMs, func(n int64) { st.Settings.RecoveryTimeout = durationMs(n) })
	setting("max_probes", MaxThreshold, func(n int64) { st.Settings.MaxProbes = int(n) })
	setting("probe_lease_ms", maxMs, func(n int64) { st.Settings.ProbeLease = durationMs(n) })
	st.SettingsStored = stored == 5
	// added later: a hash an older haderctl wrote lacks them and still
	// counts as stored; a missing one is this process' own, as the scripts
	// take the caller's (the next write stores it)
	setting("min_reporters", MaxThreshold, func(n int64) { st.Settings.MinReporters = int(n) })
	setting("reporter_window_ms", maxMs, func(n int64) { st.Settings.ReporterWindow = durationMs(n) })
	st.reportersStored = stored == 7
	if st.State == Open {
		wait := st.OpenedAt.Add(st.Settings.RecoveryTimeout).Sub(now)
		if wait > 0 {
			st.UntilHalfOpen = wait
		} else {
			st.ShouldAttemptReset = true
		}
	}
	return st
}

// parseCount reads a stored count as the scripts do: decimal digits only,
// at most 15 of them.
func parseCount(v string) (int64, bool) {
	if len(v) == 0 || len(v) > 15 {
		return 0, false
	}
	for i := 0; i < len(v); i++ {
		if v[i] < '0' || v[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseInt(v, 10, 64)
	return n, err == nil
}
