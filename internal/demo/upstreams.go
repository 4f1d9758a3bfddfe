// Package demo holds the parts of `haderctl demo` that are not haderctl's
// own: simulated upstream services on loopback, the traffic that the
// demo sends through the gateway, and the Markdown report. The gateway,
// drainer, health watcher and game day the demo runs are the production
// ones (internal/commands wires them).
package demo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"slices"
	"sync"
	"time"
)

// Names are the simulated services, in the order the banner lists them.
var Names = []string{"shopify", "aramex", "smsa", "notifications"}

// Behaviour is how a simulated service answers: a latency drawn from
// [Min, Max) and a share of API calls (not /health) answered 503.
type Behaviour struct {
	Min, Max  time.Duration
	ErrorRate float64
}

// DefaultBehaviour is what each service does in the demo: quick, with an
// occasional error, as real APIs are on a good day. The rates stay low
// enough that three errors in a row (a breaker's threshold) are rare
// before chaos starts.
var DefaultBehaviour = map[string]Behaviour{
	"shopify":       {Min: 10 * time.Millisecond, Max: 40 * time.Millisecond, ErrorRate: 0.01},
	"aramex":        {Min: 20 * time.Millisecond, Max: 60 * time.Millisecond, ErrorRate: 0.01},
	"smsa":          {Min: 25 * time.Millisecond, Max: 70 * time.Millisecond, ErrorRate: 0.01},
	"notifications": {Min: 5 * time.Millisecond, Max: 20 * time.Millisecond, ErrorRate: 0.01},
}

// Upstream is one simulated service listening on loopback.
type Upstream struct {
	Name string
	// URL is its base URL (http://127.0.0.1:PORT).
	URL string

	behaviour Behaviour
	srv       *http.Server
	ln        net.Listener

	mu       sync.Mutex
	rng      *rand.Rand
	requests int
	errors   int
	// writes are the write ids (the "write_id" of a POST's JSON body)
	// this service has accepted, each once.
	writes map[string]int
}

// Upstreams are the four simulated services.
type Upstreams struct {
	byName map[string]*Upstream
}

// StartUpstreams starts every service in Names on 127.0.0.1 (a free port
// each). seed makes their latencies and errors reproducible; behave
// overrides DefaultBehaviour per service (tests).
func StartUpstreams(seed uint64, behave map[string]Behaviour) (*Upstreams, error) {
	u := &Upstreams{byName: map[string]*Upstream{}}
	for i, name := range Names {
		b, ok := behave[name]
		if !ok {
			b = DefaultBehaviour[name]
		}
		up, err := startUpstream(name, b, rand.New(rand.NewPCG(seed, uint64(i))))
		if err != nil {
			u.Close()
			return nil, err
		}
		u.byName[name] = up
	}
	return u, nil
}

// Get is the named service.
func (u *Upstreams) Get(name string) *Upstream { return u.byName[name] }

// Close stops every service; nothing is left listening.
func (u *Upstreams) Close() {
	for _, up := range u.byName {
		up.close()
	}
}

func startUpstream(name string, b Behaviour, rng *rand.Rand) (*Upstream, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("simulated %s: %w", name, err)
	}
	up := &Upstream{Name: name, URL: "http://" + ln.Addr().String(), behaviour: b, ln: ln, rng: rng, writes: map[string]int{}}
	up.srv = &http.Server{Handler: up, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = up.srv.Serve(ln) }()
	return up, nil
}

func (up *Upstream) close() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := up.srv.Shutdown(ctx); err != nil {
		_ = up.srv.Close()
	}
}

// Stats are what a service saw.
type Stats struct {
	Requests int `json:"requests"`
	Errors   int `json:"errors"`
	Writes   int `json:"writes"`
}

// Stats is what the service has seen so far.
func (up *Upstream) Stats() Stats {
	up.mu.Lock()
	defer up.mu.Unlock()
	return Stats{Requests: up.requests, Errors: up.errors, Writes: len(up.writes)}
}

// HasWrite says whether the service accepted the write with this id.
func (up *Upstream) HasWrite(id string) bool {
	up.mu.Lock()
	defer up.mu.Unlock()
	return up.writes[id] > 0
}

// draw decides one API call: its latency and whether it fails.
func (up *Upstream) draw() (time.Duration, bool) {
	up.mu.Lock()
	defer up.mu.Unlock()
	up.requests++
	d := up.behaviour.Min
	if span := up.behaviour.Max - up.behaviour.Min; span > 0 {
		d += time.Duration(up.rng.Int64N(int64(span)))
	}
	fail := up.rng.Float64() < up.behaviour.ErrorRate
	if fail {
		up.errors++
	}
	return d, fail
}

// ServeHTTP answers like the real API would: /health always, the API
// paths after a latency and with an occasional 503.
func (up *Upstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	if r.URL.Path == "/health" {
		_, _ = io.WriteString(w, `{"status":"ok"}`)
		return
	}
	d, fail := up.draw()
	t := time.NewTimer(d)
	select {
	case <-r.Context().Done():
		t.Stop()
		return
	case <-t.C:
	}
	if fail {
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = fmt.Fprintf(w, `{"error":"%s is briefly overloaded"}`, up.Name)
		return
	}
	if r.Method == http.MethodGet {
		up.read(w, r)
		return
	}
	var body struct {
		WriteID string `json:"write_id"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&body); err != nil && !errors.Is(err, io.EOF) {
		w.WriteHeader(http.StatusBadRequest)
		_, _ = io.WriteString(w, `{"error":"the body is not JSON"}`)
		return
	}
	if body.WriteID != "" {
		up.mu.Lock()
		up.writes[body.WriteID]++
		up.mu.Unlock()
	}
	w.WriteHeader(http.StatusCreated)
	_ = json.NewEncoder(w).Encode(map[string]string{"id": body.WriteID, "accepted_by": up.Name})
}

// read answers a GET with a small document of the service's kind.
func (up *Upstream) read(w http.ResponseWriter, r *http.Request) {
	var doc any
	switch up.Name {
	case "aramex", "smsa":
		doc = map[string]any{"provider": up.Name, "currency": "SAR", "rate": 18.5 + float64(len(r.URL.RawQuery)%7), "days": 2}
	case "shopify":
		doc = map[string]any{"orders": []map[string]any{{"id": 1042, "status": "paid"}, {"id": 1043, "status": "fulfilled"}}}
	default:
		doc = map[string]any{"service": up.Name, "ok": true}
	}
	_ = json.NewEncoder(w).Encode(doc)
}

// Writes lists the ids of the writes the service accepted, sorted.
func (up *Upstream) Writes() []string {
	up.mu.Lock()
	defer up.mu.Unlock()
	out := make([]string, 0, len(up.writes))
	for id := range up.writes {
		out = append(out, id)
	}
	slices.Sort(out)
	return out
}
