package chaos

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/haderos/haderctl/internal/engine/store"
	"github.com/redis/go-redis/v9"
)

// SnapshotPart is chaos in a snapshot (internal/engine/snapshot): the
// switch and halt latch, the index of experiments, each experiment and
// its counted impact, and the audit stream, read on the caller's pipeline.
// It writes nothing: an experiment whose end has passed on Redis' clock
// is left out, and sweeping it (with its audit entry) is the control
// plane's and the data plane's job.
//
// Its names are experiment ids and, for the baselines of the services an
// experiment targets, "@<service>": a service is learnt from the
// experiment itself, so a snapshot that meets an experiment for the first
// time reads its baselines in a follow-up.
type SnapshotPart struct {
	keys    store.Keys
	env     string
	allowed []string
	limits  Limits
}

// SnapshotPart returns the client's snapshot part (its environment and
// limits are this process').
func (c *Client) SnapshotPart() *SnapshotPart {
	return &SnapshotPart{keys: c.keys, env: c.env, allowed: c.allowed, limits: c.Limits}
}

// NewSnapshotPart builds the part without a client.
func NewSnapshotPart(keys store.Keys, env string, allowed []string, limits Limits) *SnapshotPart {
	return &SnapshotPart{keys: keys, env: env, allowed: allowed, limits: limits.WithDefaults()}
}

// SnapshotHead is what the part reads once per snapshot.
type SnapshotHead struct {
	State State
	// Audit are the latest audit entries, oldest first.
	Audit []AuditEntry
}

// SnapshotEntry is one name's read: an experiment (ID set) or the
// baseline calls of a service (Service set).
type SnapshotEntry struct {
	ID         string
	Experiment *Experiment
	Affected   map[string]string
	Service    string
	Baseline   map[string]string
	// Problem is what could not be read of it (a key of the wrong type,
	// a body no start script wrote); the rest of the snapshot stands.
	Problem string
}

// ExperimentStatus is an experiment as a snapshot shows it.
type ExperimentStatus struct {
	Experiment
	// Scheduled is true until it starts (a game-day phase).
	Scheduled bool `json:"scheduled"`
	// TimeLeft is until it ends; StartsIn until it starts (scheduled).
	TimeLeft time.Duration `json:"time_left"`
	StartsIn time.Duration `json:"starts_in,omitempty"`
	Impact   Impact        `json:"impact"`
}

// Snapshot is chaos as read in one snapshot.
type Snapshot struct {
	State
	// Active are the running experiments, Scheduled those not started
	// yet, each ordered by end.
	Active    []ExperimentStatus `json:"active_experiments"`
	Scheduled []ExperimentStatus `json:"scheduled_experiments"`
	Audit     []AuditEntry       `json:"recent_audit,omitempty"`
	// Problems are the experiments and impact counters that could not be
	// read (a key of the wrong type, a body no start script wrote), each
	// naming its key; the rest of the snapshot stands.
	Problems []string `json:"problems,omitempty"`
}

// QueueHead queues the switch, the index and, with events > 0, the
// latest audit entries.
func (p *SnapshotPart) QueueHead(ctx context.Context, pipe redis.Pipeliner, events int64) func() (SnapshotHead, []string, error) {
	state := pipe.HGetAll(ctx, p.keys.ChaosState())
	index := pipe.ZRange(ctx, p.keys.ChaosActive(), 0, -1)
	var audit *redis.XMessageSliceCmd
	if events > 0 {
		audit = pipe.XRevRangeN(ctx, p.keys.ChaosAudit(), "+", "-", events)
	}
	return func() (SnapshotHead, []string, error) {
		var head SnapshotHead
		h, err := state.Result()
		if err != nil {
			return head, nil, fmt.Errorf("chaos state %s: %w", p.keys.ChaosState(), err)
		}
		head.State = p.state(h)
		ids, err := index.Result()
		if err != nil {
			return head, nil, fmt.Errorf("chaos index %s: %w", p.keys.ChaosActive(), err)
		}
		if audit != nil {
			msgs, err := audit.Result()
			if err != nil {
				return head, nil, fmt.Errorf("chaos audit %s: %w", p.keys.ChaosAudit(), err)
			}
			head.Audit = make([]AuditEntry, len(msgs))
			for i, m := range msgs {
				head.Audit[len(msgs)-1-i] = auditEntry(m)
			}
		}
		return head, ids, nil
	}
}

func (p *SnapshotPart) state(h map[string]string) State {
	s := State{Enabled: h["enabled"] == "1", EnabledBy: h["enabled_by"], Halted: h["halted"] == "1",
		Environment: p.env, Limits: p.limits}
	if s.Halted {
		s.HaltedBy, s.HaltReason = h["halted_by"], h["halt_reason"]
	}
	if err := EnvironmentAllowed(p.env, p.allowed); err != nil {
		s.Refusal = strings.TrimPrefix(err.Error(), "chaos refused: ")
	} else {
		s.EnvironmentOK = true
	}
	return s
}

// QueueNames queues, per experiment id, its body and affected calls; per
// "@service", its baseline calls.
func (p *SnapshotPart) QueueNames(ctx context.Context, pipe redis.Pipeliner, names []string, _ int64) func(time.Time, SnapshotHead) ([]SnapshotEntry, []string, error) {
	type read struct {
		body   *redis.StringCmd
		counts *redis.MapStringStringCmd
	}
	reads := make([]read, len(names))
	for i, n := range names {
		if svc, ok := strings.CutPrefix(n, "@"); ok {
			reads[i].counts = pipe.HGetAll(ctx, p.keys.ChaosImpact("baseline:"+svc))
			continue
		}
		reads[i] = read{body: pipe.Get(ctx, p.keys.ChaosExperiment(n)), counts: pipe.HGetAll(ctx, p.keys.ChaosImpact(n))}
	}
	return func(now time.Time, _ SnapshotHead) ([]SnapshotEntry, []string, error) {
		out := make([]SnapshotEntry, 0, len(names))
		var more []string
		// a key of the wrong type is that entry's problem, not the read's
		wrong := func(c redis.Cmder) string {
			return fmt.Sprintf("key %v holds another type than the engine keeps there (WRONGTYPE)", c.Args()[1])
		}
		for i, n := range names {
			problem := ""
			counts, err := reads[i].counts.Result()
			if err != nil {
				if !redis.HasErrorPrefix(err, "WRONGTYPE") {
					return nil, nil, fmt.Errorf("chaos impact of %s: %w", n, err)
				}
				problem = wrong(reads[i].counts)
			}
			if svc, ok := strings.CutPrefix(n, "@"); ok {
				out = append(out, SnapshotEntry{Service: svc, Baseline: counts, Problem: problem})
				continue
			}
			js, err := reads[i].body.Result()
			if err == redis.Nil {
				continue // ended: its TTL ran out
			}
			if err != nil {
				if !redis.HasErrorPrefix(err, "WRONGTYPE") {
					return nil, nil, fmt.Errorf("chaos experiment %s: %w", n, err)
				}
				out = append(out, SnapshotEntry{ID: n, Problem: wrong(reads[i].body)})
				continue
			}
			var e Experiment
			if json.Unmarshal([]byte(js), &e) != nil {
				out = append(out, SnapshotEntry{ID: n, Problem: fmt.Sprintf("key %s holds no experiment the start script wrote", p.keys.ChaosExperiment(n))})
				continue
			}
			out = append(out, SnapshotEntry{ID: n, Experiment: &e, Affected: counts, Problem: problem})
			for _, svc := range e.Services {
				more = append(more, "@"+svc)
			}
		}
		return out, more, nil
	}
}

// Result assembles the experiments with their impact on Redis' clock now.
func (p *SnapshotPart) Result(head SnapshotHead, entries []SnapshotEntry, now time.Time) Snapshot {
	s := Snapshot{State: head.State, Audit: head.Audit, Active: []ExperimentStatus{}, Scheduled: []ExperimentStatus{}}
	base := map[string]map[string]string{}
	for _, e := range entries {
		if e.Service != "" {
			base[e.Service] = e.Baseline
		}
		if e.Problem != "" {
			what := "experiment " + e.ID
			if e.Service != "" {
				what = "baseline of " + e.Service
			}
			s.Problems = append(s.Problems, what+": "+e.Problem)
		}
	}
	nowMs := now.UnixMilli()
	for _, e := range entries {
		if e.Experiment == nil || e.Experiment.EndMs <= nowMs {
			continue
		}
		x := ExperimentStatus{Experiment: *e.Experiment, TimeLeft: time.Duration(e.Experiment.EndMs-nowMs) * time.Millisecond}
		x.Impact.Calls, x.Impact.ErrorRate, x.Impact.AvgLatencyMs = rates(e.Affected)
		sum := map[string]int64{}
		for _, svc := range x.Services {
			for k, v := range base[svc] {
				n, _ := strconv.ParseInt(v, 10, 64)
				sum[k] += n
			}
		}
		bs := make(map[string]string, len(sum))
		for k, v := range sum {
			bs[k] = strconv.FormatInt(v, 10)
		}
		x.Impact.BaselineCalls, x.Impact.BaselineErrorRate, x.Impact.BaselineLatencyMs = rates(bs)
		if x.StartMs > nowMs {
			x.Scheduled, x.StartsIn = true, time.Duration(x.StartMs-nowMs)*time.Millisecond
			s.Scheduled = append(s.Scheduled, x)
		} else {
			s.Active = append(s.Active, x)
		}
	}
	byEnd := func(l []ExperimentStatus) {
		sort.SliceStable(l, func(i, j int) bool { return l[i].EndMs < l[j].EndMs })
	}
	byEnd(s.Active)
	byEnd(s.Scheduled)
	return s
}
