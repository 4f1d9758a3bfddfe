package main

import (
	"bufio"
	"context"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// BenchmarkDemoFirstLine measures, from the built binary's start, how long
// `haderctl demo` takes to print its banner and its first narrated line
// (the target: within 2 s), with no Redis named (the embedded server).
// Each run is interrupted once the line is out.
//
//	go test -run '^$' -bench DemoFirstLine -benchtime 10x ./cmd/haderctl/
func BenchmarkDemoFirstLine(b *testing.B) {
	bin, err := builtBinary()
	if err != nil {
		b.Fatal(err)
	}
	var banner, first time.Duration
	for b.Loop() {
		dir := b.TempDir()
		cmd := exec.Command(bin, "demo", "--no-dashboard")
		cmd.Dir = dir
		cmd.Env = []string{"HOME=" + dir, "PATH=" + os.Getenv("PATH"), "XDG_CONFIG_HOME=" + dir}
		out, err := cmd.StdoutPipe()
		if err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		sc := bufio.NewScanner(out)
		var gotBanner, gotFirst bool
		for sc.Scan() {
			line := sc.Text()
			if !gotBanner && strings.HasPrefix(line, "haderctl demo:") {
				banner += time.Since(start)
				gotBanner = true
			}
			if strings.HasPrefix(line, "[") {
				first += time.Since(start)
				gotFirst = true
				break
			}
		}
		_ = cmd.Process.Signal(os.Interrupt)
		go func() { _, _ = io.Copy(io.Discard, out) }()
		_ = cmd.Wait()
		if !gotBanner || !gotFirst {
			b.Fatal("the demo printed no banner or no narrated line")
		}
	}
	b.ReportMetric(float64(banner.Milliseconds())/float64(b.N), "ms-to-banner/op")
	b.ReportMetric(float64(first.Milliseconds())/float64(b.N), "ms-to-first-line/op")
}

// BenchmarkDemoRun runs the default `haderctl demo` (45 s, embedded
// Redis, narrated) to its end and reports its wall time (target: under
// 60 s) and the process' peak resident memory.
//
//	go test -run '^$' -bench DemoRun -benchtime 1x -timeout 10m ./cmd/haderctl/
func BenchmarkDemoRun(b *testing.B) {
	bin, err := builtBinary()
	if err != nil {
		b.Fatal(err)
	}
	var wall time.Duration
	var rss int64
	for b.Loop() {
		dir := b.TempDir()
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		cmd := exec.CommandContext(ctx, bin, "demo", "--no-dashboard")
		cmd.Dir = dir
		cmd.Env = []string{"HOME=" + dir, "PATH=" + os.Getenv("PATH"), "XDG_CONFIG_HOME=" + dir}
		start := time.Now()
		out, err := cmd.CombinedOutput()
		wall += time.Since(start)
		cancel()
		if err != nil {
			b.Fatalf("demo: %v\n%s", err, out)
		}
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			rss = max(rss, ru.Maxrss) // KiB on Linux
		}
	}
	b.ReportMetric(wall.Seconds()/float64(b.N), "s-wall/op")
	b.ReportMetric(float64(rss)/1024, "peak-rss-MB")
}
