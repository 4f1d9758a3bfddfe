package commands

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/haderos/haderctl/internal/cmdutil"
	"github.com/haderos/haderctl/internal/engine/breaker"
	"github.com/haderos/haderctl/internal/engine/store"
	"github.com/spf13/cobra"
)

// NewCmdBreaker groups the breaker verbs.
func NewCmdBreaker(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "breaker",
		Short: "Circuit breakers shared through Redis: status, overrides, events, exec",
		Long: `Circuit breakers whose state lives in Redis, so every process that calls a
service (a gateway, a drainer, a cron job through 'breaker exec') sees and
changes the same breaker. States: closed, open, half_open, and the operator
overrides forced_open (trip) and disabled.`,
		RunE: groupRun,
	}
	cmd.AddCommand(
		NewCmdBreakerStatus(f, nil),
		NewCmdBreakerOverride(f, overrideReset, nil),
		NewCmdBreakerOverride(f, overrideTrip, nil),
		NewCmdBreakerOverride(f, overrideDisable, nil),
		NewCmdBreakerOverride(f, overrideEnable, nil),
		NewCmdBreakerEvents(f, nil),
		NewCmdBreakerRecord(f, nil),
		NewCmdBreakerExec(f, nil),
		NewCmdBreakerConfigure(f, nil),
		NewCmdBreakerApply(f, nil),
	)
	return cmd
}

// groupRun is the RunE of a command that only groups verbs: with no
// argument it prints its help; a misspelt verb is a usage error (exit 2),
// so `haderctl breaker stauts` in CI does not pass silently.
func groupRun(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return cmdutil.UsageErrorf("unknown command %q for %q", args[0], cmd.CommandPath())
	}
	return cmd.Help()
}

// knownBreakers returns the registered breaker names and the configured
// services, merged and sorted, and a set of them.
func knownBreakers(ctx context.Context, f *cmdutil.Factory, e *breaker.Engine) ([]string, map[string]bool, error) {
	c, err := f.Config()
	if err != nil {
		return nil, nil, err
	}
	registered, err := e.Names(ctx)
	if err != nil {
		return nil, nil, f.RedisError(err)
	}
	set := map[string]bool{}
	for _, n := range registered {
		set[n] = true
	}
	for _, s := range c.Services {
		set[s.Name] = true
	}
	names := make([]string, 0, len(set))
	for n := range set {
		names = append(names, n)
	}
	sort.Strings(names)
	return names, set, nil
}

// validNames checks breaker names given as arguments (bad input: exit 2).
func validNames(names []string) error {
	for _, n := range names {
		if err := store.ValidName("breaker", n); err != nil {
			return err
		}
	}
	return nil
}

// requireKnown refuses names that are neither registered nor configured,
// so a typo does not create a breaker nobody watches.
func requireKnown(names []string, known map[string]bool) error {
	for _, n := range names {
		if !known[n] {
			return cmdutil.UsageErrorf("unknown breaker %q: it is not in the config file and has never been used (see `haderctl breaker status`)", n)
		}
	}
	return nil
}

// ago renders a past time relative to now, "-" for the zero time.
func ago(t, now time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return short(now.Sub(t)) + " ago"
}

// short renders a duration at second precision (milliseconds below 1 s).
func short(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	if d < time.Second {
		return d.Round(time.Millisecond).String()
	}
	return d.Round(time.Second).String()
}

func stateColor(s breaker.State) string {
	switch s {
	case breaker.Closed:
		return "green"
	case breaker.HalfOpen, breaker.Disabled:
		return "yellow"
	}
	return "red"
}

func plural(n int64, word string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, word)
	}
	return fmt.Sprintf("%d %ss", n, word)
}

// engineContext gets an engine part and a context bounded by the Redis
// timeout: the opening of most commands.
func engineContext[T any](cmd *cobra.Command, f *cmdutil.Factory, get func() (T, error)) (T, context.Context, context.CancelFunc, error) {
	return partContext(cmd.Context(), f, get)
}

// partContext is engineContext for a run function that has a context
// rather than a cobra command.
func partContext[T any](parent context.Context, f *cmdutil.Factory, get func() (T, error)) (T, context.Context, context.CancelFunc, error) {
	e, err := get()
	if err != nil {
		return e, nil, func() {}, err
	}
	ctx, cancel := f.RedisContext(parent)
	return e, ctx, cancel, nil
}
