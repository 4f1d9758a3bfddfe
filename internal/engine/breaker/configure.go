package breaker

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/haderos/haderctl/internal/engine/store"
)

// Actions that change a breaker's settings, as recorded in its events.
const (
	ActionConfigure = "configure" // `haderctl breaker configure`
	ActionApply     = "apply"     // `haderctl breaker apply`: the config file's settings
)

// ConfigureResult is a breaker after Configure.
type ConfigureResult struct {
	Name string `json:"name"`
	// Settings are those the breaker runs with now.
	Settings Settings `json:"settings"`
	// Changes are what changed; none when the breaker already ran with
	// the settings asked for (then nothing is written, and no event).
	Changes []Change `json:"changes"`
	// Event is the audit event appended to the breaker's stream, or nil.
	Event *Event `json:"event"`
}

// Configure changes the settings a breaker runs with, for every process,
// and records the change (who, why, what) in its event stream. Zero fields
// of change are left as they are; action is ActionConfigure or ActionApply.
// A breaker with no settings stored gets the given ones and this process'
// own for the rest. State, counts and generation are untouched: calls in
// flight still report.
func (e *Engine) Configure(ctx context.Context, name string, change Settings, reason, action string) (ConfigureResult, error) {
	if err := store.ValidName("breaker", name); err != nil {
		return ConfigureResult{}, err
	}
	if err := change.ValidateChange(); err != nil {
		return ConfigureResult{}, &SettingsError{Name: name, Msg: err.Error()}
	}
	n := func(v int) string {
		if v == 0 {
			return ""
		}
		return strconv.Itoa(v)
	}
	ms := func(d time.Duration) string {
		if d == 0 {
			return ""
		}
		return strconv.FormatInt(max(d.Milliseconds(), 1), 10)
	}
	r, err := e.run(ctx, configureScript, name, n(change.FailureThreshold), n(change.SuccessThreshold),
		ms(change.RecoveryTimeout), n(change.MaxProbes), ms(change.ProbeLease), reason, action,
		n(change.MinReporters), ms(change.ReporterWindow))
	if err != nil {
		return ConfigureResult{}, err
	}
	out := ConfigureResult{Name: name, Settings: r.settings, Event: r.event}
	out.Settings.RedisUnavailable = ""
	if r.event != nil {
		out.Changes = r.event.Changes
	}
	return out, nil
}

// changeWire is one change as the configure script encodes it: the
// stored field name and value (durations in ms).
type changeWire struct {
	Field string   `json:"field"`
	From  *float64 `json:"from"`
	To    float64  `json:"to"`
}

// decodeChanges reads a configure event's changes (JSON from the script or
// the stream) into their display form: settings names and Go durations.
func decodeChanges(raw []byte) []Change {
	var wire []changeWire
	if len(raw) == 0 || json.Unmarshal(raw, &wire) != nil {
		return nil
	}
	out := make([]Change, 0, len(wire))
	for _, w := range wire {
		field, isMs := strings.CutSuffix(w.Field, "_ms")
		show := func(v float64) string {
			if isMs {
				return durationMs(int64(v)).String()
			}
			return strconv.FormatInt(int64(v), 10)
		}
		c := Change{Field: field, To: show(w.To)}
		if w.From != nil {
			c.From = show(*w.From)
		}
		out = append(out, c)
	}
	return out
}

// Plan lists what Configure with want (every field set) would change in a
// breaker running with current (stored: whether current is stored or this
// process' own), in Configure's order and form.
func Plan(current Settings, stored bool, want Settings) []Change {
	return plan(current, func(string) bool { return stored }, want)
}

// Plan is Plan for a breaker as read: a hash an older haderctl wrote has
// the first five settings stored but not min_reporters and
// reporter_window, which Configure then stores (and lists as changes).
func (st Status) Plan(want Settings) []Change {
	return plan(st.Settings, func(field string) bool {
		if field == "min_reporters" || field == "reporter_window" {
			return st.reportersStored
		}
		return st.SettingsStored
	}, want)
}

func plan(current Settings, storedField func(string) bool, want Settings) []Change {
	out := []Change{}
	add := func(field string, from, to any) {
		c := Change{Field: field, From: fmt.Sprint(from), To: fmt.Sprint(to)}
		if !storedField(field) {
			c.From = ""
		} else if c.From == c.To {
			return
		}
		out = append(out, c)
	}
	add("failure_threshold", current.FailureThreshold, want.FailureThreshold)
	add("success_threshold", current.SuccessThreshold, want.SuccessThreshold)
	add("recovery_timeout", current.RecoveryTimeout, want.RecoveryTimeout)
	add("max_probes", current.MaxProbes, want.MaxProbes)
	add("probe_lease", current.ProbeLease, want.ProbeLease)
	add("min_reporters", current.MinReporters, want.MinReporters)
	add("reporter_window", current.ReporterWindow, want.ReporterWindow)
	return out
}
