package dashboard

import (
	"context"

	"charm.land/bubbles/v2/viewport"
	tea "charm.land/bubbletea/v2"
	"github.com/haderos/haderctl/internal/engine/chaos"
	"github.com/haderos/haderctl/internal/engine/queue"
)

// opStates are the queue drill-down's tabs, in key order 1-4.
var opStates = []string{"ready", "delayed", "inflight", "dead"}

const (
	breakerEventsShown = 100
	serviceChecksShown = 100
	auditShown         = 100
)

// detail is a drill-down: one breaker, queue, service or experiment.
type detail struct {
	kind    panel
	name    string // breaker, queue or service name; experiment id
	seq     int    // the request whose answer counts
	loading bool
	err     error
	vp      viewport.Model

	breaker    BreakerDetail
	service    ServiceDetail
	experiment chaos.ExperimentStatus
	// ended: the experiment is in no snapshot since (stopped or over)
	ended bool
	audit []chaos.AuditEntry

	// the queue's operations in one state, one server-side page
	state int
	page  string   // the cursor that read this page ("" first)
	stack []string // the cursors of the pages before it
	next  string   // "" at the end
	ops   []*queue.Operation
	sel   int
}

// openDetail drills into the item under the focused panel's cursor.
func (m *Model) openDetail() tea.Cmd {
	i := m.selected(m.focus)
	if i < 0 || m.snap == nil {
		return nil
	}
	d := &detail{kind: m.focus}
	switch m.focus {
	case breakersPanel:
		d.name = m.snap.Breakers[i].Name
	case queuesPanel:
		d.name = m.snap.Queues[i].Queue
	case healthPanel:
		d.name = m.snap.Services[i].Service
	case chaosPanel:
		d.experiment = m.experiments()[i]
		d.name = d.experiment.ID
	default:
		return nil // the gateway's routes have no drill-down
	}
	d.vp = viewport.New()
	m.detail = d
	m.sizeDetail()
	return m.loadDetail()
}

// followExperiment keeps an open experiment drill-down on the latest
// snapshot: its countdown and impact as they are now, and ended once the
// experiment is gone from the snapshot (stopped, or over).
func (m *Model) followExperiment() {
	d := m.detail
	if d == nil || d.kind != chaosPanel {
		return
	}
	for _, e := range m.exps {
		if e.ID == d.name {
			d.experiment, d.ended = e, false
			m.fillDetail()
			return
		}
	}
	d.ended = true
	m.fillDetail()
}

// sizeDetail fits the viewport to the body.
func (m *Model) sizeDetail() {
	if m.detail == nil {
		return
	}
	l := m.layout()
	h := l.body - 1 // the drill-down's title
	if m.detail.kind == queuesPanel {
		h-- // the state tabs
	}
	m.detail.vp.SetWidth(max(m.com.Width, 1))
	m.detail.vp.SetHeight(max(h, 1))
	m.fillDetail()
}

// pageSize is how many operations one page reads: a screenful.
func (m *Model) pageSize() int64 {
	if m.detail == nil {
		return 20
	}
	return int64(max(m.detail.vp.Height()-1, 5))
}

// loadDetail reads the drill-down's data: the user asked (it says
// "loading…" and paging waits for it), or quietly, to follow a refresh.
func (m *Model) loadDetail() tea.Cmd { return m.readDetail(false) }

func (m *Model) readDetail(quiet bool) tea.Cmd {
	d := m.detail
	if d == nil {
		return nil
	}
	m.detailSeq++
	d.seq = m.detailSeq
	if !quiet {
		d.loading = true
	}
	seq, name, b := d.seq, d.name, m.backend
	switch d.kind {
	case breakersPanel:
		return m.call(func(ctx context.Context) tea.Msg {
			bd, err := b.BreakerDetail(ctx, name, breakerEventsShown)
			return breakerDetailMsg{seq: seq, detail: bd, err: err}
		})
	case queuesPanel:
		state, cursor, n := opStates[d.state], d.page, m.pageSize()
		return m.call(func(ctx context.Context) tea.Msg {
			ops, next, err := b.QueueOps(ctx, name, state, cursor, n)
			return queueOpsMsg{seq: seq, ops: ops, next: next, err: err, cursor: cursor}
		})
	case healthPanel:
		return m.call(func(ctx context.Context) tea.Msg {
			sd, err := b.ServiceChecks(ctx, name, serviceChecksShown)
			return serviceDetailMsg{seq: seq, detail: sd, err: err}
		})
	case chaosPanel:
		return m.call(func(ctx context.Context) tea.Msg {
			a, err := b.ExperimentAudit(ctx, name, auditShown)
			return auditMsg{seq: seq, entries: a, err: err}
		})
	}
	return nil
}

func (m *Model) onDetail(msg tea.Msg) {
	d := m.detail
	if d == nil {
		return
	}
	var seq int
	var err error
	switch msg := msg.(type) {
	case breakerDetailMsg:
		seq, err = msg.seq, msg.err
		if seq == d.seq && err == nil {
			d.breaker = msg.detail
		}
	case queueOpsMsg:
		seq, err = msg.seq, msg.err
		if seq == d.seq && err == nil {
			d.ops, d.next = msg.ops, msg.next
			d.sel = min(d.sel, max(len(d.ops)-1, 0))
		}
	case serviceDetailMsg:
		seq, err = msg.seq, msg.err
		if seq == d.seq && err == nil {
			d.service = msg.detail
		}
	case auditMsg:
		seq, err = msg.seq, msg.err
		if seq == d.seq && err == nil {
			d.audit = msg.entries
		}
	}
	if seq != d.seq {
		return // an answer to an earlier request
	}
	d.loading, d.err = false, err
	m.fillDetail()
}

// switchState shows the first page of another state.
func (m *Model) switchState(s int) tea.Cmd {
	d := m.detail
	d.state = (s + len(opStates)) % len(opStates)
	d.page, d.stack, d.next, d.ops, d.sel = "", nil, "", nil, 0
	d.vp.GotoTop()
	return m.loadDetail()
}

// nextPage reads the page after this one, remembering this one's cursor.
func (m *Model) nextPage() tea.Cmd {
	d := m.detail
	if d.next == "" || d.loading {
		return nil
	}
	d.stack = append(d.stack, d.page)
	d.page, d.sel = d.next, 0
	d.vp.GotoTop()
	return m.loadDetail()
}

// prevPage reads the page before this one again.
func (m *Model) prevPage() tea.Cmd {
	d := m.detail
	if len(d.stack) == 0 || d.loading {
		return nil
	}
	d.page, d.stack = d.stack[len(d.stack)-1], d.stack[:len(d.stack)-1]
	d.sel = 0
	d.vp.GotoTop()
	return m.loadDetail()
}

// moveSelection moves the selected operation, keeping it on screen.
func (m *Model) moveSelection(delta int) {
	d := m.detail
	d.sel = min(max(d.sel+delta, 0), max(len(d.ops)-1, 0))
	m.fillDetail()
	// line 0 is the grid's header
	d.vp.EnsureVisible(d.sel+1, 0, 0)
}

func (d *detail) selectedOp() *queue.Operation {
	if d.sel < len(d.ops) {
		return d.ops[d.sel]
	}
	return nil
}
