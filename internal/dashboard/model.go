package dashboard

import (
	"context"
	"slices"
	"strings"
	"time"

	"charm.land/bubbles/v2/help"
	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"
	"github.com/haderos/haderctl/internal/engine/breaker"
	"github.com/haderos/haderctl/internal/engine/chaos"
	"github.com/haderos/haderctl/internal/engine/snapshot"
	"github.com/haderos/haderctl/internal/redact"
	"github.com/haderos/haderctl/internal/tui"
)

// Options are the dashboard's settings.
type Options struct {
	// Refresh is the time between the end of one snapshot read and the
	// start of the next. Zero means 1 s.
	Refresh time.Duration
	// ReadOnly offers no action: an action key only says so.
	ReadOnly bool
	// Profile is the output's colour profile (tui.ColorProfile decides
	// it); the views read the same in Ascii, every state in words. The
	// zero value (Unknown) leaves it to bubbletea's own detection.
	Profile colorprofile.Profile
	// Now is the clock for ages and countdowns between refreshes. Nil
	// means time.Now.
	Now func() time.Time
}

const (
	defaultRefresh = time.Second
	// callTimeout bounds every Backend call but Follow.
	callTimeout = 5 * time.Second
	// eventDebounce gathers a burst of events into one early refresh.
	eventDebounce = 200 * time.Millisecond
	recentEvents  = 50
	keepEvents    = 200
	depthHistory  = 60
	followMinWait = 500 * time.Millisecond
	followMaxWait = 30 * time.Second
)

// panel is one section of the main screen.
type panel int

const (
	breakersPanel panel = iota
	queuesPanel
	healthPanel
	chaosPanel
	gatewayPanel
	numPanels
)

var panelNames = [numPanels]string{"BREAKERS", "QUEUES", "HEALTH", "CHAOS", "GATEWAY"}

// Model is the dashboard's bubbletea model. Every Backend call runs in a
// tea.Cmd and comes back as a typed message; Update never waits on Redis.
type Model struct {
	backend  Backend
	opts     Options
	info     Info
	readOnly bool
	com      *tui.Common
	ctx      context.Context
	cancel   context.CancelFunc
	// after schedules msg after d (tea.Tick; tests record instead).
	after func(d time.Duration, msg tea.Msg) tea.Cmd

	snap     *snapshot.Snapshot
	snapAt   time.Time // Now when the last good snapshot arrived
	fetchErr error     // the last read's error, nil after a success
	fetching bool      // a read is in flight: never two
	again    bool      // something asked for a read while one was in flight
	tickSeq  int       // the scheduled refresh that counts; older ones are dropped
	early    bool      // an early refresh after an event is armed

	exps      []chaos.ExperimentStatus // the chaos panel's rows
	summary   [numPanels]string        // each panel's title summary of the snapshot
	grids     [numPanels]gridMemo      // each panel's last grid, reused while its inputs stay
	reporters bool                     // a breaker has min_reporters above 1

	depth  map[string][]float64 // queue depth per refresh, oldest first
	events []Event              // the events tail, oldest first

	followGen  int
	followWait time.Duration
	followLive bool // a Follow of followGen is started and has not ended
	// followSince is when the running Follow started (Options.Now)
	followSince time.Time

	// backfillAfter is the newest event in the tail when a Follow last
	// ended: the re-follow's Recent read adds only what is newer
	backfillAfter time.Time

	focus  panel
	cursor [numPanels]int
	offset [numPanels]int
	vis    [numPanels][]int // indices of the items the filter lets through

	filtering bool
	filter    textinput.Model
	showHelp  bool
	help      help.Model

	detail    *detail
	detailSeq int
	dialog    *dialog

	notice    string
	noticeBad bool
}

// New returns the model over b.
func New(b Backend, o Options) *Model {
	if o.Refresh <= 0 {
		o.Refresh = defaultRefresh
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	m := &Model{backend: b, opts: o, info: b.Info(), com: tui.NewCommon(o.Profile), depth: map[string][]float64{}}
	m.readOnly = o.ReadOnly || m.info.ReadOnly
	m.ctx, m.cancel = context.WithCancel(context.Background())
	m.after = func(d time.Duration, msg tea.Msg) tea.Cmd {
		return tea.Tick(d, func(time.Time) tea.Msg { return msg })
	}
	m.filter = newInput("/ ", "name")
	m.help = help.New()
	st := m.com.Styles
	m.help.Styles.FullKey, m.help.Styles.ShortKey = st.HelpKey, st.HelpKey
	m.help.Styles.FullDesc, m.help.Styles.ShortDesc = st.HelpDesc, st.HelpDesc
	m.help.Styles.FullSeparator, m.help.Styles.ShortSeparator = st.Muted, st.Muted
	return m
}

func newInput(prompt, placeholder string) textinput.Model {
	ti := textinput.New()
	ti.Prompt = prompt
	ti.Placeholder = placeholder
	s := textinput.DefaultDarkStyles()
	s.Cursor.Blink = false // a steady cursor: no timer, stable golden files
	ti.SetStyles(s)
	return ti
}

// withContext makes the model's calls end with ctx.
func (m *Model) withContext(ctx context.Context) {
	m.cancel()
	m.ctx, m.cancel = context.WithCancel(ctx)
}

// Init starts the first read, the events tail and the follow.
func (m *Model) Init() tea.Cmd {
	m.fetching = true
	return tea.Batch(m.fetchSnapshot(), m.fetchRecent(time.Time{}), m.startFollow())
}

// Update handles one message.
func (m *Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.com.Width, m.com.Height = msg.Width, msg.Height
		m.help.SetWidth(msg.Width)
		m.sizeDetail()
		m.clampAll()
		return m, nil
	case snapshotMsg:
		return m, m.onSnapshot(msg)
	case refreshMsg:
		if msg.seq != m.tickSeq {
			return m, nil // a refresh superseded by a later schedule
		}
		return m, m.refresh()
	case earlyRefreshMsg:
		m.early = false
		return m, m.refresh()
	case recentMsg:
		if msg.err == nil {
			m.mergeEvents(msg.events, msg.after)
		}
		return m, nil
	case followStartedMsg, eventMsg, followEndedMsg, followRetryMsg:
		return m, m.onFollow(msg)
	case breakerDetailMsg, queueOpsMsg, serviceDetailMsg, auditMsg:
		m.onDetail(msg)
		return m, nil
	case actionMsg:
		if msg.err != nil {
			m.setNotice(describe(msg.action)+" failed: "+firstLine(msg.err.Error()), true)
		} else {
			m.setNotice(msg.text, false)
		}
		// a read in flight may predate the action: refresh runs another
		// after it; an open drill-down reloads with the result
		return m, m.refresh()
	case tea.KeyPressMsg:
		return m, m.onKey(msg)
	}
	return m, m.updateInputs(msg)
}

// updateInputs passes other messages (a cursor's) to the text inputs.
func (m *Model) updateInputs(msg tea.Msg) tea.Cmd {
	var cmds []tea.Cmd
	var cmd tea.Cmd
	if m.filtering {
		m.filter, cmd = m.filter.Update(msg)
		cmds = append(cmds, cmd)
	}
	if m.dialog != nil && m.dialog.needsReason {
		m.dialog.reason, cmd = m.dialog.reason.Update(msg)
		cmds = append(cmds, cmd)
	}
	return tea.Batch(cmds...)
}

func (m *Model) setNotice(s string, bad bool) { m.notice, m.noticeBad = s, bad }

// refresh starts a read unless one is in flight (it then runs right
// after that one).
func (m *Model) refresh() tea.Cmd {
	if m.fetching {
		m.again = true
		return nil
	}
	m.fetching = true
	return m.fetchSnapshot()
}

func (m *Model) onSnapshot(msg snapshotMsg) tea.Cmd {
	m.fetching = false
	var refollow tea.Cmd
	if msg.err == nil && m.fetchErr != nil && !m.followLive && m.ctx.Err() == nil {
		// Redis answers again: follow now rather than after the backoff
		// the outage grew (up to followMaxWait of events not shown live)
		m.followWait = 0
		refollow = m.startFollow()
	}
	if msg.err != nil {
		m.fetchErr = msg.err
	} else {
		m.fetchErr = nil
		keep := m.selectedNames()
		m.snap, m.snapAt = msg.snap, msg.at
		m.listExperiments()
		m.followExperiment()
		m.recordDepth()
		m.summarize()
		m.refilter(keep)
	}
	var reload tea.Cmd
	if m.detail != nil && !m.detail.loading && msg.err == nil {
		reload = m.readDetail(true) // an open drill-down follows the refreshes
	}
	if m.again {
		m.again = false
		m.fetching = true
		return tea.Batch(refollow, reload, m.fetchSnapshot())
	}
	m.tickSeq++
	return tea.Batch(refollow, reload, m.after(m.opts.Refresh, refreshMsg{seq: m.tickSeq}))
}

func (m *Model) recordDepth() {
	seen := make(map[string]bool, len(m.snap.Queues))
	for _, q := range m.snap.Queues {
		seen[q.Queue] = true
		h := append(m.depth[q.Queue], float64(q.PendingTotal+q.Delayed+q.InFlight))
		if len(h) > depthHistory {
			h = h[len(h)-depthHistory:]
		}
		m.depth[q.Queue] = h
	}
	for q := range m.depth {
		if !seen[q] {
			delete(m.depth, q)
		}
	}
}

// mergeEvents adds a Recent read to the tail: the events after after
// that are not in it yet, in time order. At start it is the history before the first followed
// event; after a Follow ended, it fills what happened while none ran.
func (m *Model) mergeEvents(evs []Event, after time.Time) {
	n := len(m.events)
	for _, e := range evs {
		if e.At.After(after) && !slices.ContainsFunc(m.events[:n], func(o Event) bool { return sameEvent(o, e) }) {
			m.events = append(m.events, e)
		}
	}
	slices.SortStableFunc(m.events, func(a, b Event) int { return a.At.Compare(b.At) })
	m.trimEvents()
}

func (m *Model) trimEvents() {
	if len(m.events) > keepEvents {
		m.events = append([]Event(nil), m.events[len(m.events)-keepEvents:]...)
	}
}

// experiments are the chaos panel's rows: running, then scheduled.
func (m *Model) experiments() []chaos.ExperimentStatus { return m.exps }

func (m *Model) listExperiments() {
	m.exps = nil
	if m.snap == nil || m.snap.Chaos == nil {
		return
	}
	c := m.snap.Chaos
	m.exps = append(append(m.exps, c.Active...), c.Scheduled...)
}

// name is what the filter matches of item i of panel p (for an
// experiment: its id, kind and targets).
func (m *Model) name(p panel, i int) string {
	switch p {
	case breakersPanel:
		return m.snap.Breakers[i].Name
	case queuesPanel:
		return m.snap.Queues[i].Queue
	case healthPanel:
		return m.snap.Services[i].Service
	case chaosPanel:
		e := m.experiments()[i]
		return e.ID + " " + e.Kind + " " + strings.Join(e.Services, ",")
	case gatewayPanel:
		return m.snap.Routes[i].Route
	}
	return ""
}

func (m *Model) count(p panel) int {
	if m.snap == nil {
		return 0
	}
	switch p {
	case breakersPanel:
		return len(m.snap.Breakers)
	case queuesPanel:
		return len(m.snap.Queues)
	case healthPanel:
		return len(m.snap.Services)
	case chaosPanel:
		return len(m.experiments())
	case gatewayPanel:
		return len(m.snap.Routes)
	}
	return 0
}

// selectedNames are the names under the cursors.
func (m *Model) selectedNames() (names [numPanels]string) {
	for p := range numPanels {
		if i := m.selected(p); i >= 0 && i < m.count(p) {
			names[p] = m.name(p, i)
		}
	}
	return names
}

// refilter recomputes which items each panel shows, keeping each cursor
// on the item named in keep when that item is still shown.
func (m *Model) refilter(keep [numPanels]string) {
	f := strings.ToLower(strings.TrimSpace(m.filter.Value()))
	for p := range numPanels {
		was := keep[p]
		n := m.count(p)
		v := m.vis[p][:0]
		for i := range n {
			if f == "" || strings.Contains(strings.ToLower(m.name(p, i)), f) {
				v = append(v, i)
			}
		}
		m.worstFirst(p, v)
		m.vis[p] = v
		if was != "" {
			for j, i := range v {
				if m.name(p, i) == was {
					m.cursor[p] = j
					break
				}
			}
		}
	}
	if m.focus == gatewayPanel && m.count(gatewayPanel) == 0 {
		m.focus = breakersPanel
	}
	m.clampAll()
}

// worstFirst orders a panel's shown items by how much they need on-call:
// breakers open or corrupt, then half-open, then forced open, then the
// rest; services down, then never checked, then up. Within a rank the
// snapshot's name order stays (a stable sort), so with 1,000 breakers the
// open ones are on screen, not wherever their names fall.
func (m *Model) worstFirst(p panel, v []int) {
	var rank func(i int) int
	switch p {
	case breakersPanel:
		rank = func(i int) int {
			switch m.snap.Breakers[i].State {
			case breaker.Open, breaker.Corrupt:
				return 0
			case breaker.HalfOpen:
				return 1
			case breaker.ForcedOpen:
				return 2
			}
			return 3
		}
	case healthPanel:
		rank = func(i int) int {
			switch st := m.snap.Services[i]; {
			case st.Healthy:
				return 2
			case st.Status == "unknown":
				return 1
			}
			return 0
		}
	default:
		return
	}
	slices.SortStableFunc(v, func(a, b int) int { return rank(a) - rank(b) })
}

func (m *Model) clampAll() {
	rows := m.layout().rows
	for p := range numPanels {
		m.cursor[p] = min(max(m.cursor[p], 0), max(len(m.vis[p])-1, 0))
		m.offset[p] = scrollOffset(m.offset[p], m.cursor[p], rows[p], len(m.vis[p]))
	}
}

// scrollOffset keeps cursor inside the window of rows starting at off.
func scrollOffset(off, cursor, rows, n int) int {
	if rows <= 0 {
		return 0
	}
	if cursor < off {
		off = cursor
	}
	if cursor >= off+rows {
		off = cursor - rows + 1
	}
	return min(max(off, 0), max(n-rows, 0))
}

// panels are the focusable panels now: the gateway only with routes.
func (m *Model) panels() []panel {
	ps := []panel{breakersPanel, queuesPanel, healthPanel, chaosPanel}
	if m.count(gatewayPanel) > 0 {
		ps = append(ps, gatewayPanel)
	}
	return ps
}

// selected is the index (into the snapshot's list) under panel p's
// cursor, or -1.
func (m *Model) selected(p panel) int {
	if c := m.cursor[p]; c < len(m.vis[p]) {
		return m.vis[p][c]
	}
	return -1
}

// firstLine is the first line of a message from the Backend, with the
// passwords and secret parameters of any URL in it masked: the Backend
// redacts, and this is the last line of defence on screen.
func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if !strings.Contains(s, "://") {
		return s
	}
	words := strings.Split(s, " ")
	for i, w := range words {
		start := strings.IndexFunc(w, func(r rune) bool { return r != '"' && r != '\'' && r != '(' && r != '<' })
		if start < 0 || !strings.Contains(w, "://") {
			continue
		}
		end := len(strings.TrimRight(w, "\"'),:;.>"))
		if end <= start {
			continue
		}
		u := w[start:end]
		if strings.HasPrefix(u, "http://") || strings.HasPrefix(u, "https://") {
			u = redact.HTTPURL(u)
		} else {
			u = redact.URL(u)
		}
		words[i] = w[:start] + u + w[end:]
	}
	return strings.Join(words, " ")
}
