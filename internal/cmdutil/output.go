package cmdutil

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/haderos/haderctl/internal/iostreams"
)

// Output formats of -o.
const (
	OutputTable = "table"
	OutputJSON  = "json"
)

// ValidateOutput checks the -o value.
func ValidateOutput(v string) error {
	if v != OutputTable && v != OutputJSON {
		return UsageErrorf("invalid --output %q: use table or json", v)
	}
	return nil
}

// WriteJSON is the one exporter: every command's -o json goes through it,
// indented by two spaces, with a trailing newline and no HTML escaping.
func WriteJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// WriteNDJSON writes one compact JSON object per line (streams).
func WriteNDJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// Table prints aligned columns. On a terminal the header is bold; off a
// terminal it still prints a header (so `column -t` users can rely on it).
type Table struct {
	io   *iostreams.IOStreams
	rows [][]cell
}

type cell struct{ text, color string }

// NewTable starts a table with a header row.
func NewTable(s *iostreams.IOStreams, header ...string) *Table {
	t := &Table{io: s}
	row := make([]cell, len(header))
	for i, h := range header {
		row[i] = cell{text: h, color: "bold"}
	}
	t.rows = append(t.rows, row)
	return t
}

// Row adds a row; a field "text|color" is coloured when colour is on.
func (t *Table) Row(fields ...string) {
	row := make([]cell, len(fields))
	for i, f := range fields {
		text, color, _ := strings.Cut(f, "\x00")
		row[i] = cell{text: text, color: color}
	}
	t.rows = append(t.rows, row)
}

// Colored marks a field for Row to colour.
func Colored(text, color string) string { return text + "\x00" + color }

// Render writes the table.
func (t *Table) Render() error {
	widths := map[int]int{}
	for _, r := range t.rows {
		for i, c := range r {
			if n := utf8.RuneCountInString(c.text); n > widths[i] {
				widths[i] = n
			}
		}
	}
	var b strings.Builder
	for _, r := range t.rows {
		for i, c := range r {
			text := c.text
			if i < len(r)-1 {
				text += strings.Repeat(" ", widths[i]-utf8.RuneCountInString(c.text)+2)
			}
			if c.color != "" {
				text = t.io.Colorize(c.color, text)
			}
			b.WriteString(text)
		}
		b.WriteByte('\n')
	}
	_, err := fmt.Fprint(t.io.Out, b.String())
	return err
}
