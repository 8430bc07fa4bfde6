// Package ui is the terminal interface of mmls-chat (bubbletea, lipgloss,
// bubbles). It drives the engine through its small interface: typed
// commands in (one at a time, in order), events and answers out. It never
// touches sockets or MLS state. Which room is on screen is this package's
// state alone: every line typed is sent to the room the header shows.
//
// Output rule: while the interface runs, it alone writes to the terminal;
// everything else goes to the log file main sets up.
package ui

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/help"
	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/bubbles/progress"
	"github.com/charmbracelet/bubbles/textarea"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/rivo/uniseg"

	"github.com/mmls-chat/mmls-chat/mmls"
)

// Engine is what the interface needs of the engine.
type Engine interface {
	Do(ctx context.Context, c mmls.Command) (mmls.Event, error)
	Events() <-chan mmls.Event
	DirectPeer(room string) (mmls.ID, bool)
}

// Options describe the node for the status bar.
type Options struct {
	MDNS string
	// NoNotify turns desktop notifications off for this run (--no-notify).
	NoNotify bool
	// Now is the clock for system lines (default time.Now); tests fix it.
	Now func() time.Time
	// Unencrypted: the data directory is not encrypted (the user chose
	// no passphrase); the status bar says so.
	Unencrypted bool
}

// Model is the root model.
type Model struct {
	eng   Engine
	opts  Options
	keys  KeyMap
	st    Styles
	help  help.Model
	input textarea.Model
	// secret: /passphrase asks, on a masked line that replaces the input.
	secret *secretAsk

	width, height int
	me            string
	myID          mmls.ID
	listen        string
	addrs         []string // where others reach us (Ready)
	contacts      []string // the same as contact strings, our id @ each (Ready)

	rooms   []string
	private map[string]bool   // private rooms (only invited people get in)
	partner map[string]string // direct room -> the other person's last known nick
	// leftRooms: rooms taken off the screen since the last update, whose
	// last line read the engine is to keep (markRead).
	leftRooms []string
	// away: why we said we are away ("" when we are not).
	away string
	// topic: each room's topic, the latest /topic line seen in it.
	topic map[string]string
	// request: the direct rooms strangers opened that we have not
	// accepted (shown apart in the side panel).
	request map[string]bool
	// colours: whose nick has which colour (our own first).
	colours *Colours
	// removedMe: room and id of everyone who removed us (their departure
	// from our group that follows needs no second line).
	removedMe map[string]bool
	current   string // the room on screen: where typed lines go
	last      string // the room shown before it
	views     map[string]*roomView
	nowhere   roomView // what is said while we are in no room
	peers     map[mmls.ID]*peer
	sent      map[string]*delivery

	// Commands run one at a time, in order: busy while one is with the
	// engine, the rest wait in queue.
	busy  bool
	queue []job

	alert string
	tip   string // a one-off hint above the input (cleared by the next key)
	// confirmed: a text of more than confirmLines lines that Enter was
	// pressed on once; a second Enter on it unchanged sends it.
	confirmed string
	// quitAsked: when Ctrl+C on an empty line asked to press it again.
	quitAsked time.Time
	tab       *tabRound // the completions Tab cycles through
	fullHelp  bool
	// panelToggled flips the side panel from its default for the width
	// (shown from 80 columns, hidden below).
	panelToggled bool
	// transfers: files being fetched, by id, shown as progress bars
	// above the input.
	transfers map[string]*transfer
	bar       progress.Model
	// history: the lines sent this session, oldest first; histAt the
	// one the input shows (len(history): the line being written, kept in
	// draft meanwhile).
	history []string
	histAt  int
	draft   string
	ringing bool   // a bell is due: the next frame carries a BEL
	notify  bool   // desktop notifications are on
	notice  string // what the next ring notifies (OSC 777 and OSC 9)
}

// transfer is a file being fetched.
type transfer struct {
	name        string
	done, total int64
}

type roomView struct {
	lines  []line
	unread int
	// mentions: of the unread, how many name us or are direct; marker:
	// the index of the first line that was unread when the room came on
	// screen ("── new ──" above it), -1 for none.
	mentions int
	marker   int
	scroll   int // lines scrolled up from the bottom
	members  []mmls.MemberView
	// older: where the lines stored before the first one loaded start
	// (0: none); loading: they are asked for.
	older   uint64
	loading bool
	// read: the last message id kept as read (markRead).
	read string
}

type line struct {
	at     time.Time
	id     string
	fromID mmls.ID
	from   string
	text   string
	system bool
	mine   bool
	via    string // who handed it on (its author was away), if someone did
}

type peer struct {
	nick   string
	online bool
}

type delivery struct {
	total   int
	waiting int // of total, not linked with us when it was sent
	acked   map[mmls.ID]bool
}

// Messages of the model.
type (
	eventMsg   struct{ ev mmls.Event }
	closedMsg  struct{}
	bellMsg    struct{}
	bellOffMsg struct{}
	// quitExpiredMsg: the time for a second Ctrl+C is over.
	quitExpiredMsg struct{}
)

// New returns the model for eng.
func New(eng Engine, opts Options) Model {
	in := textarea.New()
	in.Placeholder = "Write a message, or /help"
	in.ShowLineNumbers = false
	in.Prompt = "› "
	in.SetHeight(2)
	// Long enough for any paste; submit splits what one message cannot
	// carry.
	in.CharLimit = 1 << 20
	in.KeyMap.InsertNewline = key.NewBinding(key.WithKeys("alt+enter"))
	in.Focus()
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return Model{
		eng: eng, opts: opts, keys: DefaultKeyMap(), st: DefaultStyles(), help: help.New(), input: in,
		views: map[string]*roomView{}, peers: map[mmls.ID]*peer{}, colours: NewColours(), request: map[string]bool{}, topic: map[string]string{}, sent: map[string]*delivery{}, private: map[string]bool{}, partner: map[string]string{}, removedMe: map[string]bool{},
		transfers: map[string]*transfer{}, bar: progress.New(progress.WithSolidFill("#5fafd7"), progress.WithoutPercentage()),
	}
}

// quitTip is what the first Ctrl+C on an empty line says.
const quitTip = "press Ctrl+C again to quit"

// Init starts listening to the engine.
func (m Model) Init() tea.Cmd { return tea.Batch(textarea.Blink, waitForEventCmd(m.eng.Events())) }

// waitForEventCmd delivers the next engine event; Update re-arms it.
func waitForEventCmd(ch <-chan mmls.Event) tea.Cmd {
	return func() tea.Msg {
		e, ok := <-ch
		if !ok {
			return closedMsg{}
		}
		return eventMsg{e}
	}
}

func bellCmd() tea.Msg { return bellMsg{} }

// notifyCmd rings the bell for a mention, a direct message or an
// invitation, and shows notice as a desktop notification, only with
// notifications on: /notify off and --no-notify silence the bell too (a
// security alert always rings).
func (m *Model) notifyCmd(notice string) tea.Cmd {
	if !m.notify {
		return nil
	}
	m.notice = notice
	return bellCmd
}

// quitWithin is how long a second Ctrl+C on an empty line has to quit.
const quitWithin = 3 * time.Second

// confirmLines: a text longer than this asks for a second Enter.
const confirmLines = 20

// Update handles keys, mouse, sizes, engine events and answers.
func (m Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	mm, cmd := m.update(msg)
	next := mm.(Model)
	if len(next.leftRooms) == 0 {
		return next, cmd
	}
	cmds := []tea.Cmd{cmd}
	for _, room := range next.leftRooms {
		cmds = append(cmds, next.markRead(room))
	}
	next.leftRooms = nil
	return next, tea.Batch(cmds...)
}

// markRead asks the engine to keep the last message of room as read: the
// next start counts what comes after it as unread.
func (m *Model) markRead(room string) tea.Cmd {
	v := m.views[room]
	if v == nil || !slices.Contains(m.rooms, room) {
		return nil
	}
	for i := len(v.lines) - 1; i >= 0; i-- {
		if l := v.lines[i]; !l.system && l.id != "" {
			if v.read == l.id {
				return nil // kept already
			}
			v.read = l.id
			return m.enqueue(job{cmd: mmls.MarkRead{Room: room, MsgID: l.id}})
		}
	}
	return nil
}

// quit marks the room on screen read, then ends the program.
func (m *Model) quit() tea.Cmd {
	if m.busy {
		return tea.Quit // a command is running: no waiting for it
	}
	if cmd := m.markRead(m.current); cmd != nil {
		return tea.Sequence(cmd, tea.Quit)
	}
	return tea.Quit
}

func (m Model) update(msg tea.Msg) (tea.Model, tea.Cmd) {
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
		if m.secret != nil {
			return m.onSecretKey(asText(msg))
		}
		return m.onKey(asText(msg))
	case eventMsg:
		cmds := append([]tea.Cmd{waitForEventCmd(m.eng.Events())}, m.onEvent(msg.ev)...)
		return m, tea.Batch(cmds...)
	case doneMsg:
		return m, m.onDone(msg)
	case closedMsg:
		return m, tea.Quit
	case bellMsg:
		// bubbletea has no bell and prints nothing above an alternate
		// screen: the next frame carries a BEL, and a tick removes it.
		m.ringing = true
		return m, tea.Tick(200*time.Millisecond, func(time.Time) tea.Msg { return bellOffMsg{} })
	case bellOffMsg:
		m.ringing, m.notice = false, ""
		return m, nil
	case quitExpiredMsg:
		if !m.quitAsked.IsZero() && m.opts.Now().Sub(m.quitAsked) >= quitWithin {
			m.quitAsked = time.Time{}
			if m.tip == quitTip {
				m.tip = ""
			}
		}
		return m, nil
	}
	var cmd tea.Cmd
	m.input, cmd = m.input.Update(msg)
	return m, cmd
}

// asText marks a chunk of runes as text, whatever it spells. What arrives
// in one read (a paste without bracketed paste, a script, a slow link)
// comes as one KeyRunes message per word, and key bindings match by name:
// the word "end" would move the cursor instead of being typed, "enter"
// would send the line, "ctrl+c" quit. Marked as pasted, it is inserted
// by the input and matches no binding (bubbletea shows a paste as
// "[...]"). Only one rune with Alt (Alt+1, Alt+A, Alt+B) is a key.
func asText(k tea.KeyMsg) tea.KeyMsg {
	if k.Type == tea.KeyRunes && !(k.Alt && len(k.Runes) == 1) {
		k.Paste = true
	}
	return k
}

func (m Model) onKey(msg tea.KeyMsg) (tea.Model, tea.Cmd) {
	if !key.Matches(msg, m.keys.Complete) {
		m.tab = nil
	}
	switch {
	case key.Matches(msg, m.keys.Dismiss):
		m.alert = ""
		return m, nil
	case key.Matches(msg, m.keys.Quit):
		// A draft is cleared first; on an empty line Ctrl+C asks, and a
		// second one soon after quits.
		if m.input.Value() != "" {
			m.input.Reset()
			m.histAt, m.draft = len(m.history), ""
			m.tip, m.quitAsked = "draft cleared", time.Time{}
			return m, nil
		}
		now := m.opts.Now()
		if !m.quitAsked.IsZero() && now.Sub(m.quitAsked) < quitWithin {
			return m, m.quit()
		}
		m.tip, m.quitAsked = quitTip, now
		return m, tea.Tick(quitWithin, func(time.Time) tea.Msg { return quitExpiredMsg{} })
	case key.Matches(msg, m.keys.Send):
		text := m.input.Value()
		if n := strings.Count(text, "\n") + 1; n > confirmLines && !strings.HasPrefix(text, "/") && m.confirmed != text {
			// A big paste may have gone to the wrong window: it goes
			// when Enter is pressed again on it unchanged.
			m.confirmed = text
			m.tip = fmt.Sprintf("%d lines: Enter again sends them to %s, Ctrl+C clears them", n, m.roomTitle(m.current))
			return m, nil
		}
		m.confirmed = ""
		m.input.Reset()
		m.remember(text)
		return m, m.submit(text)
	case msg.Type == tea.KeyUp && !msg.Alt && m.histAt > 0 && m.onFirstRow(),
		msg.Type == tea.KeyDown && !msg.Alt && m.histAt < len(m.history) && m.onLastRow():
		m.recall(msg.Type == tea.KeyUp)
		return m, nil
	case key.Matches(msg, m.keys.PageUp):
		m.scroll(max(1, m.bodyHeight()-2))
		return m, m.loadOlder()
	case key.Matches(msg, m.keys.PageDown):
		m.scroll(-max(1, m.bodyHeight()-2))
		return m, nil
	case key.Matches(msg, m.keys.NextRoom), key.Matches(msg, m.keys.PrevRoom), key.Matches(msg, m.keys.AltNext), key.Matches(msg, m.keys.AltPrev):
		cmd := m.cycleRoom(key.Matches(msg, m.keys.NextRoom) || key.Matches(msg, m.keys.AltNext))
		return m, cmd
	case key.Matches(msg, m.keys.GoTo):
		var cmd tea.Cmd
		if n := int(msg.Runes[0] - '1'); n < len(m.rooms) {
			cmd = m.show(m.rooms[n])
		}
		return m, cmd
	case key.Matches(msg, m.keys.Active):
		cmd := m.nextActive()
		return m, cmd
	case key.Matches(msg, m.keys.Complete):
		m.input.SetValue(m.complete(m.input.Value()))
		m.input.CursorEnd()
		return m, nil
	case key.Matches(msg, m.keys.Help):
		m.fullHelp = !m.fullHelp
		return m, nil
	case key.Matches(msg, m.keys.Panel):
		m.panelToggled = !m.panelToggled
		return m, nil
	}
	m.tip = ""
	if key.Matches(msg, m.input.KeyMap.WordBackward) && strings.TrimSpace(m.beforeCursor()) == "" {
		// The input would look for a word there for ever (bubbles
		// v1.0.0's wordLeft), freezing the interface: Alt+B on an empty
		// line did.
		return m, nil
	}
	var cmd tea.Cmd
	if key.Matches(msg, m.input.KeyMap.DeleteCharacterBackward) {
		// Backspace takes the whole character as a person sees it: a
		// flag, a family, an accent typed apart (the input deletes runes).
		for range max(1, lastClusterRunes(m.beforeCursor())) {
			m.input, cmd = m.input.Update(msg)
		}
		return m, cmd
	}
	m.input, cmd = m.input.Update(msg)
	return m, cmd
}

// lastClusterRunes is how many runes the last grapheme cluster of text
// (the character a person sees) has; 0 for none.
func lastClusterRunes(text string) int {
	n := 0
	g := uniseg.NewGraphemes(text)
	for g.Next() {
		n = len(g.Runes())
	}
	return n
}

// maxHistory bounds the lines Up recalls.
const maxHistory = 500

// remember adds a line sent to the history, and starts a new line.
func (m *Model) remember(text string) {
	if cmd, arg, _ := strings.Cut(strings.TrimSpace(text), " "); cmd == "/passphrase" && arg != "" {
		// A passphrase typed where it should not be: not kept.
		m.histAt, m.draft = len(m.history), ""
		return
	}
	if strings.TrimSpace(text) != "" && (len(m.history) == 0 || m.history[len(m.history)-1] != text) {
		m.history = append(m.history, text)
		if len(m.history) > maxHistory {
			m.history = m.history[len(m.history)-maxHistory:]
		}
	}
	m.histAt, m.draft = len(m.history), ""
}

// recall shows the line sent before (older) or after the one the input
// shows; after the last, the line that was being written.
func (m *Model) recall(older bool) {
	if m.histAt == len(m.history) {
		m.draft = m.input.Value()
	}
	if older {
		m.histAt--
	} else {
		m.histAt++
	}
	text := m.draft
	if m.histAt < len(m.history) {
		text = m.history[m.histAt]
	}
	m.input.SetValue(text)
}

// onFirstRow and onLastRow report whether the cursor is on the input's
// first or last row (Up and Down move between the rows of a long or
// multi-line text first).
func (m Model) onFirstRow() bool { return m.input.Line() == 0 && m.input.LineInfo().RowOffset == 0 }

func (m Model) onLastRow() bool {
	li := m.input.LineInfo()
	return m.input.Line() == m.input.LineCount()-1 && li.RowOffset >= li.Height-1
}

// beforeCursor is the text of the input before the cursor.
func (m Model) beforeCursor() string {
	lines := strings.Split(m.input.Value(), "\n")
	row := min(m.input.Line(), len(lines)-1)
	li := m.input.LineInfo()
	line := []rune(lines[row])
	col := min(max(0, li.StartColumn+li.ColumnOffset), len(line))
	return strings.Join(append(lines[:row:row], string(line[:col])), "\n")
}

// scroll moves the view n lines up (down when negative), never past the
// point where the room's first line reaches the top of the pane.
func (m *Model) scroll(n int) {
	if v := m.view(m.current); v != nil {
		v.scroll = min(max(0, v.scroll+n), m.maxScroll(v))
	}
}

// loadOlder asks for the lines stored before the first one shown once
// the view is at its top (a start loads the last HistoryLines of a room).
func (m *Model) loadOlder() tea.Cmd {
	v := m.view(m.current)
	if v == nil || v.older == 0 || v.loading || v.scroll < m.maxScroll(v) {
		return nil
	}
	v.loading = true
	m.tip = "loading older lines…"
	return m.enqueue(job{cmd: mmls.LoadOlder{Room: m.current, Before: v.older}, where: m.current})
}

// maxScroll is how many lines up the view may go: the first line at the
// top of the pane, the pane full.
func (m Model) maxScroll(v *roomView) int {
	h, w := m.bodyHeight(), m.messageWidth()
	rows := 0
	for i, l := range v.lines {
		rows += len(m.renderLine(l, w))
		if m.dateAbove(v, i) {
			rows++
		}
		if rows >= h {
			return len(v.lines) - 1 - i
		}
	}
	return 0
}
