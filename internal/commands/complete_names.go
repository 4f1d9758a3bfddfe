package commands

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/haderos/haderctl/internal/cmdutil"
	"github.com/haderos/haderctl/internal/config"
	"github.com/haderos/haderctl/internal/engine/chaos"
	"github.com/haderos/haderctl/internal/engine/duration"
	"github.com/haderos/haderctl/internal/engine/gameday"
	"github.com/haderos/haderctl/internal/iostreams"
	"github.com/spf13/cobra"
)

// defaultCompletionBudget bounds one name lookup from start to end:
// opening the engine (dial, schema check) and every read. The shell waits
// on it at each TAB, so an unreachable or hung Redis costs at most this.
// HADERCTL_COMPLETION_TIMEOUT changes it (a Redis many round trips away).
const defaultCompletionBudget = 500 * time.Millisecond

// maxCompletionBudget bounds HADERCTL_COMPLETION_TIMEOUT: longer, a TAB
// would seem to hang.
const maxCompletionBudget = 10 * time.Second

// completionBudget is HADERCTL_COMPLETION_TIMEOUT, or the default; ok is
// false for a value that does not parse or is out of range (10ms-10s),
// which a TAB cannot report: it offers nothing instead.
func completionBudget(getenv func(string) string) (budget time.Duration, ok bool) {
	v := getenv("HADERCTL_COMPLETION_TIMEOUT")
	if v == "" {
		return defaultCompletionBudget, true
	}
	d, err := duration.Parse(v)
	if err != nil || d < 10*time.Millisecond || d > maxCompletionBudget {
		return 0, false
	}
	return d, true
}

// nameSource lists one kind of name, each perhaps with a description
// (cobra.CompletionWithDesc), through a factory's engine and config.
type nameSource func(ctx context.Context, f *cmdutil.Factory) ([]cobra.Completion, error)

// argNames says which names a command's arguments take.
type argNames struct {
	// path is the command below haderctl, e.g. "breaker status".
	path  string
	names nameSource
	// upTo is how many leading arguments are names; 0: every one.
	upTo int
	// next are the words of the argument after the names, if any.
	next []string
	// restFiles lets the shell complete the arguments after those as it
	// would (files, commands): breaker exec's command.
	restFiles bool
}

// nameArgs are the commands whose arguments complete names.
var nameArgs = []argNames{
	{path: "breaker status", names: breakerNames},
	{path: "breaker configure", names: breakerNames, upTo: 1},
	{path: "breaker apply", names: breakerNames},
	{path: "breaker reset", names: breakerNames},
	{path: "breaker trip", names: breakerNames, upTo: 1},
	{path: "breaker disable", names: breakerNames, upTo: 1},
	{path: "breaker enable", names: breakerNames, upTo: 1},
	{path: "breaker events", names: breakerNames, upTo: 1},
	{path: "breaker record", names: breakerNames, upTo: 1, next: []string{"success", "failure"}},
	{path: "breaker exec", names: breakerNames, upTo: 1, restFiles: true},

	{path: "queue status", names: queueNames},
	{path: "queue drain", names: queueNames},
	{path: "queue list", names: queueNames, upTo: 1},
	{path: "queue inspect", names: queueNames, upTo: 1},
	{path: "queue retry", names: queueNames, upTo: 1},
	{path: "queue purge", names: queueNames, upTo: 1},
	{path: "queue pause", names: queueNames, upTo: 1},
	{path: "queue resume", names: queueNames, upTo: 1},
	{path: "queue push", names: queueNames, upTo: 1},

	{path: "health unregister", names: registeredCheckNames, upTo: 1},
	{path: "health check", names: checkNames},
	{path: "health status", names: checkNames},
	{path: "health watch", names: checkNames},

	{path: "chaos inject", names: words(chaos.Kinds...), upTo: 1},
	{path: "chaos run", names: scenarioNames, upTo: 1},
	{path: "chaos stop", names: experimentIDs, upTo: 1},
}

// flagNames says which names a flag takes.
type flagNames struct {
	path, flag string
	names      nameSource
	// extra are words offered besides the names ("all").
	extra []string
}

// nameFlags are the flags that complete names.
var nameFlags = []flagNames{
	{path: "chaos inject", flag: "service", names: serviceNames, extra: []string{"all"}},
	{path: "chaos agent", flag: "service", names: serviceNames},
	{path: "chaos run", flag: "services", names: serviceNames},
	{path: "queue push", flag: "service", names: serviceNames},
	{path: "queue drain", flag: "service", names: serviceNames},
	{path: "", flag: "output", names: words(cmdutil.OutputTable, cmdutil.OutputJSON)},
}

// quietCompletionRequest keeps the stderr of a TAB's request (`haderctl
// __complete ...`) empty: cobra's closing "Completion ended with
// directive" note would be its only line, and every completion script
// discards stderr anyway.
func quietCompletionRequest(root *cobra.Command, args []string) {
	if len(args) > 0 && (args[0] == cobra.ShellCompRequestCmd || args[0] == cobra.ShellCompNoDescRequestCmd) {
		root.SetErr(io.Discard)
	}
}

// addNameCompletions makes the shell complete names: nameArgs' arguments
// and nameFlags' values, each looked up when TAB is pressed.
func addNameCompletions(root *cobra.Command, f *cmdutil.Factory) {
	byPath := map[string]*cobra.Command{}
	walkCommands(root, func(c *cobra.Command) { byPath[strings.TrimPrefix(c.CommandPath(), root.Name()+" ")] = c })
	byPath[""] = root
	for _, a := range nameArgs {
		if c := byPath[a.path]; c != nil {
			c.ValidArgsFunction = a.complete(f)
		}
	}
	for _, fl := range nameFlags {
		c := byPath[fl.path]
		if c == nil {
			continue
		}
		// a flag registered twice is a programming error cobra reports;
		// the test of nameFlags catches it
		_ = c.RegisterFlagCompletionFunc(fl.flag, fl.complete(f))
	}
}

// walkCommands calls fn on cmd and every command below it.
func walkCommands(cmd *cobra.Command, fn func(*cobra.Command)) {
	fn(cmd)
	for _, c := range cmd.Commands() {
		walkCommands(c, fn)
	}
}

func (a argNames) complete(f *cmdutil.Factory) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		switch {
		case a.upTo == 0 || len(args) < a.upTo:
			var given []string
			if a.upTo == 0 {
				given = args // each name once
			}
			return matching(lookupNames(cmd.Context(), f, a.names), toComplete, given), cobra.ShellCompDirectiveNoFileComp
		case len(args) == a.upTo && a.next != nil:
			return matching(a.next, toComplete, nil), cobra.ShellCompDirectiveNoFileComp
		case a.restFiles:
			return nil, cobra.ShellCompDirectiveDefault
		}
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
}

func (fl flagNames) complete(f *cmdutil.Factory) cobra.CompletionFunc {
	return func(cmd *cobra.Command, _ []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		// A list flag (--services a,b) completes the word after the last
		// comma, keeping what came before it.
		var before string
		var given []string
		if v := cmd.Flag(fl.flag); v != nil && strings.HasSuffix(v.Value.Type(), "Slice") {
			if i := strings.LastIndex(toComplete, ","); i >= 0 {
				before, toComplete = toComplete[:i+1], toComplete[i+1:]
				given = strings.Split(before[:i], ",")
			}
		}
		names := slices.Concat(lookupNames(cmd.Context(), f, fl.names), fl.extra)
		out := matching(names, toComplete, given)
		for i := range out {
			out[i] = before + out[i]
		}
		return out, cobra.ShellCompDirectiveNoFileComp
	}
}

// matching are the choices that start with prefix, less those given.
func matching(choices []cobra.Completion, prefix string, given []string) []cobra.Completion {
	var out []cobra.Completion
	for _, c := range choices {
		name, _, _ := strings.Cut(c, "\t")
		if strings.HasPrefix(name, prefix) && !slices.Contains(given, name) {
			out = append(out, c)
		}
	}
	return out
}

// lookupNames runs src within the completion budget through a factory
// of its own (quietFactory) and returns what it found, or nothing at all
// when anything failed: the config, Redis, or the budget. A TAB prints
// no error: the shell would mix it into the command line.
func lookupNames(parent context.Context, f *cmdutil.Factory, src nameSource) []cobra.Completion {
	if parent == nil {
		parent = context.Background()
	}
	budget, ok := completionBudget(f.Getenv)
	if !ok {
		return nil
	}
	ctx, cancel := context.WithTimeout(parent, budget)
	defer cancel()
	found := make(chan []cobra.Completion, 1)
	go func() {
		q := quietFactory(ctx, f, budget)
		defer q.Close()
		names, err := src(ctx, q)
		if err != nil {
			names = nil
		}
		found <- names
	}()
	// Redis calls wait for their own timeout, not for ctx (go-redis'
	// ContextTimeoutEnabled is off), and are retried once: the budget is
	// kept here, whatever they do. The lookup left behind ends within its
	// capped timeout, or with the process.
	select {
	case names := <-found:
		return names
	case <-ctx.Done():
		return nil
	}
}

// quietFactory is f's configuration with an engine of its own that writes
// nothing anywhere (no log, no alert) and whose Redis calls time out
// within budget.
func quietFactory(ctx context.Context, f *cmdutil.Factory, budget time.Duration) *cmdutil.Factory {
	streams := &iostreams.IOStreams{In: strings.NewReader(""), Out: io.Discard, ErrOut: io.Discard}
	load := func() (*config.Config, error) {
		c, err := f.Config()
		if err != nil {
			return nil, err
		}
		bounded := *c
		if time.Duration(bounded.Redis.Timeout) > budget {
			bounded.Redis.Timeout = duration.Duration(budget)
		}
		return &bounded, nil
	}
	q := cmdutil.NewFactory(streams, slog.New(slog.DiscardHandler), f.Output, load)
	q.Getenv = f.Getenv
	q.Context = ctx
	return q
}

// words is a nameSource of fixed words.
func words(w ...string) nameSource {
	return func(context.Context, *cmdutil.Factory) ([]cobra.Completion, error) { return w, nil }
}

// breakerNames are the registered breakers and the configured services.
func breakerNames(ctx context.Context, f *cmdutil.Factory) ([]cobra.Completion, error) {
	e, err := f.Breakers()
	if err != nil {
		return nil, err
	}
	names, _, err := knownBreakers(ctx, f, e)
	return names, err
}

// queueNames are the queues ever pushed to.
func queueNames(ctx context.Context, f *cmdutil.Factory) ([]cobra.Completion, error) {
	qc, err := f.Queues()
	if err != nil {
		return nil, err
	}
	return qc.Known(ctx)
}

// checkNames are the services with a health check: configured with a
// health_url, or registered.
func checkNames(ctx context.Context, f *cmdutil.Factory) ([]cobra.Completion, error) {
	hc, err := f.Health()
	if err != nil {
		return nil, err
	}
	checks, err := healthChecks(ctx, f, hc, nil)
	if err != nil {
		return nil, err
	}
	names := make([]cobra.Completion, 0, len(checks))
	for _, c := range checks {
		names = append(names, c.Name)
	}
	return names, nil
}

// registeredCheckNames are the checks registered at run time, the only
// ones `health unregister` takes.
func registeredCheckNames(ctx context.Context, f *cmdutil.Factory) ([]cobra.Completion, error) {
	hc, err := f.Health()
	if err != nil {
		return nil, err
	}
	reg, err := hc.Registered(ctx)
	if err != nil {
		return nil, err
	}
	return sortedKeys(reg), nil
}

// serviceNames are every service haderctl knows of: configured, with a
// registered health check, or with a breaker (a breaker is named after
// the service it guards).
func serviceNames(ctx context.Context, f *cmdutil.Factory) ([]cobra.Completion, error) {
	breakers, err := breakerNames(ctx, f)
	if err != nil {
		return nil, err
	}
	checks, err := checkNames(ctx, f)
	if err != nil {
		return nil, err
	}
	names := slices.Concat(breakers, checks)
	slices.Sort(names)
	return slices.Compact(names), nil
}

// scenarioNames are the built-in scenarios and their aliases (no Redis).
func scenarioNames(context.Context, *cmdutil.Factory) ([]cobra.Completion, error) {
	all, err := gameday.Builtins()
	if err != nil {
		return nil, err
	}
	var out []cobra.Completion
	for _, s := range all {
		out = append(out, cobra.CompletionWithDesc(s.Name, s.Description))
		for _, a := range s.Aliases {
			out = append(out, cobra.CompletionWithDesc(a, "alias of "+s.Name))
		}
	}
	return out, nil
}

// experimentIDs are the experiments that have not ended, each described
// by its kind and targets.
func experimentIDs(ctx context.Context, f *cmdutil.Factory) ([]cobra.Completion, error) {
	cc, err := f.Chaos()
	if err != nil {
		return nil, err
	}
	active, err := cc.Active(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]cobra.Completion, 0, len(active))
	for _, e := range active {
		targets := strings.Join(e.Services, ",")
		if targets == "*" {
			targets = "every service"
		}
		out = append(out, cobra.CompletionWithDesc(e.ID, e.Kind+" on "+targets))
	}
	return out, nil
}
