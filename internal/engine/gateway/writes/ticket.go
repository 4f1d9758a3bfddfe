package writes

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/haderos/haderctl/internal/engine/chaos/faults"
	"github.com/haderos/haderctl/internal/engine/queue"
	"github.com/haderos/haderctl/internal/redact"
)

// Response headers of a queued write.
const (
	HeaderOperationID = "X-Hader-Operation-Id"
	// OperationsPath is where a queued operation's status is served:
	// OperationsPath + id.
	OperationsPath = "/api/v1/integrations/queue/operations/"
)

// Ticket is one write between Begin and Finish (the gateway's
// WriteTicket). Its methods are called from the request's goroutine.
type Ticket struct {
	wr    *Writer
	r     *http.Request
	body  []byte
	route string

	// key is the Idempotency-Key ("" without one); owner the claim's token.
	key, fingerprint, owner string

	capture *capture
	// queued is the 202 Queue answered, kept for the key.
	queued *record
}

// Wrap returns w, recording what is answered through it for the key (a
// write without a key is passed through as it is).
func (t *Ticket) Wrap(w http.ResponseWriter) http.ResponseWriter {
	if t.key == "" {
		return w
	}
	t.capture = &capture{ResponseWriter: w, max: t.wr.o.MaxKeptBody}
	return t.capture
}

// Accepted is the body of a 202 for a queued write.
type Accepted struct {
	Status      string `json:"status"`
	OperationID string `json:"operation_id"`
	Queue       string `json:"queue"`
	Location    string `json:"location"`
	Error       string `json:"error,omitempty"`
	// Duplicate is true when the queue already held an operation with this
	// id (the Idempotency-Key's): nothing was queued twice.
	Duplicate bool `json:"duplicate,omitempty"`
}

// Queue stores the request for replay and answers w with 202 Accepted.
// The request is kept as received (see storedRequest), its operation id
// is the Idempotency-Key or a new one, and lastErr is kept redacted.
// A key whose operation the queue still holds for another request (its
// record expired, the key was reused) is answered 422, with a nil error.
// On an error nothing is written to w: the gateway answers.
func (t *Ticket) Queue(w http.ResponseWriter, service, target, lastErr string) error {
	if isRead(t.r.Method) {
		return &queue.InputError{Msg: t.r.Method + " is a read: reads are never queued"}
	}
	wr := t.wr
	q := wr.queueOf(t.route)
	req, data := storedRequest(t.r, t.body, target, wr.keepsCredentials(t.route))
	why := redact.URLsIn(redact.Scrub(lastErr, clientSecrets(t.r.Header)...))
	op := &queue.Operation{ID: t.key, Queue: q, Operation: t.r.Method + " " + t.route, Service: service,
		Data: data, Error: why, Request: req}
	if err := wr.queues.Check(op); err != nil {
		return err
	}
	ctx, cancel := wr.detached(t.r.Context())
	defer cancel()
	res, err := wr.queues.Push(ctx, []*queue.Operation{op})
	if err != nil {
		return err
	}
	if len(res) != 1 {
		return errors.New("the queue answered no result for the push")
	}
	duplicate := res[0].Status == "duplicate"
	if duplicate && t.key != "" {
		// the key's record expired (or was never kept) while the queue
		// still holds its operation: a different request under the key
		// would be dropped by the push, so it is refused instead
		held, err := wr.queues.Inspect(ctx, q, op.ID)
		if err != nil {
			return err
		}
		if held != nil && !sameWrite(held, op) {
			writeError(w, http.StatusUnprocessableEntity,
				"the Idempotency-Key names an operation already queued for another request (method, path, query or body differ)", t.key)
			return nil
		}
	}
	// the index is a shortcut for the status endpoint: without it, it
	// looks through every queue
	if err := wr.rdb.Set(ctx, wr.o.Keys.GatewayOperation(op.ID), q, wr.indexTTL()).Err(); err != nil {
		wr.o.Logger.Warn("gateway: a queued operation's index could not be written", "id", op.ID, "err", err)
	}
	loc := OperationsPath + op.ID
	body, _ := json.Marshal(Accepted{Status: "queued", OperationID: op.ID, Queue: q, Location: loc, Error: why,
		Duplicate: duplicate})
	body = append(body, '\n')
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Location", loc)
	h.Set(HeaderOperationID, op.ID)
	w.WriteHeader(http.StatusAccepted)
	_, _ = w.Write(body)
	if t.key != "" {
		t.queued = &record{Status: http.StatusAccepted, Body: body, OperationID: op.ID, Queue: q, AnsweredAt: time.Now().UTC(),
			Header: map[string][]string{"Content-Type": {"application/json"}, "Location": {loc}, HeaderOperationID: {op.ID}}}
	}
	return nil
}

// sameWrite reports whether the queue's operation held under a key is
// the write now pushed under it again: the same method and route, target
// and body. A completed operation keeps no request (nor does a corrupt
// one readably): it cannot be told apart and counts as the same.
func sameWrite(held, op *queue.Operation) bool {
	switch {
	case held.State == "completed" || held.State == "corrupt":
		return true
	case held.Request == nil || op.Request == nil:
		return false
	}
	return held.Operation == op.Operation && held.Request.Method == op.Request.Method && held.Request.URL == op.Request.URL &&
		bytes.Equal(held.Data, op.Data) && bytes.Equal(held.Request.Body, op.Request.Body)
}

// isRead reports the methods that are never queued, whatever a route
// calls a write: replaying a read later answers no one.
func isRead(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
		return true
	}
	return false
}

// clientSecrets are the values of the client's secret headers, kept or
// not: an upstream's error may echo them. The Idempotency-Key is no
// secret: it is the operation id the answer names.
func clientSecrets(h http.Header) []string {
	flat := make(map[string]string, len(h))
	for k, vs := range h {
		if http.CanonicalHeaderKey(k) != HeaderIdempotencyKey {
			flat[k] = strings.Join(vs, ", ")
		}
	}
	out := redact.HeaderSecrets(flat)
	for k, vs := range h {
		if redact.IsSecretName(k) && len(vs) > 1 && http.CanonicalHeaderKey(k) != HeaderIdempotencyKey {
			out = append(out, vs...)
		}
	}
	return out
}

// indexTTL outlives the life of an operation that is replayed: its
// attempts, then the completed ids' retention (34 h by default). It does
// not wait out the dead set's age cap (90 days): the index is a hint, one
// key per queued write with no cap on their number, and a dead
// operation's status is still found by looking through the queues.
func (wr *Writer) indexTTL() time.Duration {
	s := wr.queues.Settings()
	return s.Retention + time.Duration(s.MaxAttempts)*s.BackoffCap
}

// Finish keeps the answer for the key: the 202 of a queued write, or an
// answer below 500 given through Wrap (keptStatus). A request that got no
// answer (the client went away), a 5xx (the gateway's own, e.g. the queue
// was unreachable), a "retry later" 408, 425 or 429, or an answer a chaos
// error experiment made up (faults.HeaderExperiment) frees the key, so a
// retry is handled afresh.
func (t *Ticket) Finish() {
	if t.key == "" {
		return
	}
	rec := t.queued
	if rec == nil && t.capture != nil && keptStatus(t.capture.status) && t.capture.header[faults.HeaderExperiment] == nil {
		// an answer a chaos experiment made up is not the service's:
		// kept, it would stand for the write after the experiment ended
		rec = t.capture.record()
	}
	t.wr.settle(t.r.Context(), t, rec)
}

// keptStatus is an answer kept for its key: a 2xx, 3xx or 4xx, but not
// a 408, 425 or 429, which ask the client to retry later (kept, they
// would answer every retry for a day), nor a 5xx.
func keptStatus(code int) bool {
	switch code {
	case http.StatusRequestTimeout, http.StatusTooEarly, http.StatusTooManyRequests:
		return false
	}
	return code >= 200 && code < 500
}

// capture passes an answer through while keeping its status, headers and
// up to max bytes of body.
type capture struct {
	http.ResponseWriter
	max    int
	status int
	header http.Header
	body   []byte
	// over is set when the body outgrew max: only the status is kept.
	over bool
}

func (c *capture) WriteHeader(code int) {
	if c.status == 0 && code >= 200 {
		c.status = code
		c.header = keptHeader(c.ResponseWriter.Header())
	}
	c.ResponseWriter.WriteHeader(code)
}

func (c *capture) Write(p []byte) (int, error) {
	if c.status == 0 {
		c.WriteHeader(http.StatusOK)
	}
	if !c.over {
		if len(c.body)+len(p) > c.max {
			c.over, c.body = true, nil
		} else {
			c.body = append(c.body, p...)
		}
	}
	return c.ResponseWriter.Write(p)
}

// Unwrap lets http.ResponseController (the reverse proxy's flushes) reach
// the writer underneath.
func (c *capture) Unwrap() http.ResponseWriter { return c.ResponseWriter }

// Flush passes a flush on, for code that asserts http.Flusher.
func (c *capture) Flush() {
	if c.status == 0 {
		c.WriteHeader(http.StatusOK)
	}
	_ = http.NewResponseController(c.ResponseWriter).Flush()
}

func (c *capture) record() *record {
	rec := &record{Status: c.status, Header: c.header, Body: c.body, AnsweredAt: time.Now().UTC()}
	if c.over {
		rec.Header, rec.Body = nil, nil
	}
	return rec
}

// keptHeader is what of an answer's header is kept for a replay: not
// hop-by-hop headers, Set-Cookie (a session must not be handed to
// whoever retries) or the body's length (a replay may be cut).
func keptHeader(h http.Header) map[string][]string {
	out := make(map[string][]string, len(h))
	drop := hopByHop(h)
	for k, v := range h {
		if drop[http.CanonicalHeaderKey(k)] || strings.EqualFold(k, "Set-Cookie") || strings.EqualFold(k, "Content-Length") {
			continue
		}
		out[k] = append([]string(nil), v...)
	}
	return out
}
