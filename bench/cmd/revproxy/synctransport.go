package main

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"time"
)

// syncTransport is an experiment, not a client to ship: it writes the
// request and reads the response on the caller's goroutine over a pool
// of kept-alive connections to one address. net/http's Transport hands
// each request to a per-connection writeLoop goroutine and the response
// back from a readLoop goroutine; on a loaded two-core machine those
// handoffs are a large part of a small request's cost, and this says how
// large. It knows only what the benchmark sends: HTTP/1.1 requests
// without bodies to an http:// upstream, and it ignores the request's
// context.
type syncTransport struct {
	addr string
	mu   sync.Mutex
	idle []*syncConn
}

type syncConn struct {
	conn net.Conn
	r    *bufio.Reader
	w    *bufio.Writer
}

func (t *syncTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Host != t.addr || req.Body != nil && req.Body != http.NoBody {
		return nil, errors.New("syncTransport: only bodiless requests to its one upstream")
	}
	c, err := t.get()
	if err != nil {
		return nil, err
	}
	if err := req.Write(c.w); err != nil {
		c.conn.Close()
		return nil, err
	}
	if err := c.w.Flush(); err != nil {
		c.conn.Close()
		return nil, err
	}
	resp, err := http.ReadResponse(c.r, req)
	if err != nil {
		c.conn.Close()
		return nil, err
	}
	resp.Body = &syncBody{ReadCloser: resp.Body, t: t, c: c, keep: !resp.Close}
	return resp, nil
}

func (t *syncTransport) get() (*syncConn, error) {
	t.mu.Lock()
	if n := len(t.idle); n > 0 {
		c := t.idle[n-1]
		t.idle = t.idle[:n-1]
		t.mu.Unlock()
		return c, nil
	}
	t.mu.Unlock()
	conn, err := net.DialTimeout("tcp", t.addr, 5*time.Second)
	if err != nil {
		return nil, err
	}
	return &syncConn{conn: conn, r: bufio.NewReader(conn), w: bufio.NewWriter(conn)}, nil
}

func (t *syncTransport) put(c *syncConn) {
	t.mu.Lock()
	t.idle = append(t.idle, c)
	t.mu.Unlock()
}

// syncBody gives its connection back once the body has been read to its
// end, and closes it otherwise.
type syncBody struct {
	io.ReadCloser
	t    *syncTransport
	c    *syncConn
	keep bool
	eof  bool
	done bool
}

func (b *syncBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err == io.EOF {
		b.eof = true
	}
	return n, err
}

func (b *syncBody) Close() error {
	if b.done {
		return nil
	}
	b.done = true
	err := b.ReadCloser.Close()
	if b.eof && b.keep && err == nil {
		b.t.put(b.c)
	} else {
		b.c.conn.Close()
	}
	return err
}
