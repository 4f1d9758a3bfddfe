package dashboard

import (
	"fmt"
	"strings"
	"time"

	"charm.land/lipgloss/v2"
	"github.com/haderos/haderctl/internal/engine/breaker"
	"github.com/haderos/haderctl/internal/engine/queue"
)

var detailTitles = [numPanels]string{"BREAKER", "QUEUE", "SERVICE", "EXPERIMENT", "ROUTE"}

func (m *Model) detailView() string {
	st := m.com.Styles
	d := m.detail
	title := "▶ " + st.ActiveTitle.Render(detailTitles[d.kind]+" "+d.name) + st.Muted.Render("  esc back")
	switch {
	case d.loading:
		title += st.Muted.Render("  loading…")
	case d.err != nil:
		title += "  " + st.ErrorMessage.Render("read failed: "+firstLine(d.err.Error()))
	}
	if d.kind != queuesPanel {
		return title + "\n" + d.vp.View()
	}
	tabs := make([]string, len(opStates))
	for i, s := range opStates {
		label := fmt.Sprintf("%d %s", i+1, s)
		if i == d.state {
			tabs[i] = st.ActiveTitle.Render("[" + label + "]")
		} else {
			tabs[i] = " " + label + " "
		}
	}
	page := fmt.Sprintf("page %d", len(d.stack)+1)
	if d.next != "" {
		page += " · n next"
	} else {
		page += " · last"
	}
	if len(d.stack) > 0 {
		page += " · b back"
	}
	return title + "\n" + strings.Join(tabs, " ") + "  " + st.Muted.Render(page) + "\n" + d.vp.View()
}

// fillDetail puts the drill-down's lines in its viewport.
func (m *Model) fillDetail() {
	d := m.detail
	if d == nil {
		return
	}
	var lines []string
	switch d.kind {
	case breakersPanel:
		lines = m.breakerLines()
	case queuesPanel:
		lines = m.opLines()
	case healthPanel:
		lines = m.serviceLines()
	case chaosPanel:
		lines = m.experimentLines()
	}
	d.vp.SetContentLines(lines)
}

func clock(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("15:04:05")
}

// ago is t's age on the snapshot's clock.
func (m *Model) ago(t time.Time) string {
	if t.IsZero() || m.snap == nil {
		return clock(t)
	}
	return clock(t) + " (" + age(m.snap.Time.Sub(t)+m.elapsed()) + " ago)"
}

func (m *Model) breakerLines() []string {
	st := m.com.Styles
	d := m.detail
	b := d.breaker.Status
	if b.Name == "" {
		return nil
	}
	set := b.Settings.WithDefaults()
	stored := "stored in Redis"
	if !b.SettingsStored {
		stored = "not stored yet: this process' own"
	}
	lines := []string{
		"State        " + st.State(string(b.State)).Render(stateWord(b.State)) + fmt.Sprintf("   generation %d   next probe %s", b.Generation, nextProbe(b, set, m.elapsed())),
		fmt.Sprintf("Counts       failures %d/%d   successes %d/%d   probes in flight %d/%d", b.Failures, set.FailureThreshold,
			b.Successes, set.SuccessThreshold, b.ProbesInFlight, set.MaxProbes),
		"Times        opened " + m.ago(b.OpenedAt) + "   changed " + m.ago(b.ChangedAt),
		"             last failure " + m.ago(b.LastFailure) + "   last success " + m.ago(b.LastSuccess),
		fmt.Sprintf("Settings     failure_threshold %d · success_threshold %d · recovery_timeout %s",
			set.FailureThreshold, set.SuccessThreshold, set.RecoveryTimeout),
		fmt.Sprintf("             max_probes %d · probe_lease %s · redis_unavailable %s",
			set.MaxProbes, set.ProbeLease, orDash(set.RedisUnavailable)),
		fmt.Sprintf("             min_reporters %d · reporter_window %s · ", set.MinReporters, set.ReporterWindow) + st.Muted.Render(stored),
	}
	if set.MinReporters > 1 {
		lines = append(lines, fmt.Sprintf("Reporters    %d of %d processes within %s", b.Reporters, set.MinReporters, set.ReporterWindow))
	}
	if b.InMemory {
		lines = append(lines, st.Warn.Render("In memory    this status is this process' fallback, not the shared state"))
	}
	if b.Problem != "" {
		lines = append(lines, st.Bad.Render("Problem      "+b.Problem))
	}
	lines = append(lines, "", st.Title.Render(fmt.Sprintf("EVENTS (%d, newest last)", len(d.breaker.Events))))
	if len(d.breaker.Events) == 0 {
		lines = append(lines, st.Muted.Render("none"))
	}
	rows := make([][]string, 0, len(d.breaker.Events))
	var states [][]string
	for _, e := range d.breaker.Events {
		what := stateWord(e.From) + " → " + stateWord(e.To)
		if e.Action != "" {
			what = e.Action + " " + changes(e.Changes)
		}
		by := e.User
		if e.Host != "" {
			by += "@" + e.Host
		}
		rows = append(rows, []string{clock(e.At), what, fmt.Sprintf("%d/%d", e.Failures, e.Successes), orDash(by), orDash(e.Reason)})
		states = append(states, []string{"", string(e.To), "", "", ""})
	}
	if len(rows) > 0 {
		lines = append(lines, strings.Split(m.grid([]string{"AT", "TRANSITION", "FAIL/SUCC", "BY", "REASON"}, rows, func(row, col int) lipgloss.Style {
			return m.stateCell(states, row, col)
		}), "\n")...)
	}
	return lines
}

func changes(cs []breaker.Change) string {
	var parts []string
	for _, c := range cs {
		parts = append(parts, fmt.Sprintf("%s %s→%s", c.Field, orDash(c.From), c.To))
	}
	return strings.Join(parts, ", ")
}

func (m *Model) stateCell(states [][]string, row, col int) lipgloss.Style {
	if row < len(states) && col < len(states[row]) && states[row][col] != "" {
		return m.com.Styles.State(states[row][col]).PaddingRight(1)
	}
	return padded
}

var padded = lipgloss.NewStyle().PaddingRight(1)

func (m *Model) opLines() []string {
	st := m.com.Styles
	d := m.detail
	if len(d.ops) == 0 {
		if d.loading {
			return nil
		}
		return []string{st.Muted.Render("no operation " + opStates[d.state])}
	}
	when := map[string]string{"ready": "AGE", "delayed": "NEXT ATTEMPT", "inflight": "LEASE ENDS", "dead": "DIED"}[opStates[d.state]]
	headers := []string{" ", "ID", "OPERATION", "SERVICE", "PRIO", "TRIES", when, "LAST ERROR"}
	rows := make([][]string, 0, len(d.ops))
	for i, op := range d.ops {
		mark := " "
		if i == d.sel {
			mark = ">"
		}
		rows = append(rows, []string{mark, op.ID, op.Operation, orDash(op.Service), string(op.Priority),
			fmt.Sprintf("%d/%d", op.Attempts, op.MaxAttempts), m.opWhen(op), orDash(firstLine(lastError(op)))})
	}
	return strings.Split(m.grid(headers, rows, func(row, col int) lipgloss.Style {
		s := lipgloss.NewStyle()
		if col == 7 && opStates[d.state] == "dead" {
			s = st.Bad
		}
		if row == d.sel {
			s = s.Reverse(true)
		}
		return s.PaddingRight(1)
	}), "\n")
}

func lastError(op *queue.Operation) string {
	if op.LastError != "" {
		return op.LastError
	}
	return op.Error
}

func (m *Model) opWhen(op *queue.Operation) string {
	var t *time.Time
	switch opStates[m.detail.state] {
	case "ready":
		c := op.CreatedAt
		t = &c
	case "delayed":
		t = op.NextAttemptAt
	case "inflight":
		t = op.LeaseDeadline
	case "dead":
		t = op.DiedAt
	}
	if t == nil || t.IsZero() {
		return "-"
	}
	if m.snap == nil {
		return clock(*t)
	}
	if d := t.Sub(m.snap.Time) - m.elapsed(); d > 0 {
		return "in " + age(d)
	}
	return age(m.snap.Time.Sub(*t)+m.elapsed()) + " ago"
}

func (m *Model) serviceLines() []string {
	st := m.com.Styles
	sd := m.detail.service
	s := sd.Status
	if s.Service == "" {
		return nil
	}
	word := healthWord(s)
	checked := "never checked"
	if s.CheckedAt != nil {
		checked = "checked " + m.ago(*s.CheckedAt)
	}
	lines := []string{
		"Status       " + st.State(word).Render(word) + fmt.Sprintf("   http %d   %.0f ms   %s", s.Code, s.Latency, checked),
	}
	if s.Error != "" {
		lines = append(lines, "Error        "+st.Bad.Render(firstLine(s.Error)))
	}
	lines = append(lines,
		"Uptime       1h "+uptime(s, "1h")+" · 24h "+uptime(s, "24h")+" · 7d "+uptime(s, "7d")+" · 30d "+uptime(s, "30d"),
		fmt.Sprintf("Consecutive  failures %d · successes %d", s.ConsecutiveFailures, s.ConsecutiveSuccesses))
	if s.AlertOpen {
		since := ""
		if s.AlertSince != nil {
			since = " since " + m.ago(*s.AlertSince)
		}
		lines = append(lines, "Alert        "+st.Bad.Render("open")+since)
	}
	lines = append(lines, "", st.Title.Render(fmt.Sprintf("RECENT CHECKS (%d, newest first)", len(sd.Checks))))
	rows := make([][]string, 0, len(sd.Checks))
	var states [][]string
	for _, c := range sd.Checks {
		w := "UP"
		if !c.OK {
			w = "DOWN"
		}
		rows = append(rows, []string{clock(c.At), w, fmt.Sprint(c.Code), fmt.Sprintf("%.0f ms", c.Latency)})
		states = append(states, []string{"", w, "", ""})
	}
	if len(rows) == 0 {
		lines = append(lines, st.Muted.Render("none"))
	} else {
		lines = append(lines, strings.Split(m.grid([]string{"AT", "RESULT", "HTTP", "LATENCY"}, rows, func(row, col int) lipgloss.Style {
			return m.stateCell(states, row, col)
		}), "\n")...)
	}
	lines = append(lines, "", st.Title.Render(fmt.Sprintf("ALERTS (%d)", len(sd.Alerts))))
	if len(sd.Alerts) == 0 {
		lines = append(lines, st.Muted.Render("none"))
	}
	for _, a := range sd.Alerts {
		l := clock(a.At) + "  " + st.State(alertState(a.Kind)).Render(a.Kind) + fmt.Sprintf("  %d failures", a.ConsecutiveFailures)
		if a.By != "" {
			l += "  by " + a.By
		}
		if a.Error != "" {
			l += "  " + firstLine(a.Error)
		}
		lines = append(lines, l)
	}
	return lines
}

func alertState(kind string) string {
	switch kind {
	case "resolved":
		return "ok"
	case "fired", "reminder":
		return "down"
	}
	return ""
}

func (m *Model) experimentLines() []string {
	st := m.com.Styles
	d := m.detail
	e := d.experiment
	params := []string{fmt.Sprintf("probability %s", pct(e.Probability*100))}
	if e.Delay > 0 {
		params = append(params, "delay "+e.Delay.String())
	}
	if e.Jitter > 0 {
		params = append(params, "jitter "+e.Jitter.String())
	}
	if e.Status > 0 {
		params = append(params, fmt.Sprintf("status %d", e.Status))
	}
	if e.Cores > 0 {
		params = append(params, fmt.Sprintf("cores %.1f", e.Cores))
	}
	if e.MemoryMB > 0 {
		params = append(params, fmt.Sprintf("memory %d MB", e.MemoryMB))
	}
	if e.Method != "" || e.PathPrefix != "" {
		params = append(params, "requests "+strings.TrimSpace(e.Method+" "+e.PathPrefix+"*"))
	}
	left := "left " + countdown(e, m.elapsed())
	if d.ended {
		left = st.Muted.Render("ended: no longer running")
	}
	by := orDash(e.By)
	if e.CIJob != "" {
		by += " (CI " + e.CIJob + ")"
	}
	lines := []string{
		"Kind         " + st.Special.Render(e.Kind) + "   target " + target(e.Experiment) + "   duration " + e.Duration.String(),
		"Parameters   " + strings.Join(params, " · "),
		"Started      " + m.ago(e.Start()) + " by " + by + "   " + left,
		"Reason       " + orDash(e.Reason),
	}
	if e.Scenario != "" {
		lines = append(lines, "Scenario     "+e.Scenario)
	}
	lines = append(lines, "Impact       "+impact(e.Impact), "", st.Title.Render(fmt.Sprintf("AUDIT TRAIL (%d)", len(d.audit))))
	if len(d.audit) == 0 {
		lines = append(lines, st.Muted.Render("none"))
		return lines
	}
	rows := make([][]string, 0, len(d.audit))
	for _, a := range d.audit {
		rows = append(rows, []string{clock(a.At), a.Event, orDash(a.By), orDash(a.Detail)})
	}
	return append(lines, strings.Split(m.grid([]string{"AT", "EVENT", "BY", "DETAIL"}, rows, func(int, int) lipgloss.Style {
		return padded
	}), "\n")...)
}
