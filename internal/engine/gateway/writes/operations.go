package writes

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/haderos/haderctl/internal/engine/queue"
	"github.com/haderos/haderctl/internal/redact"
	"github.com/redis/go-redis/v9"
)

// OperationsPattern is the route of the status endpoint for a ServeMux.
const OperationsPattern = "GET " + OperationsPath + "{id}"

// Status is the status endpoint's document: a queued operation with every
// secret redacted.
type Status struct {
	ID            string     `json:"id"`
	Queue         string     `json:"queue"`
	State         string     `json:"state"`
	Operation     string     `json:"operation,omitempty"`
	Service       string     `json:"service,omitempty"`
	Attempts      int        `json:"attempts"`
	MaxAttempts   int        `json:"max_attempts,omitempty"`
	CreatedAt     *time.Time `json:"created_at,omitempty"`
	NextAttemptAt *time.Time `json:"next_attempt_at,omitempty"`
	LeaseDeadline *time.Time `json:"lease_deadline,omitempty"`
	DiedAt        *time.Time `json:"died_at,omitempty"`
	CompletedAt   *time.Time `json:"completed_at,omitempty"`
	// Error is why it was queued; LastError why its last replay failed.
	Error     string         `json:"error,omitempty"`
	LastError string         `json:"last_error,omitempty"`
	Request   *StatusRequest `json:"request,omitempty"`
}

// StatusRequest is the stored request, redacted: secret headers masked,
// the URL's secrets masked, and the body given only as its length.
type StatusRequest struct {
	Method    string            `json:"method"`
	URL       string            `json:"url"`
	Headers   map[string]string `json:"headers,omitempty"`
	BodyBytes int               `json:"body_bytes"`
}

// Register adds the status endpoint to mux.
func (wr *Writer) Register(mux *http.ServeMux) {
	mux.Handle(OperationsPattern, wr.OperationsHandler())
}

// OperationsHandler serves GET /api/v1/integrations/queue/operations/{id}:
// the operation's state, attempts, times and errors (Status), 404 when no
// queue holds it (a completed one is known for queue.retention), 400 for
// an id that cannot be one, 503 when Redis cannot be read.
func (wr *Writer) OperationsHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("id")
		if id == "" { // mounted without the pattern
			id = strings.TrimPrefix(r.URL.Path, OperationsPath)
		}
		if err := queue.ValidID(id); err != nil {
			writeError(w, http.StatusBadRequest, err.Error(), "")
			return
		}
		op, err := wr.Lookup(r.Context(), id)
		if err != nil {
			wr.o.Logger.Warn("gateway: an operation's status could not be read", "id", id, "err", err)
			writeError(w, http.StatusServiceUnavailable, "the queue cannot be read: Redis is unavailable", id)
			return
		}
		if op == nil {
			writeError(w, http.StatusNotFound, "no queue holds this operation (completed ones are kept for queue.retention)", id)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		_ = json.NewEncoder(w).Encode(statusOf(op))
	})
}

// Lookup finds an operation by id: in the queue its index names, or else
// in every known queue (the index expired, or it was pushed by the CLI).
// nil when none holds it.
func (wr *Writer) Lookup(ctx context.Context, id string) (*queue.Operation, error) {
	q, err := wr.rdb.Get(ctx, wr.o.Keys.GatewayOperation(id)).Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, err
	}
	if q != "" {
		op, err := wr.queues.Inspect(ctx, q, id)
		if err != nil || op != nil {
			return op, err
		}
	}
	names, err := wr.queues.Known(ctx)
	if err != nil {
		return nil, err
	}
	for _, name := range names {
		if name == q {
			continue
		}
		op, err := wr.queues.Inspect(ctx, name, id)
		if err != nil || op != nil {
			return op, err
		}
	}
	return nil, nil
}

// statusOf redacts an operation for the endpoint: its errors may quote
// URLs with tokens, or the request's own secrets.
func statusOf(op *queue.Operation) Status {
	var secrets []string
	if op.Request != nil {
		secrets = append(redact.HeaderSecrets(op.Request.Headers), redact.HTTPURLSecrets(op.Request.URL)...)
	}
	secrets = append(secrets, redact.JSONSecrets(op.Data)...)
	clean := func(s string) string { return redact.URLsIn(redact.Scrub(s, secrets...)) }
	s := Status{ID: op.ID, Queue: op.Queue, State: op.State, Operation: op.Operation, Service: op.Service,
		Attempts: op.Attempts, MaxAttempts: op.MaxAttempts, NextAttemptAt: op.NextAttemptAt,
		LeaseDeadline: op.LeaseDeadline, DiedAt: op.DiedAt, CompletedAt: op.CompletedAt,
		Error: clean(op.Error), LastError: clean(op.LastError)}
	if !op.CreatedAt.IsZero() && op.CreatedAt.UnixMilli() != 0 {
		t := op.CreatedAt.UTC()
		s.CreatedAt = &t
	}
	if op.Request != nil {
		n := len(op.Request.Body)
		if n == 0 && string(op.Data) != "null" {
			n = len(op.Data)
		}
		s.Request = &StatusRequest{Method: op.Request.Method, URL: redact.HTTPURL(op.Request.URL),
			Headers: redact.Headers(op.Request.Headers), BodyBytes: n}
	}
	return s
}

// writeError answers a JSON error: {"error": msg, "status": code} and the
// key or operation id it is about.
func writeError(w http.ResponseWriter, code int, msg, id string) {
	doc := map[string]any{"error": msg, "status": code}
	if id != "" {
		doc["id"] = id
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(doc)
}
