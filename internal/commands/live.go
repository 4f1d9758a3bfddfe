package commands

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"

	tea "charm.land/bubbletea/v2"
	"github.com/haderos/haderctl/internal/cmdutil"
	"github.com/haderos/haderctl/internal/redact"
	"github.com/haderos/haderctl/internal/tui"
	"github.com/haderos/haderctl/internal/tui/live"
)

// The live views (`health watch`, `queue status --watch` on a terminal)
// run a tui/live program on stdout. Off a terminal they are not used at
// all: those paths write NDJSON or plain tables as they always did.

// liveRun shows the live table until q, ctrl+c or ctx ends (SIGINT or
// SIGTERM through the command's context): all of them end it cleanly,
// with a nil error. extra are program options for tests (a window size).
// A non-nil hold is stderr held while the view runs.
func liveRun(ctx context.Context, f *cmdutil.Factory, first live.Frame, o live.Options, hold *stderrHold, extra []tea.ProgramOption) error {
	if o.Now == nil {
		o.Now = f.Now
	}
	if c, err := f.Config(); err == nil {
		scrubFrame(first, c.Secrets())
		o.Fetch = scrubFetch(o.Fetch, c.Secrets())
	}
	profile := tui.ColorProfile(f.IO.Out, true, f.IO.NoColor(), f.Getenv)
	m := live.New(ctx, tui.NewCommon(profile), first, o)
	opts := []tea.ProgramOption{tea.WithContext(ctx), tea.WithOutput(f.IO.Out), tea.WithColorProfile(profile),
		// the command's context already ends on SIGINT/SIGTERM
		tea.WithoutSignalHandler()}
	opts = append(opts, liveInput(f)...)
	p := tea.NewProgram(m, append(opts, extra...)...)
	if hold != nil {
		hold.start(p.Send)
		defer hold.stop()
	}
	_, err := p.Run()
	if errors.Is(err, tea.ErrProgramKilled) && ctx.Err() != nil {
		return nil // interrupted: the end a watch is made for
	}
	return err
}

// scrubFetch masks the configuration's secrets in what fetch returns, a
// failed read's message and every cell (a probe's stored error may quote
// a URL), as Run does for the messages it prints.
func scrubFetch(fetch live.Fetch, secrets []string) live.Fetch {
	return func(ctx context.Context) (live.Frame, error) {
		fr, err := fetch(ctx)
		if err != nil {
			return fr, errors.New(redact.Scrub(err.Error(), secrets...))
		}
		scrubFrame(fr, secrets)
		return fr, nil
	}
}

func scrubFrame(fr live.Frame, secrets []string) {
	for _, row := range fr.Rows {
		for j := range row {
			row[j].Text = redact.Scrub(row[j].Text, secrets...)
		}
	}
}

// liveInput is where the view reads keys: stdin when it is a terminal (or
// a test's reader), else the controlling terminal, else nowhere (then
// only a signal ends the view, as with `watch < /dev/null`).
func liveInput(f *cmdutil.Factory) []tea.ProgramOption {
	if _, isFile := f.IO.In.(*os.File); f.IO.IsStdinTTY() || !isFile {
		return []tea.ProgramOption{tea.WithInput(f.IO.In)}
	}
	tty, _, err := tea.OpenTTY()
	if err != nil {
		return []tea.ProgramOption{tea.WithInput(nil)}
	}
	return []tea.ProgramOption{tea.WithInput(tty)}
}

// stderrHold keeps what the program writes to stderr while a live view
// covers the same terminal: the view shows each line as it comes
// (live.NoticeMsg) and every held byte goes to stderr, in order, when the
// view ends, so an alert shown while it ran is still there afterwards.
type stderrHold struct {
	mu      sync.Mutex
	real    io.Writer
	held    bytes.Buffer
	holding bool
	send    func(tea.Msg)
}

// holdStderr puts a hold between f's stderr and everything that writes
// to it from now on: f.IO.ErrOut and f.Logger. It must run before the
// engine is opened (the engine's loggers keep the writer they got).
// Nil, and nothing changed, unless stdout and stderr are both terminals.
func holdStderr(f *cmdutil.Factory) *stderrHold {
	if !f.IO.IsStdoutTTY() || !f.IO.IsStderrTTY() {
		return nil
	}
	h := &stderrHold{real: f.IO.ErrOut}
	f.IO.ErrOut = h
	f.Logger = slog.New(slog.NewTextHandler(h, &slog.HandlerOptions{Level: levelOf(f.Logger)}))
	return h
}

// levelOf is the lowest level l logs.
func levelOf(l *slog.Logger) slog.Level {
	for _, lv := range []slog.Level{slog.LevelDebug, slog.LevelInfo, slog.LevelWarn, slog.LevelError} {
		if l.Enabled(context.Background(), lv) {
			return lv
		}
	}
	return slog.LevelError + 1
}

func (h *stderrHold) Write(p []byte) (int, error) {
	h.mu.Lock()
	if !h.holding {
		w := h.real
		h.mu.Unlock()
		return w.Write(p)
	}
	h.held.Write(p)
	send := h.send
	h.mu.Unlock()
	for _, line := range strings.Split(strings.TrimRight(string(p), "\n"), "\n") {
		if line = strings.TrimSpace(line); line != "" {
			send(live.NoticeMsg{Text: line})
		}
	}
	return len(p), nil
}

func (h *stderrHold) start(send func(tea.Msg)) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.holding, h.send = true, send
}

// stop writes what was held and lets later writes through.
func (h *stderrHold) stop() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.holding = false
	if h.held.Len() > 0 {
		_, _ = h.real.Write(h.held.Bytes())
		h.held.Reset()
	}
}
