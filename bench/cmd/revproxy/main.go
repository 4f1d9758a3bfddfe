// Command revproxy is net/http/httputil's ReverseProxy with nothing
// added: Rewrite sets the upstream URL and X-Forwarded-*, over a pooled
// transport sized like the gateway's, with a pool of copy buffers. In
// the gateway benchmark it separates what the library costs from what
// the gateway adds on top (routing, breaker, chaos, logs, metrics).
//
//	revproxy -listen 127.0.0.1:0 -upstream http://127.0.0.1:PORT [-transport sync]
//
// It prints "listening ADDR" and serves until its stdin closes.
package main

import (
	"errors"
	"flag"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"sync"
	"time"

	"github.com/haderos/haderctl/bench/internal/child"
)

func main() {
	fs := flag.NewFlagSet("revproxy", flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:0", "loopback address to serve on")
	upstream := fs.String("upstream", "", "the upstream's base URL (http://host:port)")
	transport := fs.String("transport", "pooled", "pooled: net/http's Transport; sync: the experiment in synctransport.go")
	lifetime := child.Lifetime(fs)
	if err := fs.Parse(os.Args[1:]); err != nil {
		os.Exit(2)
	}
	target, err := url.Parse(*upstream)
	if err != nil || target.Scheme != "http" || target.Host == "" {
		child.Usage("revproxy", errors.New("-upstream must be an http://host:port URL"))
	}
	if *transport != "pooled" && *transport != "sync" {
		child.Usage("revproxy", errors.New("-transport must be pooled or sync"))
	}
	l, err := child.Listen(*listen)
	if err != nil {
		child.Usage("revproxy", err)
	}
	child.ExitWithParent(*lifetime)
	child.Announce(l)
	pooled := http.DefaultTransport.(*http.Transport).Clone()
	pooled.MaxIdleConns, pooled.MaxIdleConnsPerHost = 1024, 256
	var tr http.RoundTripper = pooled
	if *transport == "sync" {
		tr = &syncTransport{addr: target.Host}
	}
	proxy := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.SetXForwarded()
		},
		Transport:  tr,
		BufferPool: &buffers{},
	}
	srv := &http.Server{Handler: proxy, ReadHeaderTimeout: 10 * time.Second}
	if err := srv.Serve(l); err != nil {
		os.Exit(1)
	}
}

// buffers reuses the copy buffers; without a BufferPool ReverseProxy
// allocates 32 KiB per response, which no real deployment would keep.
type buffers struct{ pool sync.Pool }

func (b *buffers) Get() []byte {
	if p, ok := b.pool.Get().(*[]byte); ok {
		return *p
	}
	return make([]byte, 32<<10)
}

func (b *buffers) Put(buf []byte) { b.pool.Put(&buf) }
