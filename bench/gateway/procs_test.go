package gateway

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// tools are the helper programs of ../cmd, built once per run.
type tools struct {
	loadgen, upstream, tcpproxy, revproxy string
}

var built struct {
	once  sync.Once
	dir   string
	tools tools
	err   error
}

// buildTools compiles ../cmd/{loadgen,upstream,tcpproxy,revproxy} into a
// directory removed when the package's benchmarks end (TestMain).
func buildTools(b *testing.B) tools {
	b.Helper()
	built.once.Do(func() {
		dir, err := os.MkdirTemp("", "haderctl-bench-gw-")
		if err != nil {
			built.err = err
			return
		}
		built.dir = dir
		out, err := exec.Command("go", "build", "-o", dir+string(filepath.Separator),
			"../cmd/loadgen", "../cmd/upstream", "../cmd/tcpproxy", "../cmd/revproxy").CombinedOutput()
		if err != nil {
			built.err = fmt.Errorf("go build ../cmd/...: %v\n%s", err, out)
			return
		}
		built.tools = tools{
			loadgen:  filepath.Join(dir, "loadgen"),
			upstream: filepath.Join(dir, "upstream"),
			tcpproxy: filepath.Join(dir, "tcpproxy"),
			revproxy: filepath.Join(dir, "revproxy"),
		}
	})
	if built.err != nil {
		b.Fatal(built.err)
	}
	return built.tools
}

// removeTools deletes what buildTools built.
func removeTools() {
	if built.dir != "" {
		os.RemoveAll(built.dir)
	}
}

// child is a process the benchmark started and kills in Cleanup.
type child struct {
	name  string
	cmd   *exec.Cmd
	stdin io.WriteCloser
	// log is the child's stderr (and stdout after its announcement),
	// kept in a file so that writing it costs the child a write(2) and
	// the benchmark nothing.
	log string
	// waited is closed when a Wait started at launch returns.
	waited chan struct{}
}

// start runs a helper that prints "listening ADDR" and returns it with
// that address. It is stopped when the benchmark ends: its stdin is
// closed (the helpers exit on EOF) and then it is killed.
func start(b *testing.B, name, bin string, env []string, args ...string) (*child, string) {
	b.Helper()
	c := launch(b, name, bin, env, args...)
	out, err := c.cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := c.cmd.Start(); err != nil {
		b.Fatalf("%s: %v", name, err)
	}
	b.Cleanup(c.stop)
	lines := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(out).ReadString('\n')
		lines <- line
		_, _ = io.Copy(io.Discard, out)
	}()
	select {
	case line := <-lines:
		addr, ok := strings.CutPrefix(strings.TrimSpace(line), "listening ")
		if !ok {
			b.Fatalf("%s announced %q, not \"listening ADDR\" (log: %s)", name, line, c.tail())
		}
		return c, addr
	case <-time.After(20 * time.Second):
		b.Fatalf("%s did not announce its address within 20s (log: %s)", name, c.tail())
	}
	return nil, ""
}

// startServing runs a program that does not announce itself (Toxiproxy,
// the gateway) and waits until ready answers true.
func startServing(b *testing.B, name, bin string, env []string, ready func() bool, args ...string) *child {
	b.Helper()
	c := launch(b, name, bin, env, args...)
	if err := c.cmd.Start(); err != nil {
		b.Fatalf("%s: %v", name, err)
	}
	b.Cleanup(c.stop)
	exited := make(chan struct{})
	go func() { _ = c.cmd.Wait(); close(exited) }()
	c.waited = exited
	deadline := time.Now().Add(30 * time.Second)
	for !ready() {
		select {
		case <-exited:
			b.Fatalf("%s exited at start: %s", name, c.tail())
		default:
		}
		if time.Now().After(deadline) {
			b.Fatalf("%s not ready within 30s: %s", name, c.tail())
		}
		time.Sleep(20 * time.Millisecond) // poll interval while it starts
	}
	return c
}

func launch(b *testing.B, name, bin string, env []string, args ...string) *child {
	b.Helper()
	c := &child{name: name, log: filepath.Join(b.TempDir(), name+".log")}
	f, err := os.Create(c.log)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { f.Close() })
	c.cmd = exec.Command(bin, args...)
	c.cmd.Env = append(os.Environ(), env...)
	c.cmd.Stderr = f
	c.cmd.SysProcAttr = dieWithParent()
	if c.stdin, err = c.cmd.StdinPipe(); err != nil {
		b.Fatal(err)
	}
	return c
}

// stop closes the child's stdin, kills it and reaps it.
func (c *child) stop() {
	_ = c.stdin.Close()
	if c.cmd.Process == nil {
		return
	}
	_ = c.cmd.Process.Kill()
	if c.waited != nil {
		<-c.waited
	} else {
		_ = c.cmd.Wait()
	}
}

// tail is the end of the child's log, for a failure message.
func (c *child) tail() string {
	data, _ := os.ReadFile(c.log)
	if len(data) > 2000 {
		data = data[len(data)-2000:]
	}
	return strings.TrimSpace(string(data))
}

// freeAddr is a loopback address nobody listened on a moment ago, for
// the programs that cannot be told to take any port and say which.
func freeAddr(b *testing.B) string {
	b.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// load is loadgen's report (its Report type, the fields read here).
type load struct {
	RPS        float64        `json:"rps"`
	Requests   int64          `json:"requests"`
	Status     map[string]int `json:"status"`
	Errors     int64          `json:"errors"`
	FirstError string         `json:"first_error"`
	Dials      int64          `json:"dials"`
	P50us      float64        `json:"p50_us"`
	P90us      float64        `json:"p90_us"`
	P99us      float64        `json:"p99_us"`
}

// runLoad runs loadgen, a process of its own, against url and checks
// that every measured request got want.
func runLoad(b *testing.B, loadgen, url string, conns int, measure, warmup time.Duration, want int) load {
	b.Helper()
	cmd := exec.Command(loadgen, "-url", url, "-c", fmt.Sprint(conns), "-d", measure.String(), "-warmup", warmup.String())
	cmd.SysProcAttr = dieWithParent()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		b.Fatalf("loadgen %s: %v: %s", url, err, stderr.String())
	}
	var l load
	if err := json.Unmarshal(out, &l); err != nil {
		b.Fatalf("loadgen %s: %v in %s", url, err, out)
	}
	if l.Errors > 0 || l.Status[fmt.Sprint(want)] != int(l.Requests) || l.Requests == 0 {
		b.Fatalf("loadgen %s: want every request to get %d; got %v, %d errors (first: %s)", url, want, l.Status, l.Errors, l.FirstError)
	}
	return l
}

// status GETs url once and returns its status code (0 on error).
func status(client *http.Client, url string) int {
	resp, err := client.Get(url)
	if err != nil {
		return 0
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}
