package gateway

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"math"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/haderos/haderctl/internal/engine/breaker"
	"github.com/haderos/haderctl/internal/redact"
)

// ServeHTTP proxies one request: see the package doc for the path it takes.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rec := &recorder{ResponseWriter: w, start: time.Now()}
	defer g.finish(rec, r)
	if hasDotSegment(r.URL.Path) {
		// routed by prefix and forwarded as is, /api/../admin would reach
		// what no route names
		writeJSON(rec, http.StatusBadRequest, map[string]any{"error": "the path has a . or .. segment"})
		return
	}
	t := g.table.Load()
	rt := t.match(r.URL.Path)
	if rt == nil {
		writeJSON(rec, http.StatusNotFound, map[string]any{"error": "no route for this path", "path": r.URL.Path})
		return
	}
	rec.route, rec.traffic = rt.name, rt.traffic
	stripKey, done := g.headerFaults(rec, r, t, rt)
	if done {
		return
	}
	body, ok := readBody(rec, r, rt.maxBody, bodyTimeout(rt))
	if !ok {
		return
	}
	var out http.ResponseWriter = rec
	var ticket WriteTicket
	if g.opts.Writes != nil && rt.isWrite(r.Method) {
		var answered bool
		if ticket, answered = g.opts.Writes.Begin(rec, r, body, rt.queue); answered {
			return
		}
		defer ticket.Finish()
		out = ticket.Wrap(rec)
	}
	a := &attempt{g: g, client: r.Context(), stripKey: stripKey}
	a.path, a.rawPath = rt.upstreamPath(r.URL.Path), upstreamRawPath(rt, r.URL)
	var refused []refusal
	var lastErr error
	var lastName string // the provider lastErr is of
	var kept *keptResponse
	keptFallback := false
	tried := false
	for i, p := range rt.providers {
		call, err := g.sys.Breakers.Admit(r.Context(), p.name)
		if err != nil {
			if r.Context().Err() != nil {
				rec.gone = true
				return
			}
			ref := refusalOf(p.name, err)
			if ref.Error != "" {
				g.logAdmitError(p.name, err)
			}
			refused = append(refused, ref)
			if g.opts.Metrics != nil {
				g.opts.Metrics.Call(p.name, "not_permitted", 0)
			}
			continue
		}
		tried = true
		*a = attempt{g: g, p: p, call: call, client: a.client, path: a.path, rawPath: a.rawPath, stripKey: stripKey,
			last: i == len(rt.providers)-1 && ticket == nil, fallback: i > 0}
		g.try(out, r, a, body)
		switch a.outcome {
		case answered:
			rec.provider, rec.fallback = p.name, i > 0
			if i > 0 && g.opts.Metrics != nil {
				g.opts.Metrics.Fallback(rt.name, rt.providers[0].name, p.name)
			}
			return
		case gone:
			rec.gone = true
			return
		case refusedRequest:
			writeJSON(out, http.StatusBadRequest, map[string]any{"error": "invalid request", "detail": a.err.Error()})
			return
		}
		lastErr, lastName = a.err, p.name
		if a.kept != nil {
			kept, rec.provider, keptFallback = a.kept, p.name, i > 0
		}
	}
	switch {
	case ticket != nil:
		// a write no provider took: kept for replay to the first provider
		target := a.path
		if a.rawPath != "" {
			target = a.rawPath // as the client encoded it: %2F stays %2F
		}
		if r.URL.RawQuery != "" {
			target += "?" + r.URL.RawQuery
		}
		why := "no provider admits the request"
		if lastErr != nil {
			why = lastName + " " + lastErr.Error()
		}
		rec.provider = ""
		if err := ticket.Queue(out, rt.providers[0].name, target, why); err != nil {
			g.log.Warn("gateway: a failed write could not be queued", "route", rt.name, "err", err)
			writeJSON(out, http.StatusServiceUnavailable, map[string]any{"error": "every provider failed and the write could not be queued"})
		} else {
			rec.queued = true
		}
	case !tried:
		noneAdmits(out, rt, refused)
	case kept != nil:
		h := out.Header()
		for k, v := range kept.header {
			h[k] = v
		}
		h.Set(HeaderProvider, rec.provider)
		if keptFallback {
			h.Set(HeaderFallback, "true")
			rec.fallback = true
		}
		out.WriteHeader(kept.code)
		_, _ = out.Write(kept.body)
	default:
		code := http.StatusBadGateway
		var te *timeoutError
		if errors.As(lastErr, &te) {
			code = http.StatusGatewayTimeout
		}
		writeJSON(out, code, map[string]any{"error": "every provider failed", "route": rt.name,
			"provider": lastName, "detail": lastErr.Error()})
	}
}

// hasDotSegment says a path (decoded: %2e%2e is "..") has a "." or ".."
// segment.
func hasDotSegment(path string) bool {
	for seg := range strings.SplitSeq(path, "/") {
		if seg == "." || seg == ".." {
			return true
		}
	}
	return false
}

// upstreamRawPath keeps a path's own encoding (%2F stays %2F) for the
// provider, the prefix stripped when the route strips it; "" when the
// path has no special encoding (net/url then encodes Path itself).
func upstreamRawPath(rt *route, u *url.URL) string {
	if u.RawPath == "" {
		return ""
	}
	if !rt.strip {
		return u.RawPath
	}
	raw, ok := strings.CutPrefix(u.EscapedPath(), rt.prefix)
	switch {
	case !ok:
		return "" // the prefix is itself encoded differently: let Path decide
	case raw == "":
		return "/"
	}
	return raw
}

// refusal is one breaker that did not admit a request.
type refusal struct {
	Name  string `json:"name"`
	State string `json:"state"`
	// RetryAfter is nil when no probe comes until an operator acts.
	RetryAfter *int64 `json:"retry_after_seconds"`
	// Error is why the breaker's state is unknown (invalid settings, a
	// Redis script error): not a refusal by the breaker, but a fault here.
	Error string `json:"error,omitempty"`
	wait  time.Duration
}

func refusalOf(name string, err error) refusal {
	var open *breaker.OpenError
	var corrupt *breaker.CorruptError
	switch {
	case errors.As(err, &open):
		r := refusal{Name: name, State: string(open.State), wait: open.RetryAfter}
		if open.RetryAfter >= 0 {
			s := retrySeconds(open.RetryAfter)
			r.RetryAfter = &s
		}
		return r
	case errors.As(err, &corrupt):
		return refusal{Name: name, State: string(breaker.Corrupt), wait: -1}
	}
	return refusal{Name: name, State: string(breaker.Unknown), wait: -1, Error: redact.URLsIn(err.Error())}
}

// admitErrorLogEvery bounds the log lines for one breaker's admit errors.
const admitErrorLogEvery = 10 * time.Second

// logAdmitError logs an Admit error that is no breaker's refusal, at most
// once per admitErrorLogEvery per breaker: every request hits it.
func (g *Gateway) logAdmitError(name string, err error) {
	now := time.Now().UnixNano()
	v, _ := g.admitErrs.LoadOrStore(name, new(atomic.Int64))
	last := v.(*atomic.Int64)
	prev := last.Load()
	if prev != 0 && now-prev < int64(admitErrorLogEvery) || !last.CompareAndSwap(prev, now) {
		return
	}
	g.log.Error("gateway: the breaker's state is unknown; its provider is skipped", "breaker", name, "err", redact.URLsIn(err.Error()))
}

// retrySeconds rounds up, at least 1: a client told 0 would retry at once.
func retrySeconds(d time.Duration) int64 {
	return max(1, int64(math.Ceil(d.Seconds())))
}

// noneAdmits is the fail-fast answer: 503 at once, naming the breakers,
// with Retry-After the earliest next probe (none when every breaker waits
// for an operator).
func noneAdmits(w http.ResponseWriter, rt *route, refused []refusal) {
	earliest := time.Duration(-1)
	for _, r := range refused {
		if r.wait >= 0 && (earliest < 0 || r.wait < earliest) {
			earliest = r.wait
		}
	}
	if earliest >= 0 {
		w.Header().Set("Retry-After", strconv.FormatInt(retrySeconds(earliest), 10))
	}
	writeJSON(w, http.StatusServiceUnavailable, noneAdmitsBody{Breakers: refused, Error: "no provider admits the request", Route: rt.name})
}

// noneAdmitsBody is the fail-fast answer's body: a struct, not a map, as
// it is the one body written at full load (an open breaker); its fields
// are in the order a map's keys were encoded.
type noneAdmitsBody struct {
	Breakers []refusal `json:"breakers"`
	Error    string    `json:"error"`
	Route    string    `json:"route"`
}

// bodyTimeout is how long a client has to send a route's request body:
// its slowest provider's timeout.
func bodyTimeout(rt *route) time.Duration {
	var d time.Duration
	for _, p := range rt.providers {
		d = max(d, p.timeout)
	}
	return d
}

// readBody buffers the request body (so a fallback can be sent it again),
// answering 413 past limit, 408 when it is not sent within timeout. The
// buffer grows as bytes arrive: a client announcing a large body and
// sending none holds no memory. A request without a body gives nil.
func readBody(w http.ResponseWriter, r *http.Request, limit int64, timeout time.Duration) ([]byte, bool) {
	if r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0 {
		return nil, true
	}
	tooLarge := func() ([]byte, bool) {
		w.Header().Set("Connection", "close") // the rest of the body is not read
		writeJSON(w, http.StatusRequestEntityTooLarge, map[string]any{"error": "request body too large", "max_request_bytes": limit})
		return nil, false
	}
	if r.ContentLength > limit {
		return tooLarge()
	}
	rc := http.NewResponseController(w)
	if timeout > 0 && rc.SetReadDeadline(time.Now().Add(timeout)) == nil {
		defer func() { _ = rc.SetReadDeadline(time.Time{}) }()
	}
	var buf bytes.Buffer
	_, err := buf.ReadFrom(io.LimitReader(r.Body, limit+1))
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded):
		w.Header().Set("Connection", "close")
		writeJSON(w, http.StatusRequestTimeout, map[string]any{"error": "the request body was not sent in time", "timeout": timeout.String()})
		return nil, false
	case err != nil:
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": "cannot read the request body"})
		return nil, false
	case int64(buf.Len()) > limit:
		return tooLarge()
	}
	return buf.Bytes(), true
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	b, _ := json.Marshal(v)
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.FormatInt(int64(len(b)+1), 10))
	w.WriteHeader(code)
	_, _ = w.Write(append(b, '\n'))
}
