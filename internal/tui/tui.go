// Package tui holds what every terminal view of haderctl shares: the
// colour decision, one Styles value, the key map and the small drawn
// parts (sparklines, bars). The dashboard, `health watch`, `queue status
// --watch` and the drain progress bar draw with it, on charm's bubbletea,
// bubbles and lipgloss v2 (charm.land/...).
package tui

import (
	"io"
	"os"
	"strings"

	"charm.land/bubbles/v2/key"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/colorprofile"
)

// MinWidth and MinHeight are the smallest terminal the full-screen views
// draw in; below it they show one line saying the terminal is too small.
const (
	MinWidth  = 80
	MinHeight = 24
)

// ColorProfile decides how out is coloured. No colour (Ascii: bold and
// reverse only) when noColor (--no-color), when NO_COLOR is set to any
// non-empty value (no-color.org; colorprofile parses it as a boolean, so
// NO_COLOR=yes would not count there: it is decided here), or when TERM is
// "dumb"; NoTTY (no escapes at all) when out is not a terminal; otherwise
// what colorprofile detects for out.
func ColorProfile(out io.Writer, isTTY, noColor bool, getenv func(string) string) colorprofile.Profile {
	if getenv == nil {
		getenv = os.Getenv
	}
	switch {
	case !isTTY:
		return colorprofile.NoTTY
	case noColor, getenv("NO_COLOR") != "", getenv("TERM") == "dumb":
		return colorprofile.Ascii
	}
	env := []string{"TERM=" + getenv("TERM"), "COLORTERM=" + getenv("COLORTERM")}
	p := colorprofile.Detect(out, env)
	if p < colorprofile.ANSI {
		// a terminal colorprofile could not place: basic colours are safe
		p = colorprofile.ANSI
	}
	return p
}

// Writer wraps w so that what is written to it is downsampled to p (every
// escape removed for NoTTY, colours removed for Ascii).
func Writer(w io.Writer, p colorprofile.Profile) io.Writer {
	return &colorprofile.Writer{Forward: w, Profile: p}
}

// Styles is every style haderctl's terminal views use. Colours are basic
// ANSI ones (they follow the user's terminal theme) and are downsampled
// by the output's profile; a state is always written in words too, never
// shown by colour alone.
type Styles struct {
	App          lipgloss.Style
	Header       lipgloss.Style // the top line: address, namespace, environment
	Title        lipgloss.Style // a panel's title
	ActiveTitle  lipgloss.Style // the focused panel's title
	Panel        lipgloss.Style // a panel's frame
	ActivePanel  lipgloss.Style // the focused panel's frame
	Banner       lipgloss.Style // Redis unreachable, errors
	Notice       lipgloss.Style // an action's result
	Muted        lipgloss.Style // secondary text, stale marks
	Selected     lipgloss.Style // the cursor row
	TableHeader  lipgloss.Style
	Cell         lipgloss.Style
	Good         lipgloss.Style // closed, up, completed
	Bad          lipgloss.Style // open, down, dead, failed
	Warn         lipgloss.Style // half_open, degraded, delayed
	Special      lipgloss.Style // forced, disabled, paused
	Dialog       lipgloss.Style // a confirmation box
	HelpKey      lipgloss.Style
	HelpDesc     lipgloss.Style
	SparkGood    lipgloss.Style
	SparkBad     lipgloss.Style
	BarFull      lipgloss.Style
	BarEmpty     lipgloss.Style
	ErrorMessage lipgloss.Style
}

// NewStyles returns the styles.
func NewStyles() Styles {
	red, green, yellow, blue, magenta, cyan, gray := lipgloss.Color("1"), lipgloss.Color("2"), lipgloss.Color("3"),
		lipgloss.Color("4"), lipgloss.Color("5"), lipgloss.Color("6"), lipgloss.Color("8")
	frame := lipgloss.NewStyle().Border(lipgloss.NormalBorder()).Padding(0, 1)
	return Styles{
		App:          lipgloss.NewStyle(),
		Header:       lipgloss.NewStyle().Bold(true),
		Title:        lipgloss.NewStyle().Bold(true),
		ActiveTitle:  lipgloss.NewStyle().Bold(true).Reverse(true),
		Panel:        frame.BorderForeground(gray),
		ActivePanel:  frame.BorderForeground(cyan),
		Banner:       lipgloss.NewStyle().Bold(true).Reverse(true).Foreground(red),
		Notice:       lipgloss.NewStyle().Foreground(cyan),
		Muted:        lipgloss.NewStyle().Foreground(gray),
		Selected:     lipgloss.NewStyle().Reverse(true),
		TableHeader:  lipgloss.NewStyle().Bold(true),
		Cell:         lipgloss.NewStyle().PaddingRight(1),
		Good:         lipgloss.NewStyle().Foreground(green),
		Bad:          lipgloss.NewStyle().Foreground(red).Bold(true),
		Warn:         lipgloss.NewStyle().Foreground(yellow),
		Special:      lipgloss.NewStyle().Foreground(magenta),
		Dialog:       lipgloss.NewStyle().Border(lipgloss.DoubleBorder()).BorderForeground(yellow).Padding(0, 1),
		HelpKey:      lipgloss.NewStyle().Foreground(blue).Bold(true),
		HelpDesc:     lipgloss.NewStyle().Foreground(gray),
		SparkGood:    lipgloss.NewStyle().Foreground(green),
		SparkBad:     lipgloss.NewStyle().Foreground(red),
		BarFull:      lipgloss.NewStyle().Foreground(cyan),
		BarEmpty:     lipgloss.NewStyle().Foreground(gray),
		ErrorMessage: lipgloss.NewStyle().Foreground(red),
	}
}

// State is the style for a state word: breaker states, health statuses,
// queue and experiment states.
func (s Styles) State(state string) lipgloss.Style {
	switch strings.ToLower(state) {
	case "closed", "up", "healthy", "completed", "ok", "on", "enabled":
		return s.Good
	case "open", "down", "unhealthy", "dead", "failed", "error", "corrupt", "halted", "unreachable":
		return s.Bad
	case "half_open", "half-open", "degraded", "delayed", "retry", "deferred", "stale":
		return s.Warn
	case "forced_open", "forced", "disabled", "paused", "off", "running", "active":
		return s.Special
	case "firing":
		return s.Bad // a health alert
	case "unknown":
		return s.Warn // a service never checked yet
	}
	return s.Cell
}

// Common is what every component of a view shares: the size it has, the
// styles, the keys and the colour profile of the output.
type Common struct {
	Width, Height int
	Styles        Styles
	Keys          KeyMap
	Profile       colorprofile.Profile
}

// NewCommon returns a Common with the default styles and keys.
func NewCommon(p colorprofile.Profile) *Common {
	return &Common{Styles: NewStyles(), Keys: DefaultKeys(), Profile: p}
}

// TooSmall is whether the size is below the floor; a view then shows
// TooSmallLine alone.
func (c *Common) TooSmall() bool { return c.Width < MinWidth || c.Height < MinHeight }

// TooSmallLine is the one line a view shows below the floor.
func (c *Common) TooSmallLine() string {
	line := "terminal too small: need at least 80×24"
	if c.Width > 0 && len([]rune(line)) > c.Width {
		line = string([]rune(line)[:c.Width])
	}
	return line
}

// KeyMap is every key of the views, with its help text.
type KeyMap struct {
	Next, Prev, Up, Down, PageUp, PageDown key.Binding
	Enter, Back, Filter, Help, Quit        key.Binding
	Reset, Trip, Disable, Enable           key.Binding
	Pause, Resume, Retry, Stop, StopAll    key.Binding
	Confirm, Cancel, More                  key.Binding
	PrevPage, States                       key.Binding
}

// DefaultKeys returns the key map (k9s-like: / filter, ? help, Esc back).
func DefaultKeys() KeyMap {
	b := func(help, desc string, keys ...string) key.Binding {
		return key.NewBinding(key.WithKeys(keys...), key.WithHelp(help, desc))
	}
	return KeyMap{
		Next:     b("tab", "next panel", "tab"),
		Prev:     b("shift+tab", "previous panel", "shift+tab"),
		Up:       b("↑/k", "up", "up", "k"),
		Down:     b("↓/j", "down", "down", "j"),
		PageUp:   b("pgup", "page up", "pgup"),
		PageDown: b("pgdn", "page down", "pgdown"),
		Enter:    b("enter", "details", "enter"),
		Back:     b("esc", "back", "esc"),
		Filter:   b("/", "filter", "/"),
		Help:     b("?", "help", "?"),
		Quit:     b("q", "quit", "q", "ctrl+c"),
		Reset:    b("r", "reset breaker", "r"),
		Trip:     b("t", "trip breaker", "t"),
		Disable:  b("d", "disable breaker", "d"),
		Enable:   b("e", "enable breaker", "e"),
		Pause:    b("p", "pause queue", "p"),
		Resume:   b("u", "resume queue", "u"),
		Retry:    b("R", "retry dead operation", "R"),
		Stop:     b("x", "stop experiment", "x"),
		StopAll:  b("S", "stop all chaos", "S"),
		Confirm:  b("y/enter", "confirm", "y", "enter"),
		Cancel:   b("n/esc", "cancel", "n", "esc"),
		More:     b("n", "next page", "n"),
		PrevPage: b("b/pgup", "previous page", "b", "pgup"),
		States:   b("1-4", "ready/delayed/inflight/dead", "1", "2", "3", "4"),
	}
}

// ShortHelp is the one-line help (bubbles/help).
func (k KeyMap) ShortHelp() []key.Binding {
	return []key.Binding{k.Next, k.Enter, k.Back, k.Filter, k.Help, k.Quit}
}

// FullHelp is the help screen (bubbles/help).
func (k KeyMap) FullHelp() [][]key.Binding {
	return [][]key.Binding{
		{k.Next, k.Prev, k.Up, k.Down, k.PageUp, k.PageDown},
		{k.Enter, k.Back, k.Filter, k.Help, k.Quit},
		{k.Reset, k.Trip, k.Disable, k.Enable},
		{k.Pause, k.Resume, k.Retry, k.Stop, k.StopAll},
	}
}

var sparks = []rune("▁▂▃▄▅▆▇█")

// Sparkline draws values (oldest first) as at most width block
// characters scaled between their min and max, keeping the newest.
func Sparkline(values []float64, width int) string {
	if width <= 0 || len(values) == 0 {
		return ""
	}
	if len(values) > width {
		values = values[len(values)-width:]
	}
	lo, hi := values[0], values[0]
	for _, v := range values {
		lo, hi = min(lo, v), max(hi, v)
	}
	var b strings.Builder
	for _, v := range values {
		i := 0
		if hi > lo {
			i = int((v - lo) / (hi - lo) * float64(len(sparks)-1))
		}
		b.WriteRune(sparks[i])
	}
	return b.String()
}

// Bar draws frac (0..1) of width cells full, the rest empty.
func (s Styles) Bar(frac float64, width int) string {
	if width <= 0 {
		return ""
	}
	frac = min(max(frac, 0), 1)
	full := int(frac*float64(width) + 0.5)
	return s.BarFull.Render(strings.Repeat("█", full)) + s.BarEmpty.Render(strings.Repeat("░", width-full))
}
