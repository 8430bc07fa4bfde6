package ui

import (
	"fmt"
	"strings"
	"time"

	"github.com/charmbracelet/lipgloss"
	"github.com/mmls-chat/mmls-chat/mmls"
)

const panelWidth = 24

func (m Model) bodyHeight() int {
	h := m.height - 1 - m.input.Height() - 1 - 1 // status, input, help line, separator
	if m.alert != "" {
		h--
	}
	if m.tip != "" {
		h--
	}
	if m.fullHelp {
		h -= 4
	}
	return max(1, h)
}

// messageWidth is the width of the message pane.
func (m Model) messageWidth() int { return max(10, m.width-panelWidth-3) }

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
	msgs := lipgloss.NewStyle().Width(m.messageWidth()).Height(h).Render(m.messages(m.messageWidth(), h))
	b.WriteString(lipgloss.JoinHorizontal(lipgloss.Top, panel, msgs))
	b.WriteByte('\n')
	if m.tip != "" {
		b.WriteString(m.st.System.Render(truncate(m.tip, m.width-1)))
		b.WriteByte('\n')
	}
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
	online := m.online()
	short := m.myID.Short()
	room := ""
	switch {
	case m.current == "":
	case m.private[m.current]:
		room = m.roomTitle(m.current) + " · private"
	case mmls.IsDirect(m.current):
		room = m.roomTitle(m.current)
	default:
		room = m.roomTitle(m.current) + " · open"
	}
	left := clean(fmt.Sprintf("%s (%s)  %s", m.me, short, room))
	right := fmt.Sprintf("%s · mDNS %s · %d online", m.reachAt(), m.opts.MDNS, online)
	gap := max(1, m.width-lipgloss.Width(left)-lipgloss.Width(right)-2)
	return m.st.Status.Width(m.width).Render(truncate(left+strings.Repeat(" ", gap)+right, m.width-2))
}

func (m Model) sidePanel(h int) string {
	var lines []string
	lines = append(lines, m.st.PanelTitle.Render("Rooms"))
	for _, r := range m.rooms {
		title := truncate(clean(m.roomTitle(r)), panelWidth-5)
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
			lines = append(lines, fmt.Sprintf("%s %s %s%s", dot, arrow, m.st.Nick(mv.ID.String(), truncate(clean(mv.Nick), panelWidth-8)), mark))
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
		v = &m.nowhere
		if len(v.lines) == 0 {
			return m.st.System.Render("you are in no room: /join one")
		}
	}
	var out []string
	if v.scroll == 0 && m.online() == 0 {
		// Alone: how others get here, below whatever the room holds.
		for _, l := range m.aloneHint(v.talk()) {
			out = append(out, strings.Split(lipgloss.NewStyle().Width(w).Render(l), "\n")...)
		}
	}
	end := len(v.lines) - v.scroll
	for i := end - 1; i >= 0 && len(out) < h; i-- {
		rendered := m.renderLine(v.lines[i], w)
		if m.dateAbove(v, i) {
			rendered = append([]string{m.daySeparator(v.lines[i].at, w)}, rendered...)
		}
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

// stampWidth is the width of "15:04 " before each line; continuation lines
// are indented by as much, so wrapped text stays in its column.
const stampWidth = 6

// renderLine renders one line wrapped to w columns, continuation lines
// under the text.
func (m Model) renderLine(l line, w int) []string {
	var body string
	switch {
	case l.system:
		body = m.st.System.Render(l.text)
	case l.mine:
		body = m.st.Nick(l.fromID.String(), clean(l.from)) + " " + m.st.Text.Render(cleanText(l.text)) + " " + m.deliveryMark(l.id)
	case m.mentions(l.text):
		body = m.st.Nick(l.fromID.String(), clean(l.from)) + " " + m.st.Mention.Render(cleanText(l.text))
	default:
		body = m.st.Nick(l.fromID.String(), clean(l.from)) + " " + m.st.Text.Render(cleanText(l.text))
	}
	lines := strings.Split(lipgloss.NewStyle().Width(max(4, w-stampWidth)).Render(body), "\n")
	for i := range lines {
		if i == 0 {
			lines[i] = m.st.Time.Render(l.at.Local().Format("15:04")) + " " + lines[i]
		} else {
			lines[i] = strings.Repeat(" ", stampWidth) + lines[i]
		}
	}
	return lines
}

// mentions reports whether text names us (our nick, in any case).
func (m Model) mentions(text string) bool {
	return m.me != "" && strings.Contains(strings.ToLower(text), strings.ToLower(m.me))
}

// dateAbove reports whether line i starts a day, under its date: a day's
// lines start under its date; today's need one only below older ones.
func (m Model) dateAbove(v *roomView, i int) bool {
	if i == 0 {
		return !sameDay(v.lines[0].at, m.opts.Now())
	}
	return !sameDay(v.lines[i-1].at, v.lines[i].at)
}

func sameDay(a, b time.Time) bool {
	ay, am, ad := a.Local().Date()
	by, bm, bd := b.Local().Date()
	return ay == by && am == bm && ad == bd
}

// daySeparator heads the lines of one day.
func (m Model) daySeparator(t time.Time, w int) string {
	now := m.opts.Now()
	label := t.Local().Format("Mon 2 Jan 2006")
	switch {
	case sameDay(t, now):
		label = "today"
	case sameDay(t, now.AddDate(0, 0, -1)):
		label = "yesterday"
	}
	label = " " + label + " "
	side := max(2, (w-lipgloss.Width(label))/2)
	return m.st.Day.Render(truncate(strings.Repeat("─", side)+label+strings.Repeat("─", side), w))
}

// deliveryMark is "n/m" until every recipient has stored the message,
// then a check.
func (m Model) deliveryMark(id string) string {
	d := m.sent[id]
	if d == nil {
		return ""
	}
	if d.total == 0 {
		return m.st.Pending.Render("· no one else here yet")
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

// online counts the peers online.
func (m Model) online() int {
	n := 0
	for _, p := range m.peers {
		if p.online {
			n++
		}
	}
	return n
}

// reachAt is the address shown in the status bar: the first one others
// can dial (an unspecified listen address like [::]:7420 helps nobody).
func (m Model) reachAt() string {
	switch len(m.addrs) {
	case 0:
		return m.listen
	case 1:
		return m.addrs[0]
	}
	return fmt.Sprintf("%s +%d", m.addrs[0], len(m.addrs)-1)
}

// aloneHint says, while nobody is online, how others get here: in full in
// a room without conversation, else in one line.
func (m Model) aloneHint(talk bool) []string {
	if m.width == 0 || len(m.addrs) == 0 {
		return nil
	}
	if talk {
		return []string{m.st.System.Render("No one else is online. A friend joins with: mmls-chat --peer " + m.addrs[0])}
	}
	looking := ""
	switch {
	case strings.HasPrefix(m.opts.MDNS, "on"):
		looking = " mDNS is looking for others on this network."
	case m.opts.MDNS != "":
		looking = " mDNS is " + m.opts.MDNS + ": others need your address."
	}
	out := []string{"", m.st.System.Render("No one else is here yet." + looking)}
	out = append(out, m.st.System.Render("A friend joins with:"))
	for _, a := range m.addrs {
		out = append(out, "    mmls-chat --peer "+a)
	}
	out = append(out, m.st.System.Render("or, in a chat already running, /connect "+m.addrs[0]+"."))
	return out
}

// talk reports whether the room holds a message from someone else.
func (v *roomView) talk() bool {
	for _, l := range v.lines {
		if !l.system && !l.mine {
			return true
		}
	}
	return false
}
