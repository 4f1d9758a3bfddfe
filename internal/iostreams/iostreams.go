// Package iostreams carries a command's standard streams and what is known
// about them: terminal or not, colour on or off, terminal width.
package iostreams

import (
	"bytes"
	"io"
	"os"

	"golang.org/x/term"
)

// IOStreams are a command's streams.
type IOStreams struct {
	In     io.Reader
	Out    io.Writer
	ErrOut io.Writer

	stdoutTTY bool
	stderrTTY bool
	stdinTTY  bool
	color     bool
	noColor   bool
	width     int
}

// System returns the process' streams, with colour on only for a terminal,
// when NO_COLOR is unset or empty and TERM is not "dumb".
func System() *IOStreams {
	s := &IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr,
		stdoutTTY: term.IsTerminal(int(os.Stdout.Fd())),
		stderrTTY: term.IsTerminal(int(os.Stderr.Fd())),
		stdinTTY:  term.IsTerminal(int(os.Stdin.Fd())),
		width:     80}
	if s.stdoutTTY {
		if w, _, err := term.GetSize(int(os.Stdout.Fd())); err == nil && w > 0 {
			s.width = w
		}
	}
	s.color = colorWanted(s.stdoutTTY, os.Getenv)
	return s
}

// colorWanted is whether a terminal gets colour: no-color.org says a
// NO_COLOR set to any non-empty value turns it off, so an empty one does
// not (tui.ColorProfile decides the same way for the live views).
func colorWanted(tty bool, getenv func(string) string) bool {
	return tty && getenv("NO_COLOR") == "" && getenv("TERM") != "dumb"
}

// Test returns streams over buffers: not a terminal, no colour.
func Test() (s *IOStreams, in, out, errOut *bytes.Buffer) {
	in, out, errOut = &bytes.Buffer{}, &bytes.Buffer{}, &bytes.Buffer{}
	return &IOStreams{In: in, Out: out, ErrOut: errOut, width: 80}, in, out, errOut
}

// IsStdoutTTY reports whether stdout is a terminal (tables, colour,
// progress); otherwise output is for programs (NDJSON for streams).
func (s *IOStreams) IsStdoutTTY() bool { return s.stdoutTTY }

// IsStderrTTY reports whether stderr is a terminal.
func (s *IOStreams) IsStderrTTY() bool { return s.stderrTTY }

// IsStdinTTY reports whether stdin is a terminal.
func (s *IOStreams) IsStdinTTY() bool { return s.stdinTTY }

// SetStdoutTTY overrides terminal detection (tests).
func (s *IOStreams) SetStdoutTTY(v bool) { s.stdoutTTY = v }

// SetStderrTTY overrides terminal detection (tests).
func (s *IOStreams) SetStderrTTY(v bool) { s.stderrTTY = v }

// SetStdinTTY overrides terminal detection (tests).
func (s *IOStreams) SetStdinTTY(v bool) { s.stdinTTY = v }

// ColorEnabled reports whether to colour output.
func (s *IOStreams) ColorEnabled() bool { return s.color }

// SetColorEnabled turns colour on or off (--no-color).
func (s *IOStreams) SetColorEnabled(v bool) { s.color = v }

// NoColor reports whether the user asked for no colour (--no-color),
// whatever the streams are: the live views and the progress bar give it
// to tui.ColorProfile with the stream they draw on.
func (s *IOStreams) NoColor() bool { return s.noColor }

// SetNoColor records --no-color.
func (s *IOStreams) SetNoColor(v bool) { s.noColor = v }

// TerminalWidth is the width of the terminal, 80 when unknown.
func (s *IOStreams) TerminalWidth() int { return s.width }

// Colorize wraps text in an ANSI colour when colour is on. Colours: red,
// green, yellow, cyan, gray, bold.
func (s *IOStreams) Colorize(color, text string) string {
	if !s.color {
		return text
	}
	code, ok := map[string]string{"red": "31", "green": "32", "yellow": "33", "cyan": "36", "gray": "90", "bold": "1"}[color]
	if !ok {
		return text
	}
	return "\x1b[" + code + "m" + text + "\x1b[0m"
}
