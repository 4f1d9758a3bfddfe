// Command tcpproxy is the floor every HTTP-aware proxy is measured
// against in the gateway benchmark: it accepts a connection, dials the
// upstream and copies bytes both ways with io.Copy, knowing nothing of
// HTTP.
//
//	tcpproxy -listen 127.0.0.1:0 -upstream 127.0.0.1:PORT
//
// It prints "listening ADDR" and serves until its stdin closes.
package main

import (
	"errors"
	"flag"
	"io"
	"net"
	"os"
	"sync"

	"github.com/haderos/haderctl/bench/internal/child"
)

func main() {
	fs := flag.NewFlagSet("tcpproxy", flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:0", "loopback address to accept on")
	upstream := fs.String("upstream", "", "host:port to forward every connection to")
	lifetime := child.Lifetime(fs)
	if err := fs.Parse(os.Args[1:]); err != nil {
		os.Exit(2)
	}
	if *upstream == "" {
		child.Usage("tcpproxy", errors.New("-upstream is required"))
	}
	if _, _, err := net.SplitHostPort(*upstream); err != nil {
		child.Usage("tcpproxy", err)
	}
	l, err := child.Listen(*listen)
	if err != nil {
		child.Usage("tcpproxy", err)
	}
	child.ExitWithParent(*lifetime)
	child.Announce(l)
	for {
		c, err := l.Accept()
		if err != nil {
			os.Exit(1)
		}
		go forward(c.(*net.TCPConn), *upstream)
	}
}

// forward copies both ways until each side has finished writing; a
// half-close is passed on, so neither side waits for bytes that will
// not come.
func forward(down *net.TCPConn, upstream string) {
	defer down.Close()
	c, err := net.Dial("tcp", upstream)
	if err != nil {
		return
	}
	up := c.(*net.TCPConn)
	defer up.Close()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		_, _ = io.Copy(up, down)
		_ = up.CloseWrite()
	}()
	_, _ = io.Copy(down, up)
	_ = down.CloseWrite()
	wg.Wait()
}
