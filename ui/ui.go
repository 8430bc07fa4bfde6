// Package ui is the terminal interface of mmls-chat (bubbletea, lipgloss,
// bubbles). It drives the engine through its small interface (input lines
// in, events out) and never touches sockets or MLS state.
//
// Output rule: while the interface runs, it alone writes to the terminal;
// everything else goes to the log file main sets up.
package ui

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/help"
	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/bubbles/textarea"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"

	"github.com/mmls-chat/mmls-chat/mmls"
)

// Engine is what the interface needs of the engine.
type Engine interface {
	Input(line string) bool
	Events() <-chan mmls.Event
}

// Options describe the node for the status bar.
type Options struct {
	MDNS string
	// Now is the clock for system lines (default time.Now); tests fix it.
	Now func() time.Time
}

// Model is the root model.
type Model struct {
	eng   Engine
	opts  Options
	keys  KeyMap
	st    Styles
	help  help.Model
	input textarea.Model

	width, height int
	me, myID      string
	listen        string

	rooms   []string
	current string
	views   map[string]*roomView
	peers   map[string]*peer
	sent    map[string]*delivery

	alert    string
	fullHelp bool
	ringing  bool   // a bell is due: the next frame carries a BEL
	switchTo string // a room the user asked for, switched to when joined
}

type roomView struct {
	lines   []line
	unread  int
	scroll  int // lines scrolled up from the bottom
	members []mmls.MemberView
}

type line struct {
	at     time.Time
	id     string
	fromID string
	from   string
	text   string
	system bool
	mine   bool
}

type peer struct {
	nick   string
	online bool
}

type delivery struct {
	total int
	acked map[string]bool
}

// Messages of the model.
type (
	eventMsg   mmls.Event
	closedMsg  struct{}
	bellMsg    struct{}
	bellOffMsg struct{}
)

// New returns the model for eng.
func New(eng Engine, opts Options) Model {
	in := textarea.New()
	in.Placeholder = "Write a message, or /help"
	in.ShowLineNumbers = false
	in.Prompt = "› "
	in.SetHeight(2)
	in.CharLimit = 16 << 10
	in.KeyMap.InsertNewline = key.NewBinding(key.WithKeys("alt+enter"))
	in.Focus()
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return Model{
		eng: eng, opts: opts, keys: DefaultKeyMap(), st: DefaultStyles(), help: help.New(), input: in,
		views: map[string]*roomView{}, peers: map[string]*peer{}, sent: map[string]*delivery{},
	}
}

// Init starts listening to the engine.
func (m Model) Init() tea.Cmd { return tea.Batch(textarea.Blink, waitForEventCmd(m.eng.Events())) }

// waitForEventCmd delivers the next engine event; Update re-arms it.
func waitForEventCmd(ch <-chan mmls.Event) tea.Cmd {
	return func() tea.Msg {
		e, ok := <-ch
		if !ok {
			return closedMsg{}
		}
		return eventMsg(e)
	}
}

// inputCmd hands a line to the engine (it may block briefly: I/O belongs
// in a Cmd).
func inputCmd(eng Engine, line string) tea.Cmd {
	return func() tea.Msg {
		eng.Input(line)
		return nil
	}
}

func bellCmd() tea.Msg { return bellMsg{} }

// Update handles keys, mouse, sizes and engine events.
func (m Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.width, m.height = msg.Width, msg.Height
		m.input.SetWidth(max(10, msg.Width-2))
		m.help.Width = msg.Width
		return m, nil
	case tea.MouseMsg:
		switch msg.Button {
		case tea.MouseButtonWheelUp:
			m.scroll(3)
		case tea.MouseButtonWheelDown:
			m.scroll(-3)
		}
		return m, nil
	case tea.KeyMsg:
		return m.onKey(msg)
	case eventMsg:
		cmds := []tea.Cmd{waitForEventCmd(m.eng.Events())}
		cmds = append(cmds, m.onEvent(mmls.Event(msg))...)
		return m, tea.Batch(cmds...)
	case closedMsg:
		return m, tea.Quit
	case bellMsg:
		// bubbletea has no bell and prints nothing above an alternate
		// screen: the next frame carries a BEL, and a tick removes it.
		m.ringing = true
		return m, tea.Tick(200*time.Millisecond, func(time.Time) tea.Msg { return bellOffMsg{} })
	case bellOffMsg:
		m.ringing = false
		return m, nil
	}
	var cmd tea.Cmd
	m.input, cmd = m.input.Update(msg)
	return m, cmd
}

func (m Model) onKey(msg tea.KeyMsg) (tea.Model, tea.Cmd) {
	switch {
	case key.Matches(msg, m.keys.Dismiss):
		m.alert = ""
		return m, nil
	case key.Matches(msg, m.keys.Quit):
		return m, tea.Quit
	case key.Matches(msg, m.keys.Send):
		text := strings.TrimSpace(m.input.Value())
		m.input.Reset()
		if text == "" {
			return m, nil
		}
		if text == "/quit" || text == "/exit" {
			return m, tea.Quit
		}
		if name, ok := strings.CutPrefix(text, "/join "); ok {
			m.switchTo = strings.TrimSpace(name)
		}
		if v := m.view(m.current); v != nil {
			v.scroll = 0
		}
		return m, inputCmd(m.eng, text)
	case key.Matches(msg, m.keys.PageUp):
		m.scroll(max(1, m.bodyHeight()-2))
		return m, nil
	case key.Matches(msg, m.keys.PageDown):
		m.scroll(-max(1, m.bodyHeight()-2))
		return m, nil
	case key.Matches(msg, m.keys.NextRoom), key.Matches(msg, m.keys.PrevRoom):
		return m, m.cycleRoom(key.Matches(msg, m.keys.NextRoom))
	case key.Matches(msg, m.keys.Complete):
		m.input.SetValue(m.complete(m.input.Value()))
		m.input.CursorEnd()
		return m, nil
	case key.Matches(msg, m.keys.Help) && m.input.Value() == "":
		m.fullHelp = !m.fullHelp
		return m, nil
	}
	var cmd tea.Cmd
	m.input, cmd = m.input.Update(msg)
	return m, cmd
}

func (m *Model) view(room string) *roomView {
	if room == "" {
		return nil
	}
	v := m.views[room]
	if v == nil {
		v = &roomView{}
		m.views[room] = v
	}
	return v
}

func (m *Model) scroll(n int) {
	if v := m.view(m.current); v != nil {
		v.scroll = min(max(0, v.scroll+n), max(0, len(v.lines)-1))
	}
}

// cycleRoom moves to the next or previous room, and tells the engine.
func (m *Model) cycleRoom(next bool) tea.Cmd {
	if len(m.rooms) < 2 {
		return nil
	}
	i := max(0, indexOf(m.rooms, m.current))
	if next {
		i = (i + 1) % len(m.rooms)
	} else {
		i = (i - 1 + len(m.rooms)) % len(m.rooms)
	}
	m.setCurrent(m.rooms[i])
	return tea.Batch(inputCmd(m.eng, "/switch "+m.current), inputCmd(m.eng, "/who "+m.current))
}

func (m *Model) setCurrent(room string) {
	m.current = room
	if v := m.view(room); v != nil {
		v.unread = 0
	}
}

// indexOf returns s's index in list, or -1.
func indexOf(list []string, s string) int {
	for i, x := range list {
		if x == s {
			return i
		}
	}
	return -1
}

// complete completes a command name, or the nick being typed.
func (m Model) complete(text string) string {
	if strings.HasPrefix(text, "/") && !strings.Contains(text, " ") {
		for _, c := range mmls.Commands {
			name := strings.Fields(c)[0]
			if strings.HasPrefix(name, text) && name != text {
				return name + " "
			}
		}
		return text
	}
	i := strings.LastIndexAny(text, " ") + 1
	word := strings.TrimPrefix(text[i:], "@")
	if word == "" {
		return text
	}
	var nicks []string
	for _, p := range m.peers {
		if strings.HasPrefix(strings.ToLower(p.nick), strings.ToLower(word)) {
			nicks = append(nicks, p.nick)
		}
	}
	if len(nicks) == 0 {
		return text
	}
	sort.Strings(nicks)
	suffix := " "
	if i == 0 {
		suffix = ": "
	}
	return text[:i] + nicks[0] + suffix
}

// ---- engine events ----

func (m *Model) system(room, format string, args ...any) {
	if room == "" {
		room = m.current
	}
	v := m.view(room)
	if v == nil {
		return
	}
	v.lines = append(v.lines, line{at: m.opts.Now(), system: true, text: fmt.Sprintf(format, args...)})
}

func (m *Model) addRoom(room string) {
	if indexOf(m.rooms, room) < 0 {
		m.rooms = append(m.rooms, room)
		sort.SliceStable(m.rooms, func(i, j int) bool {
			return strings.HasPrefix(m.rooms[j], "dm:") && !strings.HasPrefix(m.rooms[i], "dm:")
		})
	}
	m.view(room)
}

func (m *Model) onEvent(e mmls.Event) []tea.Cmd {
	var cmds []tea.Cmd
	switch e.Type {
	case "ready":
		m.me, m.myID, m.listen = e.Nick, e.ID, e.Listen
	case "joined":
		m.addRoom(e.Room)
		if m.current == "" || e.Room == m.switchTo {
			m.setCurrent(e.Room)
			m.switchTo = ""
		}
		cmds = append(cmds, inputCmd(m.eng, "/who "+e.Room))
	case "left":
		if i := indexOf(m.rooms, e.Room); i >= 0 {
			m.rooms = append(m.rooms[:i], m.rooms[i+1:]...)
		}
		delete(m.views, e.Room)
		if m.current == e.Room {
			m.current = ""
			if len(m.rooms) > 0 {
				m.setCurrent(m.rooms[0])
			}
		}
	case "history":
		v := m.view(e.Room)
		var old []line
		for _, h := range e.History {
			old = append(old, line{at: h.SentAt, id: h.ID, fromID: h.FromID, from: h.From, text: h.Text, mine: h.Mine})
		}
		v.lines = append(old, v.lines...)
	case "peer":
		p := m.peers[e.ID]
		if p == nil {
			p = &peer{}
			m.peers[e.ID] = p
		}
		p.nick, p.online = e.Nick, e.Status == "online"
		if m.current != "" {
			cmds = append(cmds, inputCmd(m.eng, "/who "+m.current))
		}
	case "member":
		if e.By == m.myID && e.ID != m.myID {
			m.system(e.Room, "%s %s (you reach them)", e.Nick, map[string]string{"added": "joined", "removed": "left", "rejoined": "came back"}[e.Change])
		}
		cmds = append(cmds, inputCmd(m.eng, "/who "+e.Room))
	case "message":
		v := m.view(e.Room)
		m.addRoom(e.Room)
		at := m.opts.Now()
		if e.SentAt != nil {
			at = *e.SentAt
		}
		v.lines = append(v.lines, line{at: at, id: e.ID, fromID: e.FromID, from: e.From, text: e.Text})
		if e.Room != m.current {
			v.unread++
		} else if v.scroll > 0 {
			v.scroll++ // keep the view where the reader left it
		}
		if strings.HasPrefix(e.Room, "dm:") || m.me != "" && strings.Contains(strings.ToLower(e.Text), strings.ToLower(m.me)) {
			cmds = append(cmds, bellCmd)
		}
	case "sent":
		v := m.view(e.Room)
		v.lines = append(v.lines, line{at: e.Time, id: e.ID, fromID: m.myID, from: m.me, text: e.Text, mine: true})
		m.sent[e.ID] = &delivery{total: e.Recipients, acked: map[string]bool{}}
	case "delivered":
		if d := m.sent[e.ID]; d != nil {
			d.acked[e.ToID] = true
		}
	case "removed":
		m.system(e.Room, "%s removed you from their send group: you no longer read them", e.By)
	case "invite":
		m.system(m.current, "%s invites you to %s — /join %s", e.From, e.Room, e.Room)
		cmds = append(cmds, bellCmd)
	case "invited":
		m.system(m.current, "invitation to %s sent to %s", e.Room, e.Nick)
	case "alert":
		m.alert = "⚠ " + e.Detail
		m.system(m.current, "security alert (%s): %s", e.Kind, e.Detail)
		cmds = append(cmds, bellCmd)
	case "error":
		m.system(m.current, "error: %s", e.Error)
	case "who":
		m.view(e.Room).members = e.Members
	case "verify":
		if e.Verified {
			m.system(m.current, "%s is verified ✔ (safety number %s)", e.Nick, e.SafetyNumber)
		} else {
			m.system(m.current, "safety number with %s: %s — compare it aloud; if it matches: /verify %s yes", e.Nick, e.SafetyNumber, e.Nick)
		}
		cmds = append(cmds, inputCmd(m.eng, "/who "+m.current))
	case "info":
		if i := e.Info; i != nil {
			m.system(m.current, "you are %s (%s) on %s, mDNS %s, %d peers online, data in %s", i.Nick, i.ID[:16], i.Listen, i.MDNS, i.Online, i.Data)
		}
	case "peers":
		var parts []string
		for _, p := range e.Peers {
			state := "offline"
			if p.Online {
				state = "online"
			}
			parts = append(parts, fmt.Sprintf("%s (%s, %s)", p.Nick, p.Addr, state))
		}
		m.system(m.current, "peers: %s", strings.Join(parts, "; "))
	case "rooms":
		var parts []string
		for _, r := range e.Rooms {
			parts = append(parts, fmt.Sprintf("%s (%d)", m.roomTitle(r.Name), r.Members))
		}
		m.system(m.current, "rooms: %s", strings.Join(parts, ", "))
	case "help":
		for _, c := range e.Commands {
			m.system(m.current, "%s", c)
		}
	case "nick":
		m.system(m.current, "nick will be %s %s", e.Nick, e.Detail)
	case "update":
		m.system(e.Room, "keys refreshed")
	}
	return cmds
}

// roomTitle shows a direct room as @nick.
func (m Model) roomTitle(room string) string {
	rest, ok := strings.CutPrefix(room, "dm:")
	if !ok {
		return "#" + room
	}
	for _, id := range strings.Split(rest, ":") {
		if id != m.myID {
			if p := m.peers[id]; p != nil && p.nick != "" {
				return "@" + p.nick
			}
			if len(id) >= 8 {
				return "@" + id[:8]
			}
		}
	}
	return "@?"
}

// ---- view ----

const panelWidth = 24

func (m Model) bodyHeight() int {
	h := m.height - 1 - m.input.Height() - 1 - 1 // status, input, help line, separator
	if m.alert != "" {
		h--
	}
	if m.fullHelp {
		h -= 4
	}
	return max(1, h)
}

// View renders the screen; the message view renders only visible lines.
func (m Model) View() string {
	if m.width == 0 {
		return "starting…"
	}
	var b strings.Builder
	b.WriteString(m.statusBar())
	if m.ringing {
		b.WriteByte('\a')
	}
	b.WriteByte('\n')
	if m.alert != "" {
		b.WriteString(m.st.Alert.Width(m.width).Render(truncate(m.alert, m.width-2)))
		b.WriteByte('\n')
	}
	h := m.bodyHeight()
	panel := m.st.Panel.Width(panelWidth).Height(h).Render(m.sidePanel(h))
	msgs := lipgloss.NewStyle().Width(max(10, m.width-panelWidth-3)).Height(h).Render(m.messages(max(10, m.width-panelWidth-3), h))
	b.WriteString(lipgloss.JoinHorizontal(lipgloss.Top, panel, msgs))
	b.WriteByte('\n')
	b.WriteString(m.input.View())
	b.WriteByte('\n')
	if m.fullHelp {
		b.WriteString(m.help.FullHelpView(m.keys.FullHelp()))
	} else {
		b.WriteString(m.help.ShortHelpView(m.keys.ShortHelp()))
	}
	return b.String()
}

func (m Model) statusBar() string {
	online := 0
	for _, p := range m.peers {
		if p.online {
			online++
		}
	}
	short := m.myID
	if len(short) > 8 {
		short = short[:8]
	}
	room := ""
	if m.current != "" {
		room = m.roomTitle(m.current)
	}
	left := fmt.Sprintf("%s (%s)  %s", m.me, short, room)
	right := fmt.Sprintf("%s · mDNS %s · %d online", m.listen, m.opts.MDNS, online)
	gap := max(1, m.width-lipgloss.Width(left)-lipgloss.Width(right)-2)
	return m.st.Status.Width(m.width).Render(truncate(left+strings.Repeat(" ", gap)+right, m.width-2))
}

func (m Model) sidePanel(h int) string {
	var lines []string
	lines = append(lines, m.st.PanelTitle.Render("Rooms"))
	for _, r := range m.rooms {
		title := truncate(m.roomTitle(r), panelWidth-5)
		style := m.st.Room
		if r == m.current {
			style = m.st.RoomCurrent
		}
		entry := style.Render(title)
		if v := m.views[r]; v != nil && v.unread > 0 {
			entry += " " + m.st.Unread.Render(fmt.Sprint(v.unread))
		}
		lines = append(lines, entry)
	}
	lines = append(lines, "", m.st.PanelTitle.Render("Members"))
	if v := m.views[m.current]; v != nil {
		for _, mv := range v.members {
			// ⇄ both ways, → only we reach them, ← only they reach us.
			arrow := "⇄"
			switch {
			case mv.WeReach && !mv.TheyReach:
				arrow = "→"
			case !mv.WeReach && mv.TheyReach:
				arrow = "←"
			}
			dot := m.st.Pending.Render("○")
			if mv.Online {
				dot = m.st.Check.Render("●")
			}
			mark := ""
			if mv.Verified {
				mark = " " + m.st.Verified.Render("✔")
			}
			lines = append(lines, fmt.Sprintf("%s %s %s%s", dot, arrow, m.st.Nick(mv.ID, truncate(mv.Nick, panelWidth-8)), mark))
		}
	}
	if len(lines) > h {
		lines = lines[:h]
	}
	return strings.Join(lines, "\n")
}

// messages renders the last h screen lines of the current room, walking
// back from the bottom: only what is visible is rendered.
func (m Model) messages(w, h int) string {
	v := m.views[m.current]
	if v == nil {
		return m.st.System.Render("no room: /join one")
	}
	var out []string
	end := len(v.lines) - v.scroll
	for i := end - 1; i >= 0 && len(out) < h; i-- {
		rendered := strings.Split(lipgloss.NewStyle().Width(w).Render(m.renderLine(v.lines[i])), "\n")
		out = append(rendered, out...)
	}
	if len(out) > h {
		out = out[len(out)-h:]
	}
	if v.scroll > 0 && len(out) > 0 {
		out[len(out)-1] = m.st.System.Render(fmt.Sprintf("↓ %d newer lines (pgdn)", v.scroll))
	}
	return strings.Join(out, "\n")
}

func (m Model) renderLine(l line) string {
	ts := m.st.Time.Render(l.at.Local().Format("15:04"))
	if l.system {
		return ts + " " + m.st.System.Render(l.text)
	}
	text := l.text
	mark := ""
	if l.mine {
		mark = " " + m.deliveryMark(l.id)
	}
	return ts + " " + m.st.Nick(l.fromID, l.from) + " " + m.st.Text.Render(text) + mark
}

// deliveryMark is "n/m" until every recipient has stored the message,
// then a check.
func (m Model) deliveryMark(id string) string {
	d := m.sent[id]
	if d == nil {
		return ""
	}
	if d.total == 0 {
		return m.st.Pending.Render("·")
	}
	if len(d.acked) >= d.total {
		return m.st.Check.Render("✓")
	}
	return m.st.Pending.Render(fmt.Sprintf("%d/%d", len(d.acked), d.total))
}

func truncate(s string, n int) string {
	if n <= 1 || lipgloss.Width(s) <= n {
		return s
	}
	r := []rune(s)
	for len(r) > 0 && lipgloss.Width(string(r)) > n-1 {
		r = r[:len(r)-1]
	}
	return string(r) + "…"
}
