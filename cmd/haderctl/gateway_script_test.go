package main

import (
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
	"syscall"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
)

// The gateway scripts' commands: a free address to listen on, and an HTTP
// client whose answer the script reads like curl -i's.

// freeport VAR: sets VAR to a loopback HOST:PORT nothing listens on.
func cmdFreePort(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: freeport VAR")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	ts.Check(err)
	ts.Setenv(args[0], l.Addr().String())
	ts.Check(l.Close())
}

// httpdo METHOD URL [BODY [HEADER:VALUE...]]: makes one request and prints
// the status, the X-Hader-* and Retry-After headers (sorted), then the body.
func cmdHTTPDo(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: httpdo METHOD URL [BODY [HEADER:VALUE...]]")
	}
	var body io.Reader
	if len(args) > 2 && args[2] != "" {
		body = strings.NewReader(args[2])
	}
	req, err := http.NewRequest(args[0], args[1], body)
	ts.Check(err)
	for _, h := range args[min(3, len(args)):] {
		k, v, _ := strings.Cut(h, ":")
		req.Header.Set(k, strings.TrimSpace(v))
	}
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Do(req)
	ts.Check(err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	ts.Check(err)
	var lines []string
	for k := range resp.Header {
		if strings.HasPrefix(k, "X-Hader-") || k == "Retry-After" {
			lines = append(lines, k+": "+resp.Header.Get(k))
		}
	}
	slices.Sort(lines)
	fmt.Fprintf(ts.Stdout(), "%d\n%s\n\n%s", resp.StatusCode, strings.Join(lines, "\n"), b)
}

// waithttp URL CODE [REGEXP]: polls URL until it answers CODE (with a
// body matching REGEXP): a gateway started in the background listens, a
// reload took or was refused.
func cmdWaitHTTP(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 || len(args) > 3 {
		ts.Fatalf("usage: waithttp URL CODE [REGEXP]")
	}
	want, err := strconv.Atoi(args[1])
	ts.Check(err)
	re := regexp.MustCompile("")
	if len(args) == 3 {
		re, err = regexp.Compile(args[2])
		ts.Check(err)
	}
	c := &http.Client{Timeout: 2 * time.Second}
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
	dirs, err := os.ReadDir("/proc")
	ts.Check(err)
	for _, d := range dirs {
		pid, err := strconv.Atoi(d.Name())
		if err != nil {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", d.Name(), "cmdline"))
		if err != nil || !slices.Contains(strings.Split(string(cmdline), "\x00"), args[1]) || parentOf(pid) != os.Getpid() {
			continue
		}
		ts.Check(syscall.Kill(pid, sig))
		return
	}
	ts.Fatalf("signal: no child process runs with %s", args[1])
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
