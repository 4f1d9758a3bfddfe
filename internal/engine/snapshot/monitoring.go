package snapshot

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/haderos/haderctl/internal/engine/breaker"
	"github.com/haderos/haderctl/internal/engine/queue"
)

// MonitoringBreaker is one breaker in the HaderOS seed's monitoring shape.
type MonitoringBreaker struct {
	State                breaker.State `json:"state"`
	FailureCount         int64         `json:"failure_count"`
	SuccessCount         int64         `json:"success_count"`
	LastFailureTime      *float64      `json:"last_failure_time"`
	TimeSinceLastFailure float64       `json:"time_since_last_failure"`
	ShouldAttemptReset   bool          `json:"should_attempt_reset"`
	// Settings are those the breaker runs with (beyond the seed's shape);
	// SettingsStored is false while none are stored in Redis yet (each
	// process runs with its own until the breaker's next write seeds them).
	Settings       MonitoringSettings `json:"settings"`
	SettingsStored bool               `json:"settings_stored"`
	// Reporters counts the processes that reported a failure within the
	// reporter window (tracked only with settings.min_reporters above 1).
	Reporters int64 `json:"reporters"`
	// FallbackReporters counts the processes that reported having run the
	// breaker on their in-memory fallback within the last 10 minutes.
	FallbackReporters int64 `json:"fallback_reporters"`
}

// MonitoringSettings are a breaker's settings, durations in Go form as the
// config file writes them.
type MonitoringSettings struct {
	FailureThreshold int    `json:"failure_threshold"`
	SuccessThreshold int    `json:"success_threshold"`
	RecoveryTimeout  string `json:"recovery_timeout"`
	MaxProbes        int    `json:"max_probes"`
	ProbeLease       string `json:"probe_lease"`
	MinReporters     int    `json:"min_reporters"`
	ReporterWindow   string `json:"reporter_window"`
}

// MonitoringAlert is an alert for an open, forced-open or corrupt breaker.
type MonitoringAlert struct {
	Service  string        `json:"service"`
	State    breaker.State `json:"state"`
	Severity string        `json:"severity"`
	Message  string        `json:"message"`
}

// MonitoringReport is the seed's monitoring JSON:
// {"circuit_breakers": {...}, "alerts": [...], "timestamp": "..."}.
type MonitoringReport struct {
	CircuitBreakers map[string]MonitoringBreaker `json:"circuit_breakers"`
	Alerts          []MonitoringAlert            `json:"alerts"`
	Timestamp       string                       `json:"timestamp"`
}

// Timestamp formats Redis' clock as the seed does (milliseconds, UTC).
func Timestamp(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z07:00") }

// Monitoring builds the seed's monitoring shape from a snapshot's breakers.
func Monitoring(s *Snapshot) MonitoringReport { return MonitoringOf(s.Breakers, s.Time) }

// MonitoringOf builds the shape from statuses read at now.
func MonitoringOf(statuses []breaker.Status, now time.Time) MonitoringReport {
	r := MonitoringReport{CircuitBreakers: map[string]MonitoringBreaker{}, Alerts: []MonitoringAlert{}, Timestamp: Timestamp(now)}
	for _, st := range statuses {
		b, alert := MonitoringEntry(st, now)
		r.CircuitBreakers[st.Name] = b
		if alert != nil {
			r.Alerts = append(r.Alerts, *alert)
		}
	}
	return r
}

// MonitoringEntry is one breaker's entry, and its alert if it has one.
func MonitoringEntry(s breaker.Status, now time.Time) (MonitoringBreaker, *MonitoringAlert) {
	set := s.Settings
	b := MonitoringBreaker{State: s.State, FailureCount: s.Failures, SuccessCount: s.Successes,
		ShouldAttemptReset: s.ShouldAttemptReset, SettingsStored: s.SettingsStored, Reporters: s.Reporters,
		FallbackReporters: s.FallbackReporters,
		Settings: MonitoringSettings{FailureThreshold: set.FailureThreshold, SuccessThreshold: set.SuccessThreshold,
			RecoveryTimeout: set.RecoveryTimeout.String(), MaxProbes: set.MaxProbes, ProbeLease: set.ProbeLease.String(),
			MinReporters: set.MinReporters, ReporterWindow: set.ReporterWindow.String()}}
	if !s.LastFailure.IsZero() {
		at := float64(s.LastFailure.UnixMilli()) / 1000
		b.LastFailureTime = &at
		b.TimeSinceLastFailure = now.Sub(s.LastFailure).Seconds()
	}
	switch s.State {
	case breaker.Open:
		return b, &MonitoringAlert{Service: s.Name, State: s.State, Severity: "critical",
			Message: fmt.Sprintf("circuit breaker for %s is open after %s", s.Name, plural(s.Failures, "failure"))}
	case breaker.ForcedOpen:
		return b, &MonitoringAlert{Service: s.Name, State: s.State, Severity: "warning",
			Message: fmt.Sprintf("circuit breaker for %s is forced open by an operator", s.Name)}
	case breaker.Corrupt:
		return b, &MonitoringAlert{Service: s.Name, State: s.State, Severity: "critical",
			Message: fmt.Sprintf("circuit breaker for %s is corrupt in Redis: %s", s.Name, s.Problem)}
	}
	return b, nil
}

func plural(n int64, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return strconv.FormatInt(n, 10) + " " + word + "s"
}

// MonitoringStream writes the monitoring shape entry by entry, so a fleet
// of any size is encoded in constant memory (alerts aside). The bytes
// equal those of the one exporter (two-space indent, no HTML escaping) on
// the whole MonitoringReport, provided entries come sorted by name.
type MonitoringStream struct {
	w      *bufio.Writer
	n      int
	alerts []MonitoringAlert
	buf    bytes.Buffer
	enc    *json.Encoder
}

// NewMonitoringStream starts the document on w.
func NewMonitoringStream(w io.Writer) *MonitoringStream {
	m := &MonitoringStream{w: bufio.NewWriterSize(w, 64<<10)}
	m.enc = json.NewEncoder(&m.buf)
	m.enc.SetEscapeHTML(false)
	m.w.WriteString("{\n  \"circuit_breakers\": {")
	return m
}

// Add writes one breaker read at now.
func (m *MonitoringStream) Add(s breaker.Status, now time.Time) error {
	b, alert := MonitoringEntry(s, now)
	if alert != nil {
		m.alerts = append(m.alerts, *alert)
	}
	if m.n > 0 {
		m.w.WriteByte(',')
	}
	m.n++
	m.w.WriteString("\n    ")
	if err := m.value(s.Name, ""); err != nil {
		return err
	}
	m.w.WriteString(": ")
	return m.value(b, "    ")
}

// value encodes v indented at prefix, without the encoder's newline.
func (m *MonitoringStream) value(v any, prefix string) error {
	m.buf.Reset()
	m.enc.SetIndent(prefix, "  ")
	if err := m.enc.Encode(v); err != nil {
		return err
	}
	_, err := m.w.Write(bytes.TrimSuffix(m.buf.Bytes(), []byte("\n")))
	return err
}

// Close writes the alerts and the timestamp and flushes.
func (m *MonitoringStream) Close(now time.Time) error {
	if m.n > 0 {
		m.w.WriteString("\n  ")
	}
	m.w.WriteString("},\n  \"alerts\": ")
	alerts := m.alerts
	if alerts == nil {
		alerts = []MonitoringAlert{}
	}
	if err := m.value(alerts, "  "); err != nil {
		return err
	}
	m.w.WriteString(",\n  \"timestamp\": ")
	if err := m.value(Timestamp(now), ""); err != nil {
		return err
	}
	m.w.WriteString("\n}\n")
	return m.w.Flush()
}

// QueueStatus is the seed's get_system_status() shape.
type QueueStatus struct {
	Queues    map[string]queue.Stats `json:"queues"`
	Overall   queue.Stats            `json:"overall"`
	Timestamp string                 `json:"timestamp"`
}

// QueueTotals builds the queue totals from a snapshot.
func QueueTotals(s *Snapshot) QueueStatus {
	st := QueueStatus{Queues: make(map[string]queue.Stats, len(s.Queues)), Timestamp: s.Time.UTC().Format(time.RFC3339Nano)}
	for _, q := range s.Queues {
		st.Queues[q.Queue] = q
	}
	st.Overall = queue.Overall(s.Queues)
	return st
}
