package health

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/haderos/haderctl/internal/engine/store"
	"github.com/redis/go-redis/v9"
)

func jsonOf(v any) (string, error) {
	b, err := json.Marshal(v)
	return string(b), err
}

// Window is one uptime window.
type Window struct {
	Checks int64 `json:"checks"`
	// Uptime is successes / checks × 100 (null without checks).
	Uptime *float64 `json:"uptime_percent"`
	// AvgLatency is the mean response time in ms (null without checks).
	AvgLatency *float64 `json:"avg_latency_ms"`
}

// Status is a service's stored health, read without probing.
type Status struct {
	Service string `json:"service"`
	// Healthy is is_service_healthy: the last check succeeded. A service
	// never checked is not healthy (Status "unknown").
	Healthy              bool              `json:"healthy"`
	Status               string            `json:"status"`
	Code                 int               `json:"http_code"`
	Latency              float64           `json:"latency_ms"`
	Error                string            `json:"error,omitempty"`
	CheckedAt            *time.Time        `json:"checked_at"`
	ConsecutiveFailures  int               `json:"consecutive_failures"`
	ConsecutiveSuccesses int               `json:"consecutive_successes"`
	Windows              map[string]Window `json:"uptime"`
	AlertOpen            bool              `json:"alert_open"`
	AlertSince           *time.Time        `json:"alert_since,omitempty"`
	// Recent are the latest results, newest first (for sparklines).
	Recent []Sample `json:"recent"`
	// AlertHistory are the latest alert events, oldest first, when the
	// read asked for them (snapshot.Filter.Events).
	AlertHistory []AlertEvent `json:"alert_history,omitempty"`
	// Problem names a key of the service that holds another type than
	// the engine keeps there (what it would give is left out); empty
	// when every key read.
	Problem string `json:"problem,omitempty"`
}

// Sample is one recent result.
type Sample struct {
	OK      bool      `json:"ok"`
	Latency float64   `json:"latency_ms"`
	Code    int       `json:"http_code"`
	At      time.Time `json:"at"`
}

// AlertEvent is one entry of a service's alert history.
type AlertEvent struct {
	Service             string    `json:"service"`
	Kind                string    `json:"kind"`
	At                  time.Time `json:"at"`
	Since               time.Time `json:"since"`
	ConsecutiveFailures int       `json:"consecutive_failures"`
	Error               string    `json:"error,omitempty"`
	By                  string    `json:"by"`
}

// Windows are the uptime windows, in hours.
var Windows = []struct {
	Name  string
	Hours int64
}{{"1h", 1}, {"24h", 24}, {"7d", 7 * 24}, {"30d", 30 * 24}}

// Statuses reads the stored health of the named services in one pipelined
// round trip.
func (c *Checker) Statuses(ctx context.Context, names []string) ([]Status, time.Time, error) {
	p := c.rdb.Pipeline()
	tcmd := p.Time(ctx)
	reads := make([]statusRead, len(names))
	for i, n := range names {
		reads[i] = queueStatusRead(ctx, p, c.keys, n, maxSamples, 0)
	}
	if _, err := p.Exec(ctx); err != nil {
		return nil, time.Time{}, err
	}
	now := tcmd.Val()
	if c.clock.Now != nil {
		now = c.clock.Now()
	}
	out := make([]Status, len(names))
	for i, n := range names {
		st, err := reads[i].decode(n, now)
		if err != nil {
			return nil, time.Time{}, err
		}
		out[i] = st
	}
	return out, now, nil
}

// stateFields are the fields of a service's hash a status reads, boxed
// once as HMGET arguments (half the strings of HGETALL).
var stateFields = []any{"status", "http_code", "latency_us", "error", "checked_at",
	"consecutive_failures", "consecutive_successes", "alert_open", "alert_since"}

// statusRead is one service's reads queued on a pipeline.
type statusRead struct {
	state  *redis.StringSliceCmd
	hours  *redis.MapStringStringCmd
	recent *redis.StringSliceCmd
	alerts *redis.XMessageSliceCmd
}

// maxSamples is how many recent results the list keeps (the record
// script's LTRIM).
const maxSamples = 60

// queueStatusRead queues a service's state and hourly counters, with
// samples > 0 that many of its recent results, and with alerts > 0 its
// latest alert events.
func queueStatusRead(ctx context.Context, p redis.Pipeliner, k store.Keys, name string, samples, alerts int64) statusRead {
	args := make([]any, 0, 2+len(stateFields))
	state := redis.NewStringSliceCmd(ctx, append(append(args, "hmget", k.Health(name)), stateFields...)...)
	_ = p.Process(ctx, state) // queued: errors come with Exec
	r := statusRead{state: state, hours: p.HGetAll(ctx, k.HealthHours(name))}
	if samples > 0 {
		r.recent = p.LRange(ctx, k.HealthRecent(name), 0, min(samples, maxSamples)-1)
	}
	if alerts > 0 {
		r.alerts = p.XRevRangeN(ctx, k.HealthAlerts(name), "+", "-", alerts)
	}
	return r
}

// decode builds the status on Redis' clock now. A key of the wrong type
// is this service's problem (Status.Problem names it), not the read's:
// the other services are still shown. Any other error reply (the
// connection, an ACL) is returned, naming the service.
func (r statusRead) decode(name string, now time.Time) (Status, error) {
	problem := ""
	var buf [4]redis.Cmder
	cmds := append(buf[:0], r.state, r.hours)
	if r.recent != nil {
		cmds = append(cmds, r.recent)
	}
	if r.alerts != nil {
		cmds = append(cmds, r.alerts)
	}
	for _, c := range cmds {
		if c.Err() == nil {
			continue
		}
		if err := c.Err(); !redis.HasErrorPrefix(err, "WRONGTYPE") {
			return Status{}, fmt.Errorf("service %s: %w", name, err)
		}
		if problem == "" {
			problem = fmt.Sprintf("key %v holds another type than the engine keeps there (WRONGTYPE)", c.Args()[1])
		}
	}
	hourNow := now.UnixMilli() / 3600000
	h := r.state.Val() // in stateFields' order, "" for a field not there
	if r.state.Err() != nil {
		h = make([]string, len(stateFields))
	}
	if len(h) != len(stateFields) {
		return Status{}, fmt.Errorf("service %s: HMGET answered %d fields, not %d", name, len(h), len(stateFields))
	}
	num := func(i int) int64 {
		if h[i] == "" {
			return 0 // not there: no parse, no error value built
		}
		v, _ := strconv.ParseInt(h[i], 10, 64)
		return v
	}
	s := Status{Service: name, Status: "unknown", Windows: make(map[string]Window, len(Windows)), Recent: []Sample{}, Problem: problem}
	if h[0] != "" {
		s.Status = h[0]
		s.Healthy = s.Status == "healthy"
		s.Code = int(num(1))
		s.Latency = float64(num(2)) / 1000
		s.Error = h[3]
		at := time.UnixMilli(num(4))
		s.CheckedAt = &at
		s.ConsecutiveFailures, s.ConsecutiveSuccesses = int(num(5)), int(num(6))
		if h[7] == "1" {
			s.AlertOpen = true
			since := time.UnixMilli(num(8))
			s.AlertSince = &since
		}
	}
	// one pass over the hourly counters fills every window
	type sums struct{ checks, oks, us int64 }
	win := make([]sums, len(Windows))
	for f, v := range r.hours.Val() {
		hs, kind, _ := strings.Cut(f, ":")
		hr, err := strconv.ParseInt(hs, 10, 64)
		if err != nil || hr > hourNow {
			continue
		}
		n, _ := strconv.ParseInt(v, 10, 64)
		for i, w := range Windows {
			if hr <= hourNow-w.Hours {
				continue
			}
			switch kind {
			case "n":
				win[i].checks += n
			case "ok":
				win[i].oks += n
			case "us":
				win[i].us += n
			}
		}
	}
	// the windows' figures share one allocation
	figures := make([]float64, 2*len(Windows))
	for i, w := range Windows {
		out := Window{Checks: win[i].checks}
		if c := win[i].checks; c > 0 {
			up, lat := &figures[2*i], &figures[2*i+1]
			*up = float64(win[i].oks) / float64(c) * 100
			*lat = float64(win[i].us) / float64(c) / 1000
			out.Uptime, out.AvgLatency = up, lat
		}
		s.Windows[w.Name] = out
	}
	var recent []string
	if r.recent != nil {
		recent = r.recent.Val()
		s.Recent = make([]Sample, 0, len(recent))
	}
	for _, line := range recent {
		if smp, ok := parseSample(line); ok {
			s.Recent = append(s.Recent, smp)
		}
	}
	if r.alerts != nil && r.alerts.Err() == nil {
		s.AlertHistory = alertEvents(name, r.alerts.Val())
	}
	return s, nil
}

// parseSample reads one line of the recent list, "<ok 1/0> <latency ms>
// <http code> <at ms>" as the record script writes it, without
// allocating (a dashboard refresh reads 30 of them for each of 1,000
// services); a line of another shape is skipped.
func parseSample(line string) (Sample, bool) {
	ok, rest, f1 := strings.Cut(line, " ")
	lat, rest, f2 := strings.Cut(rest, " ")
	code, at, f3 := strings.Cut(rest, " ")
	if !f1 || !f2 || !f3 || strings.IndexByte(at, ' ') >= 0 {
		return Sample{}, false
	}
	l, _ := strconv.ParseFloat(lat, 64)
	c, _ := strconv.Atoi(code)
	ms, _ := strconv.ParseInt(at, 10, 64)
	return Sample{OK: ok == "1", Latency: l, Code: c, At: time.UnixMilli(ms)}, true
}

// Alerts returns a service's alert history, oldest first (up to limit).
func (c *Checker) Alerts(ctx context.Context, name string, limit int64) ([]AlertEvent, error) {
	msgs, err := c.rdb.XRevRangeN(ctx, c.keys.HealthAlerts(name), "+", "-", limit).Result()
	if err != nil {
		return nil, err
	}
	return alertEvents(name, msgs), nil
}

// alertEvents decodes alert stream entries read newest first, oldest first.
func alertEvents(name string, msgs []redis.XMessage) []AlertEvent {
	out := make([]AlertEvent, 0, len(msgs))
	for i := len(msgs) - 1; i >= 0; i-- {
		v := msgs[i].Values
		str := func(k string) string { s, _ := v[k].(string); return s }
		ms := func(k string) time.Time { n, _ := strconv.ParseInt(str(k), 10, 64); return time.UnixMilli(n) }
		cf, _ := strconv.Atoi(str("consecutive_failures"))
		out = append(out, AlertEvent{Service: name, Kind: str("kind"), At: ms("at"), Since: ms("since"),
			ConsecutiveFailures: cf, Error: str("error"), By: str("by")})
	}
	return out
}
