// Package dashboard is `haderctl dashboard`: one screen over the shared
// Redis state for on-call, on bubbletea v2. The model never talks to
// Redis: every read and action is a Backend call made inside a tea.Cmd
// that returns a typed message, so the UI never waits on Redis.
package dashboard

import (
	"context"
	"time"

	"github.com/haderos/haderctl/internal/engine/breaker"
	"github.com/haderos/haderctl/internal/engine/chaos"
	"github.com/haderos/haderctl/internal/engine/health"
	"github.com/haderos/haderctl/internal/engine/queue"
	"github.com/haderos/haderctl/internal/engine/snapshot"
)

// Backend is everything the dashboard reads and does. The engine-backed
// one is in package dashboard/source; tests may record calls.
type Backend interface {
	// Info is the header: redacted Redis address, namespace, environment.
	Info() Info
	// Snapshot reads every part in one round trip in steady state.
	Snapshot(ctx context.Context) (*snapshot.Snapshot, error)
	// Follow delivers events as they happen (breaker transitions over
	// pub/sub, chaos audit entries, health alerts) until ctx ends or the
	// connection fails; the caller re-follows after an error.
	Follow(ctx context.Context, fn func(Event)) error
	// Recent is the latest n events of every kind, oldest first.
	Recent(ctx context.Context, n int64) ([]Event, error)

	// Drill-downs.
	BreakerDetail(ctx context.Context, name string, events int64) (BreakerDetail, error)
	// QueueOps pages a queue's operations in one state ("ready",
	// "delayed", "inflight", "dead") through a server-side cursor: ""
	// starts, the returned next is "" at the end. Data and headers are
	// redacted.
	QueueOps(ctx context.Context, q, state, cursor string, n int64) (ops []*queue.Operation, next string, err error)
	ServiceChecks(ctx context.Context, name string, n int64) (ServiceDetail, error)
	ExperimentAudit(ctx context.Context, id string, n int64) ([]chaos.AuditEntry, error)

	// Do runs one action through the same engine call as the CLI, recorded
	// in the same event or audit stream; the string says what happened.
	Do(ctx context.Context, a Action) (string, error)
}

// Info is what the header shows.
type Info struct {
	Address     string // redacted: never a password
	Namespace   string
	Environment string
	ReadOnly    bool
}

// EventKind says where an event comes from.
type EventKind string

// The event kinds.
const (
	BreakerEvent EventKind = "breaker"
	AlertEvent   EventKind = "alert"
	ChaosEvent   EventKind = "chaos"
)

// Event is one line of the events tail.
type Event struct {
	At      time.Time
	Kind    EventKind
	Subject string // breaker, service or experiment
	Text    string // e.g. "closed → open (5 failures)", "down alert", "stopped by alice: reason"
}

// BreakerDetail is a breaker's drill-down.
type BreakerDetail struct {
	Status breaker.Status
	Events []breaker.Event // newest last
}

// ServiceDetail is a service's drill-down.
type ServiceDetail struct {
	Status health.Status
	Checks []health.Sample // newest first
	Alerts []health.AlertEvent
}

// ActionKind names an action.
type ActionKind string

// The actions; every one asks for confirmation, and none is offered with
// --read-only.
const (
	ResetBreaker   ActionKind = "breaker.reset"
	TripBreaker    ActionKind = "breaker.trip"
	DisableBreaker ActionKind = "breaker.disable"
	EnableBreaker  ActionKind = "breaker.enable"
	PauseQueue     ActionKind = "queue.pause"
	ResumeQueue    ActionKind = "queue.resume"
	RetryDead      ActionKind = "queue.retry"
	StopExperiment ActionKind = "chaos.stop"
	StopAllChaos   ActionKind = "chaos.stop-all"
)

// TakesReason is whether the CLI's verb takes a --reason (the dialog then
// asks for one).
func (k ActionKind) TakesReason() bool {
	switch k {
	case ResetBreaker, TripBreaker, DisableBreaker, EnableBreaker, StopExperiment, StopAllChaos:
		return true
	}
	return false
}

// ReasonRequired is whether the CLI refuses the verb without a reason
// (breaker reset and trip); for the other kinds that take one, the dialog
// offers the field and an empty reason takes the CLI's default, so the
// emergency S is two keys: S, enter.
func (k ActionKind) ReasonRequired() bool { return k == ResetBreaker || k == TripBreaker }

// Action is one action on one target.
type Action struct {
	Kind   ActionKind
	Target string // breaker, queue or experiment id; empty for StopAllChaos
	ID     string // the operation id for RetryDead
	Reason string
}
