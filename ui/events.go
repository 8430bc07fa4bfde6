package ui

import (
	"fmt"
	"slices"
	"strings"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/mmls-chat/mmls-chat/mmls"
)

// system adds a line from the interface to room (the room on screen when
// room is "").
func (m *Model) system(room, format string, args ...any) {
	if room == "" {
		room = m.current
	}
	v := m.view(room)
	if v == nil {
		v = &m.nowhere // in no room at all: still shown
	}
	v.lines = append(v.lines, line{at: m.opts.Now(), system: true, text: clean(fmt.Sprintf(format, args...))})
}

// membershipLine says who did what to whom, or "" when there is nothing
// to say (a change in someone else's group, told with what we did about
// it, or the departure of someone who just removed us, already told).
func (m *Model) membershipLine(e *mmls.MemberChanged) string {
	switch {
	case e.ID == m.myID:
		return "" // we joined someone's group: the link shows it
	case e.Restored:
		return "" // back after our restart: nothing happened
	case e.By != m.myID:
		// Another owner's removal is told with what we did about it: we
		// followed ("you removed carol, following bob"), or not
		// (RemovalIgnored).
		return ""
	case e.Change == mmls.ChangeAdded:
		return e.Nick + " joined"
	case e.Change == mmls.ChangeRejoined:
		return e.Nick + " came back"
	case e.Departure && m.removedMe[e.Room+"\x00"+e.ID.String()]:
		return ""
	case e.Departure:
		return e.Nick + " left"
	case e.Following != (mmls.ID{}):
		return fmt.Sprintf("you removed %s, following %s", e.Nick, m.nick(e.Following))
	}
	return "you removed " + e.Nick
}

// describe is the line an event about a room makes, and the room it goes
// in ("" text: nothing to say). Events from a History's Past take the same
// words they took when they happened.
func (m *Model) describe(ev mmls.Event) (room, text string) {
	switch e := ev.(type) {
	case *mmls.MemberChanged:
		return e.Room, m.membershipLine(e)
	case *mmls.Removed:
		m.removedMe[e.Room+"\x00"+e.By.String()] = true
		if m.private[e.Room] {
			return e.Room, fmt.Sprintf("%s removed you from %s: you no longer read its lines (/leave closes it)", e.ByNick, m.roomTitle(e.Room))
		}
		return e.Room, fmt.Sprintf("%s removed you from %s: you no longer read %s's lines there", e.ByNick, m.roomTitle(e.Room), e.ByNick)
	case *mmls.InviteReceived:
		if slices.Contains(m.rooms, e.Room) && !mmls.IsDirect(e.Room) {
			return e.Room, fmt.Sprintf("%s invites you back to %s: you read them again", e.From, inviteKind(e))
		}
		if e.Private {
			return m.current, fmt.Sprintf("%s invites you to %s — /accept %s", e.From, inviteKind(e), e.Room)
		}
		return m.current, fmt.Sprintf("%s invites you to %s — /join %s", e.From, inviteKind(e), e.Room)
	}
	return "", ""
}

func inviteKind(e *mmls.InviteReceived) string {
	if e.Private {
		return "the private room ◆" + e.Room
	}
	return "the open room #" + e.Room
}

// nick is a peer's nick, or its short id.
func (m *Model) nick(id mmls.ID) string {
	if p := m.peers[id]; p != nil && p.nick != "" {
		return p.nick
	}
	return id.Short()
}

// onEvent takes what the engine reports as it happens.
func (m *Model) onEvent(ev mmls.Event) []tea.Cmd {
	var cmds []tea.Cmd
	switch e := ev.(type) {
	case *mmls.Ready:
		m.me, m.myID, m.listen, m.addrs, m.contacts = e.Nick, e.ID, e.Listen, e.Addrs, e.Contacts
		m.colours.Index(e.ID.String(), len(m.st.Nicks)) // ours first: it keeps its colour
		m.notify = e.Notify && !m.opts.NoNotify
		if m.current == "" {
			m.setCurrent(e.Room)
		}
		for _, n := range e.Notes {
			m.system(e.Room, "%s", n)
		}
	case *mmls.Unreachable:
		m.system(m.current, "can't reach %s: %s (still trying)", e.Addr, e.Reason)
	case *mmls.Joined:
		m.private[e.Room] = e.Private
		if e.Nick != "" {
			m.partner[e.Room] = e.Nick
		}
		m.addRoom(e.Room)
		if m.current == "" {
			m.setCurrent(e.Room)
		}
		if e.Request {
			m.request[e.Room] = true
			who := clean(e.Nick)
			m.system(e.Room, "%s, whom you share no room with, wants to talk. Nothing it sends is saved on its own, and it may send little until you /accept %s (or /ignore %s)", who, who, who)
			m.notice = who + " wants to talk: /accept " + who + " or /ignore " + who
		}
		cmds = append(cmds, m.refresh(e.Room))
	case *mmls.RoomFull:
		if e.MadeRoom {
			m.system(e.Room, "%s is full: %s left its place to someone you know, and waits", m.roomTitle(e.Room), clean(e.Nick))
		} else {
			m.system(e.Room, "%s is full: %s waits for a place", m.roomTitle(e.Room), clean(e.Nick))
		}
	case *mmls.Refused:
		m.system(e.Room, "%s", clean(e.Reason))
	case *mmls.Ignored:
		m.system(m.current, "%s is ignored: its direct messages are refused from now on (/msg %s to talk again)", clean(e.Nick), clean(e.Nick))
	case *mmls.Left:
		delete(m.request, e.Room)
		m.removeRoom(e.Room)
	case *mmls.History:
		v := m.view(e.Room)
		var notes, old []line
		for _, p := range e.Past {
			if _, text := m.describe(p); text != "" {
				notes = append(notes, line{at: p.When(), system: true, text: clean(text)})
			}
		}
		for _, h := range e.Lines {
			// Each kept note goes before the first message after it.
			for len(notes) > 0 && notes[0].at.Before(h.SentAt) {
				old, notes = append(old, notes[0]), notes[1:]
			}
			text := h.Text
			if h.File != nil {
				text = fileText(*h.File, h.Mine, 0)
			}
			old = append(old, line{at: h.SentAt, id: h.MsgID, fromID: h.FromID, from: h.From, text: text, mine: h.Mine})
			if h.Mine && h.Recipients > 0 && m.sent[h.MsgID] == nil { // 0: not tracked (older stores) or nobody left
				d := &delivery{total: h.Recipients, acked: map[mmls.ID]bool{}}
				for _, id := range h.StoredBy {
					d.acked[id] = true
				}
				m.sent[h.MsgID] = d
			}
		}
		if !e.Earlier || m.topic[e.Room] == "" {
			for _, h := range e.Lines {
				m.sawTopic(e.Room, h.Text) // the latest wins
			}
		}
		old = append(old, notes...)
		if v.marker > 0 {
			v.marker += len(old) // it marks the same line
		}
		v.lines = append(old, v.lines...)
		if e.LastRead != "" && !e.Earlier {
			m.unreadSince(e.Room, old, e.LastRead)
		}
		v.older = e.Older
		if e.Earlier {
			v.loading = false
			if len(old) == 0 {
				m.tip = "no older lines"
			} else if m.tip == "loading older lines…" {
				m.tip = ""
			}
		}
	case *mmls.PeerChanged:
		p := m.peers[e.ID]
		if p == nil {
			p = &peer{}
			m.peers[e.ID] = p
		}
		p.nick, p.online = e.Nick, e.Online
		cmds = append(cmds, m.refresh(m.current))
	case *mmls.AdminsChanged:
		m.system(e.Room, "%s: %s may remove people for everyone", m.roomTitle(e.Room), strings.Join(e.Admins, ", "))
	case *mmls.PeerAway:
		for _, room := range e.Rooms {
			if e.Text == "" {
				m.system(room, "%s is back", e.Nick)
			} else {
				m.system(room, "%s is away: %s", e.Nick, e.Text)
			}
		}
		cmds = append(cmds, m.refresh(m.current))
	case *mmls.PeerRenamed:
		if p := m.peers[e.ID]; p != nil {
			p.nick = e.Nick
		}
		for _, room := range e.Rooms {
			m.system(room, "%s is now known as %s", e.Old, e.Nick)
		}
		cmds = append(cmds, m.refresh(m.current))
	case *mmls.MemberChanged:
		if room, text := m.describe(e); text != "" {
			m.system(room, "%s", text)
		}
		cmds = append(cmds, m.refresh(e.Room))
	case *mmls.RemovalIgnored:
		m.system(e.Room, "%s removed %s from their group; you did not follow (%s is not verified): /kick %s to do the same",
			e.ByNick, e.Nick, e.ByNick, e.Nick)
	case *mmls.KickLifted:
		m.system(e.Room, "%s took back the removal of %s, and so do you", m.nick(e.By), e.Nick)
	case *mmls.Message:
		m.sawTopic(e.Room, e.Text)
		v := m.view(e.Room)
		l := line{at: e.SentAt, id: e.MsgID, fromID: e.FromID, from: e.From, text: e.Text}
		if e.Via != (mmls.ID{}) {
			l.via = m.nick(e.Via)
		}
		v.lines = append(v.lines, l)
		if e.Room != m.current {
			v.unread++
		} else if v.scroll > 0 {
			v.scroll++ // keep the view where the reader left it
		}
		if mmls.IsDirect(e.Room) || m.mentions(e.Text) {
			if e.Room != m.current {
				v.mentions++
			}
			where := ""
			if !mmls.IsDirect(e.Room) {
				where = " in " + m.roomTitle(e.Room)
			}
			cmds = append(cmds, m.notifyCmd(e.From+where+": "+e.Text))
		}
	case *mmls.Sent:
		delete(m.request, e.Room) // writing back accepts a request
		m.sawTopic(e.Room, e.Text)
		v := m.view(e.Room)
		v.lines = append(v.lines, line{at: e.Time, id: e.MsgID, fromID: m.myID, from: m.me, text: e.Text, mine: true})
		m.sent[e.MsgID] = &delivery{total: e.Recipients, waiting: e.Waiting, acked: map[mmls.ID]bool{}}
	case *mmls.Delivered:
		if d := m.sent[e.MsgID]; d != nil {
			d.acked[e.To] = true
		}
	case *mmls.Undelivered:
		// Removed before storing it: no longer among its recipients.
		if d := m.sent[e.MsgID]; d != nil && !d.acked[e.To] {
			d.total--
		}
	case *mmls.Removed:
		room, text := m.describe(e)
		m.system(room, "%s", text)
		if v := m.view(room); v != nil && room != m.current {
			v.unread++ // news, seen when the room is
		}
	case *mmls.InviteReceived:
		room, text := m.describe(e)
		m.system(room, "%s", text)
		cmds = append(cmds, m.notifyCmd(e.From+" invites you to "+inviteKind(e)))
	case *mmls.InviteSent:
		m.system(m.current, "invitation to %s sent to %s", e.Room, e.Nick)
	case *mmls.Alert:
		m.alert = "⚠ " + clean(e.Detail)
		m.system(m.current, "security alert (%s): %s", e.Kind, e.Detail)
		cmds = append(cmds, bellCmd)
	case *mmls.Failure:
		m.system(m.current, "error: %s", mmls.Describe(e.Err))
	case *mmls.FileOffered:
		v := m.view(e.Room)
		v.lines = append(v.lines, line{at: e.Time, id: e.MsgID, fromID: e.FromID, from: e.From, text: fileText(e.File, e.Mine, e.Recipients), mine: e.Mine})
		if e.Mine {
			m.sent[e.MsgID] = &delivery{total: e.Recipients, acked: map[mmls.ID]bool{}}
		} else if e.Room != m.current {
			v.unread++
		} else if v.scroll > 0 {
			v.scroll++
		}
	case *mmls.FileProgress:
		t := m.transfers[e.ID]
		if t == nil {
			t = &transfer{name: e.Name}
			m.transfers[e.ID] = t
		}
		t.done, t.total = e.Done, e.Total
	case *mmls.FileSaved:
		delete(m.transfers, e.ID)
		m.system(e.Room, "saved %s to %s (its SHA-256 checked)", e.Name, e.Path)
	case *mmls.FileSaving:
		cmds = append(cmds, m.onAnswer(e, false)...) // auto-save started it
	case *mmls.FileWaiting:
		m.system(e.Room, "nobody online has %s now (its sender is away or no longer has it, and nobody else saved it): it is fetched when someone who has it comes online; /cancel stops", e.Name)
	case *mmls.FileCancelled:
		delete(m.transfers, e.ID)
		m.system(e.Room, "stopped fetching %s (/save fetches it again)", e.Name)
	case *mmls.FileFailed:
		delete(m.transfers, e.ID)
		m.system(e.Room, "error: %s", mmls.Describe(e.Err))
	}
	return cmds
}

// fileText is how a file offer reads in the room.
func fileText(f mmls.FileView, mine bool, recipients int) string {
	text := fmt.Sprintf("[file] %s, %s", f.Name, mmls.Bytes(f.Size))
	switch {
	case mine && recipients > 0:
		return text + fmt.Sprintf(" — offered to %s", plural(recipients, "member"))
	case mine:
		return text + " — offered"
	case f.State == mmls.FileStateSaved:
		return text + " — saved at " + f.Path
	}
	return text + " — /save " + f.ID[:min(8, len(f.ID))]
}

// sawTopic takes a /topic line as the room's topic.
func (m *Model) sawTopic(room, text string) {
	if topic, ok := mmls.Topic(text); ok {
		m.topic[room] = clean(topic)
	}
}

// unreadSince counts, of a room's lines loaded at a start, those after the
// last one read before it stopped (its id is lastRead) as unread, as if
// they had come while we were in another room.
func (m *Model) unreadSince(room string, lines []line, lastRead string) {
	at := slices.IndexFunc(lines, func(l line) bool { return l.id == lastRead && !l.system })
	if at < 0 {
		return // older than what was loaded, or gone: unknown
	}
	v := m.view(room)
	for _, l := range lines[at+1:] {
		if l.system || l.mine {
			continue
		}
		v.unread++
		if mmls.IsDirect(room) || m.mentions(l.text) {
			v.mentions++
		}
	}
	if room == m.current && v.unread > 0 {
		// On screen already: what came since is marked, and read.
		v.marker = at + 1 // lines is the start of v.lines
		v.unread, v.mentions = 0, 0
	}
}
