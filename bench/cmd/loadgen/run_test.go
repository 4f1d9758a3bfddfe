package main

import (
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

func TestRunCountsEveryMeasuredRequestOverKeptAliveConnections(t *testing.T) {
	var served atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		served.Add(1)
		_, _ = w.Write([]byte("hello world"))
	}))
	defer srv.Close()

	rep := Run(Config{URL: srv.URL, Connections: 4, Duration: time.Minute, Requests: 500,
		Timeout: 10 * time.Second, MaxSamples: 1000})

	if rep.Requests != 500 || rep.Status["200"] != 500 || rep.Errors != 0 {
		t.Fatalf("report %+v: want 500 requests, all 200, no errors", rep)
	}
	if served.Load() != 500 {
		t.Fatalf("server saw %d requests, want 500", served.Load())
	}
	if rep.Dials > 4 {
		t.Fatalf("%d connections dialed for 4 workers: keep-alive did not hold", rep.Dials)
	}
	if rep.Samples != 500 || rep.P50us <= 0 || rep.P50us > rep.P99us || rep.P99us > rep.MaxUs {
		t.Fatalf("percentiles out of order: %+v", rep)
	}
}

func TestRunCountsErrorsAndStatusesApart(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	url := srv.URL
	srv.Close() // nothing listens any more: every request is a connection error

	rep := Run(Config{URL: url, Connections: 2, Duration: time.Minute, Requests: 10,
		Timeout: time.Second, MaxSamples: 100})

	if rep.Errors != 10 || rep.Requests != 10 || len(rep.Status) != 0 || rep.FirstError == "" {
		t.Fatalf("report %+v: want 10 errors, no statuses, the first error named", rep)
	}
}

func TestQuantileIsTheNearestRank(t *testing.T) {
	var d []time.Duration
	for i := 1; i <= 100; i++ {
		d = append(d, time.Duration(i))
	}
	for _, c := range []struct {
		q    float64
		want time.Duration
	}{{0.5, 50}, {0.9, 90}, {0.99, 99}, {1, 100}, {0, 1}} {
		if got := quantile(d, c.q); got != c.want {
			t.Errorf("quantile(1..100, %v) = %v, want %v", c.q, got, c.want)
		}
	}
	if got := quantile(nil, 0.5); got != 0 {
		t.Errorf("quantile(nil) = %v, want 0", got)
	}
}

func TestCheckURLRefusesAnythingButLoopbackHTTP(t *testing.T) {
	for _, bad := range []string{"", "https://127.0.0.1/", "http://example.com/", "http://10.0.0.1:80/", "http://localhost/"} {
		if _, err := checkURL(bad); err == nil {
			t.Errorf("checkURL(%q) accepted it", bad)
		}
	}
	if _, err := checkURL("http://127.0.0.1:8000/x"); err != nil {
		t.Errorf("checkURL(loopback) = %v", err)
	}
}
