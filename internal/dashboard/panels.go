package dashboard

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"charm.land/lipgloss/v2"
	"github.com/haderos/haderctl/internal/engine/breaker"
	"github.com/haderos/haderctl/internal/engine/chaos"
	"github.com/haderos/haderctl/internal/engine/health"
	"github.com/haderos/haderctl/internal/engine/queue"
	"github.com/haderos/haderctl/internal/tui"
)

// elapsed is the time since the shown snapshot arrived: countdowns go on
// between refreshes.
func (m *Model) elapsed() time.Duration {
	if m.snapAt.IsZero() {
		return 0
	}
	return max(m.opts.Now().Sub(m.snapAt), 0)
}

func (m *Model) wide() bool { return m.com.Width >= 120 }

// window is the part of panel p's filtered list on screen.
func (m *Model) window(p panel, rows int) []int {
	v := m.vis[p]
	off := scrollOffset(m.offset[p], m.cursor[p], rows, len(v))
	return v[off:min(off+rows, len(v))]
}

func (m *Model) marker(p panel, i int) string {
	if p == m.focus && m.detail == nil && m.selected(p) == i {
		return ">"
	}
	return " "
}

func (m *Model) panelView(p panel, rows int) string {
	title := m.panelTitle(p, m.summary[p], rows)
	st := m.com.Styles
	switch {
	case m.snap == nil:
		return title + "\n  " + st.Muted.Render("loading…")
	case m.count(p) == 0:
		return title + "\n  " + st.Muted.Render("none")
	case len(m.vis[p]) == 0:
		return title + "\n  " + st.Muted.Render("no name matches the filter")
	case rows == 0:
		return title + "\n  " + st.Muted.Render("…")
	}
	var headers []string
	var cells [][]string
	var states [][]string
	win := m.window(p, rows)
	cursorRow := -1
	for r, i := range win {
		if m.selected(p) == i {
			cursorRow = r
		}
	}
	switch p {
	case breakersPanel:
		headers, cells, states = m.breakerRows(win)
	case queuesPanel:
		headers, cells, states = m.queueRows(win)
	case healthPanel:
		headers, cells, states = m.healthRows(win)
	case chaosPanel:
		headers, cells, states = m.chaosRows(win)
	case gatewayPanel:
		headers, cells, states = m.routeRows(win)
	}
	// a grid is a pure function of what it shows: a frame in which a
	// panel's visible rows, cursor and width did not change (a key in
	// another panel, an event, a refresh that changed nothing on screen)
	// reuses the panel's last grid instead of rendering every cell again
	focused := p == m.focus
	key := gridKey(m.com.Width, cursorRow, focused, headers, cells, states)
	if g := &m.grids[p]; g.key == key && g.out != "" {
		return title + "\n" + g.out
	}
	cache := map[styleKey]lipgloss.Style{}
	out := m.grid(headers, cells, func(row, col int) lipgloss.Style {
		k := styleKey{cursor: row == cursorRow && p == m.focus}
		if row < len(states) && col < len(states[row]) {
			k.state = states[row][col]
		}
		s, ok := cache[k]
		if !ok {
			s = m.cellStyle(p, cursorRow, row, k.state).PaddingRight(1)
			cache[k] = s
		}
		return s
	})
	m.grids[p] = gridMemo{key: key, out: out}
	return title + "\n" + out
}

// gridMemo is a panel's last grid and the inputs it was drawn from.
type gridMemo struct{ key, out string }

// gridKey is everything a panel's grid depends on besides the model's
// fixed styles, in one comparable string.
func gridKey(width, cursorRow int, focused bool, headers []string, cells, states [][]string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d\x00%d\x00%t", width, cursorRow, focused)
	for _, h := range headers {
		b.WriteString("\x01" + h)
	}
	for _, group := range [][][]string{cells, states} {
		b.WriteString("\x02")
		for _, row := range group {
			b.WriteString("\x03")
			for _, c := range row {
				b.WriteString("\x01" + c)
			}
		}
	}
	return b.String()
}

// styleKey names one of the few cell styles a grid uses, so each is
// built once per frame, not once per cell and pass.
type styleKey struct {
	state  string
	cursor bool
}

// summarize computes what the panels' titles say about the whole
// snapshot, once per snapshot rather than once per frame.
func (m *Model) summarize() {
	m.summary = [numPanels]string{m.breakerSummary(), m.queueSummary(), m.healthSummary(), m.chaosSummary(),
		count(len(m.snap.Routes), "route")}
	m.reporters = false
	for _, b := range m.snap.Breakers {
		if b.Settings.MinReporters > 1 {
			m.reporters = true
			break
		}
	}
}

func (m *Model) breakerSummary() string {
	var open, half, other int
	for _, b := range m.snap.Breakers {
		switch b.State {
		case breaker.Open, breaker.ForcedOpen:
			open++
		case breaker.HalfOpen:
			half++
		case breaker.Closed:
		default:
			other++
		}
	}
	s := fmt.Sprintf("%d open · %d half-open", open, half)
	if other > 0 {
		s += fmt.Sprintf(" · %d other", other)
	}
	return s + " · " + count(len(m.snap.Breakers), "breaker")
}

func stateWord(s breaker.State) string {
	if s == "" {
		return "unknown"
	}
	return strings.ReplaceAll(string(s), "_", "-")
}

func (m *Model) breakerRows(win []int) (headers []string, rows, states [][]string) {
	reporters := m.reporters
	headers = []string{" ", "NAME", "STATE", "FAIL", "SUCC", "NEXT PROBE"}
	if reporters {
		headers = append(headers, "REPORTERS")
	}
	if m.wide() {
		headers = append(headers, "CHANGED")
	}
	headers = append(headers, "MARKS")
	el := m.elapsed()
	for _, i := range win {
		b := m.snap.Breakers[i]
		set := b.Settings.WithDefaults()
		succ := "-"
		if b.State == breaker.HalfOpen {
			succ = fmt.Sprintf("%d/%d", b.Successes, set.SuccessThreshold)
		}
		row := []string{m.marker(breakersPanel, i), b.Name, stateWord(b.State),
			fmt.Sprintf("%d/%d", b.Failures, set.FailureThreshold), succ, nextProbe(b, set, el)}
		st := []string{"", "", string(b.State), "", "", ""}
		if reporters {
			r := "-"
			if set.MinReporters > 1 {
				r = fmt.Sprintf("%d/%d", b.Reporters, set.MinReporters)
			}
			row, st = append(row, r), append(st, "")
		}
		if m.wide() {
			ch := "-"
			if !b.ChangedAt.IsZero() && m.snap != nil {
				ch = age(m.snap.Time.Sub(b.ChangedAt)+el) + " ago"
			}
			row, st = append(row, ch), append(st, "")
		}
		var marks []string
		switch b.State {
		case breaker.ForcedOpen:
			marks = append(marks, "forced")
		case breaker.Disabled:
			marks = append(marks, "disabled")
		}
		if b.InMemory {
			marks = append(marks, "in-memory")
		}
		if b.FallbackReporters > 0 {
			// other processes that ran it in memory lately (they report once back)
			marks = append(marks, fmt.Sprintf("fallback×%d", b.FallbackReporters))
		}
		if b.Problem != "" {
			marks = append(marks, b.Problem)
		}
		mark := strings.Join(marks, ",")
		row, st = append(row, orDash(mark)), append(st, marksStyle(marks))
		rows, states = append(rows, row), append(states, st)
	}
	return headers, rows, states
}

// marksStyle is the state word whose style the MARKS cell takes: marks
// are what someone set by hand or a fallback, Styles' Special.
func marksStyle(marks []string) string {
	if len(marks) > 0 {
		return "forced"
	}
	return ""
}

// nextProbe says when an open breaker admits probes, counting down from
// the snapshot.
func nextProbe(b breaker.Status, set breaker.Settings, el time.Duration) string {
	switch b.State {
	case breaker.Open:
		left := b.UntilHalfOpen - el
		if b.ShouldAttemptReset || left <= 0 {
			return "due"
		}
		return "in " + age(left+time.Second-1) // round up: never "in 0s"
	case breaker.HalfOpen:
		return fmt.Sprintf("probing %d/%d", b.ProbesInFlight, set.MaxProbes)
	case breaker.ForcedOpen:
		return "never"
	}
	return "-"
}

func (m *Model) queueSummary() string {
	var ready, dead int64
	for _, q := range m.snap.Queues {
		ready += q.PendingTotal
		dead += q.Dead
	}
	return fmt.Sprintf("%d ready · %d dead · %s", ready, dead, count(len(m.snap.Queues), "queue"))
}

func (m *Model) queueRows(win []int) (headers []string, rows, states [][]string) {
	headers = []string{" ", "NAME", "STATE", "READY", "DELAYED", "INFLIGHT", "DEAD", "DONE/S", "OLDEST", "DEPTH"}
	spark := 10
	if m.wide() {
		headers = []string{" ", "NAME", "STATE", "READY", "BY PRIORITY c/h/n/l", "DELAYED", "INFLIGHT", "DEAD", "DONE/S", "OK %", "OLDEST", "DEPTH"}
		spark = 20
	}
	for _, i := range win {
		q := m.snap.Queues[i]
		state := "active"
		if q.Paused {
			state = "paused"
		}
		oldest := "-"
		if q.OldestPendingSeconds > 0 {
			oldest = age(time.Duration(q.OldestPendingSeconds * float64(time.Second)))
		}
		dead := ""
		if q.Dead > 0 {
			dead = "dead"
		}
		depth := tui.Sparkline(m.depth[q.Queue], spark)
		row := []string{m.marker(queuesPanel, i), q.Queue, state, n64(q.PendingTotal)}
		st := []string{"", "", state, ""}
		if m.wide() {
			var by []string
			for _, p := range queue.Priorities {
				by = append(by, n64(q.Pending[p]))
			}
			row, st = append(row, strings.Join(by, "/")), append(st, "")
		}
		row = append(row, n64(q.Delayed), n64(q.InFlight), n64(q.Dead), fmt.Sprintf("%.1f", q.ThroughputPerSecond))
		st = append(st, "", "", dead, "")
		if m.wide() {
			ok := "-" // nothing finished yet: no rate, as `queue status` shows
			if q.Completed+q.Failed > 0 {
				ok = pct(q.RetrySuccessRate * 100)
			}
			row, st = append(row, ok), append(st, "")
		}
		row, st = append(row, oldest, depth), append(st, "", "")
		if q.Problem != "" {
			row[2], st[2] = "corrupt", "corrupt"
		}
		rows, states = append(rows, row), append(states, st)
	}
	return headers, rows, states
}

// count is "1 queue", "3 queues".
func count(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return strconv.Itoa(n) + " " + noun + "s"
}

func n64(v int64) string { return strconv.FormatInt(v, 10) }

func pct(v float64) string { return fmt.Sprintf("%.1f%%", v) }

func healthWord(s health.Status) string {
	switch {
	case s.Healthy:
		return "UP"
	case s.CheckedAt == nil || s.Status == "unknown":
		return "UNKNOWN"
	}
	return "DOWN"
}

func (m *Model) healthSummary() string {
	var up, down int
	for _, s := range m.snap.Services {
		switch healthWord(s) {
		case "UP":
			up++
		case "DOWN":
			down++
		}
	}
	return fmt.Sprintf("%d up · %d down · %s", up, down, count(len(m.snap.Services), "service"))
}

func uptime(s health.Status, window string) string {
	if w, ok := s.Windows[window]; ok && w.Uptime != nil {
		return pct(*w.Uptime)
	}
	return "-"
}

// latencies are a service's recent latencies, oldest first.
func latencies(s health.Status, buf []float64) []float64 {
	buf = buf[:0]
	for i := len(s.Recent) - 1; i >= 0; i-- {
		buf = append(buf, s.Recent[i].Latency)
	}
	return buf
}

func (m *Model) healthRows(win []int) (headers []string, rows, states [][]string) {
	headers = []string{" ", "NAME", "STATUS", "LATENCY", "RECENT", "UP 24H", "FAILS", "ALERT"}
	spark := 12
	if m.wide() {
		headers = []string{" ", "NAME", "STATUS", "LATENCY", "RECENT", "UP 1H", "UP 24H", "FAILS", "ALERT", "CHECKED"}
		spark = 30
	}
	var buf []float64
	for _, i := range win {
		s := m.snap.Services[i]
		word := healthWord(s)
		lat := "-"
		if s.CheckedAt != nil {
			lat = fmt.Sprintf("%.0f ms", s.Latency)
		}
		buf = latencies(s, buf)
		alert, alertState := "-", ""
		if s.AlertOpen {
			alert, alertState = "open", "open"
		}
		sparkState := "" // the sparkline in the colour of the last check
		if len(s.Recent) > 0 {
			sparkState = "up"
			if !s.Recent[0].OK {
				sparkState = "down"
			}
		}
		row := []string{m.marker(healthPanel, i), s.Service, word, lat, tui.Sparkline(buf, spark)}
		st := []string{"", "", word, "", sparkState}
		if m.wide() {
			row, st = append(row, uptime(s, "1h")), append(st, "")
		}
		row = append(row, uptime(s, "24h"), strconv.Itoa(s.ConsecutiveFailures), alert)
		st = append(st, "", "", alertState)
		if m.wide() {
			checked := "-"
			if s.CheckedAt != nil {
				checked = age(m.snap.Time.Sub(*s.CheckedAt)+m.elapsed()) + " ago"
			}
			row, st = append(row, checked), append(st, "")
		}
		rows, states = append(rows, row), append(states, st)
	}
	return headers, rows, states
}

func (m *Model) chaosSummary() string {
	c := m.snap.Chaos
	if c == nil {
		return "not read"
	}
	sw := "switch off"
	if c.Enabled {
		sw = "switch on"
	}
	st := m.com.Styles
	env := "env " + orDash(c.Environment)
	if !c.EnvironmentOK && c.Refusal != "" {
		env += " (refused)"
	}
	halt := "halt latch off"
	if c.Halted {
		halt = st.Bad.Render("HALTED")
		if c.HaltedBy != "" {
			halt += " by " + c.HaltedBy
		}
	}
	sws := st.Good
	if c.Enabled {
		sws = st.Special
	}
	return sws.Render(sw) + " · " + env + " · " + halt + fmt.Sprintf(" · %d active · %d scheduled", len(c.Active), len(c.Scheduled))
}

func target(e chaos.Experiment) string {
	if len(e.Services) == 1 && e.Services[0] == "*" {
		return "every service"
	}
	return strings.Join(e.Services, ",")
}

func impact(im chaos.Impact) string {
	s := fmt.Sprintf("%d calls", im.Calls)
	if im.ErrorRate != nil {
		s += " · err " + pct(*im.ErrorRate*100)
		if im.BaselineErrorRate != nil {
			s += " (base " + pct(*im.BaselineErrorRate*100) + ")"
		}
	}
	if im.AvgLatencyMs != nil {
		s += fmt.Sprintf(" · %.0f ms", *im.AvgLatencyMs)
		if im.BaselineLatencyMs != nil {
			s += fmt.Sprintf(" (base %.0f)", *im.BaselineLatencyMs)
		}
	}
	return s
}

func countdown(e chaos.ExperimentStatus, el time.Duration) string {
	if e.Scheduled {
		return "starts in " + age(max(e.StartsIn-el, 0))
	}
	left := e.TimeLeft - el
	if left <= 0 {
		return "ending"
	}
	return age(left)
}

func (m *Model) chaosRows(win []int) (headers []string, rows, states [][]string) {
	headers = []string{" ", "ID", "KIND", "TARGET", "LEFT", "IMPACT"}
	if m.wide() {
		headers = []string{" ", "ID", "KIND", "TARGET", "PROB", "LEFT", "BY", "IMPACT"}
	}
	exps := m.experiments()
	el := m.elapsed()
	for _, i := range win {
		e := exps[i]
		state := "running"
		if e.Scheduled {
			state = "delayed"
		}
		row := []string{m.marker(chaosPanel, i), e.ID, e.Kind, target(e.Experiment)}
		st := []string{"", "", state, ""}
		if m.wide() {
			row, st = append(row, pct(e.Probability*100)), append(st, "")
		}
		row, st = append(row, countdown(e, el)), append(st, "")
		if m.wide() {
			row, st = append(row, orDash(e.By)), append(st, "")
		}
		row, st = append(row, impact(e.Impact)), append(st, "")
		rows, states = append(rows, row), append(states, st)
	}
	return headers, rows, states
}

func (m *Model) routeRows(win []int) (headers []string, rows, states [][]string) {
	headers = []string{" ", "ROUTE", "REQ/S", "ERROR %", "FALLBACKS", "QUEUED"}
	if m.wide() {
		headers = []string{" ", "ROUTE", "REQ/S", "REQUESTS", "ERRORS", "ERROR %", "FALLBACKS", "QUEUED", "WINDOW"}
	}
	for _, i := range win {
		r := m.snap.Routes[i]
		errState := ""
		if r.Errors > 0 {
			errState = "error"
		}
		row := []string{m.marker(gatewayPanel, i), r.Route, fmt.Sprintf("%.1f", r.PerSecond)}
		st := []string{"", "", ""}
		if m.wide() {
			row, st = append(row, n64(r.Requests), n64(r.Errors)), append(st, "", errState)
		}
		row, st = append(row, pct(r.ErrorPercent), n64(r.Fallbacks), n64(r.Queued)), append(st, errState, "", "")
		if m.wide() {
			// the window a gateway measured, e.g. 1m1.16711s: shown as an age
			row, st = append(row, age(r.Window)), append(st, "")
		}
		rows, states = append(rows, row), append(states, st)
	}
	return headers, rows, states
}
