// Package writes queues the gateway's failed writes and honours
// Idempotency-Key across gateway processes (docs/gateway.md, "Queued
// writes").
//
// The gateway (package gateway) calls it through two hooks, which Writer
// and its tickets implement:
//
//	type WriteQueue interface {
//	    // Begin runs before a write is proxied; when it answers w itself (an
//	    // Idempotency-Key replay, 409, 422, 400) it returns done=true and the
//	    // gateway does nothing more.
//	    Begin(w http.ResponseWriter, r *http.Request, body []byte, route string) (WriteTicket, bool)
//	}
//	type WriteTicket interface {
//	    // Wrap is the ResponseWriter the gateway answers through, so the answer can be kept for the key.
//	    Wrap(w http.ResponseWriter) http.ResponseWriter
//	    // Queue stores the request for replay to service at target (path+query
//	    // relative to the service's base URL) and answers w with 202; lastErr
//	    // says why every provider failed.
//	    Queue(w http.ResponseWriter, service, target, lastErr string) error
//	    // Finish is called once after the request is answered (or the client went away).
//	    Finish()
//	}
//
// One write's path:
//
//	Begin ─► Idempotency-Key? ─ no ──────────────────────────────► proxy
//	            │ yes: SET NX the key's record "in_flight"
//	            ├─ taken, other fingerprint ─► 422
//	            ├─ taken, still in flight ───► 409
//	            ├─ taken, answered ──────────► the kept answer, Idempotent-Replayed: true
//	            └─ claimed ──────────────────────────────────────► proxy
//	proxy ─► an upstream answer (through Wrap) ──► Finish keeps it for the key
//	      └► every provider failed ─► Queue: push, 202 ─► Finish keeps the 202
//	Finish with no answer (the client went away), or a 5xx ─► the key is freed
package writes

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/haderos/haderctl/internal/engine/queue"
	"github.com/haderos/haderctl/internal/engine/store"
	"github.com/redis/go-redis/v9"
)

// Defaults of Options' durations and sizes.
const (
	DefaultInFlightTTL = 5 * time.Minute
	DefaultAnswerTTL   = 24 * time.Hour
	DefaultMaxKeptBody = 64 << 10
)

// Options configure a Writer. Every zero value is documented.
type Options struct {
	// Keys are the namespace's key builders.
	Keys store.Keys
	// Queue names the fallback queue of a route; nil means Begin's route
	// argument is the queue's name itself.
	Queue func(route string) string
	// KeepCredentials, when it says true for a route, stores the client's
	// Authorization and Cookie headers with its queued writes
	// (Proxy-Authorization is hop-by-hop: never stored). nil (the
	// default) drops them: the service's configured headers authenticate
	// the replay.
	KeepCredentials func(route string) bool
	// InFlightTTL bounds how long a key stays claimed by a request that
	// has not finished (a gateway that died frees it then); default 5 min.
	InFlightTTL time.Duration
	// AnswerTTL is how long an answer is kept for retries with the same
	// key; default 24 h.
	AnswerTTL time.Duration
	// MaxKeptBody is the largest answer body kept for a key; a larger
	// one keeps only its status and headers. Default 64 KiB.
	MaxKeptBody int
	// Logger receives warnings (a key that could not be kept or freed);
	// nil discards them.
	Logger *slog.Logger
	// Timeout bounds each Redis call made after the client went away
	// (keeping or freeing a key); default 2 s.
	Timeout time.Duration
}

func (o Options) withDefaults() Options {
	if o.InFlightTTL <= 0 {
		o.InFlightTTL = DefaultInFlightTTL
	}
	if o.AnswerTTL <= 0 {
		o.AnswerTTL = DefaultAnswerTTL
	}
	if o.MaxKeptBody <= 0 {
		o.MaxKeptBody = DefaultMaxKeptBody
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Timeout <= 0 {
		o.Timeout = 2 * time.Second
	}
	return o
}

// Writer is the gateway's WriteQueue: one per gateway process, shared by
// its requests.
type Writer struct {
	rdb    redis.UniversalClient
	queues *queue.Client
	o      Options
}

// New makes a Writer that queues through queues and keeps Idempotency-Key
// records in rdb.
func New(rdb redis.UniversalClient, queues *queue.Client, o Options) *Writer {
	return &Writer{rdb: rdb, queues: queues, o: o.withDefaults()}
}

func (wr *Writer) queueOf(route string) string {
	if wr.o.Queue == nil {
		return route
	}
	return wr.o.Queue(route)
}

func (wr *Writer) keepsCredentials(route string) bool {
	return wr.o.KeepCredentials != nil && wr.o.KeepCredentials(route)
}

// Begin claims the request's Idempotency-Key, if it has one, or answers
// the request itself (done=true): 400 for a bad key, 422 for a key reused
// with another request, 409 while the key's first request is in flight,
// the kept answer for a key already answered, 503 when Redis cannot be
// asked. body is the request's body, already read.
func (wr *Writer) Begin(w http.ResponseWriter, r *http.Request, body []byte, route string) (*Ticket, bool) {
	t := &Ticket{wr: wr, r: r, body: body, route: route}
	key, has, err := IdempotencyKey(r.Header)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error(), "")
		return nil, true
	}
	if !has {
		return t, false
	}
	t.key, t.fingerprint = key, Fingerprint(r.Method, route, r.URL.RequestURI(), body)
	if done := wr.claim(w, r.Context(), t); done {
		return nil, true
	}
	return t, false
}

// detached is a context for Redis calls that must happen even when the
// client has gone (its request context is then cancelled).
func (wr *Writer) detached(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), wr.o.Timeout)
}
