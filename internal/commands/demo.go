package commands

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/haderos/haderctl/internal/cmdutil"
	"github.com/haderos/haderctl/internal/config"
	"github.com/haderos/haderctl/internal/dashboard"
	"github.com/haderos/haderctl/internal/dashboard/source"
	"github.com/haderos/haderctl/internal/demo"
	"github.com/haderos/haderctl/internal/engine"
	"github.com/haderos/haderctl/internal/engine/breaker"
	"github.com/haderos/haderctl/internal/engine/gameday"
	"github.com/haderos/haderctl/internal/engine/health"
	"github.com/haderos/haderctl/internal/engine/queue"
	"github.com/haderos/haderctl/internal/engine/snapshot"
	"github.com/haderos/haderctl/internal/engine/store"
	"github.com/haderos/haderctl/internal/iostreams"
	"github.com/haderos/haderctl/internal/redact"
	"github.com/haderos/haderctl/internal/tui"
	"github.com/redis/go-redis/v9"
	"github.com/spf13/cobra"
)

// DemoOptions are `haderctl demo`'s inputs.
type DemoOptions struct {
	F        *cmdutil.Factory
	Duration time.Duration
	Keep     bool
	// NoDashboard narrates on a terminal too.
	NoDashboard bool
	Journal     string
	JUnit       string
	Report      string
	// Seed makes the simulated services and the traffic reproducible
	// (zero: a random one).
	Seed uint64
	// RedisNamed says the user named a Redis (--redis-url or REDIS_URL):
	// the demo uses it when it answers PING.
	RedisNamed bool
}

// The demo's bounds: the game days need a few seconds each to show
// anything, and a demo is not a soak test.
const (
	demoMinDuration = 20 * time.Second
	demoMaxDuration = time.Hour
	// demoOverhead is the part of --duration that is not chaos: warm-up,
	// the two recoveries and the replays.
	demoOverhead = 6 * time.Second
	// demoEnvironment is where the demo runs: chaos is allowed there.
	demoEnvironment = "demo"
)

// demoScenarios are the game days the demo plays, in order.
var demoScenarios = []string{"network_storm", "blackout"}

// demoTargets are the services the game days hit. SMSA is spared: it is
// the shipping route's fallback provider, so the storm and the blackout
// show the gateway answering from it.
var demoTargets = []string{"aramex", "notifications", "shopify"}

// NewCmdDemo builds `haderctl demo`.
func NewCmdDemo(f *cmdutil.Factory, runF func(*DemoOptions) error) *cobra.Command {
	opts := &DemoOptions{F: f}
	cmd := &cobra.Command{
		Use:   "demo [--duration 45s] [--keep] [--journal F] [--junit F] [--report F]",
		Short: "Run the whole resilience system on this machine, with a compressed game day",
		Long: `Start everything on loopback and play a game day against it, in under a
minute: simulated shopify, aramex, smsa and notifications services, the real
gateway (the shipping route tries Aramex, then SMSA), a traffic generator, a
health watcher and a queue drainer, all over one Redis. Then network_storm
and blackout run with their steady-state checks before, during and after.

The Redis is the one --redis-url or REDIS_URL names, if it answers PING
(the demo then works in a namespace of its own, hader-demo-…, removed at the
end); otherwise an embedded Redis-compatible server (miniredis) in this
process, whose URL is printed so another terminal can watch with
haderctl dashboard --redis-url URL. NOT FOR PRODUCTION: the services are
simulated and chaos is enabled (environment "demo").

On a terminal the dashboard shows the run (q ends it early); otherwise, or
with --no-dashboard, each phase is narrated on stdout: breakers opening,
requests falling back to SMSA, writes queued with 202 and replayed,
recovery. Exit 0 when every game day passed and every queued write was
replayed, 1 when not, 130 on Ctrl-C. Everything it started stops when it
ends; --keep keeps it all running until Ctrl-C.`,
		Example: `  haderctl demo
  haderctl demo --duration 20s --no-dashboard --report demo.md --junit demo.xml
  haderctl demo --keep   # then, in another terminal: haderctl dashboard --redis-url <the printed URL>`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if f.JSON() {
				return cmdutil.UsageErrorf("the demo narrates and has no -o json: use --journal FILE for its JSON")
			}
			if opts.Duration < demoMinDuration || opts.Duration > demoMaxDuration {
				return cmdutil.UsageErrorf("invalid --duration %s: use %s to %s", opts.Duration, demoMinDuration, demoMaxDuration)
			}
			for _, p := range []struct{ flag, path string }{{"--journal", opts.Journal}, {"--junit", opts.JUnit}, {"--report", opts.Report}} {
				if p.path == "" {
					continue
				}
				if st, err := os.Stat(filepath.Dir(p.path)); err != nil || !st.IsDir() {
					return cmdutil.UsageErrorf("%s %s: its directory does not exist", p.flag, p.path)
				}
			}
			opts.RedisNamed = cmd.Flag("redis-url").Changed || f.Getenv("REDIS_URL") != ""
			if runF != nil {
				return runF(opts)
			}
			return demoRun(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	durationFlag(fl, &opts.Duration, "duration", 45*time.Second, "how long the whole run takes (the game days are compressed to fit)")
	fl.BoolVar(&opts.Keep, "keep", false, "keep everything running after the game days, until Ctrl-C")
	fl.BoolVar(&opts.NoDashboard, "no-dashboard", false, "narrate on stdout even on a terminal")
	fl.StringVar(&opts.Journal, "journal", "", "write the run (both game days' journals, the traffic) as JSON here")
	fl.StringVar(&opts.JUnit, "junit", "", "write a JUnit XML report here (one test case per check)")
	fl.StringVar(&opts.Report, "report", "", "write a Markdown report here (hypothesis, run log, verdict)")
	fl.Uint64Var(&opts.Seed, "seed", 0, "seed of the simulated services and the traffic (0: random)")
	_ = fl.MarkHidden("seed")
	return cmd
}

// demoRun is the demo: every part is started here and stopped before it
// returns, whatever happens.
func demoRun(ctx context.Context, opts *DemoOptions) (err error) {
	f := opts.F
	start := time.Now()
	dashboardMode := !opts.NoDashboard && f.IO.IsStdoutTTY() && f.IO.IsStdinTTY()
	say := demo.NewNarrator(f.IO.Out, start, time.Now)
	var cleanup []func()
	defer func() {
		for i := len(cleanup) - 1; i >= 0; i-- {
			cleanup[i]()
		}
	}()

	// Redis: the named one when it answers, else the embedded server.
	c, err := f.Config()
	if err != nil {
		return err
	}
	redisURL, tlsOpts, kind := c.Redis.URL, c.Redis.TLS(), "external"
	namespace := "hader"
	var pingErr error
	if opts.RedisNamed {
		pingErr = store.Classify(pingRedis(ctx, store.Options{URL: redisURL, Timeout: 500 * time.Millisecond, TLS: tlsOpts}), redact.URL(redisURL))
		if store.IsRefused(pingErr) {
			return pingErr // a wrong password or a refusing server is not "no Redis": exit 3
		}
	}
	if opts.RedisNamed && pingErr == nil {
		namespace = "hader-demo-" + randomHex(3)
	} else {
		if opts.RedisNamed {
			say.Plain(fmt.Sprintf("no Redis answered at %s (%s): using the embedded one", redact.URL(redisURL), demoWhy(pingErr)))
		}
		url, stop, err := startEmbeddedRedis()
		if err != nil {
			return fmt.Errorf("the embedded Redis did not start: %w", err)
		}
		cleanup = append(cleanup, stop)
		redisURL, tlsOpts, kind = url, store.TLSOptions{}, "embedded"
	}
	seed := opts.Seed
	if seed == 0 {
		seed = mrand.Uint64()
	}
	ups, err := demo.StartUpstreams(seed, nil)
	if err != nil {
		return err
	}
	cleanup = append(cleanup, ups.Close)

	scale := float64(opts.Duration-demoOverhead) / float64(demoChaosLength())
	dir, err := os.MkdirTemp("", "haderctl-demo-")
	if err != nil {
		return err
	}
	cleanup = append(cleanup, func() { os.RemoveAll(dir) })
	cfgPath := filepath.Join(dir, "haderctl.yaml")
	if err := os.WriteFile(cfgPath, demoConfig(redisURL, tlsOpts, namespace, ups), 0o600); err != nil {
		return err
	}
	newFactory := func(out io.Writer, output string) *cmdutil.Factory {
		load := func() (*config.Config, error) {
			return config.Load(config.Flags{Config: &cfgPath}, config.Sources{Getenv: func(string) string { return "" }, Dir: dir})
		}
		io := &iostreams.IOStreams{In: strings.NewReader(""), Out: out, ErrOut: io.Discard}
		df := cmdutil.NewFactory(io, slog.New(slog.DiscardHandler), func() string { return output }, load)
		df.Context = ctx
		cleanup = append(cleanup, func() { _ = df.Close() })
		return df
	}

	// The banner: everything a second terminal needs.
	say.Plain("haderctl demo: NOT FOR PRODUCTION. Simulated services, chaos enabled (environment \"demo\"), loopback only.")
	nsFlag := ""
	if namespace != "hader" {
		nsFlag = " --namespace " + namespace
	}
	shownURL := redact.URL(redisURL)
	if kind == "embedded" {
		say.Plain(fmt.Sprintf("  redis      %s  (embedded miniredis, in this process)", shownURL))
	} else {
		say.Plain(fmt.Sprintf("  redis      %s  (namespace %s, removed at the end)", shownURL, namespace))
	}
	for _, name := range demo.Names {
		say.Plain(fmt.Sprintf("  %-13s %s  (simulated)", name, ups.Get(name).URL))
	}

	mainF := newFactory(io.Discard, cmdutil.OutputTable)
	sys, err := mainF.System()
	if err != nil {
		return err
	}
	if err := sys.Chaos.Enable(ctx); err != nil {
		return mainF.RedisError(err)
	}
	// components run until stopComponents; any that ends early with an
	// error ends the demo
	compCtx, stopComponents := context.WithCancel(ctx)
	var wg sync.WaitGroup
	failed := make(chan error, 4)
	run := func(name string, fn func(context.Context) error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := fn(compCtx); err != nil && compCtx.Err() == nil {
				failed <- fmt.Errorf("the demo's %s stopped: %w", name, err)
			}
		}()
	}
	cleanup = append(cleanup, func() { stopComponents(); wg.Wait() })

	// the real gateway
	gwF := newFactory(io.Discard, cmdutil.OutputTable)
	started := make(chan [2]string, 1)
	run("gateway", func(ctx context.Context) error {
		return gatewayRun(ctx, &GatewayOptions{F: gwF, Listen: "127.0.0.1:0", AdminListen: "127.0.0.1:0", Grace: time.Second,
			AccessLog: "off", Signals: make(chan os.Signal),
			Started: func(l, a string) { started <- [2]string{l, a} }})
	})
	var gwAddr [2]string
	select {
	case gwAddr = <-started:
	case err := <-failed:
		return err
	case <-ctx.Done():
		return demoInterrupted()
	}
	say.Plain(fmt.Sprintf("  gateway    http://%s  (admin and metrics: http://%s/metrics)", gwAddr[0], gwAddr[1]))
	say.Plain(fmt.Sprintf("  watch it:  haderctl dashboard --redis-url %s%s", shownURL, nsFlag))

	n := &demoNarration{say: say, phase: "warm-up"}
	// the health watcher and the queue drainer, as `health watch -o json`
	// and `queue drain --follow -o json` would run them
	watchF := newFactory(lineWriter(n.healthLine), cmdutil.OutputJSON)
	run("health watcher", func(ctx context.Context) error {
		return healthWatchRun(ctx, &HealthWatchOptions{F: watchF, Rescan: time.Second, Redraw: time.Second})
	})
	drainF := newFactory(lineWriter(n.drainLine), cmdutil.OutputJSON)
	run("queue drainer", func(ctx context.Context) error {
		return queueDrainRun(ctx, &QueueDrainOptions{F: drainF, Queues: []string{"notifications", "shipping"}, Follow: true, Concurrency: 8, Lease: 5 * time.Second,
			Grace: time.Second, OpTimeout: 2 * time.Second})
	})
	// breaker transitions, for the story
	run("breaker events", func(ctx context.Context) error {
		err := sys.Breakers.Follow(ctx, nil, nil, n.breakerEvent)
		if ctx.Err() != nil {
			return nil
		}
		return err
	})
	traffic := &demo.Traffic{Gateway: "http://" + gwAddr[0], Rate: 50, Workers: 24,
		Rand: mrand.New(mrand.NewPCG(seed, 99)), OnOutcome: n.outcome}
	// the traffic stops before the replays are counted, so that every
	// write it had queued is among those checked
	trafficCtx, endTraffic := context.WithCancel(compCtx)
	trafficDone := make(chan struct{})
	go func() { defer close(trafficDone); traffic.Run(trafficCtx) }()
	stopTraffic := sync.OnceFunc(func() { endTraffic(); <-trafficDone })
	cleanup = append(cleanup, stopTraffic)

	result := &demo.Result{Redis: kind, Namespace: namespace, StartedAt: start, GameDays: []*gameday.Journal{}}
	play := func(ctx context.Context) error {
		err := demoPlay(ctx, sys, say, n, traffic, stopTraffic, ups, scale, result)
		stopTraffic()
		result.Traffic = traffic.Tally()
		if opts.Keep && ctx.Err() == nil {
			// the traffic comes back for whoever watches
			run("traffic", func(ctx context.Context) error { traffic.Run(ctx); return nil })
		}
		return err
	}
	var playErr error
	if dashboardMode {
		say.Hold()
		playErr = demoWithDashboard(ctx, f, sys, play, opts.Keep)
		say.Release()
	} else {
		playCtx, cancel := context.WithCancel(ctx)
		go func() {
			select {
			case err := <-failed:
				failed <- err
				cancel()
			case <-playCtx.Done():
			}
		}()
		playErr = play(playCtx)
		cancel()
	}
	result.EndedAt = time.Now()
	if result.Verdict == "" {
		result.Verdict = "interrupted"
	}
	select {
	case err := <-failed:
		result.Verdict, result.Reason = "failed", err.Error()
		say.Sayf("verdict: failed (%s)", err)
	default:
	}
	if playErr == nil && opts.Keep && !dashboardMode && ctx.Err() == nil {
		say.Sayf("everything keeps running (--keep); Ctrl-C stops it")
		<-ctx.Done()
	}
	// stop the traffic and every part before the reports, so they say
	// what the run did
	stopComponents()
	wg.Wait()
	if kind == "external" {
		if nkeys, err := dropNamespace(context.WithoutCancel(ctx), sys.Redis, namespace); err == nil {
			say.Sayf("removed namespace %s from %s (%d keys)", namespace, shownURL, nkeys)
		}
	}
	result.Log = say.Lines()
	if err := writeDemoReports(opts, result); err != nil {
		return err
	}
	if playErr != nil {
		if ctx.Err() != nil {
			return demoInterrupted()
		}
		return playErr
	}
	switch result.Verdict {
	case "passed":
		return nil
	case "interrupted":
		if ctx.Err() != nil {
			return demoInterrupted()
		}
		return nil // q on the dashboard: the user ended it
	}
	return cmdutil.SilentExit(cmdutil.ExitUnhealthy)
}

// demoPlay warms up, then plays the game days in order, narrating.
func demoPlay(ctx context.Context, sys demoSystem, say *demo.Narrator, n *demoNarration, traffic *demo.Traffic,
	stopTraffic func(), ups *demo.Upstreams, scale float64, result *demo.Result) error {
	reader := sys.Reader()
	if err := demoWarmUp(ctx, reader, say, traffic); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		result.Verdict, result.Reason = "failed", err.Error()
		say.Sayf("verdict: failed (%s)", err)
		return nil
	}
	for i, name := range demoScenarios {
		s, err := demoScenario(name, scale)
		if err != nil {
			return err
		}
		n.beginGameDay(fmt.Sprintf("game day %d/%d: %s", i+1, len(demoScenarios), name))
		say.Sayf("game day %d/%d: %s on %s (time scale %.3g): %s", i+1, len(demoScenarios), name,
			strings.Join(demoTargets, ", "), scale, s.Description)
		before := traffic.Tally()
		gd := &gameday.GameDay{Chaos: sys.Chaos, State: reader, Targets: demoTargets, Scale: scale, Poll: 250 * time.Millisecond,
			OnEvent: func(line string) {
				say.Sayf("  %s", line)
				if strings.HasPrefix(line, "stopped ") && ctx.Err() == nil {
					n.setPhase("recovery")
					say.Sayf("recovery: experiments stopped; breakers must close, services pass their checks and the write queues drain within %s",
						(time.Duration(float64(s.RecoveryDeadline) * scale)).Round(100*time.Millisecond))
				}
			}}
		j, err := gd.Run(ctx, s)
		if j != nil {
			result.GameDays = append(result.GameDays, j)
		}
		n.summary(before, traffic.Tally())
		if err != nil {
			if ctx.Err() != nil {
				result.Verdict = "interrupted"
				say.Sayf("game day %s: interrupted", name)
				say.Sayf("verdict: interrupted; the experiments were stopped")
				return nil
			}
			result.Verdict, result.Reason = "failed", err.Error()
			say.Sayf("verdict: failed (%s)", err)
			return nil
		}
		say.Sayf("game day %s: %s", name, j.Verdict)
		if j.Verdict != "passed" {
			result.Verdict, result.Reason = j.Verdict, name+": "+j.Reason
			if j.Verdict == "interrupted" {
				say.Sayf("verdict: interrupted; the experiments were stopped")
				return nil
			}
			say.Sayf("verdict: failed (%s)", result.Reason)
			return nil
		}
	}
	n.setPhase("replays")
	stopTraffic()
	queued, replayed := n.awaitReplays(ctx, ups, 10*time.Second)
	result.Queued, result.Replayed = len(queued), replayed
	if ctx.Err() != nil {
		return nil
	}
	say.Sayf("replays: %d of %d writes queued with 202 reached their service through the drainer", replayed, len(queued))
	if replayed < len(queued) {
		result.Verdict, result.Reason = "failed", fmt.Sprintf("%d queued writes were not replayed", len(queued)-replayed)
		say.Sayf("verdict: failed (%s)", result.Reason)
		return nil
	}
	t := traffic.Tally()
	result.Verdict = "passed"
	say.Sayf("verdict: passed (%d requests, %d answered by smsa as the fallback, %d writes queued and replayed)", t.Requests,
		t.Fallback, len(queued))
	return nil
}

// demoSystem is the engine the demo opened.
type demoSystem = *engine.System

// demoWarmUp waits for the steady state the game days start from: traffic
// answered, every service checked healthy, every breaker closed.
func demoWarmUp(ctx context.Context, reader *snapshot.Reader, say *demo.Narrator, traffic *demo.Traffic) error {
	say.Sayf("warm-up: traffic flows through the gateway; waiting for every health check to pass")
	deadline := time.Now().Add(15 * time.Second)
	for {
		snap, err := reader.Snapshot(ctx, snapshot.Filter{Parts: snapshot.Breakers | snapshot.Health})
		why := ""
		switch {
		case err != nil:
			why = err.Error()
		case traffic.Tally().OK == 0:
			why = "no request answered yet"
		default:
			why = steadyState(snap)
		}
		if why == "" {
			t := traffic.Tally()
			say.Sayf("warm-up: steady state: %d requests answered, %d services healthy, every breaker closed", t.OK, len(snap.Services))
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the steady state was not reached within 15s: %s", why)
		}
		t := time.NewTimer(200 * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// steadyState is "" when every demo service is healthy and no breaker is
// open, else what is not yet so.
func steadyState(snap *snapshot.Snapshot) string {
	healthy := map[string]bool{}
	for _, s := range snap.Services {
		healthy[s.Service] = s.Healthy
	}
	for _, name := range demo.Names {
		if !healthy[name] {
			return name + " not checked healthy yet"
		}
	}
	for _, b := range snap.Breakers {
		if b.State != breaker.Closed {
			return "breaker " + b.Name + " is " + string(b.State)
		}
	}
	return ""
}

// demoScenario is a built-in scenario as the demo plays it: its checks
// add, after the experiments, that the write queues drained; its
// recovery deadline is at least 10 s once scaled: time for a breaker to
// probe its way closed (2 s open, a probe lease of 1 s if a probe fails
// and it opens again), a health check to pass, and the writes deferred
// meanwhile to come due and be replayed.
func demoScenario(name string, scale float64) (gameday.Scenario, error) {
	s, err := gameday.FindScenario(name)
	if err != nil {
		return s, err
	}
	steady := []gameday.Probe{{Type: "breakers_closed"}, {Type: "healthy"}}
	after := append(slices.Clone(steady),
		gameday.Probe{Name: "notifications writes replayed", Type: "queue_drained", Queue: "notifications"},
		gameday.Probe{Name: "shipping writes replayed", Type: "queue_drained", Queue: "shipping"})
	s.Probes = gameday.Probes{Before: steady, During: []gameday.Probe{{Type: "breakers_open_where_failing"}}, After: after}
	if floor := gameday.Dur(float64(10*time.Second) / scale); s.RecoveryDeadline < floor {
		s.RecoveryDeadline = floor
	}
	return s, nil
}

// demoChaosLength is how long the demo's scenarios run unscaled.
func demoChaosLength() time.Duration {
	var total time.Duration
	for _, name := range demoScenarios {
		s, err := gameday.FindScenario(name)
		if err != nil {
			continue
		}
		var end time.Duration
		for _, p := range s.Phases {
			end = max(end, time.Duration(p.At)+time.Duration(p.Duration))
		}
		total += end
	}
	return total
}

// demoConfig is the configuration every part of the demo runs with.
func demoConfig(url string, tls store.TLSOptions, namespace string, ups *demo.Upstreams) []byte {
	// an open breaker waits 2 s before its probes: long enough that the
	// breakers of the three services the storm hits are open at the same
	// moment (the during check asks that of every service whose calls
	// failed), short enough to recover well within the scaled deadline
	recovery := 2 * time.Second
	var b strings.Builder
	fmt.Fprintf(&b, "environment: %s\n", demoEnvironment)
	fmt.Fprintf(&b, "redis:\n  url: %q\n  namespace: %s\n  timeout: 2s\n", url, namespace)
	for k, v := range map[string]string{"tls_ca_file": tls.CAFile, "tls_cert_file": tls.CertFile, "tls_key_file": tls.KeyFile} {
		if v != "" {
			fmt.Fprintf(&b, "  %s: %q\n", k, v)
		}
	}
	if tls.InsecureSkipVerify {
		b.WriteString("  tls_insecure_skip_verify: true\n")
	}
	fmt.Fprintf(&b, `breaker:
  failure_threshold: 3
  success_threshold: 2
  recovery_timeout: %s
  probe_lease: 1s
queue:
  max_attempts: 50
  backoff_base: 200ms
  backoff_cap: 2s
health:
  interval: 1s
  timeout: 500ms
alerts:
  failure_threshold: 2
  success_threshold: 1
  log: false
chaos:
  allowed_environments: [%s]
  max_concurrent: 10
  max_per_hour: 200
gateway:
  timeout: 400ms
  routes:
    - name: shipping
      prefix: /api/v1/integrations/shipping/
      providers: [aramex, smsa]
      strip_prefix: true
services:
`, recovery, demoEnvironment)
	for _, name := range demo.Names {
		u := ups.Get(name).URL
		fmt.Fprintf(&b, "  - name: %s\n    base_url: %s\n    health_url: %s/health\n", name, u, u)
	}
	return []byte(b.String())
}

// demoWithDashboard shows the dashboard while play runs; q ends both,
// and so does the end of play (unless keep).
func demoWithDashboard(ctx context.Context, f *cmdutil.Factory, sys demoSystem, play func(context.Context) error, keep bool) error {
	dctx, endDashboard := context.WithCancel(ctx)
	defer endDashboard()
	pctx, endPlay := context.WithCancel(ctx)
	defer endPlay()
	played := make(chan error, 1)
	go func() {
		err := play(pctx)
		if !keep {
			endDashboard()
		}
		played <- err
	}()
	b := source.New(sys, source.Options{Environment: demoEnvironment})
	profile := tui.ColorProfile(f.IO.Out, true, f.IO.NoColor(), f.Getenv)
	derr := dashboard.Run(dctx, b, dashboard.Options{Refresh: time.Second, Profile: profile, Now: f.Now}, f.IO.In, f.IO.Out)
	endPlay()
	perr := <-played
	if derr != nil && !errors.Is(derr, context.Canceled) {
		return derr
	}
	return perr
}

// demoWhy is why the named Redis was not used, in a few words.
func demoWhy(err error) string {
	var ue *store.UnavailableError
	if errors.As(err, &ue) && ue.Err != nil {
		err = ue.Err
	}
	return redact.URLsIn(err.Error())
}

func demoInterrupted() error { return cmdutil.SilentExit(130) }

// pingRedis says whether a Redis answers at o.
func pingRedis(ctx context.Context, o store.Options) error {
	rdb, err := store.Open(o)
	if err != nil {
		return err
	}
	defer rdb.Close()
	pctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	return rdb.Ping(pctx).Err()
}

// dropNamespace deletes every key of the demo's own namespace.
func dropNamespace(ctx context.Context, rdb redis.UniversalClient, namespace string) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	var mu sync.Mutex
	total := 0
	drop := func(ctx context.Context, c *redis.Client) error {
		iter := c.Scan(ctx, 0, namespace+":*", 500).Iterator()
		var batch []string
		flush := func() error {
			if len(batch) == 0 {
				return nil
			}
			// one key per DEL: a cluster node refuses keys of other slots
			pipe := c.Pipeline()
			for _, k := range batch {
				pipe.Unlink(ctx, k)
			}
			_, err := pipe.Exec(ctx)
			mu.Lock()
			total += len(batch)
			mu.Unlock()
			batch = batch[:0]
			return err
		}
		for iter.Next(ctx) {
			batch = append(batch, iter.Val())
			if len(batch) == 500 {
				if err := flush(); err != nil {
					return err
				}
			}
		}
		if err := iter.Err(); err != nil {
			return err
		}
		return flush()
	}
	var err error
	switch c := rdb.(type) {
	case *redis.ClusterClient:
		err = c.ForEachMaster(ctx, drop)
	case *redis.Client:
		err = drop(ctx, c)
	default:
		err = errors.New("unknown client")
	}
	return total, err
}

func writeDemoReports(opts *DemoOptions, r *demo.Result) error {
	write := func(flag, path string, fn func(io.Writer) error) error {
		if path == "" {
			return nil
		}
		fh, err := os.Create(path)
		if err != nil {
			return cmdutil.UsageErrorf("%s: %s", flag, errors.Unwrap(err))
		}
		werr := fn(fh)
		if cerr := fh.Close(); werr == nil {
			werr = cerr
		}
		return werr
	}
	if err := write("--journal", opts.Journal, func(w io.Writer) error {
		data, err := json.MarshalIndent(r, "", "  ")
		if err != nil {
			return err
		}
		_, err = w.Write(append(data, '\n'))
		return err
	}); err != nil {
		return err
	}
	if err := write("--junit", opts.JUnit, func(w io.Writer) error { return gameday.WriteJUnit(w, append(r.GameDays, demoReplays(r))...) }); err != nil {
		return err
	}
	return write("--report", opts.Report, func(w io.Writer) error { return demo.WriteReport(w, r) })
}

// demoReplays is the demo's own check, that every queued write reached
// its service, as a journal of one probe (a JUnit suite "chaos.demo").
func demoReplays(r *demo.Result) *gameday.Journal {
	p := gameday.ProbeResult{Stage: "after", Name: "queued writes replayed", OK: r.Replayed == r.Queued,
		Detail: fmt.Sprintf("%d of %d writes queued with 202 reached their service", r.Replayed, r.Queued), At: r.EndedAt}
	if played := len(r.GameDays) == len(demoScenarios) && r.GameDays[len(r.GameDays)-1].Verdict == "passed"; !played {
		p.OK, p.Detail = false, "not checked: the game days did not all pass"
	}
	v := "passed"
	if !p.OK {
		v = "failed"
	}
	return &gameday.Journal{Scenario: "demo", StartedAt: r.StartedAt, EndedAt: r.EndedAt, Verdict: v, Probes: []gameday.ProbeResult{p}}
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// lineWriter calls fn with each complete line written to it.
func lineWriter(fn func([]byte)) io.Writer { return &lines{fn: fn} }

type lines struct {
	mu  sync.Mutex
	buf []byte
	fn  func([]byte)
}

func (l *lines) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf = append(l.buf, p...)
	for {
		i := slices.Index(l.buf, '\n')
		if i < 0 {
			return len(p), nil
		}
		l.fn(l.buf[:i])
		l.buf = l.buf[i+1:]
	}
}

// demoNarration turns what the parts report into the story's lines: the
// first of each kind per game day, a summary at its end.
type demoNarration struct {
	say *demo.Narrator

	mu     sync.Mutex
	phase  string
	seen   map[string]bool // "fallback", "refused", "queued:notifications", "open:aramex"…
	opens  int
	queued []demo.Outcome
	done   map[string]bool // operations the drainer completed
}

func (n *demoNarration) beginGameDay(phase string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.phase, n.seen, n.opens = phase, map[string]bool{}, 0
}

func (n *demoNarration) setPhase(p string) {
	n.mu.Lock()
	n.phase = p
	n.mu.Unlock()
}

// first says whether key is new in this phase, and marks it.
func (n *demoNarration) first(key string) bool {
	if n.seen == nil {
		n.seen = map[string]bool{}
	}
	if n.seen[n.phase+"|"+key] {
		return false
	}
	n.seen[n.phase+"|"+key] = true
	return true
}

func (n *demoNarration) outcome(o demo.Outcome) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if o.Queued() {
		// every write answered 202 must be replayed, one queued in the
		// warm-up too (an upstream's occasional 503): the replays phase
		// checks them all against what the traffic counted
		n.queued = append(n.queued, o)
	}
	if n.phase == "warm-up" {
		return
	}
	switch {
	case o.Queued():
		if n.first("queued:" + o.Request.Route) {
			n.say.Sayf("  %s %s failed everywhere: 202 Accepted, write %s queued as operation %s", o.Request.Method, o.Request.Route,
				o.WriteID, o.Operation)
		}
	case o.Err == nil && o.Fallback && o.Status < 300:
		if n.first("fallback:" + o.Request.Name) {
			n.say.Sayf("  %s %s: aramex failed or its breaker refused; %s answered (X-Hader-Fallback: true)", o.Request.Method,
				o.Request.Path, o.Provider)
		}
	case o.Err == nil && o.Status == 503 && o.Provider == "":
		if n.first("refused:" + o.Request.Route) {
			n.say.Sayf("  %s %s: no breaker admits the call: 503 with Retry-After, at once", o.Request.Method, o.Request.Route)
		}
	}
}

func (n *demoNarration) breakerEvent(e breaker.Event) {
	if e.Action != "" {
		return
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	switch e.To {
	case breaker.Open:
		n.opens++
		if n.first("open:" + e.Name) {
			n.say.Sayf("  breaker %s opened (%s)", e.Name, e.Reason)
		}
	case breaker.Closed:
		if n.phase == "recovery" && n.first("closed:"+e.Name) {
			n.say.Sayf("  breaker %s closed again after its probes succeeded", e.Name)
		}
	}
}

func (n *demoNarration) healthLine(line []byte) {
	var r health.Result
	if json.Unmarshal(line, &r) != nil || r.Alert == "" || r.Alert == "reminder" {
		return
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.phase == "warm-up" {
		return
	}
	if r.Alert == "fired" {
		n.say.Sayf("  health: %s is down (%s): alert fired", r.Service, r.Error)
	} else {
		n.say.Sayf("  health: %s is healthy again: alert resolved", r.Service)
	}
}

func (n *demoNarration) drainLine(line []byte) {
	var r queue.Report
	if json.Unmarshal(line, &r) != nil {
		return
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if r.Outcome == "completed" {
		if n.done == nil {
			n.done = map[string]bool{}
		}
		n.done[r.ID] = true
		if n.first("replayed:" + r.Queue) {
			n.say.Sayf("  drainer: replayed operation %s of queue %s to %s", r.ID, r.Queue, r.Service)
		}
	}
}

// summary narrates a game day's traffic: the tally's change since before.
func (n *demoNarration) summary(before, after demo.Tally) {
	n.mu.Lock()
	opens := n.opens
	n.mu.Unlock()
	n.say.Sayf("  traffic: %d requests, %d answered (%d by smsa as the fallback), %d refused with 503, %d writes queued with 202; breakers opened %d times",
		after.Requests-before.Requests, after.OK-before.OK, after.Fallback-before.Fallback, after.Refused-before.Refused,
		after.Queued-before.Queued, opens)
}

// awaitReplays waits until every write answered 202 has reached its
// service (the upstream saw its write id), at most within; it returns
// the queued writes and how many arrived.
func (n *demoNarration) awaitReplays(ctx context.Context, ups *demo.Upstreams, within time.Duration) ([]demo.Outcome, int) {
	deadline := time.Now().Add(within)
	for {
		n.mu.Lock()
		queued := slices.Clone(n.queued)
		n.mu.Unlock()
		arrived := 0
		for _, o := range queued {
			for _, name := range demoProviders(o.Request.Route) {
				if ups.Get(name).HasWrite(o.WriteID) {
					arrived++
					break
				}
			}
		}
		if arrived == len(queued) || time.Now().After(deadline) || ctx.Err() != nil {
			return queued, arrived
		}
		t := time.NewTimer(100 * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
		case <-t.C:
		}
	}
}

// demoProviders are the services a route's writes may reach.
func demoProviders(route string) []string {
	if route == "shipping" {
		return []string{"aramex", "smsa"}
	}
	return []string{route}
}
