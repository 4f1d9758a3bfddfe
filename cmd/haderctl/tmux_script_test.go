package main

import (
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
)

// The tmux commands drive a full-screen program in a real terminal: a
// detached tmux session of the script's own (its server's socket is under
// $WORK, and it is killed when the script ends), read back with
// capture-pane. Scripts that use them start with `[!tmux] skip`: the
// condition is true when tmux is installed, and when it is not and
// HADERCTL_TEST_REQUIRE_TMUX=1 (as CI sets it) the script fails instead.
//
//	tmux start COLSxROWS PROG [ARGS...]  start PROG in a COLS×ROWS pane, with the script's env
//	tmux wait REGEXP                     until the screen matches (20 s deadline)
//	! tmux wait REGEXP                   until it no longer does
//	tmux keys KEY...                     tmux send-keys names: j, Enter, Escape, Tab, C-c
//	tmux type TEXT                       TEXT typed literally
//	tmux capture FILE [-e]               the screen into FILE (-e keeps colour escapes)
//	tmux exited                          until PROG has ended (the pane is gone)
func cmdTmux(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) == 0 {
		ts.Fatalf("usage: tmux start|wait|keys|type|capture|exited ...")
	}
	// each start gets a server (and socket) of its own: a server whose
	// last session ends exits, and a new session asked of it while it is
	// exiting fails ("server exited unexpectedly")
	sock := ts.Getenv("HADERCTL_TMUX_SOCK")
	if args[0] == "start" {
		if sock != "" {
			_ = exec.Command("tmux", "-S", sock, "kill-server").Run() // a script's earlier program
		}
		n, _ := strconv.Atoi(ts.Getenv("HADERCTL_TMUX_STARTS"))
		ts.Setenv("HADERCTL_TMUX_STARTS", strconv.Itoa(n+1))
		sock = ts.MkAbs(fmt.Sprintf("tmux-%d.sock", n+1))
		ts.Setenv("HADERCTL_TMUX_SOCK", sock)
	}
	if sock == "" {
		ts.Fatalf("tmux %s before tmux start", args[0])
	}
	run := func(a ...string) (string, error) {
		cmd := exec.Command("tmux", append([]string{"-S", sock, "-f", "/dev/null"}, a...)...)
		cmd.Env = tmuxEnv(ts)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	screen := func() string {
		out, err := run("capture-pane", "-p", "-t", "main")
		if err != nil {
			return ""
		}
		return out
	}
	if neg && args[0] != "wait" {
		ts.Fatalf("tmux %s does not take !", args[0])
	}
	switch args[0] {
	case "start":
		var cols, rows int
		if len(args) < 3 {
			ts.Fatalf("usage: tmux start COLSxROWS PROG [ARGS...]")
		}
		if _, err := fmt.Sscanf(args[1], "%dx%d", &cols, &rows); err != nil {
			ts.Fatalf("tmux start: size %q: use COLSxROWS", args[1])
		}
		ts.Defer(func() { _, _ = run("kill-server") })
		// the pane stays when the program ends (set before it starts: it
		// may end at once), so its last screen can be read
		out, err := run(append([]string{"start-server", ";", "set-option", "-g", "remain-on-exit", "on", ";",
			"new-session", "-d", "-s", "main", "-x", fmt.Sprint(cols), "-y", fmt.Sprint(rows), "--"}, args[2:]...)...)
		if err != nil {
			ts.Fatalf("tmux new-session: %v: %s", err, out)
		}
	case "wait":
		if len(args) != 2 {
			ts.Fatalf("usage: tmux wait REGEXP")
		}
		re, err := regexp.Compile(args[1])
		ts.Check(err)
		var last string
		deadline := time.Now().Add(20 * time.Second)
		for {
			last = screen()
			if re.MatchString(last) != neg {
				return
			}
			if time.Now().After(deadline) {
				ts.Logf("screen:\n%s", last)
				ts.Fatalf("waited 20s for the screen to %smatch %s", map[bool]string{true: "no longer "}[neg], args[1])
			}
			time.Sleep(50 * time.Millisecond)
		}
	case "keys":
		if out, err := run(append([]string{"send-keys", "-t", "main"}, args[1:]...)...); err != nil {
			ts.Fatalf("tmux send-keys: %v: %s", err, out)
		}
	case "type":
		if len(args) != 2 {
			ts.Fatalf("usage: tmux type TEXT")
		}
		if out, err := run("send-keys", "-t", "main", "-l", args[1]); err != nil {
			ts.Fatalf("tmux send-keys: %v: %s", err, out)
		}
	case "capture":
		if len(args) < 2 {
			ts.Fatalf("usage: tmux capture FILE [-e]")
		}
		a := []string{"capture-pane", "-p", "-t", "main"}
		if len(args) == 3 && args[2] == "-e" {
			a = append(a, "-e")
		}
		out, err := run(a...)
		if err != nil {
			ts.Fatalf("tmux capture-pane: %v: %s", err, out)
		}
		ts.Check(os.WriteFile(ts.MkAbs(args[1]), []byte(out), 0o644))
	case "exited":
		deadline := time.Now().Add(20 * time.Second)
		for {
			out, err := run("display-message", "-p", "-t", "main", "#{pane_dead}")
			if err != nil || strings.TrimSpace(out) == "1" {
				return
			}
			if time.Now().After(deadline) {
				ts.Logf("screen:\n%s", screen())
				ts.Fatalf("waited 20s for the program in tmux to end")
			}
			time.Sleep(50 * time.Millisecond)
		}
	default:
		ts.Fatalf("tmux: unknown subcommand %q", args[0])
	}
}

// tmuxEnv is the environment tmux's server and the program it starts run
// with: the script's own variables (the program is found on its PATH), a
// colour terminal, and no TMUX of an outer session.
func tmuxEnv(ts *testscript.TestScript) []string {
	var env []string
	for _, k := range []string{"PATH", "HOME", "XDG_CONFIG_HOME", "REDIS_URL", "HADERCTL_NAMESPACE", "HADERCTL_CONFIG", "NO_COLOR", "WORK", "TMPDIR", "DEAD_REDIS_URL"} {
		if v := ts.Getenv(k); v != "" {
			env = append(env, k+"="+v)
		}
	}
	return append(env, "TERM=xterm-256color", "COLORTERM=truecolor", "LANG=C.UTF-8")
}

// tmuxCondition is the [tmux] condition: tmux is installed. Without it a
// script skips, unless HADERCTL_TEST_REQUIRE_TMUX=1, where that is an
// error.
func tmuxCondition() (bool, error) {
	if _, err := exec.LookPath("tmux"); err == nil {
		return true, nil
	}
	if os.Getenv("HADERCTL_TEST_REQUIRE_TMUX") == "1" {
		return false, fmt.Errorf("tmux is not installed and HADERCTL_TEST_REQUIRE_TMUX=1: install it (apt-get install tmux)")
	}
	return false, nil
}
