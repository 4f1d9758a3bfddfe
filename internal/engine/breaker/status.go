package breaker

import (
	"context"
	"fmt"
	"sort"
	"strconv"
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
	// Settings are those stored by the last process that wrote the breaker,
	// or this process' own when none are stored.
	Settings Settings `json:"settings"`
}

// Names returns every breaker name the namespace has registered, sorted.
func (e *Engine) Names(ctx context.Context) ([]string, error) {
	names, err := e.rdb.SMembers(ctx, e.opts.Keys.Breakers()).Result()
	sort.Strings(names)
	return names, err
}

// Snapshot reads the named breakers in one pipelined round trip, together
// with Redis' clock. Names with no state are Known only if registered.
func (e *Engine) Snapshot(ctx context.Context, names []string) ([]Status, time.Time, error) {
	k := e.opts.Keys
	pipe := e.rdb.Pipeline()
	timeCmd := pipe.Time(ctx)
	hashes := make([]*redis.MapStringStringCmd, len(names))
	members := make([]*redis.BoolCmd, len(names))
	for i, n := range names {
		hashes[i] = pipe.HGetAll(ctx, k.Breaker(n))
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
		h, herr := hashes[i].Result()
		st := parseStatus(n, h, herr, e.SettingsFor(n), now)
		st.Known = len(h) > 0 || herr != nil || members[i].Val()
		if st.State == HalfOpen {
			// Count only live leases: expired ones are freed at the next acquire.
			st.ProbesInFlight, _ = e.rdb.ZCount(ctx, k.BreakerProbes(n), strconv.FormatInt(now.UnixMilli(), 10), "+inf").Result()
		}
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

// parseStatus applies the same validation as the scripts' load().
func parseStatus(name string, h map[string]string, herr error, own Settings, now time.Time) Status {
	st := Status{Name: name, State: Closed, Settings: own}
	if herr != nil {
		st.State, st.Problem = Corrupt, "the key is not a hash"
		return st
	}
	if s, ok := h["state"]; ok {
		st.State = State(s)
		if !st.State.Valid() {
			st.State, st.Problem = Corrupt, fmt.Sprintf("field 'state' holds %q", s)
		}
	}
	num := func(field string) int64 {
		v, ok := h[field]
		if !ok || v == "" {
			return 0
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			if st.Problem == "" {
				st.Problem = fmt.Sprintf("field '%s' holds %q", field, v)
			}
			st.State = Corrupt
			return 0
		}
		return n
	}
	ms := func(field string) time.Time {
		if n := num(field); n > 0 {
			return time.UnixMilli(n).UTC()
		}
		return time.Time{}
	}
	st.Failures, st.Successes, st.Generation = num("failures"), num("successes"), num("generation")
	st.OpenedAt, st.LastFailure, st.LastSuccess, st.ChangedAt = ms("opened_at"), ms("last_failure"), ms("last_success"), ms("changed_at")
	if v := num("failure_threshold"); v > 0 {
		st.Settings.FailureThreshold = int(v)
	}
	if v := num("success_threshold"); v > 0 {
		st.Settings.SuccessThreshold = int(v)
	}
	if v := num("recovery_timeout_ms"); v > 0 {
		st.Settings.RecoveryTimeout = time.Duration(v) * time.Millisecond
	}
	if v := num("max_probes"); v > 0 {
		st.Settings.MaxProbes = int(v)
	}
	if v := num("probe_lease_ms"); v > 0 {
		st.Settings.ProbeLease = time.Duration(v) * time.Millisecond
	}
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
