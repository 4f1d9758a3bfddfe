package source

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/haderos/haderctl/internal/dashboard"
	"github.com/haderos/haderctl/internal/engine/breaker"
	"github.com/haderos/haderctl/internal/engine/chaos"
	"github.com/haderos/haderctl/internal/engine/queue"
	"github.com/haderos/haderctl/internal/engine/snapshot"
	"github.com/haderos/haderctl/internal/engine/store"
)

// ErrReadOnly is every action refused by Options.ReadOnly.
var ErrReadOnly = errors.New("read-only dashboard: actions are off")

// InputError is an action the Backend refuses before any change: an
// unknown target, a missing reason, an operation that is not dead.
type InputError struct{ Msg string }

func (e *InputError) Error() string { return e.Msg }

// The reasons the CLI records when none is given (breaker disable and
// enable, chaos stop-all); reset and trip need one.
const (
	disableReason = "disabled by an operator"
	enableReason  = "enabled by an operator"
	stopAllReason = "emergency stop"
)

// whoAmI names this process for a queue pause, as the CLI does.
func whoAmI() string {
	w := breaker.ThisProcess()
	return w.User + "@" + w.Host + ":" + strconv.Itoa(w.PID)
}

// Do implements dashboard.Backend: one action through the part call the
// CLI verb makes. The breaker's transition event records the reason and
// this process (the breaker engine's Who); a stop's audit entry the
// reason and the chaos client's Who; a pause who paused.
func (b *Backend) Do(ctx context.Context, a dashboard.Action) (string, error) {
	if b.o.ReadOnly {
		return "", ErrReadOnly
	}
	switch a.Kind {
	case dashboard.ResetBreaker, dashboard.TripBreaker, dashboard.DisableBreaker, dashboard.EnableBreaker:
		return b.breakerAction(ctx, a)
	case dashboard.PauseQueue, dashboard.ResumeQueue, dashboard.RetryDead:
		return b.queueAction(ctx, a)
	case dashboard.StopExperiment:
		return b.stop(ctx, a)
	case dashboard.StopAllChaos:
		return b.stopAll(ctx, a)
	}
	return "", &InputError{fmt.Sprintf("unknown action %q", a.Kind)}
}

func (b *Backend) breakerAction(ctx context.Context, a dashboard.Action) (string, error) {
	type verb struct {
		done, defaultReason string
		apply               func(*breaker.Engine, context.Context, string, string) (breaker.Result, error)
	}
	v := map[dashboard.ActionKind]verb{
		dashboard.ResetBreaker:   {"reset", "", (*breaker.Engine).Reset},
		dashboard.TripBreaker:    {"tripped", "", (*breaker.Engine).Trip},
		dashboard.DisableBreaker: {"disabled", disableReason, (*breaker.Engine).Disable},
		dashboard.EnableBreaker:  {"enabled", enableReason, (*breaker.Engine).Enable},
	}[a.Kind]
	reason := strings.TrimSpace(a.Reason)
	if reason == "" {
		if v.defaultReason == "" {
			return "", &InputError{fmt.Sprintf("breaker %s needs a reason: it is recorded in the event stream", strings.TrimPrefix(string(a.Kind), "breaker."))}
		}
		reason = v.defaultReason
	}
	if err := store.ValidName("breaker", a.Target); err != nil {
		return "", err
	}
	// as the CLI: a name neither registered nor configured is refused, so
	// a typo does not create a breaker nobody watches. A reader of its
	// own: a filtered read would narrow the refresh reader's name cache,
	// and the next refresh would take two round trips.
	s, err := b.sys.Reader().Snapshot(ctx, snapshot.Filter{Parts: snapshot.Breakers, Names: []string{a.Target}})
	if err != nil {
		return "", err
	}
	if len(s.Breakers) == 0 {
		return "", &InputError{fmt.Sprintf("unknown breaker %q: it is not configured and has never been used", a.Target)}
	}
	r, err := v.apply(b.sys.Breakers, ctx, a.Target, reason)
	if err != nil {
		return "", err
	}
	was := s.Breakers[0].State
	if r.Transition != nil {
		was = r.Transition.From
	}
	return fmt.Sprintf("breaker %s %s (was %s)", a.Target, v.done, stateWords(was)), nil
}

func (b *Backend) queueAction(ctx context.Context, a dashboard.Action) (string, error) {
	// as the CLI: the queue must exist (Resolve names an unknown one)
	if _, err := b.sys.Queues.Resolve(ctx, []string{a.Target}); err != nil {
		return "", err
	}
	switch a.Kind {
	case dashboard.PauseQueue:
		if err := b.sys.Queues.Pause(ctx, a.Target, b.who); err != nil {
			return "", err
		}
		return "queue " + a.Target + " paused", nil
	case dashboard.ResumeQueue:
		if err := b.sys.Queues.Resume(ctx, a.Target); err != nil {
			return "", err
		}
		return "queue " + a.Target + " resumed", nil
	}
	if err := queue.ValidID(a.ID); err != nil {
		return "", err
	}
	r, err := b.sys.Queues.Retry(ctx, a.Target, []string{a.ID})
	if err != nil {
		return "", err
	}
	switch {
	case len(r.NotDead) > 0:
		return "", &InputError{fmt.Sprintf("operation %s is not dead in %s: nothing done", a.ID, a.Target)}
	case len(r.Corrupt) > 0:
		return "", fmt.Errorf("operation %s is dead in %s but its entry cannot be read, so it stays dead (see `haderctl queue inspect`)", a.ID, a.Target)
	}
	return fmt.Sprintf("operation %s of %s back to ready", a.ID, a.Target), nil
}

func (b *Backend) stop(ctx context.Context, a dashboard.Action) (string, error) {
	if a.Target == "" {
		return "", &InputError{"chaos stop needs an experiment id"}
	}
	r, err := b.sys.Chaos.Stop(ctx, a.Target, strings.TrimSpace(a.Reason))
	if err != nil {
		return "", err
	}
	if len(r.Stopped) != 1 {
		return "", &InputError{fmt.Sprintf("no running experiment %q", a.Target)}
	}
	return withWarnings("experiment "+a.Target+" stopped", r), nil
}

func (b *Backend) stopAll(ctx context.Context, a dashboard.Action) (string, error) {
	reason := strings.TrimSpace(a.Reason)
	if reason == "" {
		reason = stopAllReason
	}
	r, err := b.sys.Chaos.StopAll(ctx, reason)
	if err != nil {
		return "", err
	}
	n := strconv.Itoa(len(r.Stopped)) + " experiments"
	if len(r.Stopped) == 1 {
		n = "1 experiment"
	}
	msg := "stopped " + n + "; chaos halted until `haderctl chaos resume`"
	if !r.Halted {
		msg = "stopped " + n + "; the halt could not be latched"
	}
	return withWarnings(msg, r), nil
}

// withWarnings appends what Redis refused of a stop's bookkeeping (the
// stop itself is done).
func withWarnings(msg string, r chaos.StopResult) string {
	if len(r.Warnings) > 0 {
		msg += " (warning: " + strings.Join(r.Warnings, "; ") + ")"
	}
	return msg
}
