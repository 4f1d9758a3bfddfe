// Command upstream is the service behind the proxies in the gateway
// benchmark: every request gets the same 11-byte body ("hello world"),
// after an optional fixed delay that stands for a slow provider.
//
//	upstream -listen 127.0.0.1:0 [-delay 10ms]
//
// It prints "listening ADDR" and serves until its stdin closes.
package main

import (
	"errors"
	"flag"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/haderos/haderctl/bench/internal/child"
)

// body is the response the figures were measured with.
var body = []byte("hello world")

func main() {
	fs := flag.NewFlagSet("upstream", flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:0", "loopback address to serve on")
	delay := fs.Duration("delay", 0, "wait this long before answering each request")
	lifetime := child.Lifetime(fs)
	if err := fs.Parse(os.Args[1:]); err != nil {
		os.Exit(2)
	}
	if *delay < 0 {
		child.Usage("upstream", errors.New("-delay must not be negative"))
	}
	l, err := child.Listen(*listen)
	if err != nil {
		child.Usage("upstream", err)
	}
	child.ExitWithParent(*lifetime)
	child.Announce(l)
	length := strconv.Itoa(len(body))
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if *delay > 0 {
			time.Sleep(*delay)
		}
		h := w.Header()
		h["Content-Type"] = []string{"text/plain"}
		h["Content-Length"] = []string{length}
		_, _ = w.Write(body)
	})
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	if err := srv.Serve(l); err != nil {
		os.Exit(1)
	}
}
