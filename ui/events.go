package ui

import (
	"fmt"
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
		return
	}
	v.lines = append(v.lines, line{at: m.opts.Now(), system: true, text: fmt.Sprintf(format, args...)})
}

var changeWords = map[mmls.Change]string{mmls.ChangeAdded: "joined", mmls.ChangeRemoved: "left", mmls.ChangeRejoined: "came back"}

// onEvent takes what the engine reports as it happens.
func (m *Model) onEvent(ev mmls.Event) []tea.Cmd {
	var cmds []tea.Cmd
	switch e := ev.(type) {
	case *mmls.Ready:
		m.me, m.myID, m.listen = e.Nick, e.ID, e.Listen
		if m.current == "" {
			m.setCurrent(e.Room)
		}
	case *mmls.Joined:
		m.private[e.Room] = e.Private
		m.addRoom(e.Room)
		if m.current == "" {
			m.setCurrent(e.Room)
		}
		cmds = append(cmds, m.refresh(e.Room))
	case *mmls.Left:
		m.removeRoom(e.Room)
	case *mmls.History:
		v := m.view(e.Room)
		var old []line
		for _, h := range e.Lines {
			old = append(old, line{at: h.SentAt, id: h.MsgID, fromID: h.FromID, from: h.From, text: h.Text, mine: h.Mine})
		}
		v.lines = append(old, v.lines...)
	case *mmls.PeerChanged:
		p := m.peers[e.ID]
		if p == nil {
			p = &peer{}
			m.peers[e.ID] = p
		}
		p.nick, p.online = e.Nick, e.Online
		cmds = append(cmds, m.refresh(m.current))
	case *mmls.MemberChanged:
		if e.By == m.myID && e.ID != m.myID {
			m.system(e.Room, "%s %s (you reach them)", e.Nick, changeWords[e.Change])
		}
		cmds = append(cmds, m.refresh(e.Room))
	case *mmls.Message:
		v := m.view(e.Room)
		v.lines = append(v.lines, line{at: e.SentAt, id: e.MsgID, fromID: e.FromID, from: e.From, text: e.Text})
		if e.Room != m.current {
			v.unread++
		} else if v.scroll > 0 {
			v.scroll++ // keep the view where the reader left it
		}
		if mmls.IsDirect(e.Room) || m.me != "" && strings.Contains(strings.ToLower(e.Text), strings.ToLower(m.me)) {
			cmds = append(cmds, bellCmd)
		}
	case *mmls.Sent:
		v := m.view(e.Room)
		v.lines = append(v.lines, line{at: e.Time, id: e.MsgID, fromID: m.myID, from: m.me, text: e.Text, mine: true})
		m.sent[e.MsgID] = &delivery{total: e.Recipients, acked: map[mmls.ID]bool{}}
	case *mmls.Delivered:
		if d := m.sent[e.MsgID]; d != nil {
			d.acked[e.To] = true
		}
	case *mmls.Removed:
		m.system(e.Room, "%s removed you from their send group: you no longer read them", e.ByNick)
	case *mmls.InviteReceived:
		kind := "the open room #" + e.Room
		if e.Private {
			kind = "the private room ◆" + e.Room
		}
		m.system(m.current, "%s invites you to %s — /join %s", e.From, kind, e.Room)
		cmds = append(cmds, bellCmd)
	case *mmls.InviteSent:
		m.system(m.current, "invitation to %s sent to %s", e.Room, e.Nick)
	case *mmls.Alert:
		m.alert = "⚠ " + e.Detail
		m.system(m.current, "security alert (%s): %s", e.Kind, e.Detail)
		cmds = append(cmds, bellCmd)
	case *mmls.Failure:
		m.system(m.current, "error: %s", mmls.Describe(e.Err))
	}
	return cmds
}
