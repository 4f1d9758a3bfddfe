package dashboard

import (
	"context"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/haderos/haderctl/internal/engine/chaos"
	"github.com/haderos/haderctl/internal/engine/queue"
	"github.com/haderos/haderctl/internal/engine/snapshot"
)

// The messages Backend calls come back as.
type (
	snapshotMsg struct {
		snap *snapshot.Snapshot
		err  error
		at   time.Time // Options.Now when the read returned
	}
	// refreshMsg is the scheduled refresh number seq.
	refreshMsg      struct{ seq int }
	earlyRefreshMsg struct{}
	recentMsg       struct {
		events []Event
		err    error
		after  time.Time // only events after it count (zero: all)
	}
	followStartedMsg struct {
		gen    int
		events <-chan Event
		done   <-chan error
	}
	eventMsg struct {
		gen    int
		event  Event
		events <-chan Event
		done   <-chan error
	}
	followEndedMsg struct {
		gen int
		err error
	}
	followRetryMsg struct{ gen int }
	actionMsg      struct {
		action Action
		text   string
		err    error
	}
	breakerDetailMsg struct {
		seq    int
		detail BreakerDetail
		err    error
	}
	queueOpsMsg struct {
		seq    int
		ops    []*queue.Operation
		next   string
		err    error
		cursor string
	}
	serviceDetailMsg struct {
		seq    int
		detail ServiceDetail
		err    error
	}
	auditMsg struct {
		seq     int
		entries []chaos.AuditEntry
		err     error
	}
)

// call runs fn with a context bounded by callTimeout.
func (m *Model) call(fn func(ctx context.Context) tea.Msg) tea.Cmd {
	parent := m.ctx
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(parent, callTimeout)
		defer cancel()
		return fn(ctx)
	}
}

func (m *Model) fetchSnapshot() tea.Cmd {
	b, now := m.backend, m.opts.Now
	return m.call(func(ctx context.Context) tea.Msg {
		s, err := b.Snapshot(ctx)
		if err == nil && s == nil {
			s = &snapshot.Snapshot{}
		}
		return snapshotMsg{snap: s, err: err, at: now()}
	})
}

// fetchRecent reads the latest events; only those after after go into
// the tail (a backfill skips what the tail had before a Follow ended:
// alerts seen live are worded otherwise in the streams Recent reads).
func (m *Model) fetchRecent(after time.Time) tea.Cmd {
	b := m.backend
	return m.call(func(ctx context.Context) tea.Msg {
		ev, err := b.Recent(ctx, recentEvents)
		return recentMsg{events: ev, err: err, after: after}
	})
}

// startFollow runs Backend.Follow in a goroutine that forwards events
// over a channel; waitFollow turns the next one into a message.
func (m *Model) startFollow() tea.Cmd {
	m.followGen++
	m.followLive = true
	gen, b, ctx := m.followGen, m.backend, m.ctx
	return func() tea.Msg {
		events := make(chan Event, 64)
		done := make(chan error, 1)
		go func() {
			done <- b.Follow(ctx, func(e Event) {
				select {
				case events <- e:
				case <-ctx.Done():
				}
			})
		}()
		return followStartedMsg{gen: gen, events: events, done: done}
	}
}

func waitFollow(gen int, events <-chan Event, done <-chan error) tea.Cmd {
	return func() tea.Msg {
		select {
		case e := <-events:
			return eventMsg{gen: gen, event: e, events: events, done: done}
		case err := <-done:
			// events sent before Follow returned come first
			select {
			case e := <-events:
				// put the end back for the next wait
				ch := make(chan error, 1)
				ch <- err
				return eventMsg{gen: gen, event: e, events: events, done: ch}
			default:
			}
			return followEndedMsg{gen: gen, err: err}
		}
	}
}

func (m *Model) onFollow(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case followStartedMsg:
		if msg.gen != m.followGen {
			return nil
		}
		m.followSince = m.opts.Now()
		if msg.gen > 1 {
			// a re-follow: what happened while none ran comes from Recent
			return tea.Batch(waitFollow(msg.gen, msg.events, msg.done), m.fetchRecent(m.backfillAfter))
		}
		return waitFollow(msg.gen, msg.events, msg.done)
	case eventMsg:
		if msg.gen != m.followGen {
			return nil
		}
		m.followWait = 0
		if !m.seen(msg.event) {
			m.events = append(m.events, msg.event)
			m.trimEvents()
		}
		cmds := []tea.Cmd{waitFollow(msg.gen, msg.events, msg.done)}
		if !m.early {
			m.early = true
			cmds = append(cmds, m.after(eventDebounce, earlyRefreshMsg{}))
		}
		return tea.Batch(cmds...)
	case followEndedMsg:
		if msg.gen != m.followGen || m.ctx.Err() != nil {
			return nil
		}
		m.followLive = false
		if n := len(m.events); n > 0 {
			m.backfillAfter = m.events[n-1].At // the tail is in time order
		}
		if m.opts.Now().Sub(m.followSince) >= followMaxWait {
			m.followWait = 0 // it ran well for a while: a new failure, not the old one
		}
		m.followWait = min(max(2*m.followWait, followMinWait), followMaxWait)
		return m.after(m.followWait, followRetryMsg{gen: msg.gen})
	case followRetryMsg:
		if msg.gen != m.followGen || m.ctx.Err() != nil {
			return nil
		}
		return m.startFollow()
	}
	return nil
}

func (m *Model) do(a Action) tea.Cmd {
	b := m.backend
	return m.call(func(ctx context.Context) tea.Msg {
		text, err := b.Do(ctx, a)
		return actionMsg{action: a, text: text, err: err}
	})
}

// seen is whether e is among the latest events already in the tail: the
// Recent read at start and a Follow just started may both deliver it.
func (m *Model) seen(e Event) bool {
	for i := len(m.events) - 1; i >= max(len(m.events)-recentEvents, 0); i-- {
		if sameEvent(m.events[i], e) {
			return true
		}
	}
	return false
}

func sameEvent(a, b Event) bool {
	return a.At.Equal(b.At) && a.Kind == b.Kind && a.Subject == b.Subject && a.Text == b.Text
}
