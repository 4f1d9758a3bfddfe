// Package queue is the fallback queue: failed operations kept in Redis,
// claimed under leases with fencing tokens, retried with backoff, and
// never lost (docs/redis-schema.md has the keys and the rules).
package queue

import (
	"encoding/json"
	"errors"
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

// Request is how an operation is replayed over HTTP. The body is the
// operation's data, unless Body is set.
type Request struct {
	Method string `json:"method"`
	// URL is absolute, or a path relative to the service's base URL.
	URL     string            `json:"url"`
	Headers map[string]string `json:"headers,omitempty"`
	// Body, when not empty, is the body replayed byte for byte instead of
	// the data (base64 in the meta line): a body that is not JSON, such
	// as a form or an image a gateway queued. The data is then null.
	Body []byte `json:"body,omitempty"`
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
	State    string `json:"state,omitempty"`
	Attempts int    `json:"attempts"`
	// Stalls counts the leases that expired while it was held (its
	// drainer stopped reporting); they are not attempts.
	Stalls        int        `json:"stalls,omitempty"`
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

// CorruptError is an operation entry that cannot be read as an operation.
type CorruptError struct {
	ID, Why string
}

func (e *CorruptError) Error() string {
	return fmt.Sprintf("operation %s is corrupt in Redis: %s", e.ID, e.Why)
}

// band separates priorities in a ready score: rank × band + first-failed ms.
const band = 1e13

// meta is the JSON line of an operation's entry (docs/redis-schema.md);
// the id, service, priority, max attempts and times live in the entry's
// first line and the sorted sets, and the data follows as it is.
type meta struct {
	Operation string   `json:"operation"`
	Error     string   `json:"error,omitempty"`
	Request   *Request `json:"request,omitempty"`
}

// entry is one operation's entry in the ops hash, as the drainer reads it.
type entry struct {
	score    int64
	attempts int
	op       *Operation
}

// parseEntry reads an entry: "<score> <attempts> <max> <service>\n<meta
// JSON>\n<data JSON>". One that does not parse, or lacks the operation
// name, is corrupt.
func parseEntry(q, id, v string) (entry, error) {
	bad := func(format string, a ...any) (entry, error) {
		return entry{}, &CorruptError{ID: id, Why: fmt.Sprintf(format, a...)}
	}
	head, rest, ok := strings.Cut(v, "\n")
	if !ok {
		return bad("the entry has no control line")
	}
	// exactly what the scripts read: single spaces, digits only, and an
	// optional stall count
	f := strings.Split(head, " ")
	stalls := 0
	if len(f) == 5 && digits(f[4]) {
		stalls, _ = strconv.Atoi(f[4])
		f = f[:4]
	}
	if len(f) != 4 || !digits(f[0]) || !digits(f[1]) || !digits(f[2]) || f[3] == "" || strings.ContainsAny(f[3], "\t\r\v\f") {
		return bad("control line %q does not parse", head)
	}
	score, err1 := strconv.ParseInt(f[0], 10, 64)
	att, err2 := strconv.Atoi(f[1])
	max, err3 := strconv.Atoi(f[2])
	rank := score / band
	if err1 != nil || err2 != nil || err3 != nil || score < 0 || rank >= int64(len(Priorities)) || att < 0 || max < 1 {
		return bad("control line %q does not parse", head)
	}
	js, data, ok := strings.Cut(rest, "\n")
	if !ok {
		return bad("the entry has no data line")
	}
	m, ok := plainMeta(js)
	if !ok {
		if err := json.Unmarshal([]byte(js), &m); err != nil {
			if te := (*json.UnmarshalTypeError)(nil); errors.As(err, &te) {
				return bad("the operation line's field %q holds a JSON %s", te.Field, te.Value)
			}
			return bad("the operation line is not a JSON object")
		}
	}
	if m.Operation == "" {
		if m.Error != "" { // e.g. what the schema-1 upgrade could not read
			return bad("the operation has no name: %s", m.Error)
		}
		return bad("the operation has no name")
	}
	if !json.Valid([]byte(data)) {
		return bad("the data is not JSON")
	}
	if m.Request != nil && (m.Request.Method == "" || m.Request.URL == "") {
		return bad("the request has no method or URL")
	}
	o := &Operation{ID: id, Queue: q, Operation: m.Operation, Service: f[3], Data: json.RawMessage(data), Error: m.Error,
		Priority: Priorities[rank], MaxAttempts: max, Request: m.Request, Attempts: att, Stalls: stalls,
		CreatedAt: time.UnixMilli(score % band)}
	return entry{score: score, attempts: att, op: o}, nil
}

func digits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// plainMeta reads the common meta line, {"operation":"<name>"} or
// {"operation":"<name>","error":"<text>"} without escapes, as
// json.Marshal writes it; anything else is left to encoding/json.
func plainMeta(js string) (meta, bool) {
	rest, ok := strings.CutPrefix(js, `{"operation":"`)
	if !ok || strings.IndexByte(js, '\\') >= 0 {
		return meta{}, false
	}
	name, rest, ok := strings.Cut(rest, `"`)
	if !ok {
		return meta{}, false
	}
	if rest == "}" {
		return meta{Operation: name}, true
	}
	text, ok := strings.CutPrefix(rest, `,"error":"`)
	if !ok || !strings.HasSuffix(text, `"}`) {
		return meta{}, false
	}
	text = text[:len(text)-2]
	if strings.IndexByte(text, '"') >= 0 {
		return meta{}, false
	}
	return meta{Operation: name, Error: text}, true
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
