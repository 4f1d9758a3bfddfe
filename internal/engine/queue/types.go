// Package queue is the fallback queue: failed operations kept in Redis,
// claimed under leases with fencing tokens, retried with backoff, and
// never lost (docs/redis-schema.md has the keys and the rules).
package queue

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Priority orders ready operations: critical first, low last.
type Priority string

// Priorities.
const (
	Critical Priority = "critical"
	High     Priority = "high"
	Normal   Priority = "normal"
	Low      Priority = "low"
)

// Priorities lists them from highest to lowest.
var Priorities = []Priority{Critical, High, Normal, Low}

// Rank is the priority's place in Priorities (0 = critical), -1 if unknown.
func (p Priority) Rank() int {
	for i, q := range Priorities {
		if q == p {
			return i
		}
	}
	return -1
}

// ParsePriority checks a priority name; "" is normal.
func ParsePriority(s string) (Priority, error) {
	if s == "" {
		return Normal, nil
	}
	p := Priority(strings.ToLower(s))
	if p.Rank() < 0 {
		return "", &InputError{fmt.Sprintf("unknown priority %q: use critical, high, normal or low", s)}
	}
	return p, nil
}

// Request is how an operation is replayed over HTTP. Body is the
// operation's data.
type Request struct {
	Method string `json:"method"`
	// URL is absolute, or a path relative to the service's base URL.
	URL     string            `json:"url"`
	Headers map[string]string `json:"headers,omitempty"`
}

// Operation is one failed operation kept for replay.
type Operation struct {
	ID        string          `json:"id"`
	Queue     string          `json:"queue"`
	Operation string          `json:"operation"`
	Service   string          `json:"service"`
	Data      json.RawMessage `json:"data"`
	// Error is the error that made the caller queue it.
	Error       string   `json:"error,omitempty"`
	Priority    Priority `json:"priority"`
	MaxAttempts int      `json:"max_attempts"`
	// Request is nil for operations replayed only through --exec.
	Request *Request `json:"request,omitempty"`

	// Filled from Redis.
	State         string     `json:"state,omitempty"`
	Attempts      int        `json:"attempts"`
	CreatedAt     time.Time  `json:"created_at"`
	NextAttemptAt *time.Time `json:"next_attempt_at,omitempty"`
	LeaseDeadline *time.Time `json:"lease_deadline,omitempty"`
	DiedAt        *time.Time `json:"died_at,omitempty"`
	CompletedAt   *time.Time `json:"completed_at,omitempty"`
	LastError     string     `json:"last_error,omitempty"`
}

// InputError is bad input (exit code 2): invalid JSON, oversized data,
// unknown priority, bad id.
type InputError struct{ Msg string }

func (e *InputError) Error() string { return e.Msg }

// CorruptError is an operation hash that cannot be read as an operation.
type CorruptError struct {
	ID, Why string
}

func (e *CorruptError) Error() string {
	return fmt.Sprintf("operation %s is corrupt in Redis: %s", e.ID, e.Why)
}

// fields is the operation's hash, as stored (docs/redis-schema.md).
func (o *Operation) fields() []any {
	f := []any{"id", o.ID, "queue", o.Queue, "operation", o.Operation, "service", o.Service,
		"data", string(o.Data), "priority", string(o.Priority), "max_attempts", strconv.Itoa(o.MaxAttempts)}
	if o.Error != "" {
		f = append(f, "error", o.Error)
	}
	if o.Request != nil {
		f = append(f, "method", o.Request.Method, "url", o.Request.URL)
		if len(o.Request.Headers) > 0 {
			h, _ := json.Marshal(o.Request.Headers)
			f = append(f, "headers", string(h))
		}
	}
	return f
}

// decodeOp reads an operation hash; a hash that is missing a required
// field or holds one that does not parse is corrupt.
func decodeOp(id string, h map[string]string) (*Operation, error) {
	bad := func(format string, a ...any) error { return &CorruptError{ID: id, Why: fmt.Sprintf(format, a...)} }
	if len(h) == 0 {
		return nil, bad("the operation hash is missing")
	}
	o := &Operation{ID: id, Queue: h["queue"], Operation: h["operation"], Service: h["service"],
		Error: h["error"], Priority: Priority(h["priority"])}
	if h["id"] != id {
		return nil, bad("field 'id' holds %q", h["id"])
	}
	if o.Operation == "" || o.Service == "" {
		return nil, bad("fields 'operation' and 'service' are required")
	}
	if o.Priority.Rank() < 0 {
		return nil, bad("field 'priority' holds %q", h["priority"])
	}
	if !json.Valid([]byte(h["data"])) {
		return nil, bad("field 'data' is not JSON")
	}
	o.Data = json.RawMessage(h["data"])
	var err error
	if o.MaxAttempts, err = strconv.Atoi(h["max_attempts"]); err != nil || o.MaxAttempts < 1 {
		return nil, bad("field 'max_attempts' holds %q", h["max_attempts"])
	}
	if ms, err := strconv.ParseInt(h["created_at"], 10, 64); err == nil {
		o.CreatedAt = time.UnixMilli(ms)
	} else {
		return nil, bad("field 'created_at' holds %q", h["created_at"])
	}
	if m := h["method"]; m != "" {
		o.Request = &Request{Method: m, URL: h["url"]}
		if hs := h["headers"]; hs != "" {
			if err := json.Unmarshal([]byte(hs), &o.Request.Headers); err != nil {
				return nil, bad("field 'headers' is not a JSON object of strings")
			}
		}
	}
	if h["state"] == "completed" {
		o.State = "completed"
		if ms, err := strconv.ParseInt(h["completed_at"], 10, 64); err == nil {
			t := time.UnixMilli(ms)
			o.CompletedAt = &t
		}
		o.Attempts, _ = strconv.Atoi(h["attempts"])
	}
	return o, nil
}

// ValidID checks an operation id (an idempotency key): 1-200 printable
// bytes without spaces or braces.
func ValidID(id string) error {
	if len(id) == 0 || len(id) > 200 {
		return &InputError{fmt.Sprintf("invalid operation id %q: use 1-200 characters", id)}
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if c <= ' ' || c >= 0x7f || c == '{' || c == '}' {
			return &InputError{fmt.Sprintf("invalid operation id %q: use printable ASCII without spaces or braces", id)}
		}
	}
	return nil
}
