// Package child holds what the benchmark's helper programs share: they
// bind loopback only, announce their address on stdout for the harness
// that started them, and stop by themselves when that harness goes away
// (their stdin reaches EOF) or when their lifetime runs out, so a crashed
// benchmark leaves no server behind.
package child

import (
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"time"
)

// Lifetime is the -lifetime flag every helper server has.
func Lifetime(fs *flag.FlagSet) *time.Duration {
	return fs.Duration("lifetime", 30*time.Minute, "exit after this long even if the parent never says so")
}

// Listen binds addr, which must be on loopback: the helpers serve
// benchmarks, never a network.
func Listen(addr string) (net.Listener, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("-listen %q: %v", addr, err)
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return nil, fmt.Errorf("-listen %q: only a loopback IP address is allowed", addr)
	}
	return net.Listen("tcp", addr)
}

// Announce prints the line the harness waits for: "listening ADDR".
func Announce(l net.Listener) {
	fmt.Printf("listening %s\n", l.Addr())
}

// ExitWithParent exits the process when stdin reaches EOF (the harness
// holds the other end of a pipe, closed when it exits or kills us) or
// when lifetime has passed.
func ExitWithParent(lifetime time.Duration) {
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		os.Exit(0)
	}()
	go func() {
		time.Sleep(lifetime)
		fmt.Fprintln(os.Stderr, "lifetime over, exiting")
		os.Exit(0)
	}()
}

// Usage prints one line naming the bad input and exits 2.
func Usage(prog string, err error) {
	fmt.Fprintf(os.Stderr, "%s: %v\n", prog, err)
	os.Exit(2)
}
