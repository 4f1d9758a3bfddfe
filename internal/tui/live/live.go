// Package live is the model of haderctl's watch-like views, `health watch`
// and `queue status --watch`: one table, read again every interval and
// redrawn in place on the alternate screen (as watch(1) and top do: the
// shell's screen comes back on quit), q or ctrl+c to quit.
//
//	Init ─► tick ─► Fetch (a tea.Cmd: the caller's read) ─► FrameMsg ─► View
//	          ▲                    │                                   │
//	          └──── re-armed ◄─────┴──── ErrMsg (last frame kept) ◄────┘
//
// The caller reads its first frame before the program starts, so a bad
// name or an unreachable Redis is an exit code, not a screen; a later
// failed read keeps the last table on screen under a line saying what
// failed and how old the table is, and the next tick tries again.
//
// Below tui.MinWidth×tui.MinHeight the view is the one too-small line of
// tui.Common, as the dashboard's is.
package live

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"charm.land/lipgloss/v2/table"
	"github.com/charmbracelet/x/ansi"
	"github.com/haderos/haderctl/internal/tui"
)

// Cell is one table cell: its text, and the state word that picks its
// style (tui.Styles.State; "" for a plain cell). The word is in Text too:
// a state is never shown by colour alone.
type Cell struct {
	Text  string
	State string
}

// Frame is one read: the table and when it was read.
type Frame struct {
	Headers []string
	Rows    [][]Cell
	// Empty is shown instead of the table when there are no rows.
	Empty string
	// At is when the data was read (the caller's clock).
	At time.Time
}

// Fetch reads one frame. It runs as a tea.Cmd, off the program's loop.
type Fetch func(context.Context) (Frame, error)

// FrameMsg carries a frame read by Fetch.
type FrameMsg struct{ Frame Frame }

// ErrMsg carries a failed read.
type ErrMsg struct {
	Err error
	At  time.Time
}

// TickMsg asks for the next read.
type TickMsg struct{}

// NoticeMsg is a line the program wrote to stderr while the view covers
// the terminal (an alert, a warning): the newest is shown under the table.
type NoticeMsg struct{ Text string }

// Options are a view's inputs.
type Options struct {
	// Title heads the screen (the command and what it shows).
	Title string
	// Interval is the time between the end of one read and the next.
	Interval time.Duration
	// Fetch reads a frame.
	Fetch Fetch
	// Now is the clock of the "updated" mark and of an error's age.
	Now func() time.Time
}

// Model is the live table.
type Model struct {
	*tui.Common
	ctx     context.Context
	opts    Options
	frame   Frame
	err     error
	errAt   time.Time
	notice  string
	reading bool
}

// New returns the model showing first (read by the caller) until the next
// read; reads run under ctx.
func New(ctx context.Context, c *tui.Common, first Frame, o Options) *Model {
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Model{Common: c, ctx: ctx, opts: o, frame: first}
}

// Frame is the frame on screen.
func (m *Model) Frame() Frame { return m.frame }

// Err is the last read's error, nil after a good one.
func (m *Model) Err() error { return m.err }

// Init arms the first tick.
func (m *Model) Init() tea.Cmd { return m.tick() }

func (m *Model) tick() tea.Cmd {
	return tea.Tick(m.opts.Interval, func(time.Time) tea.Msg { return TickMsg{} })
}

// Read is the tea.Cmd that reads one frame.
func (m *Model) Read() tea.Cmd {
	fetch, ctx, now := m.opts.Fetch, m.ctx, m.opts.Now
	return func() tea.Msg {
		f, err := fetch(ctx)
		if err != nil {
			return ErrMsg{Err: err, At: now()}
		}
		return FrameMsg{Frame: f}
	}
}

// Update handles keys, sizes, ticks and reads.
func (m *Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.KeyPressMsg:
		if key.Matches(msg, m.Keys.Quit) {
			return m, tea.Quit
		}
	case tea.WindowSizeMsg:
		m.Width, m.Height = msg.Width, msg.Height
	case TickMsg:
		if m.reading {
			return m, nil // the read in flight re-arms the tick
		}
		m.reading = true
		return m, m.Read()
	case FrameMsg:
		m.reading = false
		m.frame, m.err = msg.Frame, nil
		return m, m.tick()
	case ErrMsg:
		m.reading = false
		m.err, m.errAt = msg.Err, msg.At
		return m, m.tick()
	case NoticeMsg:
		m.notice = msg.Text
	}
	return m, nil
}

// View draws the screen.
func (m *Model) View() tea.View {
	v := tea.NewView(m.Render())
	v.AltScreen = true
	return v
}

// Render is the screen's text: title, table, status line.
func (m *Model) Render() string {
	if m.Width == 0 || m.Height == 0 {
		return "" // not sized yet
	}
	if m.TooSmall() {
		return m.TooSmallLine()
	}
	st := m.Styles
	var b strings.Builder
	header := m.opts.Title
	if !m.frame.At.IsZero() {
		header += "  ·  updated " + m.frame.At.Local().Format("15:04:05")
	}
	header += "  ·  every " + m.opts.Interval.String()
	b.WriteString(st.Header.Render(truncate(header, m.Width)))
	b.WriteString("\n\n")
	// title, blank, table header and its rule, status line, help line
	rows := m.Height - 6
	switch {
	case len(m.frame.Rows) == 0:
		b.WriteString(st.Muted.Render(m.frame.Empty))
		b.WriteString("\n")
	default:
		b.WriteString(m.table(rows))
		b.WriteString("\n")
	}
	switch {
	case m.err != nil:
		line := fmt.Sprintf("refresh failed: %s; the table is from %s ago", firstLine(m.err.Error()), age(m.errAt.Sub(m.frame.At)))
		b.WriteString(st.Banner.Render(truncate(line, m.Width)))
	case m.notice != "":
		b.WriteString(st.Notice.Render(truncate(m.notice, m.Width)))
	}
	b.WriteString("\n")
	b.WriteString(st.HelpKey.Render(m.Keys.Quit.Help().Key) + " " + st.HelpDesc.Render(m.Keys.Quit.Help().Desc))
	return b.String()
}

// table draws at most maxRows rows of the frame, and a line saying how
// many more there are when they do not fit. A table wider than the
// terminal keeps one line per row: the gaps narrow, then the last column
// is cut short (with "…"), then trailing columns are left out and named.
func (m *Model) table(maxRows int) string {
	widths, gap := m.fit(m.frame.Rows)
	hidden := m.frame.Headers[len(widths):]
	if len(hidden) > 0 {
		maxRows-- // the line naming them
	}
	rows := m.frame.Rows
	more := 0
	if len(rows) > maxRows {
		more = len(rows) - (maxRows - 1)
		rows = rows[:maxRows-1]
	}
	headers := make([]string, len(widths))
	for j, w := range widths {
		headers[j] = ansi.Truncate(m.frame.Headers[j], w, "…")
	}
	text := make([][]string, len(rows))
	for i, r := range rows {
		text[i] = make([]string, len(widths))
		for j, w := range widths {
			if j < len(r) {
				text[i][j] = ansi.Truncate(r[j].Text, w, "…")
			}
		}
	}
	st := m.Styles
	t := table.New().
		Headers(headers...).
		Rows(text...).
		Border(lipgloss.NormalBorder()).
		BorderTop(false).BorderBottom(false).BorderLeft(false).BorderRight(false).
		BorderColumn(false).BorderHeader(true).
		BorderStyle(st.Muted).
		Wrap(false).
		StyleFunc(func(row, col int) lipgloss.Style {
			pad := gap // none after the last column
			if col == len(widths)-1 {
				pad = 0
			}
			if row == table.HeaderRow {
				return st.TableHeader.PaddingRight(pad)
			}
			if row < len(rows) && col < len(rows[row]) && rows[row][col].State != "" {
				return st.State(rows[row][col].State).PaddingRight(pad)
			}
			return st.Cell.PaddingRight(pad)
		})
	out := t.String()
	if len(hidden) > 0 {
		out += "\n" + st.Muted.Render(truncate(fmt.Sprintf("+%d columns in a wider terminal: %s", len(hidden), strings.Join(hidden, ", ")), m.Width))
	}
	if more > 0 {
		out += "\n" + st.Muted.Render(fmt.Sprintf("… %d more (a taller terminal shows them)", more))
	}
	return out
}

// minLastColumn is the narrowest the last column is cut to before it is
// left out.
const minLastColumn = 8

// fit is the width of each column drawn (fewer than the headers when some
// are left out) and the gap between columns, for the terminal's width.
func (m *Model) fit(rows [][]Cell) (widths []int, gap int) {
	natural := make([]int, len(m.frame.Headers))
	for j, h := range m.frame.Headers {
		natural[j] = ansi.StringWidth(h)
		for _, r := range rows {
			if j < len(r) {
				natural[j] = max(natural[j], ansi.StringWidth(r[j].Text))
			}
		}
	}
	total := func(ws []int, gap int) int {
		n := gap * (len(ws) - 1)
		for _, w := range ws {
			n += w
		}
		return n
	}
	for _, gap := range []int{2, 1} {
		if total(natural, gap) <= m.Width {
			return natural, gap
		}
	}
	for n := len(natural); n > 1; n-- {
		ws := slices.Clone(natural[:n])
		room := m.Width - total(ws[:n-1], 1) - 1
		if room >= min(ws[n-1], minLastColumn) {
			ws[n-1] = min(ws[n-1], room)
			return ws, 1
		}
	}
	return []int{min(natural[0], m.Width)}, 1
}

func truncate(s string, width int) string {
	r := []rune(s)
	if len(r) <= width {
		return s
	}
	if width <= 1 {
		return string(r[:width])
	}
	return string(r[:width-1]) + "…"
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

func age(d time.Duration) string {
	if d < time.Second {
		return "less than 1s"
	}
	return d.Round(time.Second).String()
}
