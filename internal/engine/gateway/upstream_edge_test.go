package gateway

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	neturl "net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// rawServer is a loopback upstream that writes answer to each request
// it reads (answer may ignore HTTP's rules) and never closes first.
func rawServer(t *testing.T, answer func(c net.Conn, req *http.Request)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				br := bufio.NewReader(c)
				for {
					req, err := http.ReadRequest(br)
					if err != nil {
						return
					}
					io.Copy(io.Discard, req.Body)
					answer(c, req)
				}
			}()
		}
	}()
	return "http://" + ln.Addr().String()
}

func answerWith(s string) func(net.Conn, *http.Request) {
	return func(c net.Conn, _ *http.Request) { io.WriteString(c, s) }
}

func TestUpstreamCapsTheResponseHeaders(t *testing.T) {
	url := rawServer(t, func(c net.Conn, _ *http.Request) {
		io.WriteString(c, "HTTP/1.1 200 OK\r\n")
		line := "X-Endless: " + strings.Repeat("a", 1000) + "\r\n"
		// far past the limit, then quiet: a transport that buffers it all
		// waits here until its deadline
		for range 64 << 10 {
			if _, err := io.WriteString(c, line); err != nil {
				return
			}
		}
	})
	tr := newTestUpstream(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_, _, _, err := roundTrip(t, tr, ctx, "GET", url, nil)
	if err == nil || ctx.Err() != nil || !strings.Contains(err.Error(), "headers exceed 1048576 bytes") {
		t.Fatalf("an upstream sending endless headers: %v, want the 1 MiB header limit", err)
	}
}

func TestUpstreamCapsTheInformationalAnswers(t *testing.T) {
	url := rawServer(t, func(c net.Conn, _ *http.Request) {
		for range 10000 {
			if _, err := io.WriteString(c, "HTTP/1.1 100 Continue\r\n\r\n"); err != nil {
				return
			}
		}
	})
	tr := newTestUpstream(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_, _, _, err := roundTrip(t, tr, ctx, "GET", url, nil)
	if err == nil || ctx.Err() != nil || !strings.Contains(err.Error(), "1xx") {
		t.Fatalf("an upstream sending endless 100 Continue: %v, want the 1xx limit", err)
	}
}

// ReverseProxy forwards 103 Early Hints through the client trace.
func TestUpstreamReportsInformationalAnswersToTheTrace(t *testing.T) {
	url := rawServer(t, answerWith("HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n"+
		"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"))
	tr := newTestUpstream(t)
	var got []string
	ctx := httptrace.WithClientTrace(context.Background(), &httptrace.ClientTrace{
		Got1xxResponse: func(code int, h textproto.MIMEHeader) error {
			got = append(got, http.StatusText(code)+" "+h.Get("Link"))
			return nil
		},
	})
	code, _, body, err := roundTrip(t, tr, ctx, "GET", url, nil)
	if err != nil || code != 200 || body != "ok" {
		t.Fatalf("an answer after a 103: %d %q %v", code, body, err)
	}
	if want := "Early Hints </a.css>; rel=preload"; len(got) != 1 || got[0] != want {
		t.Fatalf("the trace saw %q, want [%q]", got, want)
	}
	if n := tr.idleCount(); n != 1 {
		t.Fatalf("%d pooled after a 103 then 200, want 1", n)
	}
}

// A request body that fails, or falls short of its Content-Length,
// leaves the upstream waiting for the rest: the transport must fail at
// once instead of waiting for an answer that cannot come.
func TestUpstreamFailsAtOnceOnABrokenRequestBody(t *testing.T) {
	up := newCountingServer(t, func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		io.WriteString(w, "ok")
	})
	tr := newTestUpstream(t)
	errBroken := errors.New("the client went away")
	bodies := map[string]func() *http.Request{
		"short of its Content-Length": func() *http.Request {
			req, _ := http.NewRequest("POST", up.URL, io.NopCloser(strings.NewReader(strings.Repeat("x", 5<<10))))
			req.ContentLength = 10 << 10
			return req
		},
		"failing mid-way": func() *http.Request {
			body := io.MultiReader(strings.NewReader(strings.Repeat("x", 8<<10)), iotestErrReader{errBroken})
			req, _ := http.NewRequest("POST", up.URL, body)
			return req
		},
	}
	for name, mk := range bodies {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		resp, err := tr.RoundTrip(mk().WithContext(ctx))
		if err == nil {
			resp.Body.Close()
		}
		if err == nil || ctx.Err() != nil {
			t.Errorf("a request body %s: %v, want its own error before the deadline", name, err)
		}
		cancel()
	}
	if n := tr.idleCount(); n != 0 {
		t.Fatalf("%d pooled after broken request bodies, want none", n)
	}
}

type iotestErrReader struct{ err error }

func (r iotestErrReader) Read([]byte) (int, error) { return 0, r.err }

func TestUpstreamDropsOlderConnectionsIdlePastTheTimeout(t *testing.T) {
	up := newCountingServer(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	tr := newTestUpstream(t)
	clock := time.Unix(1000, 0)
	tr.now = func() time.Time { return clock }
	// two connections at once: both pooled
	r1, _ := http.NewRequest("GET", up.URL, nil)
	r2, _ := http.NewRequest("GET", up.URL, nil)
	a, err := tr.RoundTrip(r1)
	if err != nil {
		t.Fatal(err)
	}
	b, err := tr.RoundTrip(r2)
	if err != nil {
		t.Fatal(err)
	}
	for _, resp := range []*http.Response{a, b} {
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	if n := tr.idleCount(); n != 2 {
		t.Fatalf("%d pooled, want 2", n)
	}
	// one at a time from then on: the newest is used and put back, the
	// older one must not outlive the idle timeout
	for range 3 {
		clock = clock.Add(tr.idleTimeout / 2)
		roundTrip(t, tr, context.Background(), "GET", up.URL, nil)
	}
	if n := tr.idleCount(); n != 1 {
		t.Fatalf("%d pooled after %s of one request at a time, want the one in use", n, 3*tr.idleTimeout/2)
	}
}

func TestUpstreamDoesNotPoolWhatCannotCarryAnotherRequest(t *testing.T) {
	cases := []struct {
		name, answer string
		header       string
		wantPooled   int
	}{
		{"an HTTP/1.0 answer", "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok", "", 0},
		{"an HTTP/1.0 keep-alive answer", "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok", "", 1},
		{"a request saying Connection: close", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", "close", 0},
		{"a request saying Connection: keep-alive", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", "keep-alive", 1},
		{"a 101 nobody asked for", "HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\nConnection: Upgrade\r\n\r\n", "", 0},
	}
	for _, tc := range cases {
		url := rawServer(t, answerWith(tc.answer))
		tr := newTestUpstream(t)
		req, _ := http.NewRequest("GET", url, nil)
		if tc.header != "" {
			req.Header.Set("Connection", tc.header)
		}
		resp, err := tr.RoundTrip(req)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if n := tr.idleCount(); n != tc.wantPooled {
			t.Errorf("%s: %d pooled, want %d", tc.name, n, tc.wantPooled)
		}
	}
}

// Answers without a body (HEAD with a Content-Length, 204, 304) end at
// their head: the connection carries the next request.
func TestUpstreamReusesAfterAnswersWithoutABody(t *testing.T) {
	up := newCountingServer(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/204":
			w.WriteHeader(http.StatusNoContent)
		case "/304":
			w.WriteHeader(http.StatusNotModified)
		default:
			w.Header().Set("Content-Length", "10")
			io.WriteString(w, "0123456789")
		}
	})
	tr := newTestUpstream(t)
	steps := []struct{ method, path, want string }{
		{"HEAD", "/", ""}, {"GET", "/204", ""}, {"GET", "/304", ""}, {"GET", "/", "0123456789"},
	}
	for _, s := range steps {
		_, h, body, err := roundTrip(t, tr, context.Background(), s.method, up.URL+s.path, nil)
		if err != nil || body != s.want {
			t.Fatalf("%s %s: %q %v, want %q", s.method, s.path, body, err, s.want)
		}
		if s.method == "HEAD" && h.Get("Content-Length") != "10" {
			t.Fatalf("HEAD lost its Content-Length: %v", h)
		}
	}
	if n := up.conns.Load(); n != 1 {
		t.Fatalf("%d connections for answers without a body, want 1", n)
	}
}

// The retry over a fresh connection rebuilds the body on a copy of the
// request: a RoundTripper must not modify the one it was given.
func TestUpstreamRetryLeavesTheRequestAlone(t *testing.T) {
	up := newClosingServer(t)
	tr := newTestUpstream(t)
	tr.now = func() time.Time { return time.Unix(1000, 0) } // never peeked
	if _, _, _, err := roundTrip(t, tr, context.Background(), "GET", up.URL(), nil); err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("POST", up.URL(), strings.NewReader("v"))
	req.Header.Set("Idempotency-Key", "k1")
	body := req.Body
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatalf("a POST with an Idempotency-Key over a dead pooled connection: %v", err)
	}
	resp.Body.Close()
	if req.Body != body {
		t.Fatal("the retry replaced the caller's request body")
	}
	if got := up.requests(); len(got) != 2 || got[1] != "POST v" {
		t.Fatalf("the upstream read %q, want the POST once", got)
	}
}

// The request line is in origin form and the Host header is the
// request's Host (a Rewrite may set one other than the URL's).
func TestUpstreamWritesTheRequestLineAndHost(t *testing.T) {
	seen := make(chan string, 1)
	url := rawServer(t, func(c net.Conn, req *http.Request) {
		seen <- req.RequestURI + " " + req.Host
		io.WriteString(c, "HTTP/1.1 204 No Content\r\n\r\n")
	})
	tr := newTestUpstream(t)
	req, _ := http.NewRequest("GET", url+"/a%2Fb?q=1", nil)
	req.Host = "api.example"
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got, want := <-seen, "/a%2Fb?q=1 api.example"; got != want {
		t.Fatalf("the upstream read %q, want %q", got, want)
	}
}

// An address the environment's proxy covers goes through net/http,
// which writes the absolute form to the proxy.
func TestUpstreamLeavesProxiedAddressesToNetHTTP(t *testing.T) {
	seen := make(chan string, 1)
	proxy := newCountingServer(t, func(w http.ResponseWriter, r *http.Request) {
		seen <- r.RequestURI
		io.WriteString(w, "via proxy")
	})
	tr := newTestUpstream(t)
	tr.fallback.Proxy = func(r *http.Request) (*neturl.URL, error) {
		if r.URL.Hostname() == "proxied.example" {
			return neturl.Parse(proxy.URL)
		}
		return nil, nil
	}
	_, _, body, err := roundTrip(t, tr, context.Background(), "GET", "http://proxied.example/x", nil)
	if err != nil || body != "via proxy" {
		t.Fatalf("a proxied address: %q %v", body, err)
	}
	if got := <-seen; got != "http://proxied.example/x" {
		t.Fatalf("the proxy read %q, want the absolute form", got)
	}
	if n := tr.idleCount(); n != 0 {
		t.Fatalf("the proxied request went through the synchronous pool (%d idle)", n)
	}
}
