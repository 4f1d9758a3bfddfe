package dashboard

import (
	"slices"
	"strings"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"
)

// readOnlyNotice is what an action key says with --read-only.
const readOnlyNotice = "read-only: actions are off"

// dialog asks to confirm one action, with a reason when the CLI's verb
// takes one.
type dialog struct {
	action      Action
	needsReason bool
	reason      textinput.Model
	problem     string // why the last confirm was refused
}

func (m *Model) onKey(k tea.KeyPressMsg) tea.Cmd {
	keys := m.com.Keys
	if k.String() == "ctrl+c" {
		return m.quit()
	}
	if m.dialog != nil {
		return m.dialogKey(k)
	}
	if m.filtering {
		return m.filterKey(k)
	}
	if m.showHelp {
		switch {
		case key.Matches(k, keys.Quit):
			return m.quit()
		case key.Matches(k, keys.Help, keys.Back):
			m.showHelp = false
		}
		return nil
	}
	switch {
	case key.Matches(k, keys.Quit):
		return m.quit()
	case key.Matches(k, keys.Help):
		m.showHelp = true
		return nil
	case key.Matches(k, keys.StopAll):
		return m.ask(Action{Kind: StopAllChaos})
	}
	if m.detail != nil {
		return m.detailKey(k)
	}
	return m.mainKey(k)
}

func (m *Model) quit() tea.Cmd {
	m.cancel()
	return tea.Quit
}

func (m *Model) mainKey(k tea.KeyPressMsg) tea.Cmd {
	keys := m.com.Keys
	switch {
	case key.Matches(k, keys.Next):
		m.cycleFocus(1)
	case key.Matches(k, keys.Prev):
		m.cycleFocus(-1)
	case key.Matches(k, keys.Up):
		m.moveCursor(-1)
	case key.Matches(k, keys.Down):
		m.moveCursor(1)
	case key.Matches(k, keys.PageUp):
		m.moveCursor(-max(m.layout().rows[m.focus], 1))
	case key.Matches(k, keys.PageDown):
		m.moveCursor(max(m.layout().rows[m.focus], 1))
	case key.Matches(k, keys.Enter):
		return m.openDetail()
	case key.Matches(k, keys.Filter):
		m.filtering = true
		return m.filter.Focus()
	case key.Matches(k, keys.Back):
		if m.filter.Value() != "" {
			m.clearFilter()
		}
	default:
		return m.actionKey(k, m.focus, m.selectedName(m.focus))
	}
	return nil
}

func (m *Model) selectedName(p panel) string {
	i := m.selected(p)
	if i < 0 || m.snap == nil {
		return ""
	}
	switch p {
	case breakersPanel:
		return m.snap.Breakers[i].Name
	case queuesPanel:
		return m.snap.Queues[i].Queue
	case chaosPanel:
		return m.experiments()[i].ID
	}
	return ""
}

// actionKey opens the dialog for an action key on target (a breaker,
// queue or experiment, as p says).
func (m *Model) actionKey(k tea.KeyPressMsg, p panel, target string) tea.Cmd {
	keys := m.com.Keys
	kinds := []struct {
		b     key.Binding
		kind  ActionKind
		panel panel
		what  string
	}{
		{keys.Reset, ResetBreaker, breakersPanel, "a breaker"},
		{keys.Trip, TripBreaker, breakersPanel, "a breaker"},
		{keys.Disable, DisableBreaker, breakersPanel, "a breaker"},
		{keys.Enable, EnableBreaker, breakersPanel, "a breaker"},
		{keys.Pause, PauseQueue, queuesPanel, "a queue"},
		{keys.Resume, ResumeQueue, queuesPanel, "a queue"},
		{keys.Stop, StopExperiment, chaosPanel, "an experiment"},
		{keys.Retry, RetryDead, queuesPanel, "an operation in a queue's dead list"},
	}
	for _, c := range kinds {
		if !key.Matches(k, c.b) {
			continue
		}
		if m.readOnly {
			m.setNotice(readOnlyNotice, true)
			return nil
		}
		if c.kind == RetryDead || p != c.panel || target == "" {
			m.setNotice(c.b.Help().Desc+": select "+c.what+" first", true)
			return nil
		}
		return m.ask(Action{Kind: c.kind, Target: target})
	}
	return nil
}

func (m *Model) detailKey(k tea.KeyPressMsg) tea.Cmd {
	keys, d := m.com.Keys, m.detail
	if key.Matches(k, keys.Back) {
		m.detail = nil
		return nil
	}
	if d.kind == queuesPanel {
		switch {
		case key.Matches(k, keys.Next):
			return m.switchState(d.state + 1)
		case key.Matches(k, keys.Prev):
			return m.switchState(d.state - 1)
		case key.Matches(k, keys.States):
			return m.switchState(int(k.String()[0] - '1'))
		case key.Matches(k, keys.More), key.Matches(k, keys.PageDown):
			return m.nextPage()
		case key.Matches(k, keys.PrevPage):
			return m.prevPage()
		case key.Matches(k, keys.Up):
			m.moveSelection(-1)
			return nil
		case key.Matches(k, keys.Down):
			m.moveSelection(1)
			return nil
		case key.Matches(k, keys.Retry):
			if m.readOnly {
				m.setNotice(readOnlyNotice, true)
				return nil
			}
			op := d.selectedOp()
			if opStates[d.state] != "dead" || op == nil {
				m.setNotice("retry: select an operation in the dead list (key 4)", true)
				return nil
			}
			return m.ask(Action{Kind: RetryDead, Target: d.name, ID: op.ID})
		}
	}
	switch {
	case key.Matches(k, keys.Up):
		d.vp.ScrollUp(1)
	case key.Matches(k, keys.Down):
		d.vp.ScrollDown(1)
	case key.Matches(k, keys.PageUp):
		d.vp.PageUp()
	case key.Matches(k, keys.PageDown):
		d.vp.PageDown()
	default:
		return m.actionKey(k, d.kind, d.name)
	}
	return nil
}

func (m *Model) cycleFocus(delta int) {
	ps := m.panels()
	i := slices.Index(ps, m.focus)
	m.focus = ps[(i+delta+len(ps))%len(ps)]
}

func (m *Model) moveCursor(delta int) {
	p := m.focus
	m.cursor[p] = min(max(m.cursor[p]+delta, 0), max(len(m.vis[p])-1, 0))
	m.offset[p] = scrollOffset(m.offset[p], m.cursor[p], m.layout().rows[p], len(m.vis[p]))
}

func (m *Model) filterKey(k tea.KeyPressMsg) tea.Cmd {
	switch {
	case key.Matches(k, m.com.Keys.Back):
		m.filtering = false
		m.filter.Blur()
		m.clearFilter()
		return nil
	case k.String() == "enter":
		m.filtering = false
		m.filter.Blur()
		return nil
	}
	keep := m.selectedNames()
	var cmd tea.Cmd
	m.filter, cmd = m.filter.Update(k)
	m.refilter(keep)
	return cmd
}

func (m *Model) clearFilter() {
	keep := m.selectedNames()
	m.filter.SetValue("")
	m.refilter(keep)
}

// ask opens the confirmation dialog for a, or refuses with --read-only.
func (m *Model) ask(a Action) tea.Cmd {
	if m.readOnly {
		m.setNotice(readOnlyNotice, true)
		return nil
	}
	d := &dialog{action: a, needsReason: a.Kind.TakesReason()}
	m.dialog = d
	if d.needsReason {
		hint := "why (recorded with the action)"
		if !a.Kind.ReasonRequired() {
			hint = "why (optional; recorded with the action)"
		}
		d.reason = newInput("reason: ", hint)
		d.reason.SetWidth(40)
		return d.reason.Focus()
	}
	return nil
}

func (m *Model) dialogKey(k tea.KeyPressMsg) tea.Cmd {
	keys, d := m.com.Keys, m.dialog
	if d.needsReason {
		// letters go to the reason: only enter confirms, only esc cancels
		switch k.String() {
		case "esc":
			return m.cancelDialog()
		case "enter":
			reason := strings.TrimSpace(d.reason.Value())
			if reason == "" && d.action.Kind.ReasonRequired() {
				d.problem = "a reason is required"
				return nil
			}
			return m.confirm(reason)
		}
		var cmd tea.Cmd
		d.reason, cmd = d.reason.Update(k)
		d.problem = ""
		return cmd
	}
	switch {
	case key.Matches(k, keys.Confirm):
		return m.confirm("")
	case key.Matches(k, keys.Cancel):
		return m.cancelDialog()
	}
	return nil
}

func (m *Model) cancelDialog() tea.Cmd {
	m.setNotice("cancelled: "+describe(m.dialog.action), false)
	m.dialog = nil
	return nil
}

func (m *Model) confirm(reason string) tea.Cmd {
	a := m.dialog.action
	a.Reason = reason
	m.dialog = nil
	m.setNotice(describe(a)+"…", false)
	return m.do(a)
}

// describe names an action and its target.
func describe(a Action) string {
	switch a.Kind {
	case ResetBreaker:
		return "reset breaker " + a.Target
	case TripBreaker:
		return "trip breaker " + a.Target + " (forced open)"
	case DisableBreaker:
		return "disable breaker " + a.Target
	case EnableBreaker:
		return "enable breaker " + a.Target
	case PauseQueue:
		return "pause queue " + a.Target
	case ResumeQueue:
		return "resume queue " + a.Target
	case RetryDead:
		return "retry dead operation " + a.ID + " of queue " + a.Target
	case StopExperiment:
		return "stop experiment " + a.Target
	case StopAllChaos:
		return "stop all chaos experiments"
	}
	return string(a.Kind) + " " + a.Target
}
