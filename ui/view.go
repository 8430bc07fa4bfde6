package ui

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/ansi"
	"github.com/mmls-chat/mmls-chat/mmls"
)

// panelWidth is the side panel's width in a window of 80 columns or more;
// narrower windows hide the panel (F2 shows it, narrower) so messages keep
// their room.
const (
	panelWidth       = 24
	narrowPanelWidth = 16
	wideWindow       = 80
)

// panelW is the side panel's width, 0 when hidden.
func (m Model) panelW() int {
	wide := m.width >= wideWindow
	switch {
	case wide == m.panelToggled:
		return 0
	case wide:
		return panelWidth
	}
	return narrowPanelWidth
}

func (m Model) bodyHeight() int {
	// Every row the rest takes: the status bar, the input, the help as it
	// renders (one row, or F1's columns), an alert, a tip, transfers.
	h := m.height - 1 - m.input.Height() - lipgloss.Height(m.helpView())
	if m.alert != "" {
		h -= lipgloss.Height(m.alertView())
	}
	if m.tip != "" {
		h--
	}
	h -= len(m.transferLines())
	return max(1, h)
}

// alertRows bounds the rows the alert banner takes.
const alertRows = 3

// alertView is the alert banner, wrapped to the width (a security alert
// is read whole: cut, it lost its advice), at most alertRows rows.
func (m Model) alertView() string {
	w := max(4, m.width-2) // the banner's padding
	rows := strings.Split(lipgloss.NewStyle().Width(w).Render(m.alert), "\n")
	if len(rows) > alertRows {
		rows = rows[:alertRows]
		rows[alertRows-1] = truncate(strings.TrimRight(rows[alertRows-1], " "), w-1) + "…"
	}
	return m.st.Alert.Width(m.width).Render(strings.Join(rows, "\n"))
}

// helpView is the help under the input: one line, or with F1 the keys.
func (m Model) helpView() string {
	if m.fullHelp {
		return m.help.FullHelpView(m.keys.FullHelp())
	}
	return m.help.ShortHelpView(m.keys.ShortHelp())
}

// messageWidth is the width of the message pane.
func (m Model) messageWidth() int {
	if pw := m.panelW(); pw > 0 {
		return max(10, m.width-pw-3)
	}
	return max(10, m.width-1)
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
		if m.notify && m.notice != "" {
			b.WriteString(notification(m.notice))
		}
	}
	b.WriteByte('\n')
	if m.alert != "" {
		b.WriteString(m.alertView())
		b.WriteByte('\n')
	}
	h := m.bodyHeight()
	msgs := lipgloss.NewStyle().Width(m.messageWidth()).Height(h).Render(m.messages(m.messageWidth(), h))
	if pw := m.panelW(); pw > 0 {
		panel := m.st.Panel.Width(pw).Height(h).Render(m.sidePanel(pw, h))
		msgs = lipgloss.JoinHorizontal(lipgloss.Top, panel, msgs)
	}
	b.WriteString(msgs)
	b.WriteByte('\n')
	if m.tip != "" {
		b.WriteString(m.st.System.Render(truncate(m.tip, m.width-1)))
		b.WriteByte('\n')
	}
	for _, l := range m.transferLines() {
		b.WriteString(l)
		b.WriteByte('\n')
	}
	if m.secret != nil {
		b.WriteString(m.secretView())
	} else {
		b.WriteString(m.input.View())
	}
	b.WriteByte('\n')
	b.WriteString(m.helpView())
	return b.String()
}

// statusBar shows, left, who we are and the room; right, how many are
// online, then (as the width allows) where others reach us and mDNS. The
// essentials (nick, room, online count) stay in any width.
func (m Model) statusBar() string {
	room, kind := "", ""
	switch {
	case m.current == "":
	case m.private[m.current]:
		room, kind = m.roomTitle(m.current), " · private"
	case mmls.IsDirect(m.current):
		room = m.roomTitle(m.current)
	default:
		room, kind = m.roomTitle(m.current), " · open"
	}
	avail := m.width - 2
	// Right, what must show: the online count, and (when the hidden
	// panel cannot show it) news in other rooms.
	right := fmt.Sprintf("%d online", m.online())
	if m.away != "" {
		right = "away · " + right // what we said must show
	}
	if m.opts.Unencrypted {
		right = "unencrypted · " + right // the user's choice, not to be forgotten
	}
	if n := m.unreadElsewhere(); n > 0 && m.panelW() == 0 {
		right = fmt.Sprintf("%d new · %s", n, right)
	}
	// Left, the longest form that leaves room for it.
	var left string
	topic := ""
	if t := m.topic[m.current]; t != "" {
		topic = " · " + t
	}
	for _, form := range []string{
		fmt.Sprintf("%s (%s)  %s%s%s", m.me, m.myID.Short(), room, kind, topic),
		fmt.Sprintf("%s  %s%s%s", m.me, room, kind, topic),
		fmt.Sprintf("%s (%s)  %s%s", m.me, m.myID.Short(), room, kind),
		fmt.Sprintf("%s  %s%s", m.me, room, kind),
		fmt.Sprintf("%s  %s", m.me, room),
	} {
		left = clean(form)
		if lipgloss.Width(left)+1+lipgloss.Width(right) <= avail {
			break
		}
	}
	left = truncate(left, max(4, avail-lipgloss.Width(right)-1))
	right = truncate(right, max(4, avail-lipgloss.Width(left)-1))
	// Then, as the width allows: who is here (the hidden panel's
	// members), mDNS, where others reach us.
	var more []string
	if v := m.views[m.current]; v != nil && len(v.members) > 0 && m.panelW() == 0 {
		more = append(more, fmt.Sprintf("%d here", len(v.members)+1))
	}
	if m.opts.MDNS != "" {
		more = append(more, "mDNS "+m.opts.MDNS)
	}
	more = append(more, m.reachAt())
	for _, part := range more {
		if part != "" && lipgloss.Width(left)+2+lipgloss.Width(part+" · "+right) <= avail {
			right = part + " · " + right
		}
	}
	gap := max(1, avail-lipgloss.Width(left)-lipgloss.Width(right))
	return m.st.Status.Width(m.width).Render(left + strings.Repeat(" ", gap) + right)
}

// sidePanel lists the rooms and the current room's members in h lines of
// width pw. When they do not fit, the rooms list is a window that keeps the
// current room in sight (with how many are above and below), and the
// members get what is left, at least a few lines.
func (m Model) sidePanel(pw, h int) string {
	inner := pw - 2 // padding
	var rooms []string
	var withNews []bool
	cur := 0
	for i, r := range m.rooms {
		title := truncate(clean(m.roomTitle(r)), inner-4)
		style := m.st.Room
		if r == m.current {
			style, cur = m.st.RoomCurrent, i
		}
		entry := style.Render(title)
		if m.request[r] {
			entry += " " + m.st.Pending.Render("request")
		}
		news := false
		if v := m.views[r]; v != nil && v.unread > 0 {
			news = true
			entry += " " + m.st.Unread.Render(fmt.Sprint(v.unread))
			if v.mentions > 0 {
				// Named, or a direct line: not just traffic.
				entry += m.st.Mention.Render("@")
			}
		}
		rooms = append(rooms, entry)
		withNews = append(withNews, news)
	}
	var members []string
	if v := m.views[m.current]; v != nil {
		if m.me != "" {
			// Us first, as IRC lists us in the channel.
			members = append(members, fmt.Sprintf("%s   %s %s", m.st.Check.Render("●"), m.coloured(m.myID.String(), truncate(clean(m.me), inner-10)), m.st.Pending.Render("(you)")))
		}
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
			if mv.Away != "" {
				mark += " " + m.st.Pending.Render("away")
			}
			members = append(members, fmt.Sprintf("%s %s %s%s", dot, arrow, m.coloured(mv.ID.String(), truncate(clean(mv.Nick), inner-6)), mark))
		}
	}
	// Two titles and a blank line between the lists.
	roomRows := len(rooms)
	if fixed := 3; roomRows+len(members)+fixed > h {
		roomRows = max(1, min(len(rooms), h-fixed-min(len(members), max(3, (h-fixed)/3))))
	}
	lines := []string{m.st.PanelTitle.Render("Rooms")}
	lines = append(lines, window(rooms, withNews, cur, roomRows, m.st.Pending, m.st.Unread.Render("•"))...)
	lines = append(lines, "", m.st.PanelTitle.Render(fmt.Sprintf("Members (%d)", len(members))))
	lines = append(lines, members...)
	if len(lines) > h {
		lines = append(lines[:h-1], m.st.Pending.Render(fmt.Sprintf("… %d more", len(lines)-h+1)))
	}
	return strings.Join(lines, "\n")
}

// window shows n of items around item cur, saying how many are hidden
// above and below, with mark when a hidden one is flagged (news).
func window(items []string, flagged []bool, cur, n int, dim lipgloss.Style, mark string) []string {
	if len(items) <= n {
		return items
	}
	if n < 3 {
		return items[cur : cur+1]
	}
	rows := n - 2 // one line each for "↑ k more" and "↓ k more"
	start := min(max(0, cur-rows/2), len(items)-rows)
	more := func(arrow string, from, to int) string {
		s := dim.Render(fmt.Sprintf("%s %d more", arrow, to-from))
		if slices.Contains(flagged[from:to], true) {
			s += " " + mark
		}
		return s
	}
	out := []string{more("↑", 0, start)}
	out = append(out, items[start:start+rows]...)
	return append(out, more("↓", start+rows, len(items)))
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
	} else if len(v.lines) == 0 && m.current != "" {
		// Others are online, nothing was said here yet: not a blank pane.
		out = append(out, strings.Split(lipgloss.NewStyle().Width(w).Render(m.st.System.Render(
			"Nothing was said in "+clean(m.roomTitle(m.current))+" yet. Write below; /who lists who is here, /invite NICK brings someone.")), "\n")...)
	}
	end := len(v.lines) - v.scroll
	for i := end - 1; i >= 0 && len(out) < h; i-- {
		rendered := m.renderLine(v.lines[i], w)
		if m.dateAbove(v, i) {
			rendered = append([]string{m.daySeparator(v.lines[i].at, w)}, rendered...)
		}
		if i == v.marker && i > 0 {
			// What came while we were elsewhere starts here.
			rendered = append([]string{m.newMarker(w)}, rendered...)
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
	nick := m.coloured(l.fromID.String(), clean(l.from)) + " "
	text := l.text
	if action, ok := mmls.Action(text); ok {
		// "/me waves": "* alice waves".
		nick, text = m.st.Action.Render("*")+" "+nick, action
	} else if topic, ok := mmls.Topic(text); ok {
		nick, text = m.st.Action.Render("*")+" "+nick, "set the topic: "+topic
	}
	if !l.system {
		text = keepWithNick(cleanText(text), max(4, w-stampWidth)-lipgloss.Width(nick))
	}
	switch {
	case l.system:
		body = m.st.System.Render(l.text)
	case l.mine:
		body = nick + m.st.Text.Render(cleanText(text)) + " " + m.deliveryMark(l.id)
	case m.mentions(text):
		body = nick + m.highlight(cleanText(text))
	default:
		body = nick + m.st.Text.Render(cleanText(text))
	}
	if l.via != "" {
		body += " " + m.st.Pending.Render("· via "+clean(l.via))
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

// mentions reports whether text names us: our nick as a word, in any case.
func (m Model) mentions(text string) bool { return len(mentionsOf(text, m.me)) > 0 }

// mentionsOf finds nick in text as a whole word (not inside another), in
// any case: the byte ranges.
func mentionsOf(text, nick string) [][2]int {
	if nick == "" {
		return nil
	}
	lower, want := strings.ToLower(text), strings.ToLower(nick)
	if len(lower) != len(text) {
		return nil // a case change moved bytes: no safe ranges
	}
	word := func(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) || r == '_' }
	var out [][2]int
	for from := 0; from < len(lower); {
		i := strings.Index(lower[from:], want)
		if i < 0 {
			break
		}
		start, end := from+i, from+i+len(want)
		before, _ := utf8.DecodeLastRuneInString(lower[:start])
		after, _ := utf8.DecodeRuneInString(lower[end:])
		if (start == 0 || !word(before)) && (end == len(lower) || !word(after)) {
			out = append(out, [2]int{start, end})
		}
		from = end
	}
	return out
}

// highlight renders a text that mentions us with each mention marked.
func (m Model) highlight(text string) string {
	var b strings.Builder
	last := 0
	for _, r := range mentionsOf(text, m.me) {
		b.WriteString(m.st.Text.Render(text[last:r[0]]))
		b.WriteString(m.st.Mention.Render(text[r[0]:r[1]]))
		last = r[1]
	}
	b.WriteString(m.st.Text.Render(text[last:]))
	return b.String()
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

// newMarker is the line above what was unread when the room came on
// screen.
func (m Model) newMarker(w int) string {
	label := " new "
	side := max(2, (w-len(label))/2)
	return m.st.Unread.Render(truncate(strings.Repeat("─", side)+label+strings.Repeat("─", side), w))
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
	if d.waiting > 0 && len(d.acked) == 0 {
		// Addressed to people not linked with us yet: it goes to them
		// as they are.
		return m.st.Pending.Render(fmt.Sprintf("%d/%d · waiting for them to connect", len(d.acked), d.total))
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
	out = append(out, m.st.System.Render("A second chat on this machine needs its own --data DIR and --listen :0."))
	if len(m.contacts) > 0 {
		// The same with our fingerprint: only we can answer it.
		out = append(out, m.st.System.Render("So that nobody else can answer, give your contact string instead (/info shows it):"),
			m.contacts[0])
	}
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

// notification is a desktop notification in the two forms terminals
// understand (OSC 777 for foot, WezTerm, Ghostty, rxvt; OSC 9 for iTerm2,
// Windows Terminal, kitty); others ignore both. The text, which comes
// from a peer, is cleaned of every control character first, so it cannot
// end the sequence early or start another.
func notification(text string) string {
	body := truncate(strings.ReplaceAll(clean(text), ";", ","), 120)
	return "\x1b]777;notify;mmls-chat;" + body + "\a\x1b]9;mmls-chat: " + body + "\a"
}

// unreadElsewhere counts the unread messages in rooms not on screen.
func (m Model) unreadElsewhere() int {
	n := 0
	for r, v := range m.views {
		if r != m.current {
			n += v.unread
		}
	}
	return n
}

// maxTransferLines bounds the progress bars shown; more transfers are
// summed up in the last line.
const maxTransferLines = 2

// transferLines are the progress bars of the files being fetched, by name.
func (m Model) transferLines() []string {
	if len(m.transfers) == 0 {
		return nil
	}
	ids := make([]string, 0, len(m.transfers))
	for id := range m.transfers {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool {
		return m.transfers[ids[i]].name < m.transfers[ids[j]].name || m.transfers[ids[i]].name == m.transfers[ids[j]].name && ids[i] < ids[j]
	})
	var out []string
	for i, id := range ids {
		if i == maxTransferLines-1 && len(ids) > maxTransferLines {
			out = append(out, m.st.System.Render(fmt.Sprintf("… and %d more files coming (/files)", len(ids)-i)))
			break
		}
		t := m.transfers[id]
		pct := 0.0
		if t.total > 0 {
			pct = float64(t.done) / float64(t.total)
		}
		label := fmt.Sprintf(" %3.0f%% %s of %s", pct*100, mmls.Bytes(t.done), mmls.Bytes(t.total))
		name := truncate(clean(t.name), 24)
		bar := m.bar
		bar.Width = max(5, min(40, m.width-lipgloss.Width(name)-lipgloss.Width(label)-4))
		out = append(out, truncate("⇩ "+name+" "+bar.ViewAs(pct)+label, m.width-1))
	}
	return out
}

// coloured is nick in its owner's colour: our own first, then each
// person seen gets a colour nobody on screen has while there are some.
func (m Model) coloured(id, nick string) string {
	return m.st.Nicks[m.colours.Index(id, len(m.st.Nicks))].Render(nick)
}

// keepWithNick breaks a first word too wide for the room left beside the
// nick (a long link, say) where that room ends, so that it starts on the
// nick's line instead of leaving the nick alone on it.
func keepWithNick(text string, room int) string {
	first, _, _ := strings.Cut(text, " ")
	if first == "" || room < 4 || ansi.StringWidth(first) <= room || strings.Contains(first, "\n") {
		return text
	}
	head := ansi.Truncate(first, room, "")
	if head == "" {
		return text
	}
	return head + "\n" + text[len(head):]
}
