package ui

import (
	"slices"
	"sort"
	"strings"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/mmls-chat/mmls-chat/mmls"
)

// view returns room's view, making it on first use.
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

// addRoom lists a room: open rooms first, then direct conversations.
func (m *Model) addRoom(room string) {
	if !slices.Contains(m.rooms, room) {
		m.rooms = append(m.rooms, room)
		sort.SliceStable(m.rooms, func(i, j int) bool { return mmls.IsDirect(m.rooms[j]) && !mmls.IsDirect(m.rooms[i]) })
	}
	m.view(room)
}

// removeRoom forgets a room we left; when it was on screen, the room shown
// before it (or the first one) takes its place.
func (m *Model) removeRoom(room string) {
	if i := slices.Index(m.rooms, room); i >= 0 {
		m.rooms = slices.Delete(m.rooms, i, i+1)
	}
	delete(m.views, room)
	if m.current != room {
		return
	}
	m.current = ""
	switch {
	case slices.Contains(m.rooms, m.last):
		m.setCurrent(m.last)
	case len(m.rooms) > 0:
		m.setCurrent(m.rooms[0])
	}
}

// setCurrent puts room on screen.
func (m *Model) setCurrent(room string) {
	if room != m.current {
		if v := m.views[m.current]; v != nil {
			v.marker = -1 // read now: the next visit marks what is new then
			m.leftRooms = append(m.leftRooms, m.current)
		}
		m.last, m.current = m.current, room
		if v := m.view(room); v != nil {
			v.marker = -1
			if v.unread > 0 {
				v.marker = max(0, len(v.lines)-v.unread)
			}
		}
	}
	if v := m.view(room); v != nil {
		v.unread, v.mentions = 0, 0
	}
}

// cycleRoom shows the next or previous room.
func (m *Model) cycleRoom(next bool) tea.Cmd {
	if len(m.rooms) < 2 {
		return nil
	}
	i := max(0, slices.Index(m.rooms, m.current))
	if next {
		i = (i + 1) % len(m.rooms)
	} else {
		i = (i - 1 + len(m.rooms)) % len(m.rooms)
	}
	return m.show(m.rooms[i])
}

// nextActive shows the next room, after the one on screen, with unread
// lines.
func (m *Model) nextActive() tea.Cmd {
	i := slices.Index(m.rooms, m.current)
	for range m.rooms {
		i = (i + 1) % len(m.rooms)
		if v := m.views[m.rooms[i]]; v != nil && v.unread > 0 {
			return m.show(m.rooms[i])
		}
	}
	m.tip = "nothing new in your other rooms"
	return nil
}

// show puts room on screen at a key press. The engine remembers the room
// on screen for the next start (its answer also refreshes the members).
func (m *Model) show(room string) tea.Cmd {
	if room == m.current {
		return nil
	}
	m.setCurrent(room)
	return m.enqueue(job{cmd: mmls.Switch{Room: room}})
}

// roomTitle shows an open room as #name, a private one as ◆name, and a
// direct room as @nick.
func (m Model) roomTitle(room string) string {
	if m.private[room] {
		return "◆" + room
	}
	if !mmls.IsDirect(room) {
		return "#" + room
	}
	other, ok := m.eng.DirectPeer(room)
	if !ok {
		return "@?"
	}
	if p := m.peers[other]; p != nil && p.nick != "" {
		return "@" + p.nick
	}
	if n := m.partner[room]; n != "" {
		return "@" + n
	}
	return "@" + other.Short()
}

// directRoom is our direct room with nick, as the rooms list shows it
// ("@carol", or its short id when the nick is not known), or with the
// peer whose id starts with nick (8 hex digits at least).
func (m Model) directRoom(nick string) (string, bool) {
	var folded []string
	for _, r := range m.rooms {
		if !mmls.IsDirect(r) {
			continue
		}
		title := strings.TrimPrefix(m.roomTitle(r), "@")
		other, _ := m.eng.DirectPeer(r)
		switch {
		case title == nick, len(nick) >= 8 && strings.HasPrefix(other.String(), strings.ToLower(nick)):
			return r, true
		case strings.EqualFold(title, nick):
			folded = append(folded, r)
		}
	}
	if len(folded) == 1 {
		return folded[0], true
	}
	return "", false
}
