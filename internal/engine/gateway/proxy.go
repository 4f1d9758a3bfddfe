package gateway

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httputil"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/haderos/haderctl/internal/engine/breaker"
	"github.com/haderos/haderctl/internal/engine/chaos/faults"
	"github.com/haderos/haderctl/internal/engine/transport"
)

// Response headers saying who answered.
const (
	HeaderProvider    = "X-Hader-Provider"
	HeaderFallback    = "X-Hader-Fallback"
	HeaderOperationID = "X-Hader-Operation-Id"
)

type attemptKey struct{}

// attempt is one request's try of one provider: the provider's Rewrite,
// ModifyResponse and ErrorHandler (shared by every request) find it in
// the request's context and leave the outcome in it.
type attempt struct {
	g        *Gateway
	p        *provider
	call     breaker.Call
	client   context.Context // the client's own: canceled when it leaves
	path     string
	rawPath  string
	stripKey bool // the Authorization header carried the admin token
	// last passes a failed answer through as it is (no provider, nor the
	// write queue, comes after).
	last     bool
	fallback bool
	start    time.Time
	// rewritten says ReverseProxy got as far as Rewrite: an error before
	// it is the client's request, not the provider's doing.
	rewritten bool

	outcome outcome
	err     error
	kept    *keptResponse
}

type outcome int

const (
	pending outcome = iota
	answered
	failed
	gone // the client went away
	// refusedRequest: ReverseProxy refused the client's request itself
	// (an invalid Upgrade) before it reached any provider
	refusedRequest
)

// errFailedAnswer is ModifyResponse's way to hand a failed answer back to
// the loop: ReverseProxy then calls ErrorHandler and writes nothing.
var errFailedAnswer = errors.New("gateway: the provider's answer counts as a failure")

// newProxy builds a provider's ReverseProxy, once per configuration.
func (g *Gateway) newProxy(p *provider) *httputil.ReverseProxy {
	return &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			a := pr.In.Context().Value(attemptKey{}).(*attempt)
			a.rewritten = true
			pr.Out.URL.Path, pr.Out.URL.RawPath = a.path, a.rawPath
			pr.SetURL(p.target)
			pr.SetXForwarded()
			// the client's admin token goes before the service's own
			// headers come, which may have an Authorization of their own
			if a.stripKey {
				pr.Out.Header.Del("Authorization")
			}
			for k, v := range p.headers {
				pr.Out.Header[k] = v
			}
			// the gateway's own controls are not the upstream's business
			for k := range pr.Out.Header {
				if strings.HasPrefix(k, "X-Hader-") {
					delete(pr.Out.Header, k)
				}
			}
		},
		Transport:      g.rt,
		BufferPool:     copyBuffers,
		ErrorLog:       slog.NewLogLogger(g.log.Handler(), slog.LevelDebug),
		ModifyResponse: modifyResponse,
		ErrorHandler:   errorHandler,
	}
}

// modifyResponse runs when a provider's headers arrive: the breaker
// learns the outcome here, as the engine's transport does.
func modifyResponse(resp *http.Response) error {
	a := resp.Request.Context().Value(attemptKey{}).(*attempt)
	// the gateway's own answer headers are not the upstream's to give
	// (kept answers included): they would say a fallback answered, or
	// name a queued operation in the access log
	resp.Header.Del(HeaderFallback)
	resp.Header.Del(HeaderOperationID)
	m := a.g.opts.Metrics
	if a.p.fail.failed(resp.StatusCode) {
		a.call.Done(false)
		if m != nil {
			m.Call(a.p.name, "failed", time.Since(a.start))
		}
		if !a.last {
			a.outcome, a.err, a.kept = failed, &statusError{code: resp.StatusCode}, keep(resp)
			return errFailedAnswer
		}
	} else {
		a.call.Done(true)
		if m != nil {
			m.Call(a.p.name, "successful", time.Since(a.start))
		}
	}
	a.outcome = answered
	resp.Header.Set(HeaderProvider, a.p.name)
	if a.fallback {
		resp.Header.Set(HeaderFallback, "true")
	}
	return nil
}

// errorHandler runs when a provider could not be reached, timed out, or
// gave a failed answer the loop may better: the gateway answers later.
func errorHandler(w http.ResponseWriter, req *http.Request, err error) {
	a := req.Context().Value(attemptKey{}).(*attempt)
	if errors.Is(err, errFailedAnswer) {
		return
	}
	if a.outcome == answered {
		// a 101 the provider answered (its outcome is recorded) that
		// ReverseProxy then could not switch to: the provider did answer,
		// so neither another outcome nor another provider
		if !afterHijack(err) {
			writeJSON(w, http.StatusBadGateway, map[string]any{"error": "the provider's protocol switch failed", "provider": a.p.name})
		}
		return
	}
	if !a.rewritten {
		// the client's own bad request: no provider would do better, and
		// its breaker must not count it
		a.call.Release()
		a.outcome, a.err = refusedRequest, err
		return
	}
	if errors.Is(a.client.Err(), context.Canceled) {
		// the client left: that says nothing about the provider
		a.call.Release()
		a.outcome = gone
		return
	}
	a.call.Done(false)
	if m := a.g.opts.Metrics; m != nil {
		m.Call(a.p.name, "failed", time.Since(a.start))
	}
	if errors.Is(req.Context().Err(), context.DeadlineExceeded) || errors.Is(err, faults.ErrInjectedTimeout) {
		err = &timeoutError{after: a.p.timeout, err: err}
	}
	a.outcome, a.err = failed, err
}

// afterHijack says ReverseProxy's error came once it had taken the
// client's connection for a protocol switch: nothing can be answered.
func afterHijack(err error) bool {
	msg := err.Error()
	return strings.HasPrefix(msg, "response write: ") || strings.HasPrefix(msg, "response flush: ")
}

type statusError struct{ code int }

func (e *statusError) Error() string { return "answered HTTP " + strconv.Itoa(e.code) }

type timeoutError struct {
	after time.Duration
	err   error
}

func (e *timeoutError) Error() string { return "timed out after " + e.after.String() }
func (e *timeoutError) Unwrap() error { return e.err }

// keptResponse is a failed answer held back while a fallback is tried,
// answered as it was if none does better. A body larger than keepLimit
// is not kept (the gateway then answers 502).
type keptResponse struct {
	code   int
	header http.Header
	body   []byte
}

const keepLimit = 64 << 10

func keep(resp *http.Response) *keptResponse {
	body, err := io.ReadAll(io.LimitReader(resp.Body, keepLimit+1))
	if err != nil || len(body) > keepLimit {
		return nil
	}
	return &keptResponse{code: resp.StatusCode, header: resp.Header, body: body}
}

// bufferPool lends ReverseProxy its copy buffers, so a request does not
// allocate 32 KiB.
type bufferPool struct{ p sync.Pool }

var copyBuffers = &bufferPool{p: sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}}

func (b *bufferPool) Get() []byte { return *b.p.Get().(*[]byte) }

func (b *bufferPool) Put(buf []byte) {
	if cap(buf) == 32<<10 {
		b.p.Put(&buf)
	}
}

// try sends the request to one provider admitted by its breaker.
func (g *Gateway) try(w http.ResponseWriter, r *http.Request, a *attempt, body []byte) {
	ctx := context.WithValue(r.Context(), attemptKey{}, a)
	ctx, cancel := context.WithTimeout(transport.WithService(ctx, a.p.name), a.p.timeout)
	defer cancel()
	out := r.WithContext(ctx)
	if body != nil {
		out.Body, out.ContentLength = io.NopCloser(bytes.NewReader(body)), int64(len(body))
		out.GetBody = nil
	}
	// ReverseProxy returning (or panicking) without either hook must not
	// keep the breaker's slot: a half-open probe's lease would be renewed
	// for ever
	defer func() {
		if a.outcome == pending {
			a.call.Release()
			a.outcome = gone
		}
	}()
	a.start = time.Now()
	a.p.proxy.ServeHTTP(w, out)
}
