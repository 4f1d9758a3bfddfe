package breaker

import (
	"errors"
	"fmt"
	"os"
	"os/user"
	"time"
)

// State is a breaker state as stored in Redis.
type State string

// The states. FORCED_OPEN and DISABLED are operator overrides: the first
// refuses every call until reset, the second admits every call and still
// counts outcomes but never opens.
const (
	Closed     State = "closed"
	Open       State = "open"
	HalfOpen   State = "half_open"
	ForcedOpen State = "forced_open"
	Disabled   State = "disabled"
	// Corrupt is reported for a hash that does not hold a valid breaker.
	Corrupt State = "corrupt"
	// Unknown is reported when Redis cannot be read.
	Unknown State = "unknown"
)

// Valid reports whether s is one of the five stored states.
func (s State) Valid() bool {
	switch s {
	case Closed, Open, HalfOpen, ForcedOpen, Disabled:
		return true
	}
	return false
}

// ErrOpen is matched (errors.Is) by every refusal of a call.
var ErrOpen = errors.New("circuit breaker is open")

// OpenError is a refused call: the breaker is OPEN, FORCED_OPEN, or
// HALF_OPEN with every probe slot taken.
type OpenError struct {
	Name  string
	State State
	// RetryAfter is the time until the next probe may be admitted; a
	// negative value means not until an operator resets the breaker.
	RetryAfter time.Duration
	// RedisDown is set when the refusal comes from the "deny" policy while
	// Redis is unreachable.
	RedisDown bool
}

func (e *OpenError) Error() string {
	switch {
	case e.RedisDown:
		return fmt.Sprintf("breaker %s refuses calls while Redis is unreachable (redis_unavailable: deny)", e.Name)
	case e.State == ForcedOpen:
		return fmt.Sprintf("breaker %s is forced open by an operator; it admits calls again after `haderctl breaker reset %s`", e.Name, e.Name)
	case e.State == HalfOpen:
		return fmt.Sprintf("breaker %s is half-open and every probe slot is taken; next probe in %s", e.Name, roundUp(e.RetryAfter))
	}
	return fmt.Sprintf("breaker %s is open; next probe in %s", e.Name, roundUp(e.RetryAfter))
}

// Is makes errors.Is(err, ErrOpen) true.
func (e *OpenError) Is(target error) bool { return target == ErrOpen }

func roundUp(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	if d < time.Second {
		return d.Round(time.Millisecond)
	}
	return d.Round(time.Second)
}

// CorruptError says a breaker's hash does not hold a valid breaker (someone
// wrote into it by hand). `haderctl breaker reset` repairs it.
type CorruptError struct {
	Name   string
	Detail string
}

func (e *CorruptError) Error() string {
	return fmt.Sprintf("breaker %s is corrupt in Redis: %s (`haderctl breaker reset %s` repairs it)", e.Name, e.Detail, e.Name)
}

// Event is one transition, as stored in the event stream and published.
type Event struct {
	ID         string    `json:"id"`
	Name       string    `json:"name"`
	From       State     `json:"from"`
	To         State     `json:"to"`
	Reason     string    `json:"reason"`
	Generation int64     `json:"generation"`
	Failures   int64     `json:"failures"`
	Successes  int64     `json:"successes"`
	At         time.Time `json:"at"`
	Host       string    `json:"host"`
	PID        int       `json:"pid"`
	User       string    `json:"user"`
	// Action is set for an event that changed settings, not state
	// ("configure" or "apply"; From and To are then the unchanged state).
	Action string `json:"action,omitempty"`
	// Changes are the settings that action changed.
	Changes []Change `json:"changes,omitempty"`
	// Since and Until are, for ActionFallback, the outage during which the
	// reporting process ran the breaker on its in-memory fallback (its own
	// clock: only it saw the outage), Calls how many calls that breaker
	// answered or counted meanwhile, and Reporter the process' reporter id.
	Since    time.Time `json:"since,omitzero"`
	Until    time.Time `json:"until,omitzero"`
	Calls    int64     `json:"calls,omitempty"`
	Reporter string    `json:"reporter,omitempty"`
}

// Change is one setting changed by configure or apply. From is empty when
// no value was stored (the breaker ran with each process' own).
type Change struct {
	Field string `json:"field"`
	From  string `json:"from"`
	To    string `json:"to"`
}

func (c Change) String() string {
	from := c.From
	if from == "" {
		from = "(unset)"
	}
	return fmt.Sprintf("%s %s → %s", c.Field, from, c.To)
}

// SettingsError is a settings change refused because the result would be
// invalid; the message names the field.
type SettingsError struct {
	Name string
	Msg  string
}

func (e *SettingsError) Error() string { return fmt.Sprintf("breaker %s: %s", e.Name, e.Msg) }

// Who identifies the process making transitions, for the event stream.
type Who struct {
	Host string `json:"host"`
	PID  int    `json:"pid"`
	User string `json:"user"`
}

// ThisProcess describes the running process.
func ThisProcess() Who {
	w := Who{PID: os.Getpid()}
	w.Host, _ = os.Hostname()
	if u, err := user.Current(); err == nil {
		w.User = u.Username
	} else {
		w.User = os.Getenv("USER")
	}
	return w
}
