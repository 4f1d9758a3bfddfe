package gateway

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/haderos/haderctl/internal/testredis"
)

// countingServer is a loopback upstream that counts the connections
// made to it.
type countingServer struct {
	*httptest.Server
	conns atomic.Int64
}

func newCountingServer(t *testing.T, h http.HandlerFunc) *countingServer {
	t.Helper()
	s := &countingServer{}
	s.Server = httptest.NewUnstartedServer(h)
	s.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			s.conns.Add(1)
		}
	}
	s.Start()
	t.Cleanup(s.Close)
	return s
}

func newTestUpstream(t *testing.T) *upstreamTransport {
	t.Helper()
	tr := newUpstreamTransport(http.DefaultTransport.(*http.Transport).Clone(), 4)
	tr.fallback.Proxy = nil
	t.Cleanup(tr.CloseIdleConnections)
	return tr
}

// roundTrip sends method to url and reads the whole answer.
func roundTrip(t *testing.T, rt http.RoundTripper, ctx context.Context, method, url string, body io.Reader) (int, http.Header, string, error) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := rt.RoundTrip(req)
	if err != nil {
		return 0, nil, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b), err
}

func (tr *upstreamTransport) idleCount() int {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	n := 0
	for _, h := range tr.hosts {
		n += len(h.idle)
	}
	return n
}

func TestUpstreamReusesAConnectionReadToItsEnd(t *testing.T) {
	up := newCountingServer(t, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		io.WriteString(w, r.Method+" "+r.URL.RequestURI()+" "+string(b))
	})
	tr := newTestUpstream(t)
	for i, method := range []string{"GET", "POST", "PUT", "GET"} {
		code, _, body, err := roundTrip(t, tr, context.Background(), method, up.URL+"/a?b=c", strings.NewReader("payload"))
		if err != nil || code != 200 {
			t.Fatalf("request %d: %d %v", i, code, err)
		}
		if want := method + " /a?b=c payload"; body != want {
			t.Fatalf("request %d: the upstream saw %q, want %q", i, body, want)
		}
	}
	if n := up.conns.Load(); n != 1 {
		t.Fatalf("four requests in a row dialed %d connections, want 1", n)
	}
}

func TestUpstreamChunkedAnswersAndBodiesKeepTheConnection(t *testing.T) {
	up := newCountingServer(t, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.Header().Set("Trailer", "X-Sum")
		for _, part := range []string{"one ", "two ", string(b)} {
			io.WriteString(w, part)
			w.(http.Flusher).Flush() // no Content-Length: chunked
		}
		w.Header().Set("X-Sum", "3")
	})
	tr := newTestUpstream(t)
	for i := range 2 {
		// a body of unknown length goes out chunked
		req, _ := http.NewRequest("POST", up.URL, io.MultiReader(strings.NewReader("thr"), strings.NewReader("ee")))
		resp, err := tr.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || string(b) != "one two three" || resp.Trailer.Get("X-Sum") != "3" {
			t.Fatalf("answer %d: %q %v, trailer %v", i, b, err, resp.Trailer)
		}
		if len(resp.TransferEncoding) != 1 || resp.TransferEncoding[0] != "chunked" {
			t.Fatalf("answer %d was not chunked: %v", i, resp.TransferEncoding)
		}
	}
	if n := up.conns.Load(); n != 1 {
		t.Fatalf("two chunked exchanges dialed %d connections, want 1", n)
	}
}

func TestUpstreamClosesWhenEitherSideSaysClose(t *testing.T) {
	up := newCountingServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/bye" {
			w.Header().Set("Connection", "close")
		}
		io.WriteString(w, "ok")
	})
	tr := newTestUpstream(t)
	steps := []struct {
		path       string
		closeReq   bool
		wantConns  int64
		wantPooled int
	}{
		{"/", false, 1, 1},
		{"/bye", false, 1, 0}, // the server said close
		{"/", false, 2, 1},
		{"/", true, 2, 0}, // the request said close
		{"/", false, 3, 1},
	}
	for i, s := range steps {
		req, _ := http.NewRequest("GET", up.URL+s.path, nil)
		req.Close = s.closeReq
		resp, err := tr.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if got := up.conns.Load(); got != s.wantConns {
			t.Fatalf("step %d (%s, close %v): %d connections so far, want %d", i, s.path, s.closeReq, got, s.wantConns)
		}
		if got := tr.idleCount(); got != s.wantPooled {
			t.Fatalf("step %d: %d pooled, want %d", i, got, s.wantPooled)
		}
	}
}

func TestUpstreamDoesNotReuseABodyClosedEarly(t *testing.T) {
	up := newCountingServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "10")
		io.WriteString(w, "0123456789")
	})
	tr := newTestUpstream(t)
	req, _ := http.NewRequest("GET", up.URL, nil)
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4)
	if _, err := io.ReadFull(resp.Body, buf); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if n := tr.idleCount(); n != 0 {
		t.Fatalf("a body closed after 4 of 10 bytes left %d pooled connections", n)
	}
	if _, _, body, err := roundTrip(t, tr, context.Background(), "GET", up.URL, nil); err != nil || body != "0123456789" {
		t.Fatalf("the next request: %q %v", body, err)
	}
	if n := up.conns.Load(); n != 2 {
		t.Fatalf("%d connections, want a second one after the early close", n)
	}
}

func TestUpstreamPoolIsCapped(t *testing.T) {
	release := make(chan struct{})
	var inHandler sync.WaitGroup
	up := newCountingServer(t, func(w http.ResponseWriter, r *http.Request) {
		inHandler.Done()
		<-release
		io.WriteString(w, "ok")
	})
	tr := newTestUpstream(t) // keeps 4
	const parallel = 6
	inHandler.Add(parallel)
	var done sync.WaitGroup
	for range parallel {
		done.Add(1)
		go func() {
			defer done.Done()
			if _, _, _, err := roundTrip(t, tr, context.Background(), "GET", up.URL, nil); err != nil {
				t.Error(err)
			}
		}()
	}
	inHandler.Wait()
	close(release)
	done.Wait()
	if n := tr.idleCount(); n != 4 {
		t.Fatalf("%d idle connections after %d parallel requests, want the cap of 4", n, parallel)
	}
}

// closingServer answers every request with a keep-alive response and
// then closes the connection without saying so: a pooled connection to
// it is dead when it is next used. It records the requests it read.
type closingServer struct {
	ln   net.Listener
	mu   sync.Mutex
	seen []string
}

func newClosingServer(t *testing.T) *closingServer {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &closingServer{ln: ln}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				req, err := http.ReadRequest(bufio.NewReader(c))
				if err != nil {
					return
				}
				b, _ := io.ReadAll(req.Body)
				s.mu.Lock()
				s.seen = append(s.seen, req.Method+" "+string(b))
				s.mu.Unlock()
				io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
			}()
		}
	}()
	return s
}

func (s *closingServer) URL() string { return "http://" + s.ln.Addr().String() }

func (s *closingServer) requests() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.seen...)
}

func TestUpstreamRetriesADeadPooledConnectionOnlyForIdempotentRequests(t *testing.T) {
	up := newClosingServer(t)
	tr := newTestUpstream(t)
	// the peek before reuse would find the close; this test is about a
	// close that races the request, so it is never peeked
	tr.now = func() time.Time { return time.Unix(1000, 0) }
	if _, _, _, err := roundTrip(t, tr, context.Background(), "GET", up.URL(), nil); err != nil {
		t.Fatal(err)
	}
	if n := tr.idleCount(); n != 1 {
		t.Fatalf("%d pooled connections, want the first one", n)
	}
	// the dead pooled connection fails; a GET is sent again on a new one
	if code, _, _, err := roundTrip(t, tr, context.Background(), "GET", up.URL(), nil); err != nil || code != 200 {
		t.Fatalf("a GET over a dead pooled connection: %d %v, want 200 after one retry", code, err)
	}
	// a POST is not: the server may have acted on it
	req, _ := http.NewRequest("POST", up.URL(), strings.NewReader("charge"))
	if _, err := tr.RoundTrip(req); err == nil {
		t.Fatal("a POST over a dead pooled connection was sent again")
	}
	// unless it carries an Idempotency-Key (net/http's rule)
	req, _ = http.NewRequest("POST", up.URL(), strings.NewReader("charge"))
	req.Header.Set("Idempotency-Key", `"k1"`)
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatalf("a POST with an Idempotency-Key over a dead pooled connection: %v", err)
	}
	resp.Body.Close()
	want := []string{"GET ", "GET ", "POST charge"}
	if got := up.requests(); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("the upstream read %q, want %q", got, want)
	}
}

func TestUpstreamDropsAnIdleConnectionTheServerClosed(t *testing.T) {
	up := newClosingServer(t)
	tr := newTestUpstream(t)
	clock := time.Unix(1000, 0)
	tr.now = func() time.Time { return clock }
	if _, _, _, err := roundTrip(t, tr, context.Background(), "GET", up.URL(), nil); err != nil {
		t.Fatal(err)
	}
	tr.mu.Lock()
	var pooled net.Conn
	for _, h := range tr.hosts {
		pooled = h.idle[0].conn
	}
	tr.mu.Unlock()
	testredis.Eventually(t, 5*time.Second, "the server's close reaches the pooled connection", func() bool { return !connAlive(pooled) })
	// idle long enough to be peeked: a POST, which could not be retried,
	// goes out on a fresh connection instead of the dead one
	clock = clock.Add(idleCheckAfter)
	code, _, _, err := roundTrip(t, tr, context.Background(), "POST", up.URL(), strings.NewReader("charge"))
	if err != nil || code != 200 {
		t.Fatalf("a POST after the server closed the idle connection: %d %v", code, err)
	}
}

func TestUpstreamConnAliveOnAnOpenConnection(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() { c, _ := ln.Accept(); accepted <- c }()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	server := <-accepted
	defer server.Close()
	if !connAlive(c) {
		t.Fatal("an open, quiet connection is not alive")
	}
}

func TestUpstreamDropsAConnectionIdlePastTheTimeout(t *testing.T) {
	up := newCountingServer(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	tr := newTestUpstream(t)
	clock := time.Unix(1000, 0)
	tr.now = func() time.Time { return clock }
	roundTrip(t, tr, context.Background(), "GET", up.URL, nil)
	clock = clock.Add(tr.idleTimeout)
	roundTrip(t, tr, context.Background(), "GET", up.URL, nil)
	if n := up.conns.Load(); n != 2 {
		t.Fatalf("%d connections, want a new one after %s idle", n, tr.idleTimeout)
	}
}

func TestUpstreamContextBoundsTheHeadersAndTheBody(t *testing.T) {
	stall := make(chan struct{})
	t.Cleanup(func() { close(stall) })
	up := newCountingServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow-body" {
			w.Header().Set("Content-Length", "10")
			io.WriteString(w, "01234")
			w.(http.Flusher).Flush()
		}
		select {
		case <-stall:
		case <-r.Context().Done():
		}
	})
	tr := newTestUpstream(t)

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, _, _, err := roundTrip(t, tr, ctx, "GET", up.URL+"/slow-headers", nil)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("waiting for headers past the deadline: %v, want context.DeadlineExceeded", err)
	}

	ctx, cancel = context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, _, body, err := roundTrip(t, tr, ctx, "GET", up.URL+"/slow-body", nil)
	if !errors.Is(err, context.DeadlineExceeded) || body != "01234" {
		t.Fatalf("reading a stalled body past the deadline: %q %v, want 5 bytes and context.DeadlineExceeded", body, err)
	}
	if n := tr.idleCount(); n != 0 {
		t.Fatalf("%d connections pooled after timeouts, want none", n)
	}
}

func TestUpstreamCallerCancel(t *testing.T) {
	arrived := make(chan struct{}, 1)
	up := newCountingServer(t, func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		<-r.Context().Done()
	})
	tr := newTestUpstream(t)
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, _, _, err := roundTrip(t, tr, ctx, "GET", up.URL, nil)
		errc <- err
	}()
	<-arrived
	cancel()
	select {
	case err := <-errc:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("a canceled request: %v, want context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a canceled request did not return")
	}
	if n := tr.idleCount(); n != 0 {
		t.Fatalf("%d connections pooled after a cancel, want none", n)
	}
}

func TestUpstreamLeavesHTTPSToNetHTTP(t *testing.T) {
	up := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, r.Proto)
	}))
	defer up.Close()
	tr := newTestUpstream(t)
	tr.fallback.TLSClientConfig = up.Client().Transport.(*http.Transport).TLSClientConfig
	_, _, body, err := roundTrip(t, tr, context.Background(), "GET", up.URL, nil)
	if err != nil || body != "HTTP/1.1" {
		t.Fatalf("an https upstream: %q %v", body, err)
	}
	if n := tr.idleCount(); n != 0 {
		t.Fatalf("the https request went through the synchronous pool (%d idle)", n)
	}
}

// A server that refuses a large body without reading it answers and
// closes: that answer reaches the caller, not the failed write.
func TestUpstreamPassesOnAnAnswerGivenBeforeTheBodyWasRead(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		br := bufio.NewReader(c)
		if _, err := http.ReadRequest(br); err != nil {
			return
		}
		io.WriteString(c, "HTTP/1.1 413 Request Entity Too Large\r\nContent-Length: 9\r\nConnection: close\r\n\r\ntoo large")
		// close the sending side, drain a while, as net/http's server does
		// before it closes (a close with unread data would reset)
		c.(*net.TCPConn).CloseWrite()
		c.SetReadDeadline(time.Now().Add(2 * time.Second))
		io.CopyN(io.Discard, c, 64<<10)
	}()
	tr := newTestUpstream(t)
	body := strings.NewReader(strings.Repeat("x", 32<<20))
	code, _, got, err := roundTrip(t, tr, context.Background(), "POST", "http://"+ln.Addr().String()+"/", body)
	if err != nil || code != http.StatusRequestEntityTooLarge || got != "too large" {
		t.Fatalf("a 413 before the body was read: %d %q %v", code, got, err)
	}
	if n := tr.idleCount(); n != 0 {
		t.Fatalf("the connection was pooled after a failed write (%d idle)", n)
	}
}

func TestUpstreamClosedPoolsNothingMore(t *testing.T) {
	up := newCountingServer(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	tr := newTestUpstream(t)
	req, _ := http.NewRequest("GET", up.URL, nil)
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	tr.Close() // while the answer is still being read
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if n := tr.idleCount(); n != 0 {
		t.Fatalf("a connection that ended after Close was pooled (%d idle)", n)
	}
}
