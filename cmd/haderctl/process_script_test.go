package main

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/rogpeppe/go-internal/testscript"
)

// The resident memory of a child process, for memory experiments that a
// gateway's chaos agent applies to its own process. Linux only: /proc.

// rssMB reads VmRSS from /proc/PID/status, in MiB.
func rssMB(pid int) (int, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, err := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(rest), " kB"))
			return kb / 1024, err
		}
	}
	return 0, fmt.Errorf("/proc/%d/status has no VmRSS", pid)
}

// rss MARKER VAR [+MB]: sets VAR to the resident memory, in MiB, of the
// child process whose command line holds MARKER, plus MB: a threshold for
// waitrss measured from now.
func cmdRSS(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 || len(args) > 3 {
		ts.Fatalf("usage: rss MARKER VAR [+MB]")
	}
	mb, err := rssMB(childWith(ts, args[0]))
	ts.Check(err)
	if len(args) == 3 {
		plus, err := strconv.Atoi(strings.TrimPrefix(args[2], "+"))
		ts.Check(err)
		mb += plus
	}
	ts.Setenv(args[1], strconv.Itoa(mb))
}

// waitrss MARKER above|below MB: waits (10s at most) until that child's
// resident memory is above or below MB MiB.
func cmdWaitRSS(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 3 || (args[1] != "above" && args[1] != "below") {
		ts.Fatalf("usage: waitrss MARKER above|below MB")
	}
	want, err := strconv.Atoi(args[2])
	ts.Check(err)
	pid := childWith(ts, args[0])
	poll(ts, fmt.Sprintf("%s's resident memory %s %d MiB", args[0], args[1], want), func() bool {
		mb, err := rssMB(pid)
		return err == nil && (args[1] == "above") == (mb > want)
	})
}
