package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
)

// The gateway scripts' commands: a free address to listen on, and an HTTP
// client whose answer the script reads like curl -i's.

// freeport VAR: sets VAR to a loopback HOST:PORT nothing listens on, and
// VAR_PORT to its port alone (to listen on 0.0.0.0:$VAR_PORT, off loopback).
func cmdFreePort(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: freeport VAR")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	ts.Check(err)
	ts.Setenv(args[0], l.Addr().String())
	ts.Setenv(args[0]+"_PORT", strconv.Itoa(l.Addr().(*net.TCPAddr).Port))
	ts.Check(l.Close())
}

// httpdo [-timeout D] METHOD URL [BODY [HEADER:VALUE...]]: makes one
// request and prints the status, the Idempotent-Replayed, Location,
// Retry-After and X-Hader-* headers (sorted), then the body. With ! the
// request must get no answer (nothing listens, or none within -timeout, a
// client giving up; 10s by default): the error is printed instead.
func cmdHTTPDo(ts *testscript.TestScript, neg bool, args []string) {
	timeout := 10 * time.Second
	if len(args) > 1 && args[0] == "-timeout" {
		d, err := time.ParseDuration(args[1])
		ts.Check(err)
		timeout, args = d, args[2:]
	}
	if len(args) < 2 {
		ts.Fatalf("usage: httpdo [-timeout D] METHOD URL [BODY [HEADER:VALUE...]]")
	}
	out, err := httpDo(args, timeout)
	if neg {
		if err == nil {
			ts.Fatalf("httpdo %s %s got an answer:\n%s", args[0], args[1], out)
		}
		fmt.Fprintln(ts.Stdout(), err)
		return
	}
	ts.Check(err)
	fmt.Fprint(ts.Stdout(), out)
}

// httpDo makes httpdo's request, giving up after timeout, and renders its
// answer.
func httpDo(args []string, timeout time.Duration) (string, error) {
	var body io.Reader
	if len(args) > 2 && args[2] != "" {
		body = strings.NewReader(args[2])
	}
	req, err := http.NewRequest(args[0], args[1], body)
	if err != nil {
		return "", err
	}
	for _, h := range args[min(3, len(args)):] {
		k, v, _ := strings.Cut(h, ":")
		req.Header.Set(k, strings.TrimSpace(v))
	}
	c := &http.Client{Timeout: timeout}
	resp, err := c.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	var lines []string
	for k := range resp.Header {
		if strings.HasPrefix(k, "X-Hader-") || k == "Retry-After" || k == "Location" || k == "Idempotent-Replayed" {
			lines = append(lines, k+": "+resp.Header.Get(k))
		}
	}
	slices.Sort(lines)
	return fmt.Sprintf("%d\n%s\n\n%s", resp.StatusCode, strings.Join(lines, "\n"), b), nil
}

// inFlight is a request httpstart began: done closes when out/err are set.
type inFlight struct {
	done chan struct{}
	out  string
	err  error
}

// startedRequests is per script, keyed by $WORK, then by the request's name.
var startedRequests sync.Map

func requestsOf(ts *testscript.TestScript) *sync.Map {
	v, _ := startedRequests.LoadOrStore(ts.Getenv("WORK"), &sync.Map{})
	return v.(*sync.Map)
}

// httpstart NAME METHOD URL [BODY [HEADER:VALUE...]]: begins httpdo's
// request in the background, so the script can act while it is in flight
// (a second request with its key, a SIGTERM); httpwait NAME reads its answer.
func cmdHTTPStart(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 3 {
		ts.Fatalf("usage: httpstart NAME METHOD URL [BODY [HEADER:VALUE...]]")
	}
	r := &inFlight{done: make(chan struct{})}
	if _, dup := requestsOf(ts).LoadOrStore(args[0], r); dup {
		ts.Fatalf("httpstart: a request named %s was already started", args[0])
	}
	go func() {
		defer close(r.done)
		r.out, r.err = httpDo(args[1:], 10*time.Second)
	}()
	// a script must not end with the request still running
	ts.Defer(func() { <-r.done })
}

// httpwait NAME: waits (10s at most) for the request httpstart NAME began
// and prints its answer as httpdo does.
func cmdHTTPWait(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: httpwait NAME")
	}
	v, ok := requestsOf(ts).Load(args[0])
	if !ok {
		ts.Fatalf("httpwait: no request %s: begin it with httpstart %s", args[0], args[0])
	}
	r := v.(*inFlight)
	select {
	case <-r.done:
	case <-time.After(10 * time.Second):
		ts.Fatalf("waited 10s for the request %s", args[0])
	}
	ts.Check(r.err)
	fmt.Fprint(ts.Stdout(), r.out)
}

// waithttp URL CODE [REGEXP]: polls URL until it answers CODE (with a
// body matching REGEXP): a gateway started in the background listens, a
// reload took or was refused. CODE "refused" waits until nothing accepts
// connections there any more (a stopping gateway closed its listener).
func cmdWaitHTTP(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 || len(args) > 3 || (args[1] == "refused" && len(args) == 3) {
		ts.Fatalf("usage: waithttp URL CODE [REGEXP] | waithttp URL refused")
	}
	c := &http.Client{Timeout: 2 * time.Second}
	if args[1] == "refused" {
		poll(ts, args[0]+" refusing connections", func() bool {
			resp, err := c.Get(args[0])
			if err == nil {
				resp.Body.Close()
				return false
			}
			return errors.Is(err, syscall.ECONNREFUSED)
		})
		return
	}
	want, err := strconv.Atoi(args[1])
	ts.Check(err)
	re := regexp.MustCompile("")
	if len(args) == 3 {
		re, err = regexp.Compile(args[2])
		ts.Check(err)
	}
	poll(ts, args[0]+" answering "+strings.Join(args[1:], " "), func() bool {
		resp, err := c.Get(args[0])
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return err == nil && resp.StatusCode == want && re.Match(b)
	})
}

// signal HUP|TERM MARKER: sends the signal to this test's child process
// whose command line holds MARKER (testscript's kill knows only INT and
// KILL; a gateway reloads on HUP). Linux only: it reads /proc.
func cmdSignal(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: signal HUP|TERM MARKER")
	}
	sig := map[string]syscall.Signal{"HUP": syscall.SIGHUP, "TERM": syscall.SIGTERM}[args[0]]
	if sig == 0 {
		ts.Fatalf("signal: %s is not HUP or TERM", args[0])
	}
	if runtime.GOOS != "linux" {
		ts.Fatalf("signal reads /proc: Linux only (guard the script with [!linux] skip)")
	}
	p, err := os.FindProcess(childWith(ts, args[1]))
	ts.Check(err)
	ts.Check(p.Signal(sig))
}

// childWith returns the id of this test's child process whose command line
// holds marker (a gateway's --listen address), failing the script if none
// does. Linux only: it reads /proc.
func childWith(ts *testscript.TestScript, marker string) int {
	dirs, err := os.ReadDir("/proc")
	ts.Check(err)
	for _, d := range dirs {
		pid, err := strconv.Atoi(d.Name())
		if err != nil {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", d.Name(), "cmdline"))
		if err != nil || !slices.Contains(strings.Split(string(cmdline), "\x00"), marker) || parentOf(pid) != os.Getpid() {
			continue
		}
		return pid
	}
	ts.Fatalf("no child process runs with %s", marker)
	return 0
}

// parentOf reads a process' parent id from /proc/PID/stat.
func parentOf(pid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// the command name (field 2) is in parentheses and may hold spaces
	fields := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	if len(fields) < 2 {
		return 0
	}
	ppid, _ := strconv.Atoi(fields[1])
	return ppid
}
