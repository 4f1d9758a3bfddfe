package demo

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// Narrator writes the demo's story: one line per event, each with the
// time since the start ("[ 12.3s] breaker aramex opened"). Lines are
// kept for the report; while Hold is on (a dashboard owns the screen)
// they are kept only, and Release prints what was held.
type Narrator struct {
	mu    sync.Mutex
	out   io.Writer
	start time.Time
	now   func() time.Time
	hold  bool
	lines []Line
}

// Line is one narrated line.
type Line struct {
	At   time.Duration `json:"at_ns"`
	Text string        `json:"text"`
}

// NewNarrator narrates to out from start, on the clock now.
func NewNarrator(out io.Writer, start time.Time, now func() time.Time) *Narrator {
	return &Narrator{out: out, start: start, now: now}
}

// Sayf narrates one line.
func (n *Narrator) Sayf(format string, a ...any) {
	text := strings.ReplaceAll(fmt.Sprintf(format, a...), "\n", " ")
	n.mu.Lock()
	defer n.mu.Unlock()
	l := Line{At: n.now().Sub(n.start), Text: text}
	n.lines = append(n.lines, l)
	if !n.hold {
		fmt.Fprintln(n.out, l.String())
	}
}

// Plain writes text as it is (the banner), not kept as a line.
func (n *Narrator) Plain(text string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if !n.hold {
		fmt.Fprintln(n.out, text)
	}
}

// Hold keeps lines from the screen until Release.
func (n *Narrator) Hold() {
	n.mu.Lock()
	n.hold = true
	n.mu.Unlock()
}

// Release prints every line held since Hold and narrates again.
func (n *Narrator) Release() {
	n.mu.Lock()
	defer n.mu.Unlock()
	if !n.hold {
		return
	}
	n.hold = false
	for _, l := range n.lines {
		fmt.Fprintln(n.out, l.String())
	}
}

// Lines are every line narrated so far.
func (n *Narrator) Lines() []Line {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]Line(nil), n.lines...)
}

func (l Line) String() string {
	return fmt.Sprintf("[%5.1fs] %s", l.At.Seconds(), l.Text)
}
