package tui

import (
	"bytes"
	"testing"

	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/colorprofile"
)

func envOf(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestColorProfileNoColorAnyNonEmptyValue(t *testing.T) {
	var out bytes.Buffer
	for _, v := range []string{"1", "yes", "true", "0", "false", "anything"} {
		if p := ColorProfile(&out, true, false, envOf(map[string]string{"TERM": "xterm-256color", "NO_COLOR": v})); p != colorprofile.Ascii {
			t.Errorf("NO_COLOR=%q: profile %v, want Ascii (no colour)", v, p)
		}
	}
	if p := ColorProfile(&out, true, false, envOf(map[string]string{"TERM": "xterm-256color", "NO_COLOR": ""})); p == colorprofile.Ascii || p == colorprofile.NoTTY {
		t.Errorf("NO_COLOR empty: profile %v, want colour", p)
	}
	if p := ColorProfile(&out, true, true, envOf(map[string]string{"TERM": "xterm-256color"})); p != colorprofile.Ascii {
		t.Errorf("--no-color: profile %v, want Ascii", p)
	}
	if p := ColorProfile(&out, true, false, envOf(map[string]string{"TERM": "dumb"})); p != colorprofile.Ascii {
		t.Errorf("TERM=dumb: profile %v, want Ascii", p)
	}
	if p := ColorProfile(&out, false, false, envOf(map[string]string{"TERM": "xterm-256color"})); p != colorprofile.NoTTY {
		t.Errorf("not a terminal: profile %v, want NoTTY", p)
	}
}

func TestWriterStripsColourForAscii(t *testing.T) {
	var out bytes.Buffer
	w := Writer(&out, colorprofile.Ascii)
	if _, err := w.Write([]byte(NewStyles().Bad.Render("open"))); err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(out.Bytes(), []byte("31m")) || bytes.Contains(out.Bytes(), []byte("38;")) || !bytes.Contains(out.Bytes(), []byte("open")) {
		t.Fatalf("ascii output %q still has a colour or lost the word", out.String())
	}
}

func TestSparklineScalesAndKeepsNewest(t *testing.T) {
	if got := Sparkline([]float64{0, 7, 14}, 10); got != "▁▄█" {
		t.Errorf("Sparkline = %q, want ▁▄█", got)
	}
	if got := Sparkline([]float64{100, 0, 1}, 2); got != "▁█" {
		t.Errorf("Sparkline keeps newest: %q, want ▁█", got)
	}
	if got := Sparkline([]float64{5, 5}, 4); got != "▁▁" {
		t.Errorf("flat Sparkline = %q", got)
	}
}

func TestTooSmall(t *testing.T) {
	c := NewCommon(colorprofile.Ascii)
	c.Width, c.Height = 80, 24
	if c.TooSmall() {
		t.Error("80×24 is the floor and must draw")
	}
	c.Width = 79
	if !c.TooSmall() {
		t.Error("79 columns must be too small")
	}
	c.Width, c.Height = 20, 10
	if got := c.TooSmallLine(); len([]rune(got)) > 20 {
		t.Errorf("too-small line %q wider than the terminal", got)
	}
}

func TestStateStylesTheHealthWatchWords(t *testing.T) {
	s := NewStyles()
	for word, want := range map[string]lipgloss.Style{"firing": s.Bad, "unknown": s.Warn, "healthy": s.Good, "unhealthy": s.Bad} {
		if got := s.State(word); got.GetForeground() != want.GetForeground() || got.GetBold() != want.GetBold() {
			t.Errorf("State(%q) is not the style it should be", word)
		}
	}
}
