package dashboard

import (
	"fmt"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"charm.land/lipgloss/v2/table"
	"github.com/charmbracelet/x/ansi"
)

// screen is how the body is split: lines per part of the main screen.
type screen struct {
	banner bool
	body   int // lines between the header (and banner) and the footer
	events int // lines of the events tail, its title not counted
	rows   [numPanels]int
	shown  [numPanels]bool
}

// layout splits the terminal: a header line, the banner while Redis is
// unreachable, the panels (two lines each for the title and the grid's
// header, rows shared round-robin from the focused panel on), the events
// tail, and a footer line.
func (m *Model) layout() screen {
	var s screen
	s.banner = m.fetchErr != nil
	s.body = m.com.Height - 2
	if s.banner {
		s.body--
	}
	s.events = min(max(s.body/6, 2), 8)
	ps := m.panels()
	for _, p := range ps {
		s.shown[p] = true
	}
	budget := s.body - (1 + s.events) - 2*len(ps)
	start := max(0, indexOf(ps, m.focus))
	for budget > 0 {
		gave := false
		for j := range ps {
			p := ps[(start+j)%len(ps)]
			if budget > 0 && s.rows[p] < len(m.vis[p]) {
				s.rows[p]++
				budget--
				gave = true
			}
		}
		if !gave {
			break
		}
	}
	s.events += max(budget, 0) // room nobody wants goes to the events
	return s
}

func indexOf(ps []panel, p panel) int {
	for i, q := range ps {
		if q == p {
			return i
		}
	}
	return -1
}

// View draws the screen.
func (m *Model) View() tea.View {
	v := tea.NewView(m.render())
	v.AltScreen = true
	v.WindowTitle = "haderctl dashboard"
	return v
}

func (m *Model) render() string {
	if m.com.Width == 0 || m.com.Height == 0 {
		return "" // not sized yet
	}
	if m.com.TooSmall() {
		return m.com.TooSmallLine()
	}
	l := m.layout()
	lines := make([]string, 0, m.com.Height)
	lines = append(lines, m.header())
	if l.banner {
		lines = append(lines, m.banner())
	}
	var body string
	switch {
	case m.dialog != nil:
		body = lipgloss.Place(m.com.Width, l.body, lipgloss.Center, lipgloss.Center, m.dialogView())
	case m.showHelp:
		body = m.helpView()
	case m.detail != nil:
		body = m.detailView()
	default:
		body = m.mainView(l)
	}
	lines = append(lines, fit(body, m.com.Width, l.body)...)
	lines = append(lines, m.footer())
	return strings.Join(lines, "\n")
}

// fit cuts or pads s to exactly h lines of at most w cells.
func fit(s string, w, h int) []string {
	ls := strings.Split(s, "\n")
	if len(ls) > h {
		ls = ls[:h]
	}
	for i, l := range ls {
		if ansi.StringWidth(l) > w {
			ls[i] = ansi.Truncate(l, w, "…")
		}
	}
	for len(ls) < h {
		ls = append(ls, "")
	}
	return ls
}

func (m *Model) header() string {
	st := m.com.Styles
	var parts []string
	if m.info.Address != "" {
		parts = append(parts, m.info.Address)
	}
	parts = append(parts, "ns "+orDash(m.info.Namespace), "env "+orDash(m.info.Environment))
	if m.readOnly {
		parts = append(parts, st.Special.Render("READ-ONLY"))
	}
	if m.snap != nil && !m.snap.Time.IsZero() {
		t := m.snap.Time.UTC().Format("15:04:05Z")
		if m.wide() {
			t = "redis time " + m.snap.Time.UTC().Format("15:04:05") + " UTC"
		}
		parts = append(parts, t)
	}
	if m.com.Width >= 120 {
		parts = append(parts, st.Muted.Render("refresh "+m.opts.Refresh.String()))
	}
	line := strings.Join(parts, " · ")
	if title := st.Header.Render("haderctl") + " · "; ansi.StringWidth(title+line) <= m.com.Width {
		line = title + line // the name only when everything else fits
	}
	return ansi.Truncate(line, m.com.Width, "…")
}

func (m *Model) banner() string {
	cause := firstLine(m.fetchErr.Error())
	stale := "no data yet"
	if m.snap != nil {
		stale = "showing data from " + age(m.opts.Now().Sub(m.snapAt)) + " ago"
	}
	head, tail := "Redis unreachable: ", " — "+stale+", reconnecting"
	// the cause gives way first: how stale the data is must stay readable
	room := max(m.com.Width-ansi.StringWidth(head)-ansi.StringWidth(tail), 8)
	line := head + ansi.Truncate(cause, room, "…") + tail
	return m.com.Styles.Banner.Render(ansi.Truncate(line, m.com.Width, "…"))
}

func (m *Model) footer() string {
	st := m.com.Styles
	switch {
	case m.filtering:
		return m.filter.View()
	case m.notice != "":
		s := st.Notice
		if m.noticeBad {
			s = st.ErrorMessage
		}
		return s.Render(ansi.Truncate(m.notice, m.com.Width, "…"))
	}
	bind := m.footerKeys()
	if f := m.filter.Value(); f != "" {
		return st.Muted.Render("filter "+f+" (esc clears) · ") + m.help.ShortHelpView(bind)
	}
	return m.help.ShortHelpView(bind)
}

// footerKeys are the keys the footer names for what is on screen.
func (m *Model) footerKeys() []key.Binding {
	k := m.com.Keys
	short := func(b key.Binding, help, desc string) key.Binding {
		return key.NewBinding(key.WithKeys(b.Keys()...), key.WithHelp(help, desc))
	}
	back, scroll := short(k.Back, "esc", "back"), short(k.Down, "j/k", "scroll")
	switch {
	case m.dialog != nil && m.dialog.needsReason:
		return []key.Binding{short(k.Enter, "enter", "confirm"), short(k.Back, "esc", "cancel")}
	case m.dialog != nil:
		return []key.Binding{k.Confirm, k.Cancel}
	case m.showHelp:
		return []key.Binding{short(k.Help, "?/esc", "close help"), k.Quit}
	case m.detail == nil:
		return k.ShortHelp()
	}
	switch m.detail.kind {
	case breakersPanel:
		return []key.Binding{back, scroll, short(k.Reset, "r", "reset"), short(k.Trip, "t", "trip"),
			short(k.Disable, "d", "disable"), short(k.Enable, "e", "enable"), k.Help}
	case queuesPanel:
		return []key.Binding{back, short(k.States, "1-4/tab", "state"), short(k.Down, "j/k", "select"),
			k.More, short(k.PrevPage, "b", "back a page"), short(k.Retry, "R", "retry"), short(k.Pause, "p/u", "pause/resume"), k.Help}
	case chaosPanel:
		return []key.Binding{back, scroll, short(k.Stop, "x", "stop experiment"), k.StopAll, k.Help}
	}
	return []key.Binding{back, scroll, k.Help, k.Quit}
}

func (m *Model) mainView(l screen) string {
	var b strings.Builder
	for _, p := range m.panels() {
		b.WriteString(m.panelView(p, l.rows[p]))
		b.WriteByte('\n')
	}
	b.WriteString(m.eventsView(l.events))
	return b.String()
}

// panelTitle is a panel's first line: a marker and a style for the
// focused one (not colour alone), a summary, the window shown.
func (m *Model) panelTitle(p panel, summary string, rows int) string {
	st := m.com.Styles
	title := st.Title.Render(panelNames[p])
	mark := "  "
	if p == m.focus && m.detail == nil {
		mark = "▶ "
		title = st.ActiveTitle.Render(panelNames[p])
	}
	s := mark + title
	if summary != "" {
		s += "  " + summary
	}
	n, total := len(m.vis[p]), m.count(p)
	if n != total {
		s += st.Muted.Render(fmt.Sprintf("  %d of %d match", n, total))
	}
	if rows > 0 && rows < n {
		s += st.Muted.Render(fmt.Sprintf("  [%d-%d of %d]", m.offset[p]+1, m.offset[p]+rows, n))
	}
	return s
}

// grid draws rows (only the visible ones are passed in) under headers,
// at most full width, cells styled by style(row, col), which must pad
// cells on the right (PaddingRight(1)).
func (m *Model) grid(headers []string, rows [][]string, style func(row, col int) lipgloss.Style) string {
	header := m.com.Styles.TableHeader.PaddingRight(1)
	t := table.New().
		Border(lipgloss.HiddenBorder()).
		BorderTop(false).BorderBottom(false).BorderLeft(false).BorderRight(false).
		BorderColumn(false).BorderHeader(false).
		Wrap(false).
		Width(m.com.Width).FitContent().
		Headers(headers...).
		Rows(rows...).
		StyleFunc(func(row, col int) lipgloss.Style {
			if row == table.HeaderRow {
				return header
			}
			return style(row, col)
		})
	return t.String()
}

// cellStyle is a data cell's style: the state's for a state cell, reverse
// on the cursor row of the focused panel.
func (m *Model) cellStyle(p panel, cursorRow, row int, state string) lipgloss.Style {
	st := m.com.Styles
	s := lipgloss.NewStyle()
	if state != "" {
		s = st.State(state)
	}
	if row == cursorRow && p == m.focus {
		s = s.Reverse(true)
	}
	return s
}

func (m *Model) eventsView(n int) string {
	st := m.com.Styles
	f := strings.ToLower(strings.TrimSpace(m.filter.Value()))
	var shown []Event
	for i := len(m.events) - 1; i >= 0 && len(shown) < n; i-- {
		e := m.events[i]
		if f == "" || strings.Contains(strings.ToLower(e.Subject), f) {
			shown = append(shown, e)
		}
	}
	var b strings.Builder
	b.WriteString("  " + st.Title.Render("EVENTS"))
	switch {
	case len(shown) == 0 && f != "" && len(m.events) > 0:
		b.WriteString("\n  " + st.Muted.Render("no event matches the filter"))
	case len(shown) == 0:
		b.WriteString("\n  " + st.Muted.Render("none yet"))
	}
	for i := len(shown) - 1; i >= 0; i-- {
		e := shown[i]
		b.WriteString("\n  " + st.Muted.Render(e.At.UTC().Format("15:04:05")) + " " +
			fmt.Sprintf("%-7s ", e.Kind) + e.Subject + " " + eventStyle(m, e).Render(firstLine(e.Text)))
	}
	return b.String()
}

func eventStyle(m *Model, e Event) lipgloss.Style {
	t := strings.ToLower(e.Text)
	st := m.com.Styles
	switch {
	case strings.Contains(t, "→ open"), strings.Contains(t, "-> open"), strings.Contains(t, "fired"), strings.Contains(t, "down"):
		return st.Bad
	case strings.Contains(t, "→ closed"), strings.Contains(t, "resolved"):
		return st.Good
	case strings.Contains(t, "half_open"), strings.Contains(t, "half-open"):
		return st.Warn
	case strings.Contains(t, "forced"), strings.Contains(t, "→ disabled"), strings.Contains(t, "-> disabled"):
		return st.Special
	}
	return lipgloss.NewStyle()
}

func (m *Model) helpView() string {
	st := m.com.Styles
	k := m.com.Keys
	groups := append(k.FullHelp(), []key.Binding{k.States, k.More, k.PrevPage}) // a dialog names its own keys
	var b strings.Builder
	b.WriteString("  " + st.ActiveTitle.Render("HELP") + st.Muted.Render("  ? or esc closes") + "\n\n")
	hm := m.help
	hm.SetWidth(0) // rows of columns are sized to fit below
	rows := [][][]key.Binding{groups[:4], groups[4:]}
	if !m.wide() {
		rows = [][][]key.Binding{groups[:2], groups[2:4], groups[4:]}
	}
	for _, r := range rows {
		b.WriteString(hm.FullHelpView(r) + "\n\n")
	}
	b.WriteString("Actions act on the row under the cursor or the open drill-down, after a\n" +
		"confirmation (with a reason where the CLI takes one). S works anywhere.\n" +
		"Queue drill-down: tab or 1-4 switch state, n/b page, R retries a dead one.\n")
	if m.readOnly {
		b.WriteString(st.Special.Render(readOnlyNotice) + "\n")
	}
	return b.String()
}

func (m *Model) dialogView() string {
	st := m.com.Styles
	d := m.dialog
	var b strings.Builder
	b.WriteString(st.Title.Render("Confirm: "+describe(d.action)) + "\n\n")
	if d.needsReason {
		b.WriteString(d.reason.View() + "\n")
		if d.problem != "" {
			b.WriteString(st.ErrorMessage.Render(d.problem) + "\n")
		}
		b.WriteString("\n" + st.Muted.Render("enter confirms · esc cancels"))
	} else {
		b.WriteString(st.Muted.Render("y/enter confirms · n/esc cancels"))
	}
	return st.Dialog.Render(b.String())
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// age is a short duration: 12s, 3m05s, 2h03m, 3d04h.
func age(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d/time.Second))
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds", int(d/time.Minute), int(d%time.Minute/time.Second))
	case d < 24*time.Hour:
		return fmt.Sprintf("%dh%02dm", int(d/time.Hour), int(d%time.Hour/time.Minute))
	}
	return fmt.Sprintf("%dd%02dh", int(d/(24*time.Hour)), int(d%(24*time.Hour)/time.Hour))
}
