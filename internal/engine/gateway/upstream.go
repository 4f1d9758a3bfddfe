package gateway

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"strings"
	"sync"
	"time"
)

// upstreamTransport is the gateway's base transport: it writes a request
// and reads its response on the calling goroutine, over a pool of
// keep-alive HTTP/1.1 connections per upstream address. net/http's
// Transport hands each request to a per-connection writeLoop goroutine
// and the response back from a readLoop goroutine; for a proxy answering
// small responses those two handoffs were about a third of its CPU (see
// docs/benchmarks.md). Anything this transport does not do itself goes
// to fallback, a net/http Transport: https upstreams, requests through an
// HTTP proxy from the environment, Upgrade and Expect: 100-continue.
//
// A connection goes back to the pool only when its response body was
// read to its end and neither side asked to close; a request's context
// bounds every read and write (context.AfterFunc sets a past deadline on
// the connection), and a connection whose deadline fired is never reused.
type upstreamTransport struct {
	fallback *http.Transport
	dialer   net.Dialer
	// maxIdle caps the idle connections kept per address.
	maxIdle int
	// idleTimeout drops a connection idle longer (servers close theirs).
	idleTimeout time.Duration
	// maxHeaderBytes bounds a response head (and each 1xx before it).
	maxHeaderBytes int64
	// now is the clock of the idle bookkeeping (tests move it).
	now func() time.Time

	mu     sync.Mutex
	hosts  map[string]*upstreamHost
	closed bool
}

// upstreamHost is one upstream address' pool.
type upstreamHost struct {
	addr string
	// viaProxy: the environment's HTTP proxy covers this address, so its
	// requests go to the fallback transport (decided once per address).
	viaProxy bool
	idle     []*upstreamConn // most recently used last
}

type upstreamConn struct {
	conn   net.Conn
	br     *bufio.Reader
	bw     *bufio.Writer
	host   *upstreamHost
	idleAt time.Time
	// written and read count one exchange's bytes on the connection: a
	// reused connection that took nothing, or gave nothing back, had
	// been closed by the server.
	written, read int64
	// writeErr is the connection's own write failure in this exchange,
	// as against one of the request's body (which Request.Write reports
	// the same way).
	writeErr error
	// readLimit is what may still be read before the response head is
	// done (net/http's MaxResponseHeaderBytes): an upstream sending
	// endless headers fails instead of filling memory.
	readLimit int64
}

func (c *upstreamConn) Write(p []byte) (int, error) {
	n, err := c.conn.Write(p)
	c.written += int64(n)
	if err != nil {
		c.writeErr = err
	}
	return n, err
}

func (c *upstreamConn) Read(p []byte) (int, error) {
	if c.readLimit <= 0 {
		return 0, errHeadersTooLarge
	}
	if int64(len(p)) > c.readLimit {
		p = p[:c.readLimit]
	}
	n, err := c.conn.Read(p)
	c.read += int64(n)
	c.readLimit -= int64(n)
	return n, err
}

var errHeadersTooLarge = errors.New("gateway: response headers too large")

// noReadLimit lifts readLimit once the head is read: the body is the
// caller's to bound.
const noReadLimit = 1<<63 - 1

// max1xx caps the informational answers before the real one, as
// net/http does, so an upstream cannot keep a request forever in them.
const max1xx = 5

// idleCheckAfter: a connection idle at least this long is checked for a
// close from the server before it is used (one non-blocking peek), so a
// server's keep-alive timeout (uvicorn's is 5 s) does not fail a request.
const idleCheckAfter = 100 * time.Millisecond

func newUpstreamTransport(fallback *http.Transport, maxIdle int) *upstreamTransport {
	return &upstreamTransport{
		fallback:       fallback,
		dialer:         net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second},
		maxIdle:        maxIdle,
		idleTimeout:    cmpDuration(fallback.IdleConnTimeout, 90*time.Second),
		maxHeaderBytes: maxHeaderBytes(fallback),
		now:            time.Now,
		hosts:          map[string]*upstreamHost{},
	}
}

// maxHeaderBytes is the fallback's MaxResponseHeaderBytes, or net/http's
// default of 1 MiB when it is unset.
func maxHeaderBytes(fallback *http.Transport) int64 {
	if fallback.MaxResponseHeaderBytes > 0 {
		return fallback.MaxResponseHeaderBytes
	}
	return 1 << 20
}

func cmpDuration(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

// RoundTrip implements http.RoundTripper.
func (t *upstreamTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Scheme != "http" || req.Header.Get("Upgrade") != "" || req.Header.Get("Expect") != "" {
		return t.fallback.RoundTrip(req)
	}
	h := t.host(req)
	if h.viaProxy {
		return t.fallback.RoundTrip(req)
	}
	ctx := req.Context()
	c, reused, err := t.get(ctx, h)
	if err != nil {
		closeBody(req)
		return nil, err
	}
	resp, err := t.exchange(ctx, c, req)
	if err != nil && reused && ctx.Err() == nil && canResend(req) && (c.written == 0 || c.read == 0 && idempotent(req)) {
		// the pooled connection had died (the server closed it while it
		// was idle): once more on a fresh one, as net/http does
		if c, err = t.dial(ctx, h); err != nil {
			return nil, err
		}
		if req.GetBody != nil {
			// on a copy: a RoundTripper must not modify its request
			body, err := req.GetBody()
			if err != nil {
				c.conn.Close()
				return nil, err
			}
			again := *req
			again.Body = body
			req = &again
		}
		resp, err = t.exchange(ctx, c, req)
	}
	if err != nil {
		closeBody(req)
		return nil, err
	}
	return resp, nil
}

// canResend says a request can be written again: it has no body, or one
// GetBody rebuilds (Request.Write consumes and closes the first).
func canResend(req *http.Request) bool {
	return req.Body == nil || req.Body == http.NoBody || req.GetBody != nil
}

// idempotent says a request may reach the server twice, as net/http
// decides: an idempotent method or an Idempotency-Key.
func idempotent(req *http.Request) bool {
	switch req.Method {
	case "", http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
		return true
	}
	_, key := req.Header["Idempotency-Key"]
	_, xkey := req.Header["X-Idempotency-Key"]
	return key || xkey
}

// headerHasToken says a comma-separated header of h lists token.
func headerHasToken(h http.Header, key, token string) bool {
	for _, v := range h[key] {
		for part := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(part), token) {
				return true
			}
		}
	}
	return false
}

func closeBody(req *http.Request) {
	if req.Body != nil {
		req.Body.Close()
	}
}

// exchange writes req on c and reads the response head. The returned
// response's body owns c: it gives it back to the pool or closes it.
func (t *upstreamTransport) exchange(ctx context.Context, c *upstreamConn, req *http.Request) (*http.Response, error) {
	c.written, c.read, c.writeErr = 0, 0, nil
	c.readLimit = noReadLimit
	stop := context.AfterFunc(ctx, func() {
		// unblocks this goroutine's read or write at once
		_ = c.conn.SetDeadline(aLongTimeAgo)
	})
	fail := func(err error) (*http.Response, error) {
		stop()
		c.conn.Close()
		if ctxErr := ctx.Err(); ctxErr != nil {
			return nil, ctxErr
		}
		return nil, err
	}
	writeErr := req.Write(c.bw)
	if writeErr == nil {
		writeErr = c.bw.Flush()
	}
	// Only an upstream that stopped reading (the connection's write
	// failed) may have answered already; a body that failed to read or
	// fell short of its Content-Length leaves a request the upstream is
	// still waiting on, so there is no answer to wait for.
	if writeErr != nil && (ctx.Err() != nil || c.written == 0 || c.writeErr == nil) {
		return fail(writeErr)
	}
	var resp *http.Response
	for n1xx := 0; ; n1xx++ {
		c.readLimit = t.maxHeaderBytes // for each answer's head, as net/http
		var err error
		resp, err = http.ReadResponse(c.br, req)
		switch {
		case err != nil && c.readLimit <= 0:
			return fail(fmt.Errorf("gateway: the upstream's response headers exceed %d bytes", t.maxHeaderBytes))
		case err != nil && writeErr != nil:
			return fail(writeErr)
		case err != nil:
			return fail(err)
		}
		// 1xx informational answers (103 Early Hints) come before the
		// real one; 101 is an upgrade, which goes to the fallback
		if resp.StatusCode < 100 || resp.StatusCode >= 200 || resp.StatusCode == http.StatusSwitchingProtocols {
			break
		}
		if n1xx == max1xx {
			return fail(fmt.Errorf("gateway: the upstream sent more than %d 1xx answers", max1xx))
		}
		// ReverseProxy passes them on to its client through this hook
		if trace := httptrace.ContextClientTrace(ctx); trace != nil && trace.Got1xxResponse != nil {
			if err := trace.Got1xxResponse(resp.StatusCode, textproto.MIMEHeader(resp.Header)); err != nil {
				return fail(err)
			}
		}
	}
	c.readLimit = noReadLimit
	// a server may answer before it has read the whole body (413) and
	// close: its answer is the one to pass on, but the connection is done.
	// After a 101 the connection speaks another protocol.
	keep := !resp.Close && !req.Close && writeErr == nil && resp.StatusCode != http.StatusSwitchingProtocols &&
		!headerHasToken(req.Header, "Connection", "close")
	b := &upstreamBody{t: t, c: c, ctx: ctx, stop: stop, keep: keep}
	if resp.Body == http.NoBody || resp.Body == nil {
		b.release(true)
		return resp, nil
	}
	b.body = resp.Body
	resp.Body = b
	return resp, nil
}

// aLongTimeAgo is a deadline in the past: it fails a blocked I/O call.
var aLongTimeAgo = time.Unix(1, 0)

// upstreamBody is a response body that gives its connection back to the
// pool when it is read to its end, and closes it when it is closed early.
type upstreamBody struct {
	body io.ReadCloser
	t    *upstreamTransport
	c    *upstreamConn
	ctx  context.Context
	stop func() bool
	keep bool
	eof  bool
	done bool // the connection was released
}

func (b *upstreamBody) Read(p []byte) (int, error) {
	switch {
	case b.eof:
		return 0, io.EOF
	case b.done:
		return 0, errBodyClosed
	}
	n, err := b.body.Read(p)
	if err == io.EOF {
		b.eof = true
		b.release(true)
	} else if err != nil {
		b.release(false)
		if ctxErr := b.ctx.Err(); ctxErr != nil {
			// the request's context ended: say so, not "i/o timeout"
			err = errors.Join(ctxErr, err)
		}
	}
	return n, err
}

var errBodyClosed = errors.New("gateway: read on a closed upstream body")

func (b *upstreamBody) Close() error {
	if !b.done {
		// not read to its end: the rest is unread on the wire, so the
		// connection cannot carry another request
		b.release(false)
	}
	return nil
}

// release ends the body's hold on its connection: back to the pool when
// it was read to its end, can be kept and no deadline fired; closed else.
func (b *upstreamBody) release(atEOF bool) {
	if b.done {
		return
	}
	b.done = true
	fired := !b.stop()
	if atEOF && b.keep && !fired && b.c.br.Buffered() == 0 {
		b.t.put(b.c)
		return
	}
	b.c.conn.Close()
}
