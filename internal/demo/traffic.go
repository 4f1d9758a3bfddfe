package demo

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/haderos/haderctl/internal/engine/gateway/writes"
)

// Request is one kind of call the traffic sends through the gateway.
type Request struct {
	Name   string
	Method string
	Path   string
	// Weight is its share of the mix.
	Weight int
	// Route is where the gateway sends it: a configured route or a
	// service's own prefix (for the narration).
	Route string
}

// Write says whether the gateway treats it as a write (queued when it
// fails everywhere).
func (r Request) Write() bool { return r.Method != http.MethodGet }

// Mix is the demo's traffic: shipping rates and shipments over the
// shipping route (aramex, then smsa), orders from shopify and messages
// to the notifications service.
var Mix = []Request{
	{Name: "rates", Method: http.MethodGet, Path: "/api/v1/integrations/shipping/rates?kg=2", Weight: 35, Route: "shipping"},
	{Name: "orders", Method: http.MethodGet, Path: "/shopify/admin/api/2024-10/orders.json", Weight: 25, Route: "shopify"},
	{Name: "messages", Method: http.MethodPost, Path: "/notifications/v1/messages", Weight: 25, Route: "notifications"},
	{Name: "shipments", Method: http.MethodPost, Path: "/api/v1/integrations/shipping/shipments", Weight: 15, Route: "shipping"},
}

// Outcome is what one request got.
type Outcome struct {
	Request  Request
	Status   int
	Provider string // X-Hader-Provider
	Fallback bool   // X-Hader-Fallback: true
	// Operation is the queued operation's id (a 202).
	Operation string
	// WriteID is the id the write carried in its body ("" for reads).
	WriteID string
	Err     error
	At      time.Time
}

// Queued says the gateway stored the write in the fallback queue.
func (o Outcome) Queued() bool { return o.Status == http.StatusAccepted }

// Tally counts outcomes.
type Tally struct {
	Requests int `json:"requests"`
	// OK are 2xx answers other than 202, Fallback those of them a
	// fallback provider gave.
	OK       int `json:"ok"`
	Fallback int `json:"fallback"`
	// Refused are 503s with Retry-After (no breaker admitted the call).
	Refused int `json:"refused"`
	// Queued are writes answered 202 (stored for a replay).
	Queued int `json:"queued"`
	// Failed are other errors (5xx from a provider, a timeout).
	Failed int `json:"failed"`
	// ByProvider counts answers by the provider that gave them.
	ByProvider map[string]int `json:"by_provider"`
}

func (t *Tally) add(o Outcome) {
	t.Requests++
	switch {
	case o.Err != nil:
		t.Failed++
	case o.Queued():
		t.Queued++
	case o.Status >= 200 && o.Status < 300:
		t.OK++
		if o.Fallback {
			t.Fallback++
		}
	case o.Status == http.StatusServiceUnavailable && o.Provider == "":
		t.Refused++
	default:
		t.Failed++
	}
	if o.Provider != "" && o.Err == nil && o.Status < 500 {
		if t.ByProvider == nil {
			t.ByProvider = map[string]int{}
		}
		t.ByProvider[o.Provider]++
	}
}

// Traffic sends Mix through the gateway at Rate requests a second until
// its context ends. It is bounded: at most Workers requests in flight (a
// tick that finds them all busy is skipped), and the gateway is on
// loopback.
type Traffic struct {
	// Gateway is the gateway's base URL (http://127.0.0.1:PORT).
	Gateway string
	Rate    float64
	Workers int
	// Rand picks each request's kind (reproducible runs).
	Rand *rand.Rand
	// OnOutcome, when set, sees every outcome (from many goroutines).
	OnOutcome func(Outcome)

	client *http.Client
	mu     sync.Mutex
	tally  Tally
	writes int
}

// Tally is the count so far.
func (t *Traffic) Tally() Tally {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := t.tally
	out.ByProvider = map[string]int{}
	for k, v := range t.tally.ByProvider {
		out.ByProvider[k] = v
	}
	return out
}

// Run sends requests until ctx ends, then waits for those in flight.
func (t *Traffic) Run(ctx context.Context) {
	t.client = &http.Client{Timeout: 5 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	slots := make(chan struct{}, max(t.Workers, 1))
	var wg sync.WaitGroup
	defer wg.Wait()
	tick := time.NewTicker(time.Duration(float64(time.Second) / t.Rate))
	defer tick.Stop()
	total := 0
	for _, r := range Mix {
		total += r.Weight
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		select {
		case slots <- struct{}{}:
		default:
			continue // every worker busy: skip this tick
		}
		req := t.pick(total)
		wid := ""
		if req.Write() {
			t.mu.Lock()
			t.writes++
			wid = fmt.Sprintf("w-%d", t.writes)
			t.mu.Unlock()
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-slots }()
			o := t.send(ctx, req, wid)
			if ctx.Err() != nil && o.Err != nil {
				return // cut short by the end of the run: not an outcome
			}
			t.mu.Lock()
			t.tally.add(o)
			t.mu.Unlock()
			if t.OnOutcome != nil {
				t.OnOutcome(o)
			}
		}()
	}
}

func (t *Traffic) pick(total int) Request {
	t.mu.Lock()
	n := t.Rand.IntN(total)
	t.mu.Unlock()
	for _, r := range Mix {
		if n < r.Weight {
			return r
		}
		n -= r.Weight
	}
	return Mix[0]
}

func (t *Traffic) send(ctx context.Context, r Request, writeID string) Outcome {
	o := Outcome{Request: r, WriteID: writeID, At: time.Now()}
	var body io.Reader
	if r.Write() {
		body = strings.NewReader(fmt.Sprintf(`{"write_id":%q,"text":"order shipped"}`, writeID))
	}
	req, err := http.NewRequestWithContext(ctx, r.Method, t.Gateway+r.Path, body)
	if err != nil {
		o.Err = err
		return o
	}
	if r.Write() {
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Idempotency-Key", writeID)
	}
	resp, err := t.client.Do(req)
	if err != nil {
		o.Err = err
		return o
	}
	defer resp.Body.Close()
	o.Status = resp.StatusCode
	o.Provider = resp.Header.Get("X-Hader-Provider")
	o.Fallback = resp.Header.Get("X-Hader-Fallback") == "true"
	if o.Queued() {
		o.Operation = resp.Header.Get(writes.HeaderOperationID)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	return o
}
