package main

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Config is one load run.
type Config struct {
	URL         string
	Connections int
	Duration    time.Duration
	Warmup      time.Duration
	// Requests, when positive, ends the run after that many measured
	// requests (or at Duration, whichever comes first).
	Requests   int64
	Timeout    time.Duration
	MaxSamples int
}

func (c Config) validate() error {
	switch {
	case c.Connections < 1 || c.Connections > 4096:
		return errors.New("-c must be between 1 and 4096")
	case c.Duration <= 0 || c.Duration > 10*time.Minute:
		return errors.New("-d must be more than 0 and at most 10m")
	case c.Warmup < 0 || c.Warmup > time.Minute:
		return errors.New("-warmup must be between 0 and 1m")
	case c.Requests < 0:
		return errors.New("-n must not be negative")
	case c.Timeout <= 0:
		return errors.New("-timeout must be more than 0")
	case c.MaxSamples < 1:
		return errors.New("-max-samples must be at least 1")
	}
	return nil
}

// Report is what loadgen prints. Latencies are in microseconds, over the
// measured requests (the percentiles over at most MaxSamples of them).
type Report struct {
	URL         string         `json:"url"`
	Connections int            `json:"connections"`
	Seconds     float64        `json:"seconds"`
	Requests    int64          `json:"requests"`
	RPS         float64        `json:"rps"`
	Status      map[string]int `json:"status"`
	Errors      int64          `json:"errors"`
	FirstError  string         `json:"first_error,omitempty"`
	// Dials counts the connections opened, warm-up included: equal to
	// Connections when keep-alive held.
	Dials   int64   `json:"dials"`
	Samples int     `json:"samples"`
	P50us   float64 `json:"p50_us"`
	P90us   float64 `json:"p90_us"`
	P99us   float64 `json:"p99_us"`
	MaxUs   float64 `json:"max_us"`
}

// worker is one connection's tally, merged after the run so that
// workers share nothing but two atomics while it lasts.
type worker struct {
	latencies []time.Duration
	status    map[int]int
	errors    int64
	firstErr  error
}

// Run drives the load and tallies it.
func Run(cfg Config) Report {
	var dials atomic.Int64
	dialer := &net.Dialer{Timeout: 5 * time.Second}
	tr := &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			dials.Add(1)
			return dialer.DialContext(ctx, network, addr)
		},
		MaxIdleConns:        cfg.Connections,
		MaxIdleConnsPerHost: cfg.Connections,
		MaxConnsPerHost:     cfg.Connections,
		IdleConnTimeout:     time.Minute,
		DisableCompression:  true,
	}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: cfg.Timeout}

	start := time.Now()
	measureFrom := start.Add(cfg.Warmup)
	measureTo := measureFrom.Add(cfg.Duration)
	var measured atomic.Int64 // requests started in the measured window
	perWorker := cfg.MaxSamples / cfg.Connections
	if perWorker < 1 {
		perWorker = 1
	}
	workers := make([]*worker, cfg.Connections)
	var wg sync.WaitGroup
	for i := range workers {
		w := &worker{status: map[int]int{}, latencies: make([]time.Duration, 0, min(perWorker, 1<<16))}
		workers[i] = w
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.loop(client, cfg, measureFrom, measureTo, &measured, perWorker)
		}()
	}
	wg.Wait()
	end := time.Now()
	if end.After(measureTo) {
		end = measureTo
	}
	return tally(cfg, workers, end.Sub(measureFrom), dials.Load())
}

func (w *worker) loop(client *http.Client, cfg Config, from, to time.Time, measured *atomic.Int64, keep int) {
	for {
		t0 := time.Now()
		if !t0.Before(to) {
			return
		}
		counted := !t0.Before(from)
		if counted && cfg.Requests > 0 && measured.Add(1) > cfg.Requests {
			return
		}
		code, err := get(client, cfg.URL)
		elapsed := time.Since(t0)
		if !counted {
			continue
		}
		if err != nil {
			w.errors++
			if w.firstErr == nil {
				w.firstErr = err
			}
			continue
		}
		w.status[code]++
		if len(w.latencies) < keep {
			w.latencies = append(w.latencies, elapsed)
		}
	}
}

// get sends one request and reads the whole body, so the connection goes
// back to the pool for the next.
func get(client *http.Client, url string) (int, error) {
	resp, err := client.Get(url)
	if err != nil {
		return 0, err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, err
}

func tally(cfg Config, workers []*worker, window time.Duration, dials int64) Report {
	rep := Report{URL: cfg.URL, Connections: cfg.Connections, Seconds: window.Seconds(), Status: map[string]int{}, Dials: dials}
	var all []time.Duration
	for _, w := range workers {
		for code, n := range w.status {
			rep.Status[strconv.Itoa(code)] += n
			rep.Requests += int64(n)
		}
		rep.Errors += w.errors
		if rep.FirstError == "" && w.firstErr != nil {
			rep.FirstError = w.firstErr.Error()
		}
		all = append(all, w.latencies...)
	}
	rep.Requests += rep.Errors
	if rep.Seconds > 0 {
		rep.RPS = float64(rep.Requests) / rep.Seconds
	}
	slices.Sort(all)
	rep.Samples = len(all)
	rep.P50us = micros(quantile(all, 0.50))
	rep.P90us = micros(quantile(all, 0.90))
	rep.P99us = micros(quantile(all, 0.99))
	if len(all) > 0 {
		rep.MaxUs = micros(all[len(all)-1])
	}
	return rep
}

// quantile is the nearest-rank quantile q of sorted.
func quantile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q*float64(len(sorted))+0.5) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

func micros(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }
