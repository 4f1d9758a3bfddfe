package gameday

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/haderos/haderctl/internal/engine/breaker"
	"github.com/haderos/haderctl/internal/engine/chaos"
	"github.com/haderos/haderctl/internal/engine/chaos/faults"
	"github.com/haderos/haderctl/internal/engine/queue"
	"github.com/haderos/haderctl/internal/engine/snapshot"
)

// GameDay runs a scenario with its steady-state hypothesis: probes
// before, during and after; the experiments it started are always
// stopped, also when ctx is cancelled or a check fails.
type GameDay struct {
	Chaos *chaos.Client
	// State is where the probes read breakers, services' health and
	// queues: one snapshot (one round trip, no writes) per evaluation
	// round, whatever the number of probes (breakers_open_where_failing
	// also reads each started experiment's failed calls). The healthy probe judges the
	// services it lists, those with a health check now (registered, or
	// configured in the reader), so a service unregistered since is not
	// failed on its stale status.
	State *snapshot.Reader
	// Targets are the services (empty: every service, "*").
	Targets []string
	Scale   float64
	// Poll is how often probes are re-evaluated (default 500 ms).
	Poll time.Duration
	// OnEvent reports progress lines (stderr).
	OnEvent func(string)

	started map[string][]string // the experiments this run started → their services
	// seenOpen are the services whose breaker this stage's evaluations
	// have seen open (breakers_open_where_failing)
	seenOpen map[string]bool
}

// Journal records everything a game day did and saw.
type Journal struct {
	Scenario  string         `json:"scenario"`
	Targets   []string       `json:"targets"`
	TimeScale float64        `json:"time_scale"`
	StartedAt time.Time      `json:"started_at"`
	EndedAt   time.Time      `json:"ended_at"`
	Verdict   string         `json:"verdict"` // passed, failed, refused, interrupted
	Reason    string         `json:"reason,omitempty"`
	Steps     []JournalStep  `json:"steps"`
	Probes    []ProbeResult  `json:"probes"`
	Recovery  *time.Duration `json:"recovery_ns,omitempty"`
}

// JournalStep is one experiment the game day scheduled.
type JournalStep struct {
	Phase  string    `json:"phase"`
	ID     string    `json:"id,omitempty"`
	Kind   string    `json:"kind"`
	Start  time.Time `json:"start"`
	End    time.Time `json:"end"`
	Error  string    `json:"error,omitempty"`
	Target []string  `json:"services"`
	// Impact is what it did to the calls it affected, counted by the data
	// planes, next to the services' baseline.
	Impact *chaos.Impact `json:"impact,omitempty"`
	// Recovery is how long after the experiments stopped the after-probes
	// held for this step's services (null: not within the deadline).
	Recovery *time.Duration `json:"recovery_ns,omitempty"`
}

// ProbeResult is one probe's outcome at one stage.
type ProbeResult struct {
	Stage    string        `json:"stage"` // before, during, after
	Name     string        `json:"name"`
	OK       bool          `json:"ok"`
	Detail   string        `json:"detail"`
	At       time.Time     `json:"at"`
	Duration time.Duration `json:"duration_ns"`
}

func (g *GameDay) event(format string, a ...any) {
	if g.OnEvent != nil {
		g.OnEvent(fmt.Sprintf(format, a...))
	}
}

// defaultProbes are used when a scenario has none: breakers closed and
// services healthy before and after; during, the breakers of services
// whose calls the experiments failed must open.
func defaultProbes() Probes {
	steady := []Probe{{Type: "breakers_closed"}, {Type: "healthy"}}
	return Probes{Before: steady, During: []Probe{{Type: "breakers_open_where_failing"}}, After: steady}
}

// Run plays s. The error is a refusal or Redis failure; a deviation is in
// the journal's verdict.
func (g *GameDay) Run(ctx context.Context, s Scenario) (*Journal, error) {
	if g.Poll <= 0 {
		g.Poll = 500 * time.Millisecond
	}
	j := &Journal{Scenario: s.Name, Targets: g.Targets, TimeScale: g.Scale, StartedAt: time.Now(), Steps: []JournalStep{}, Probes: []ProbeResult{}}
	defer func() { j.EndedAt = time.Now() }()
	probes := s.Probes
	if len(probes.Before)+len(probes.During)+len(probes.After) == 0 {
		probes = defaultProbes()
	}
	plan, err := s.Plan(g.Targets, g.Scale)
	if err != nil {
		return j, err
	}
	if err := g.Chaos.Guard(ctx, "gameday "+s.Name); err != nil {
		j.Verdict, j.Reason = "refused", err.Error()
		return j, err
	}
	// steady state before
	if !g.check(ctx, j, "before", probes.Before, 0) {
		if ctx.Err() != nil {
			j.Verdict, j.Reason = "interrupted", "interrupted before the experiments"
			return j, nil
		}
		j.Verdict, j.Reason = "failed", "the steady state did not hold before the experiments"
		return j, nil
	}
	var ids []string
	g.started = map[string][]string{}
	stop := func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		for _, id := range ids {
			_, _ = g.Chaos.Stop(sctx, id, "game day "+s.Name+" over")
		}
		if len(ids) > 0 {
			g.event("stopped %d experiment%s", len(ids), map[bool]string{true: "s"}[len(ids) != 1])
		}
	}
	defer stop()
	var last time.Time
	for _, st := range plan {
		e, err := g.Chaos.Schedule(ctx, st.Experiment, st.Offset)
		js := JournalStep{Phase: st.Phase, ID: e.ID, Kind: e.Kind, Target: e.Services, Start: e.Start(), End: e.End()}
		if err != nil {
			js.Error = err.Error()
			j.Steps = append(j.Steps, js)
			j.Verdict, j.Reason = "refused", err.Error()
			var refused *chaos.RefusedError
			if errors.As(err, &refused) {
				return j, err
			}
			return j, err
		}
		ids = append(ids, e.ID)
		g.started[e.ID] = e.Services
		j.Steps = append(j.Steps, js)
		if e.End().After(last) {
			last = e.End()
		}
		g.event("scheduled %s %s on %s at +%s", e.ID, e.Kind, strings.Join(e.Services, ","), st.Offset)
	}
	// during: each probe must hold at least once while the experiments run
	if !g.check(ctx, j, "during", probes.During, time.Until(last)) {
		// a check that ctx cut short was not judged: Ctrl-C is not a deviation
		if ctx.Err() != nil {
			j.Verdict, j.Reason = "interrupted", "interrupted; experiments stopped"
			return j, nil
		}
		j.Verdict, j.Reason = "failed", "a check during the experiments did not hold"
		return j, nil
	}
	if wait := time.Until(last); wait > 0 {
		g.event("experiments run until %s", last.UTC().Format(time.RFC3339))
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			j.Verdict, j.Reason = "interrupted", "interrupted; experiments stopped"
			return j, nil
		case <-t.C:
		}
	}
	stop()
	stopped := time.Now()
	ids = nil
	// impact counts reach Redis within a data plane's flush (1 s)
	defer func() {
		if wait := faults.FlushInterval + 200*time.Millisecond - time.Since(stopped); wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
			case <-t.C:
			}
			t.Stop()
		}
		for i := range j.Steps {
			if j.Steps[i].ID != "" {
				if im, err := g.Chaos.Impact(context.WithoutCancel(ctx), chaos.Experiment{ID: j.Steps[i].ID, Services: j.Steps[i].Target}); err == nil {
					j.Steps[i].Impact = &im
				}
			}
		}
	}()
	// recovery
	deadline := max(time.Duration(float64(s.RecoveryDeadline)*g.Scale), time.Second)
	start := time.Now()
	g.stepRecovery(ctx, j, probes.After, deadline)
	if !g.check(ctx, j, "after", probes.After, max(deadline-time.Since(start), 0)) {
		if ctx.Err() != nil {
			j.Verdict, j.Reason = "interrupted", "interrupted during the recovery; experiments stopped"
			return j, nil
		}
		j.Verdict, j.Reason = "failed", fmt.Sprintf("the system did not recover within %s", deadline)
		return j, nil
	}
	rec := time.Since(start)
	j.Recovery = &rec
	j.Verdict = "passed"
	return j, nil
}

// stepRecovery measures, for each step, how long after the stop the
// after-probes (narrowed to the step's services) took to hold.
func (g *GameDay) stepRecovery(ctx context.Context, j *Journal, probes []Probe, deadline time.Duration) {
	start := time.Now()
	pending := map[int]bool{}
	for i, st := range j.Steps {
		if st.ID != "" {
			pending[i] = true
		}
	}
	for len(pending) > 0 && ctx.Err() == nil {
		snap, err := g.read(ctx)
		for i := range pending {
			ok := true
			for _, p := range probes {
				if len(p.Services) == 0 && !slices.Contains(j.Steps[i].Target, "*") {
					p.Services = j.Steps[i].Target
				}
				if held, _ := g.judge(ctx, snap, err, p); !held {
					ok = false
					break
				}
			}
			if ok {
				d := time.Since(start)
				j.Steps[i].Recovery = &d
				delete(pending, i)
			}
		}
		if len(pending) == 0 || time.Since(start) >= deadline {
			return
		}
		t := time.NewTimer(g.Poll)
		select {
		case <-ctx.Done():
			t.Stop()
		case <-t.C:
		}
	}
}

// check evaluates probes until all have held once, or within passes.
func (g *GameDay) check(ctx context.Context, j *Journal, stage string, probes []Probe, within time.Duration) bool {
	if len(probes) == 0 {
		return true
	}
	start := time.Now()
	g.seenOpen = map[string]bool{}
	held := make([]*ProbeResult, len(probes))
	settled := make([]bool, len(probes))
	for {
		all, allSettled := true, true
		snap, err := g.read(ctx)
		for i, p := range probes {
			if settled[i] {
				continue
			}
			ok, detail := g.judge(ctx, snap, err, p)
			held[i] = &ProbeResult{Stage: stage, Name: probeName(p), OK: ok, Detail: detail, At: time.Now(), Duration: time.Since(start)}
			// a probe with nothing to judge yet holds for now, but is
			// looked at again until the stage ends
			settled[i] = ok && detail != notJudged
			all = all && ok
			allSettled = allSettled && settled[i]
		}
		if allSettled || time.Since(start) >= within || ctx.Err() != nil {
			for _, r := range held {
				j.Probes = append(j.Probes, *r)
				mark := "ok"
				if !r.OK {
					mark = "FAILED"
				}
				g.event("%s: %s: %s (%s)", stage, r.Name, mark, r.Detail)
			}
			return all
		}
		t := time.NewTimer(g.Poll)
		select {
		case <-ctx.Done():
			t.Stop()
		case <-t.C:
		}
	}
}

func probeName(p Probe) string {
	if p.Name != "" {
		return p.Name
	}
	n := p.Type
	if p.Queue != "" {
		n += " " + p.Queue
	}
	if len(p.Services) > 0 {
		n += " " + strings.Join(p.Services, ",")
	}
	return n
}

func (g *GameDay) probeServices(p Probe) []string {
	if len(p.Services) > 0 {
		return p.Services
	}
	if slices.Contains(g.Targets, "*") {
		return nil
	}
	return g.Targets
}

// read takes the snapshot one evaluation round judges its probes on.
func (g *GameDay) read(ctx context.Context) (*snapshot.Snapshot, error) {
	if g.State == nil {
		return nil, errors.New("no state reader")
	}
	return g.State.Snapshot(ctx, snapshot.Filter{Parts: snapshot.Breakers | snapshot.Queues | snapshot.Health})
}

// probe judges p on a snapshot of its own (tests; rounds share one).
func (g *GameDay) probe(ctx context.Context, p Probe) (bool, string) {
	snap, err := g.read(ctx)
	return g.judge(ctx, snap, err, p)
}

// judge evaluates p on snap (or fails it with the error that kept the
// snapshot from being read).
func (g *GameDay) judge(ctx context.Context, snap *snapshot.Snapshot, err error, p Probe) (bool, string) {
	if err != nil {
		return false, err.Error()
	}
	names := g.probeServices(p)
	switch p.Type {
	case "breakers_closed", "breakers_open":
		var bad []string
		judged := 0
		for _, s := range breakersNamed(snap, names) {
			judged++
			if (p.Type == "breakers_open") != opened(s.State) {
				bad = append(bad, s.Name+" "+string(s.State))
			}
		}
		if len(bad) > 0 {
			return false, strings.Join(bad, ", ")
		}
		return true, fmt.Sprintf("%d breakers", judged)
	case "breakers_open_where_failing":
		return g.openWhereFailing(ctx, snap, names)
	case "healthy":
		judged := withHealthChecks(snap, names)
		if len(judged) == 0 {
			return true, "no health checks to read"
		}
		var bad []string
		checked := 0
		for _, s := range snap.Services {
			if !slices.Contains(judged, s.Service) || s.Status == "unknown" {
				continue // not judged, or checked never yet
			}
			checked++
			if !s.Healthy {
				bad = append(bad, s.Service+": "+s.Error)
			}
		}
		if len(bad) > 0 {
			return false, strings.Join(bad, "; ")
		}
		return true, fmt.Sprintf("%d services healthy", checked)
	case "queue_backlog", "queue_drained":
		var s queue.Stats // a queue never pushed to is empty
		for _, q := range snap.Queues {
			if q.Queue == p.Queue {
				s = q
			}
		}
		backlog := s.PendingTotal + s.Delayed
		if p.Type == "queue_drained" {
			return backlog+s.InFlight == 0, fmt.Sprintf("%d pending, %d delayed, %d in flight", s.PendingTotal, s.Delayed, s.InFlight)
		}
		ok := (p.Min == nil || backlog >= *p.Min) && (p.Max == nil || backlog <= *p.Max)
		return ok, fmt.Sprintf("backlog %d", backlog)
	}
	return false, "unknown probe type " + p.Type
}

// opened is a breaker state that keeps calls away (or lets only probes
// through).
func opened(st breaker.State) bool {
	return st == breaker.Open || st == breaker.ForcedOpen || st == breaker.HalfOpen
}

// breakersNamed are the snapshot's breakers with those names; a name
// Redis never heard of is a closed breaker. Nil names: every breaker Redis
// knows (the snapshot also lists the config's services whose breaker no
// call has used yet; they are not judged).
func breakersNamed(snap *snapshot.Snapshot, names []string) []breaker.Status {
	if len(names) == 0 {
		out := make([]breaker.Status, 0, len(snap.Breakers))
		for _, s := range snap.Breakers {
			if s.Known {
				out = append(out, s)
			}
		}
		return out
	}
	out := make([]breaker.Status, 0, len(names))
	for _, n := range names {
		st := breaker.Status{Name: n, State: breaker.Closed}
		// the snapshot lists breakers sorted by name
		if i, ok := slices.BinarySearchFunc(snap.Breakers, n, func(s breaker.Status, n string) int { return strings.Compare(s.Name, n) }); ok {
			st = snap.Breakers[i]
		}
		out = append(out, st)
	}
	return out
}

// withHealthChecks narrows names (nil: every service) to those with a
// health check now: the services the snapshot lists, sorted.
func withHealthChecks(snap *snapshot.Snapshot, names []string) []string {
	var out []string
	for _, s := range snap.Services {
		if len(names) == 0 || slices.Contains(names, s.Service) {
			out = append(out, s.Service)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

const notJudged = "no service had enough failed calls to judge"

// openWhereFailing holds when every target whose calls the game day's
// experiments failed at least its breaker's failure threshold times has an
// open (or half-open, forced-open) breaker, or had one at an earlier
// evaluation of the same stage. Services without such
// failures — no traffic, or faults that do not fail calls — are not
// judged.
func (g *GameDay) openWhereFailing(ctx context.Context, snap *snapshot.Snapshot, names []string) (bool, string) {
	if g.seenOpen == nil {
		g.seenOpen = map[string]bool{}
	}
	failed := map[string]int64{}
	for id, services := range g.started {
		for _, svc := range services {
			if svc != "*" {
				// each named target by its own failed calls: an
				// experiment on several fails each at its own pace
				if errs, err := g.Chaos.FailedCallsOn(ctx, id, svc); err == nil {
					failed[svc] += errs
				}
				continue
			}
			// on every service: only the experiment's total is counted
			if errs, err := g.Chaos.FailedCalls(ctx, id); err == nil && errs > 0 {
				for _, n := range names {
					failed[n] += errs
				}
			}
		}
	}
	var judged, bad []string
	for svc, n := range failed {
		// the threshold in force is the one stored with the breaker; a
		// breaker Redis never heard of would start with this process' own
		st := breakersNamed(snap, []string{svc})[0]
		if !st.Known && st.Settings == (breaker.Settings{}) {
			st.Settings = g.State.BreakerSettings(svc)
		}
		if n < int64(st.Settings.WithDefaults().FailureThreshold) {
			continue
		}
		judged = append(judged, svc)
		if opened(st.State) {
			g.seenOpen[svc] = true
		}
		// open now, or seen open earlier in this stage: an experiment on
		// several services fails each one's calls at its own pace, and
		// each breaker opening once is what the probe asks, not all of
		// them at the same moment
		if !g.seenOpen[svc] {
			bad = append(bad, fmt.Sprintf("%s %s after %d failed calls", svc, st.State, n))
		}
	}
	if len(bad) > 0 {
		return false, strings.Join(bad, "; ")
	}
	if len(judged) == 0 {
		return true, notJudged
	}
	slices.Sort(judged)
	return true, "open: " + strings.Join(judged, ", ")
}

// WriteJUnit writes journals as a JUnit XML report: a test suite per game
// day, one test case per probe evaluation, failures for those that did
// not hold.
func WriteJUnit(w io.Writer, journals ...*Journal) error {
	type failure struct {
		Message string `xml:"message,attr"`
		Text    string `xml:",chardata"`
	}
	type testcase struct {
		Name      string   `xml:"name,attr"`
		Classname string   `xml:"classname,attr"`
		Time      float64  `xml:"time,attr"`
		Failure   *failure `xml:"failure,omitempty"`
	}
	type testsuite struct {
		Name      string     `xml:"name,attr"`
		Tests     int        `xml:"tests,attr"`
		Failures  int        `xml:"failures,attr"`
		Time      float64    `xml:"time,attr"`
		Timestamp string     `xml:"timestamp,attr"`
		Cases     []testcase `xml:"testcase"`
	}
	type testsuites struct {
		XMLName xml.Name    `xml:"testsuites"`
		Suites  []testsuite `xml:"testsuite"`
	}
	var suites []testsuite
	for _, j := range journals {
		suite := testsuite{Name: "chaos." + j.Scenario, Time: j.EndedAt.Sub(j.StartedAt).Seconds(), Timestamp: j.StartedAt.UTC().Format(time.RFC3339)}
		for _, p := range j.Probes {
			tc := testcase{Name: p.Name, Classname: "chaos." + j.Scenario + "." + p.Stage, Time: p.Duration.Seconds()}
			if !p.OK {
				tc.Failure = &failure{Message: p.Detail, Text: p.Stage + ": " + p.Name + ": " + p.Detail}
				suite.Failures++
			}
			suite.Cases = append(suite.Cases, tc)
		}
		if j.Verdict != "passed" && suite.Failures == 0 {
			suite.Cases = append(suite.Cases, testcase{Name: "game day", Classname: "chaos." + j.Scenario,
				Failure: &failure{Message: j.Verdict, Text: j.Reason}})
			suite.Failures++
		}
		suite.Tests = len(suite.Cases)
		suites = append(suites, suite)
	}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(testsuites{Suites: suites}); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}
