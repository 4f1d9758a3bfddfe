package dashboard

import (
	"context"
	"errors"
	"io"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"
)

// Run shows the dashboard over b on out (alt screen), reading keys from
// in, until the user quits or ctx ends; either is a clean end (nil).
func Run(ctx context.Context, b Backend, o Options, in io.Reader, out io.Writer) error {
	m := New(b, o)
	m.withContext(ctx)
	defer m.cancel()
	opts := []tea.ProgramOption{tea.WithContext(ctx), tea.WithInput(in), tea.WithOutput(out)}
	if o.Profile != colorprofile.Unknown {
		opts = append(opts, tea.WithColorProfile(o.Profile))
	}
	p := tea.NewProgram(m, opts...)
	_, err := p.Run()
	if err != nil && ctx.Err() != nil && errors.Is(err, tea.ErrProgramKilled) {
		return nil // ctx ended: the caller's signal, not a failure
	}
	return err
}
