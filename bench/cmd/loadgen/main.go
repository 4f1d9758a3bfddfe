// Command loadgen is the gateway benchmark's client: a closed-loop HTTP
// load generator. Each of -c workers holds one keep-alive connection and
// sends its next GET as soon as the last response has been read, for
// -d (after -warmup, which is not counted) or until -n requests.
//
//	loadgen -url http://127.0.0.1:PORT/ -c 16 -d 3s -warmup 500ms
//
// It runs as a process of its own so that the proxy under test never
// shares a Go runtime with its load, and prints one JSON object (Report)
// on stdout. Only loopback URLs are accepted.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/url"
	"os"
	"time"
)

func main() {
	fs := flag.NewFlagSet("loadgen", flag.ContinueOnError)
	var cfg Config
	target := fs.String("url", "", "the loopback http:// URL to GET")
	fs.IntVar(&cfg.Connections, "c", 16, "keep-alive connections, one worker each")
	fs.DurationVar(&cfg.Duration, "d", 3*time.Second, "how long to measure")
	fs.DurationVar(&cfg.Warmup, "warmup", 500*time.Millisecond, "load before measuring, not counted")
	fs.Int64Var(&cfg.Requests, "n", 0, "stop after this many measured requests (0: run for -d)")
	fs.DurationVar(&cfg.Timeout, "timeout", 10*time.Second, "per-request timeout")
	fs.IntVar(&cfg.MaxSamples, "max-samples", 4_000_000, "latencies kept for the percentiles (bounds memory)")
	if err := fs.Parse(os.Args[1:]); err != nil {
		os.Exit(2)
	}
	u, err := checkURL(*target)
	if err != nil {
		usage(err)
	}
	cfg.URL = u
	if err := cfg.validate(); err != nil {
		usage(err)
	}
	rep := Run(cfg)
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(rep); err != nil {
		os.Exit(1)
	}
}

func usage(err error) {
	fmt.Fprintf(os.Stderr, "loadgen: %v\n", err)
	os.Exit(2)
}

// checkURL accepts an http:// URL whose host is a loopback IP address.
func checkURL(raw string) (string, error) {
	if raw == "" {
		return "", errors.New("-url is required")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("-url: %v", err)
	}
	if u.Scheme != "http" {
		return "", fmt.Errorf("-url %q: only http:// is supported", raw)
	}
	if ip := net.ParseIP(u.Hostname()); ip == nil || !ip.IsLoopback() {
		return "", fmt.Errorf("-url %q: the host must be a loopback IP address", raw)
	}
	return u.String(), nil
}
