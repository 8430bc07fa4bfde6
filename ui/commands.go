package ui

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/mmls-chat/mmls-chat/mmls"
)

// job is one command for the engine; user says a person typed it (its
// answer and errors are shown, in where, the room on screen then), else
// the interface asked on its own (to refresh the member list).
type job struct {
	cmd   mmls.Command
	user  bool
	where string
}

// doneMsg is a job's answer.
type doneMsg struct {
	job
	ev  mmls.Event
	err error
}

// doCmd runs a job on the engine (I/O belongs in a Cmd).
func doCmd(eng Engine, j job) tea.Cmd {
	return func() tea.Msg {
		ev, err := eng.Do(context.Background(), j.cmd)
		return doneMsg{j, ev, err}
	}
}

// submit turns a typed line into a command for the room on screen.
func (m *Model) submit(text string) tea.Cmd {
	cmd, err := mmls.Parse(text, m.current)
	if err == nil {
		cmd, err = mmls.ResolveRoom(cmd, m.directRoom)
	}
	switch {
	case err != nil:
		m.system(m.current, "%s", mmls.Describe(err))
		return nil
	case cmd == nil:
		return nil
	}
	if _, quit := cmd.(mmls.Quit); quit {
		return m.quit()
	}
	if _, ok := cmd.(mmls.ChangePassphrase); ok && !m.opts.Unencrypted {
		return m.askSecret()
	}
	if v := m.view(m.current); v != nil {
		v.scroll = 0
	}
	if say, ok := cmd.(mmls.Say); ok && len(say.Text) > mmls.MaxTextSize {
		// A long paste goes as several messages, in order, and says so.
		parts := splitText(say.Text, mmls.MaxTextSize)
		m.system(say.Room, "that text is %d KiB, more than one message carries: sent as %d messages", len(say.Text)>>10, len(parts))
		var cmds []tea.Cmd
		for _, p := range parts {
			cmds = append(cmds, m.enqueue(job{cmd: mmls.Say{Room: say.Room, Text: p}, user: true, where: m.current}))
		}
		return tea.Batch(cmds...)
	}
	return m.enqueue(job{cmd: cmd, user: true, where: m.current})
}

// splitText cuts text into parts of at most n bytes, at a line break or a
// space where there is one in the second half of a part, never inside a
// UTF-8 character.
func splitText(text string, n int) []string {
	var parts []string
	for len(text) > n {
		cut := n
		for cut > 0 && !utf8.RuneStart(text[cut]) {
			cut--
		}
		if i := strings.LastIndexAny(text[:cut], "\n "); i >= n/2 {
			cut = i + 1
		}
		parts = append(parts, text[:cut])
		text = text[cut:]
	}
	return append(parts, text)
}

// enqueue runs j now, or after the commands before it: commands reach the
// engine in the order they were given, one at a time.
func (m *Model) enqueue(j job) tea.Cmd {
	if m.busy {
		m.queue = append(m.queue, j)
		return nil
	}
	m.busy = true
	return doCmd(m.eng, j)
}

// refresh asks for room's member list, unless that question is already
// waiting its turn (one asked now will see every change reported so far).
func (m *Model) refresh(room string) tea.Cmd {
	if room == "" {
		return nil
	}
	for _, j := range m.queue {
		if w, ok := j.cmd.(mmls.Who); ok && !j.user && w.Room == room {
			return nil
		}
	}
	return m.enqueue(job{cmd: mmls.Who{Room: room}})
}

// onDone shows a job's answer and starts the next job.
func (m *Model) onDone(d doneMsg) tea.Cmd {
	m.busy = false
	var cmds []tea.Cmd
	if len(m.queue) > 0 {
		next := m.queue[0]
		m.queue = m.queue[1:]
		m.busy = true
		cmds = append(cmds, doCmd(m.eng, next))
	}
	// The answer goes where the command was typed, if that room is still
	// ours.
	where := d.where
	if !slices.Contains(m.rooms, where) {
		where = m.current
	}
	if d.err != nil {
		if d.user {
			m.system(where, "%s", mmls.Describe(d.err))
		}
		return tea.Batch(cmds...)
	}
	switch c := d.cmd.(type) {
	case mmls.LoadOlder:
		if h, ok := d.ev.(*mmls.History); ok {
			cmds = append(cmds, m.onEvent(h)...)
		}
	case mmls.Join:
		m.addRoom(c.Room)
		m.setCurrent(c.Room)
		cmds = append(cmds, m.refresh(c.Room))
	case mmls.Accept:
		room := c.Room // an invitation: the private room of that name
		if s, ok := d.ev.(*mmls.Switched); ok {
			room = s.Room // a request: its direct room
			delete(m.request, room)
		}
		m.addRoom(room)
		m.setCurrent(room)
		cmds = append(cmds, m.refresh(room))
	case mmls.Create:
		m.addRoom(c.Room)
		m.setCurrent(c.Room)
	case mmls.Switch:
		if d.user { // Ctrl+N and Ctrl+P have moved the screen already
			m.setCurrent(c.Room)
		}
		cmds = append(cmds, m.refresh(c.Room))
	case mmls.Connect:
		m.system(where, "connecting to %s…", c.Addr)
	}
	if d.ev != nil {
		cmds = append(cmds, m.answerIn(d.ev, where, d.user)...)
	}
	return tea.Batch(cmds...)
}

// onAnswer shows an answer in the room it concerns (the room on screen
// for an answer about none).
func (m *Model) onAnswer(ev mmls.Event, user bool) []tea.Cmd { return m.answerIn(ev, "", user) }

// answerIn shows an answer in where (a command's answer goes where it was
// typed: /who lobby typed in #random answers in #random); "": as
// onAnswer. Member lists also fill the side panel.
func (m *Model) answerIn(ev mmls.Event, where string, user bool) []tea.Cmd {
	in := func(room string) string {
		if where != "" {
			return where
		}
		return room
	}
	switch e := ev.(type) {
	case *mmls.Members:
		if v := m.views[e.Room]; v != nil {
			v.members = e.Members
		}
		if user {
			m.showMembers(in(e.Room), e)
		}
	case *mmls.SafetyNumber:
		if e.Verified {
			m.system(in(m.current), "%s is verified ✔ (safety number %s)", e.Nick, e.Number)
		} else {
			m.system(in(m.current), "safety number with %s (%s): %s — compare it aloud; if it matches: /verify %s yes", e.Nick, e.ID.Short(), e.Number, e.ID.Short())
		}
		return []tea.Cmd{m.refresh(m.current)}
	case *mmls.Alerts:
		if len(e.Alerts) == 0 {
			m.system(in(m.current), "no security alerts")
		}
		for _, a := range e.Alerts {
			line := fmt.Sprintf("%s %s: %s", a.Time.Local().Format("Jan 2 15:04"), a.Kind, a.Detail)
			if len(a.Digests) == 2 {
				line += fmt.Sprintf(" (evidence kept: commits %.12s… and %.12s…)", a.Digests[0], a.Digests[1])
			}
			m.system(in(m.current), "%s", line)
		}
	case *mmls.Info:
		reach := e.Listen
		if len(m.addrs) > 0 {
			reach = strings.Join(m.addrs, ", ")
		}
		m.system(in(m.current), "you are %s (%s) at %s, mDNS %s, %s online, data in %s", e.Nick, e.ID.Short(), reach, e.MDNS, plural(e.Online, "peer"), e.Data)
		for _, c := range e.Contacts {
			m.system(in(m.current), "your contact string (--peer or /connect it; only you can answer it): %s", c)
		}
		for _, k := range e.Keys {
			m.system(in(m.current), "%s", m.keysLine(k, e.Time))
		}
	case *mmls.Peers:
		if len(e.Peers) == 0 {
			m.system(in(m.current), "peers: nobody yet")
		}
		var parts []string
		for _, p := range e.Peers {
			state := "offline"
			if p.Online {
				state = "online"
			}
			parts = append(parts, fmt.Sprintf("%s (%s, %s, %s)", p.Nick, p.ID.Short(), p.Addr, state))
		}
		if len(parts) > 0 {
			m.system(in(m.current), "peers: %s", strings.Join(parts, "; "))
		}
	case *mmls.Rooms:
		// In the side panel's order (Alt+1..9 count in it).
		rooms := slices.Clone(e.Rooms)
		slices.SortStableFunc(rooms, func(a, b mmls.RoomView) int {
			ia, ib := slices.Index(m.rooms, a.Name), slices.Index(m.rooms, b.Name)
			if ia < 0 {
				ia = len(m.rooms)
			}
			if ib < 0 {
				ib = len(m.rooms)
			}
			return ia - ib
		})
		var parts []string
		for _, r := range rooms {
			parts = append(parts, fmt.Sprintf("%s (%d)", m.roomTitle(r.Name), r.Members))
		}
		m.system(in(m.current), "rooms: %s", strings.Join(parts, ", "))
	case *mmls.HelpText:
		for _, c := range e.Commands {
			m.system(in(m.current), "%s", c)
		}
	case *mmls.AwayChanged:
		m.away = e.Text
		if e.Text == "" {
			m.system(in(m.current), "you are back (%s)", e.Detail)
		} else {
			m.system(in(m.current), "you are away: %s (%s; /away alone when you are back)", e.Text, e.Detail)
		}
	case *mmls.NickChanged:
		m.me = e.Nick
		m.system(in(m.current), "you are now known as %s (%s)", e.Nick, e.Detail)
	case *mmls.Found:
		switch {
		case e.Total == 0:
			m.system(in(e.Room), "no message in %s contains %q", m.roomTitle(e.Room), e.Text)
			return nil
		case e.Total > len(e.Lines):
			m.system(in(e.Room), "%d messages in %s contain %q; the last %d:", e.Total, m.roomTitle(e.Room), e.Text, len(e.Lines))
		case e.Total == 1:
			m.system(in(e.Room), "1 message in %s contains %q:", m.roomTitle(e.Room), e.Text)
		default:
			m.system(in(e.Room), "%d messages in %s contain %q:", e.Total, m.roomTitle(e.Room), e.Text)
		}
		for _, l := range e.Lines {
			when := l.SentAt.Local().Format("Jan 2 15:04")
			if sameDay(l.SentAt, m.opts.Now()) {
				when = "today " + l.SentAt.Local().Format("15:04")
			}
			m.system(in(e.Room), "  %s, %s: %s", l.From, when, excerpt(strings.ReplaceAll(l.Text, "\n", " "), e.Text, searchContext))
		}
	case *mmls.NotifyChanged:
		m.notify = e.On && !m.opts.NoNotify
		switch {
		case e.On && m.opts.NoNotify:
			m.system(in(m.current), "desktop notifications: on from the next start without --no-notify")
		case e.On:
			m.system(in(m.current), "desktop notifications: on (mentions and direct messages)")
		default:
			m.system(in(m.current), "desktop notifications: off")
		}
	case *mmls.DirectRoom:
		// /msg: the conversation goes on where the text went.
		m.addRoom(e.Room)
		m.setCurrent(e.Room)
		return []tea.Cmd{m.refresh(e.Room)}
	case *mmls.KeysUpdated:
		m.system(in(e.Room), "keys refreshed")
	case *mmls.AutoSaveChanged:
		if e.Limit == 0 {
			m.system(in(m.current), "auto-save: off (/save fetches each file)")
		} else {
			m.system(in(m.current), "auto-save: files up to %s from direct and private rooms and verified people", mmls.Bytes(e.Limit))
		}
	case *mmls.AdminsChanged:
		m.system(in(e.Room), "%s: %s may remove people for everyone", m.roomTitle(e.Room), strings.Join(e.Admins, ", "))
	case *mmls.PassphraseChanged:
		if e.Sealed {
			m.system(in(m.current), "passphrase changed: the old one no longer opens your data (encrypted again under a new key when you quit)")
		} else {
			m.system(in(m.current), "your data here is not encrypted: the next start asks for a passphrase, and encrypts it then")
		}
	case *mmls.HoldChanged:
		if e.On {
			m.system(in(m.current), "holding: on (others' messages are kept for members who missed them, and handed on)")
		} else {
			m.system(in(m.current), "holding: off (nothing of others' messages is kept to hand on)")
		}
	case *mmls.FilePreparing:
		m.system(in(e.Room), "sealing %s (%s) before it is offered…", e.Name, mmls.Bytes(e.Size))
	case *mmls.FileSaving:
		m.transfers[e.ID] = &transfer{name: e.Name, total: e.Size}
		m.system(in(e.Room), "fetching %s (%s) into %s", e.Name, mmls.Bytes(e.Size), e.Dir)
	case *mmls.Files:
		if len(e.Files) == 0 {
			m.system(in(e.Room), "no files in %s yet (/send PATH offers one)", m.roomTitle(e.Room))
		} else {
			m.system(in(e.Room), "files in %s, oldest first:", m.roomTitle(e.Room))
		}
		for _, f := range e.Files {
			state := string(f.State)
			switch f.State {
			case mmls.FileStateOffered:
				state = "/save " + f.ID[:8]
			case mmls.FileStateSaved, mmls.FileStateSent:
				state += " (" + f.Path + ")"
			}
			m.system(in(e.Room), "  %s  %s, %s, from %s: %s", f.ID[:8], f.Name, mmls.Bytes(f.Size), f.From, state)
		}
	}
	return nil
}

// showMembers prints a /who answer in where.
func (m *Model) showMembers(where string, e *mmls.Members) {
	if len(e.Members) == 0 {
		m.system(where, "%s: nobody else yet", m.roomTitle(e.Room))
		return
	}
	var parts []string
	for _, mv := range e.Members {
		state := "offline"
		if mv.Online {
			state = "online"
		}
		mark := ""
		if mv.Verified {
			mark = ", verified"
		}
		if mv.Stale {
			mark += fmt.Sprintf(", stale: their keys unchanged for %s", ago(mv.Refreshed, e.Time))
		}
		id := mv.ID.Short() + ", "
		if mv.LookAlike {
			id = "" // shown with its id already
		}
		parts = append(parts, fmt.Sprintf("%s (%s%s, %s%s)", mv.Nick, id, linkWords(mv), state, mark))
	}
	m.system(where, "in %s: %s", m.roomTitle(e.Room), strings.Join(parts, "; "))
}

// linkWords says which way a link holds.
func linkWords(mv mmls.MemberView) string {
	switch {
	case mv.WeReach && mv.TheyReach:
		return "both ways"
	case mv.WeReach:
		return "you reach them"
	}
	return "they reach you"
}

// keysLine says when our keys in one room last rotated.
func (m *Model) keysLine(k mmls.RoomKeys, now time.Time) string {
	var leaves []string
	for _, l := range k.Leaves {
		leaves = append(leaves, fmt.Sprintf("%s's %s ago", l.Nick, ago(l.At, now)))
	}
	line := fmt.Sprintf("keys in %s: your group rekeyed %s ago", m.roomTitle(k.Room), ago(k.Rekeyed, now))
	if len(leaves) > 0 {
		line += "; your key in " + strings.Join(leaves, ", ")
	}
	return line
}

// ago is how long before now t was, rounded for reading.
func ago(t, now time.Time) string {
	d := now.Sub(t)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d.Hours()))
	}
	return fmt.Sprintf("%d days", int(d.Hours()/24))
}

// plural is "1 peer", "2 peers".
func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

// searchContext is how many characters of a hit are shown on each side
// of what was searched.
const searchContext = 60

// excerpt is text cut to its first match of q (in any case) with n
// characters on each side, "…" where it was cut: a hit in a 60 KB
// message shows a line, not the message.
func excerpt(text, q string, n int) string {
	runes := []rune(text)
	at := strings.Index(strings.ToLower(text), strings.ToLower(q))
	if at < 0 || len(runes) <= 2*n+len([]rune(q)) {
		if len(runes) > 2*n {
			return string(runes[:2*n]) + "…"
		}
		return text
	}
	// The match, in runes (lower case may count a rune or two more than
	// the text has: kept within it).
	start := min(len(runes), len([]rune(strings.ToLower(text)[:at])))
	from, to := max(0, start-n), min(len(runes), start+len([]rune(q))+n)
	out := string(runes[from:to])
	if from > 0 {
		out = "…" + out
	}
	if to < len(runes) {
		out += "…"
	}
	return out
}
