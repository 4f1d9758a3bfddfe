package gateway

import (
	"bufio"
	"context"
	"net"
	"net/http"
	"net/url"
	"slices"
)

// host finds or makes the pool of req's address.
func (t *upstreamTransport) host(req *http.Request) *upstreamHost {
	addr := canonicalAddr(req.URL)
	t.mu.Lock()
	h := t.hosts[addr]
	t.mu.Unlock()
	if h != nil {
		return h
	}
	h = &upstreamHost{addr: addr}
	if t.fallback.Proxy != nil {
		if u, err := t.fallback.Proxy(req); err != nil || u != nil {
			h.viaProxy = true
		}
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if old := t.hosts[addr]; old != nil {
		return old
	}
	t.hosts[addr] = h
	return h
}

func canonicalAddr(u *url.URL) string {
	port := u.Port()
	if port == "" {
		port = "80"
	}
	return net.JoinHostPort(u.Hostname(), port)
}

// get takes the most recently used idle connection that is still open,
// or dials one; reused says it had carried a request before.
func (t *upstreamTransport) get(ctx context.Context, h *upstreamHost) (c *upstreamConn, reused bool, err error) {
	now := t.now()
	for {
		t.mu.Lock()
		n := len(h.idle)
		if n == 0 {
			t.mu.Unlock()
			break
		}
		c = h.idle[n-1]
		h.idle[n-1] = nil
		h.idle = h.idle[:n-1]
		t.mu.Unlock()
		idle := now.Sub(c.idleAt)
		if idle >= t.idleTimeout || idle >= idleCheckAfter && !connAlive(c.conn) {
			c.conn.Close()
			continue
		}
		return c, true, nil
	}
	c, err = t.dial(ctx, h)
	return c, false, err
}

func (t *upstreamTransport) dial(ctx context.Context, h *upstreamHost) (*upstreamConn, error) {
	conn, err := t.dialer.DialContext(ctx, "tcp", h.addr)
	if err != nil {
		return nil, err
	}
	c := &upstreamConn{conn: conn, host: h}
	c.br, c.bw = bufio.NewReaderSize(c, 4<<10), bufio.NewWriterSize(c, 4<<10)
	return c, nil
}

// put keeps c for the next request to its address, unless the pool is
// full or closed. It drops the connections idle past the timeout: get
// takes the most recent, so the oldest would otherwise stay open (up to
// maxIdle of them) for as long as traffic keeps the newest busy.
func (t *upstreamTransport) put(c *upstreamConn) {
	now := t.now()
	c.idleAt = now
	t.mu.Lock()
	h := c.host
	stale := 0
	for stale < len(h.idle) && now.Sub(h.idle[stale].idleAt) >= t.idleTimeout {
		stale++
	}
	expired := append([]*upstreamConn(nil), h.idle[:stale]...)
	h.idle = slices.Delete(h.idle, 0, stale)
	full := t.closed || len(h.idle) >= t.maxIdle
	if !full {
		h.idle = append(h.idle, c)
	}
	t.mu.Unlock()
	for _, old := range expired {
		old.conn.Close()
	}
	if full {
		c.conn.Close()
	}
}

// CloseIdleConnections closes every pooled connection (and the
// fallback's); connections still in use are pooled again when they end.
func (t *upstreamTransport) CloseIdleConnections() { t.closeIdle(false) }

// Close closes the idle connections and every one that ends later: for
// a gateway that is done, whose last requests may still be finishing.
func (t *upstreamTransport) Close() { t.closeIdle(true) }

func (t *upstreamTransport) closeIdle(forGood bool) {
	t.mu.Lock()
	t.closed = t.closed || forGood
	var idle []*upstreamConn
	for _, h := range t.hosts {
		idle = append(idle, h.idle...)
		h.idle = nil
	}
	t.mu.Unlock()
	for _, c := range idle {
		c.conn.Close()
	}
	t.fallback.CloseIdleConnections()
}
