package gateway

import (
	"context"
	"crypto/subtle"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// The headers of Envoy-style header-driven faults (Envoy's
// x-envoy-fault-*): a test client asks this one request to be aborted
// with a status, or delayed, each with a percentage (default 100).
const (
	HeaderFaultAbort           = "X-Hader-Fault-Abort"
	HeaderFaultAbortPercentage = "X-Hader-Fault-Abort-Percentage"
	HeaderFaultDelay           = "X-Hader-Fault-Delay" // milliseconds
	HeaderFaultDelayPercentage = "X-Hader-Fault-Delay-Percentage"
	HeaderAdminToken           = "X-Hader-Admin-Token"
)

// auditEvery bounds the audit stream's header-fault entries: one per
// interval at most, counting the faults since the last one.
const auditEvery = time.Second

// headerFaults is the state header faults share across requests.
type headerFaults struct {
	active atomic.Int64
	roll   func() float64
	// audit rate limiting
	mu         sync.Mutex
	lastAudit  time.Time
	unaudited  int64
	heldBack   string      // the last fault not yet in an entry
	flush      *time.Timer // writes the held-back faults' entry; nil when none is due
	closed     bool
	auditsSent atomic.Int64
}

// stop cancels a pending trailing entry (Close).
func (h *headerFaults) stop() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed = true
	if h.flush != nil {
		h.flush.Stop()
		h.flush = nil
	}
}

func (h *headerFaults) init(roll func() float64) {
	h.roll = roll
	if h.roll == nil {
		h.roll = rand.Float64
	}
}

// ActiveHeaderFaults is how many header faults are in flight (tests, metrics).
func (g *Gateway) ActiveHeaderFaults() int64 { return g.hdr.active.Load() }

func hasFaultHeaders(r *http.Request) bool {
	return r.Header.Get(HeaderFaultAbort) != "" || r.Header.Get(HeaderFaultDelay) != ""
}

// headerFaults applies a request's fault headers, answering it itself
// when it refuses them (403, 400) or aborts it (done). stripKey says the
// Authorization header carried the admin token: it is not forwarded.
func (g *Gateway) headerFaults(w http.ResponseWriter, r *http.Request, t *table, rt *route) (stripKey, done bool) {
	if !hasFaultHeaders(r) {
		return false, false
	}
	refuse := func(why string) (bool, bool) {
		writeJSON(w, http.StatusForbidden, map[string]any{"error": "header faults refused: " + why})
		return false, true
	}
	switch {
	case !t.faults.Enabled:
		return refuse("they are off (gateway.header_faults.enabled)")
	case g.chaosOK != nil:
		return refuse(g.chaosOK.Error())
	case strings.TrimSpace(g.opts.AdminToken) == "":
		return refuse("no admin token is configured (HADERCTL_ADMIN_TOKEN)")
	}
	ok, viaAuth := g.adminToken(r)
	if !ok {
		return refuse("the admin token is missing or wrong (Authorization: Bearer or X-Hader-Admin-Token)")
	}
	f, err := parseFault(r.Header, t.faults.MaxDelay)
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": err.Error()})
		return false, true
	}
	if g.hdr.active.Add(1) > int64(t.faults.MaxActiveFaults) {
		// over the cap the request proceeds without its fault (Envoy's
		// max_active_faults)
		g.hdr.active.Add(-1)
		return viaAuth, false
	}
	defer g.hdr.active.Add(-1)
	delay := f.delay > 0 && g.hdr.roll()*100 < f.delayPct
	abort := f.abort > 0 && g.hdr.roll()*100 < f.abortPct
	if delay || abort {
		g.auditFault(r, f, delay, abort)
		g.countFault(rt, delay, abort)
	}
	if delay {
		timer := time.NewTimer(f.delay)
		select {
		case <-timer.C:
		case <-r.Context().Done():
			timer.Stop()
			if rec, ok := w.(*recorder); ok {
				rec.gone = true
			}
			return viaAuth, true
		}
	}
	if abort {
		w.Header().Set("X-Haderctl-Chaos", "header-fault")
		writeJSON(w, f.abort, map[string]any{"error": fmt.Sprintf("fault injected by %s", HeaderFaultAbort), "status": f.abort})
		return viaAuth, true
	}
	return viaAuth, false
}

// faultCounter is the optional part of Metrics that counts injected
// faults (haderos_chaos_faults_injected_total).
type faultCounter interface{ FaultInjected(service, kind string) }

// countFault counts a header fault under the route's first provider, as
// the kinds the engine's own experiments have: a delay is latency, an
// abort (a status answered at the gateway) is error.
func (g *Gateway) countFault(rt *route, delay, abort bool) {
	fc, ok := g.opts.Metrics.(faultCounter)
	if !ok || len(rt.providers) == 0 {
		return
	}
	if delay {
		fc.FaultInjected(rt.providers[0].name, "latency")
	}
	if abort {
		fc.FaultInjected(rt.providers[0].name, "error")
	}
}

// adminToken checks the request's admin token in constant time, as
// package admin does (the configured token trimmed, the Bearer scheme in
// any case); viaAuth says it came in the Authorization header.
func (g *Gateway) adminToken(r *http.Request) (ok, viaAuth bool) {
	want := []byte(strings.TrimSpace(g.opts.AdminToken))
	if tok := r.Header.Get(HeaderAdminToken); tok != "" {
		return subtle.ConstantTimeCompare([]byte(strings.TrimSpace(tok)), want) == 1, false
	}
	scheme, cred, found := strings.Cut(r.Header.Get("Authorization"), " ")
	if found && strings.EqualFold(scheme, "Bearer") {
		ok = subtle.ConstantTimeCompare([]byte(strings.TrimSpace(cred)), want) == 1
		return ok, ok
	}
	return false, false
}

type fault struct {
	abort    int
	abortPct float64
	delay    time.Duration
	delayPct float64
}

func parseFault(h http.Header, maxDelay time.Duration) (fault, error) {
	f := fault{abortPct: 100, delayPct: 100}
	if v := h.Get(HeaderFaultAbort); v != "" {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil || n < 400 || n > 599 {
			return f, fmt.Errorf("%s: %q is not a status code between 400 and 599", HeaderFaultAbort, v)
		}
		f.abort = n
	}
	if v := h.Get(HeaderFaultDelay); v != "" {
		ms, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err != nil || ms < 0 || time.Duration(ms)*time.Millisecond > maxDelay {
			return f, fmt.Errorf("%s: %q is not a number of milliseconds between 0 and %d", HeaderFaultDelay, v, maxDelay.Milliseconds())
		}
		f.delay = time.Duration(ms) * time.Millisecond
	}
	for _, p := range []struct {
		name string
		dst  *float64
	}{{HeaderFaultAbortPercentage, &f.abortPct}, {HeaderFaultDelayPercentage, &f.delayPct}} {
		if v := h.Get(p.name); v != "" {
			x, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil || !(x >= 0 && x <= 100) {
				return f, fmt.Errorf("%s: %q is not a percentage between 0 and 100", p.name, v)
			}
			*p.dst = x
		}
	}
	return f, nil
}

// auditFault writes a header fault into the chaos audit stream: at most
// one entry per auditEvery, carrying how many faults acted since the last,
// so a load test does not flood the stream. A fault held back is written
// by a trailing entry when the interval ends, so every fault is counted.
// It never delays the request.
func (g *Gateway) auditFault(r *http.Request, f fault, delay, abort bool) {
	var what []string
	if abort {
		what = append(what, fmt.Sprintf("abort %d", f.abort))
	}
	if delay {
		what = append(what, fmt.Sprintf("delay %s", f.delay))
	}
	desc := fmt.Sprintf("%s %s: %s", r.Method, r.URL.Path, strings.Join(what, ", "))
	h := &g.hdr
	h.mu.Lock()
	defer h.mu.Unlock()
	h.unaudited++
	now := time.Now()
	if wait := auditEvery - now.Sub(h.lastAudit); !h.lastAudit.IsZero() && wait > 0 {
		h.heldBack = desc
		if h.flush == nil && !h.closed {
			h.flush = time.AfterFunc(wait, g.flushAudit)
		}
		return
	}
	g.noteFaultsLocked(desc, now)
}

// flushAudit writes the entry for the faults held back since the last.
func (g *Gateway) flushAudit() {
	h := &g.hdr
	h.mu.Lock()
	defer h.mu.Unlock()
	h.flush = nil
	if h.closed || h.unaudited == 0 {
		return
	}
	g.noteFaultsLocked(h.heldBack, time.Now())
}

// noteFaultsLocked writes one entry for the faults not yet audited, desc
// the last of them; g.hdr.mu is held.
func (g *Gateway) noteFaultsLocked(desc string, now time.Time) {
	h := &g.hdr
	detail := fmt.Sprintf("%s; %d header fault(s) since the last entry", desc, h.unaudited)
	h.unaudited, h.lastAudit, h.heldBack = 0, now, ""
	h.auditsSent.Add(1)
	go func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(g.sys.Context()), 2*time.Second)
		defer cancel()
		if err := g.sys.Chaos.Note(ctx, "header_fault", "gateway", detail); err != nil {
			g.log.Warn("gateway: a header fault could not be audited", "err", err)
		}
	}()
}
