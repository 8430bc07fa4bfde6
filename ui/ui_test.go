package ui

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/exp/golden"
	"github.com/charmbracelet/x/exp/teatest"
	"github.com/muesli/termenv"

	"github.com/mmls-chat/mmls-chat/mmls"
)

func TestMain(m *testing.M) {
	lipgloss.SetColorProfile(termenv.Ascii)
	time.Local = time.UTC
	os.Exit(m.Run())
}

var t0 = time.Date(2026, 11, 25, 9, 30, 0, 0, time.UTC)

// fakeEngine feeds the model events through the same channel path as the
// real engine, and records the commands the model hands it.
type fakeEngine struct {
	events chan mmls.Event
	cmds   chan mmls.Command
}

func newFakeEngine() *fakeEngine {
	return &fakeEngine{events: make(chan mmls.Event, 64), cmds: make(chan mmls.Command, 64)}
}

func (f *fakeEngine) Do(_ context.Context, c mmls.Command) (mmls.Event, error) {
	f.cmds <- c
	return nil, nil
}
func (f *fakeEngine) Events() <-chan mmls.Event { return f.events }
func (f *fakeEngine) DirectPeer(room string) (mmls.ID, bool) {
	for _, id := range []mmls.ID{bobID, carolID} {
		if strings.Contains(room, id.String()) {
			return id, true
		}
	}
	return mmls.ID{}, false
}

func mustID(s string) mmls.ID {
	id, ok := mmls.ParseID(s)
	if !ok {
		panic(s)
	}
	return id
}

var (
	aliceID = mustID("a11ce00000000000000000000000000000000000000000000000000000000000")
	bobID   = mustID("b0b0000000000000000000000000000000000000000000000000000000000000")
	carolID = mustID("ca40100000000000000000000000000000000000000000000000000000000000")
)

func at(min int) time.Time { return t0.Add(time.Duration(min) * time.Minute) }

func stamped(t time.Time) mmls.At { return mmls.At{Time: t} }

func started() []tea.Msg {
	return []tea.Msg{
		eventMsg{&mmls.Ready{ID: aliceID, Nick: "alice", Listen: "[::]:7420", Addrs: []string{"10.0.0.1:7420"}, Room: "lobby"}},
		eventMsg{&mmls.Joined{Room: "lobby"}},
	}
}

func conversation() []tea.Msg {
	dm := "dm:" + aliceID.String() + ":" + carolID.String()
	return append(started(),
		eventMsg{&mmls.PeerChanged{ID: bobID, Nick: "bob", Online: true}},
		eventMsg{&mmls.PeerChanged{ID: carolID, Nick: "carol", Online: true}},
		doneMsg{job: job{cmd: mmls.Who{Room: "lobby"}}, ev: &mmls.Members{Room: "lobby", Members: []mmls.MemberView{
			{ID: bobID, Nick: "bob", WeReach: true, TheyReach: true, Online: true, Verified: true},
			{ID: carolID, Nick: "carol", WeReach: true, TheyReach: false, Online: true},
		}}},
		eventMsg{&mmls.Message{Room: "lobby", MsgID: "m1", From: "bob", FromID: bobID, Text: "morning all", SentAt: at(1)}},
		eventMsg{&mmls.Sent{At: stamped(at(2)), Room: "lobby", MsgID: "m2", Text: "hi bob, hi carol", Recipients: 2}},
		eventMsg{&mmls.Delivered{Room: "lobby", MsgID: "m2", To: bobID}},
		eventMsg{&mmls.Sent{At: stamped(at(3)), Room: "lobby", MsgID: "m3", Text: "everyone got this one", Recipients: 2}},
		eventMsg{&mmls.Delivered{Room: "lobby", MsgID: "m3", To: bobID}},
		eventMsg{&mmls.Delivered{Room: "lobby", MsgID: "m3", To: carolID}},
		eventMsg{&mmls.Joined{Room: dm}},
		eventMsg{&mmls.Message{Room: dm, MsgID: "m4", From: "carol", FromID: carolID, Text: "psst", SentAt: at(4)}},
	)
}

// screen runs the model in a real program, sends it the messages (as the
// engine would deliver them) and keys in order, and returns the final
// view.
func screen(t *testing.T, msgs []tea.Msg, keys ...tea.KeyMsg) string {
	t.Helper()
	return screenSized(t, 100, 24, msgs, keys...)
}

func screenSized(t *testing.T, w, h int, msgs []tea.Msg, keys ...tea.KeyMsg) string {
	t.Helper()
	m := New(newFakeEngine(), Options{MDNS: "on (eth0)", Now: func() time.Time { return t0 }})
	tm := teatest.NewTestModel(t, m, teatest.WithInitialTermSize(w, h))
	for _, msg := range msgs {
		tm.Send(msg)
	}
	for _, k := range keys {
		tm.Send(k)
	}
	tm.Send(tea.QuitMsg{})
	fm := tm.FinalModel(t, teatest.WithFinalTimeout(5*time.Second)).(Model)
	// A bell (BEL in the frame) may or may not have been cleared by its
	// tick yet; TestBell covers it.
	return strings.ReplaceAll(fm.View(), "\a", "")
}

// TestBell: a direct message or a mention rings the bell (a BEL in the
// next frame, cleared by a tick); an ordinary message does not.
func TestBell(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		ev   mmls.Event
		ring bool
	}{
		{"direct message", &mmls.Message{Room: "dm:" + aliceID.String() + ":" + bobID.String(), From: "bob", FromID: bobID, Text: "psst"}, true},
		{"mention", &mmls.Message{Room: "lobby", From: "bob", FromID: bobID, Text: "Alice, look"}, true},
		{"ordinary", &mmls.Message{Room: "lobby", From: "bob", FromID: bobID, Text: "hello all"}, false},
		{"our nick inside another word", &mmls.Message{Room: "lobby", From: "bob", FromID: bobID, Text: "malice aforethought"}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			m := New(newFakeEngine(), Options{Now: func() time.Time { return t0 }})
			mm, _ := m.Update(tea.WindowSizeMsg{Width: 80, Height: 20})
			m = mm.(Model)
			for _, msg := range started() {
				m.onEvent(msg.(eventMsg).ev)
			}
			m.notify = true // as Ready says by default
			rang := false
			for _, c := range m.onEvent(tc.ev) {
				if _, ok := c().(bellMsg); ok {
					mm, _ = m.Update(bellMsg{})
					m = mm.(Model)
					rang = strings.Contains(m.View(), "\a")
				}
			}
			if rang != tc.ring {
				t.Fatalf("rang %v, want %v", rang, tc.ring)
			}
			if rang {
				mm, _ = m.Update(bellOffMsg{})
				if strings.Contains(mm.(Model).View(), "\a") {
					t.Fatal("the bell did not stop")
				}
			}
		})
	}
}

// TestNotifications: a direct message rings and, with notifications on,
// the frame carries it as OSC 777 and OSC 9; the peer's text cannot end
// the sequence or start another; off (/notify off or --no-notify),
// neither the notification nor the bell.
func TestNotifications(t *testing.T) {
	t.Parallel()
	evil := "psst\x07\x1b]52;c;ZXZpbA==\x07\x1b[2J;more"
	dm := &mmls.Message{Room: "dm:" + aliceID.String() + ":" + bobID.String(), From: "bob", FromID: bobID, Text: evil}
	tests := []struct {
		name     string
		stored   bool // the /notify setting, as Ready tells it
		noNotify bool // --no-notify
		want     bool
	}{
		{"on", true, false, true},
		{"/notify off", false, false, false},
		{"--no-notify", true, true, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			m := New(newFakeEngine(), Options{NoNotify: tc.noNotify, Now: func() time.Time { return t0 }})
			mm, _ := m.Update(tea.WindowSizeMsg{Width: 80, Height: 20})
			m = mm.(Model)
			m.onEvent(&mmls.Ready{ID: aliceID, Nick: "alice", Room: "lobby", Notify: tc.stored})
			m.onEvent(&mmls.Joined{Room: "lobby"})
			mm = m
			for _, c := range m.onEvent(dm) {
				if c == nil {
					continue
				}
				if _, ok := c().(bellMsg); ok {
					mm, _ = m.Update(bellMsg{})
				}
			}
			out := mm.(Model).View()
			first := strings.SplitN(out, "\n", 2)[0]
			got := strings.Contains(first, "\x1b]777;notify;mmls-chat;bob: psst")
			if got != tc.want || strings.Contains(first, "\x1b]9;mmls-chat: bob: psst") != tc.want {
				t.Fatalf("notified %v, want %v: %q", got, tc.want, first)
			}
			// If notified a bell and the two sequences, else nothing.
			esc, bel := 0, 0
			if tc.want {
				esc, bel = 2, 3
			}
			if strings.Count(out, "\x1b") != esc || strings.Count(out, "\a") != bel {
				t.Fatalf("%d ESC and %d BEL in the frame, want %d and %d: %q", strings.Count(out, "\x1b"), strings.Count(out, "\a"), esc, bel, first)
			}
		})
	}
}

func TestScreens(t *testing.T) {
	tests := []struct {
		name string
		msgs []tea.Msg
		keys []tea.KeyMsg
		want []string
	}{
		{"empty lobby", started(), nil, []string{"alice (a11ce000)", "#lobby", "10.0.0.1:7420 · mDNS on (eth0) · 0 online",
			"No one else is here yet. mDNS is looking", "mmls-chat --peer 10.0.0.1:7420", "/connect 10.0.0.1:7420"}},
		{"alone, port taken, a dead peer", []tea.Msg{
			eventMsg{&mmls.Ready{ID: aliceID, Nick: "alice", Listen: "[::]:40001", Addrs: []string{"10.0.0.1:40001", "[fd00::1]:40001"}, Room: "lobby",
				Notes: []string{"port :7420 is taken; listening on [::]:40001 instead"}}},
			eventMsg{&mmls.Joined{Room: "lobby"}},
			eventMsg{&mmls.Unreachable{Addr: "10.0.0.9:7420", Reason: "nobody is listening there"}},
			eventMsg{&mmls.Sent{At: stamped(at(1)), Room: "lobby", MsgID: "m1", Text: "anyone?", Recipients: 0}},
		}, nil, []string{"10.0.0.1:40001 +1 ·", "port :7420 is taken; listening on [::]:40001 instead",
			"can't reach 10.0.0.9:7420: nobody is listening there (still trying)", "anyone? · no one else here yet",
			"mmls-chat --peer [fd00::1]:40001"}},
		{"conversation", conversation(), nil, []string{"morning all", "hi bob, hi carol 1/2", "everyone got this one ✓", "⇄ bob ✔", "→ carol", "@carol 1"}},
		{"alone, with a contact string", []tea.Msg{
			eventMsg{&mmls.Ready{ID: aliceID, Nick: "alice", Listen: "[::]:7420", Addrs: []string{"10.0.0.1:7420"}, Room: "lobby",
				Contacts: []string{aliceID.String() + "@10.0.0.1:7420"}}},
			eventMsg{&mmls.Joined{Room: "lobby"}},
		}, nil, []string{"mmls-chat --peer 10.0.0.1:7420", "give your contact string instead", aliceID.String()[:40]}},
		{"a line waiting for the room to form", append(started(),
			eventMsg{&mmls.Sent{At: stamped(at(1)), Room: "lobby", MsgID: "m1", Text: "first!", Recipients: 2, Waiting: 2}},
		), nil, []string{"first! 0/2 · waiting for them to connect"}},
		{"alert banner", append(started(), eventMsg{&mmls.Alert{Kind: mmls.KeyChanged, Detail: "bob arrived with a different key"}}), nil,
			[]string{"⚠ bob arrived with a different key", "security alert (key-changed)"}},
		{"help view", started(), []tea.KeyMsg{{Type: tea.KeyF1}}, []string{"pgup", "ctrl+p", "previous room", "alt+enter"}},
		{"private room", append(started(),
			eventMsg{&mmls.InviteReceived{Room: "plans", From: "bob", FromID: bobID, Private: true}},
			eventMsg{&mmls.Joined{Room: "plans", Private: true}},
			doneMsg{job: job{cmd: mmls.Switch{Room: "plans"}, user: true}, ev: &mmls.Switched{Room: "plans"}},
		), nil, []string{"◆plans · private", "#lobby", "◆plans"}},
		{"after a restart", append(started(),
			eventMsg{&mmls.Joined{Room: "dm:" + aliceID.String() + ":" + carolID.String(), With: carolID, Nick: "carol"}},
			eventMsg{&mmls.History{Room: "lobby", Lines: []mmls.Line{
				{MsgID: "h1", From: "alice", FromID: aliceID, Text: "stored by both", SentAt: at(-60), Mine: true, Recipients: 2, StoredBy: []mmls.ID{bobID, carolID}},
				{MsgID: "h2", From: "alice", FromID: aliceID, Text: "stored by bob so far", SentAt: at(-50), Mine: true, Recipients: 2, StoredBy: []mmls.ID{bobID}},
				{MsgID: "h3", From: "alice", FromID: aliceID, Text: "carol was removed since", SentAt: at(-40), Mine: true, Recipients: 2, StoredBy: []mmls.ID{bobID}},
			}, Past: []mmls.Event{
				pastEvent(at(-70), &mmls.MemberChanged{Room: "lobby", ID: carolID, Nick: "carol", Change: mmls.ChangeAdded, By: aliceID}),
				pastEvent(at(-45), &mmls.InviteReceived{Room: "plans", From: "bob", FromID: bobID, Private: true}),
			}}},
			eventMsg{&mmls.Undelivered{Room: "lobby", MsgID: "h3", To: carolID}},
		), nil, []string{"08:20 carol joined", "stored by both ✓", "stored by bob so far 1/2", "08:45 bob invites you to the private room ◆plans", "carol was removed since ✓", "@carol"}},
		{"keys and stale members", append(started(),
			doneMsg{job: job{cmd: mmls.ShowInfo{}, user: true}, ev: &mmls.Info{At: stamped(at(60)), ID: aliceID, Nick: "alice",
				Keys: []mmls.RoomKeys{{Room: "lobby", Rekeyed: at(57), Leaves: []mmls.LeafRotation{{Owner: bobID, Nick: "bob", At: at(52)}}}}}},
			doneMsg{job: job{cmd: mmls.Who{Room: "lobby"}, user: true}, ev: &mmls.Members{At: stamped(at(60)), Room: "lobby", Members: []mmls.MemberView{
				{ID: bobID, Nick: "bob", WeReach: true, TheyReach: true, Online: true, Refreshed: at(55)},
				{ID: carolID, Nick: "carol", WeReach: true, Stale: true, Refreshed: at(60).Add(-9 * 24 * time.Hour)},
			}}},
		), nil, []string{"keys in #lobby: your group rekeyed 3m ago; your key in bob's 8m ago", "stale: their keys unchanged for 9 days"}},
		{"files", append(started(),
			eventMsg{&mmls.FileOffered{At: stamped(at(1)), Room: "lobby", MsgID: "f1", From: "bob", FromID: bobID,
				File: mmls.FileView{ID: "0123456789abcdef0123456789abcdef", Name: "site-map.pdf", Size: 2_400_000, Mime: "application/pdf"}}},
			eventMsg{&mmls.FileOffered{At: stamped(at(2)), Room: "lobby", MsgID: "f2", From: "alice", FromID: aliceID, Mine: true, Recipients: 2,
				File: mmls.FileView{ID: "fedcba9876543210fedcba9876543210", Name: "photo\x1b[2J.jpg", Size: 512}}},
			doneMsg{job: job{cmd: mmls.SaveFile{Room: "lobby", ID: "01234567"}, user: true}, ev: &mmls.FileSaving{At: stamped(at(3)), Room: "lobby",
				ID: "0123456789abcdef0123456789abcdef", Name: "site-map.pdf", Size: 2_400_000, Dir: "/home/alice/Downloads/mmls-chat"}},
			eventMsg{&mmls.FileProgress{At: stamped(at(3)), ID: "0123456789abcdef0123456789abcdef", Room: "lobby", Name: "site-map.pdf", Done: 1_200_000, Total: 2_400_000}},
		), nil, []string{"[file] site-map.pdf, 2.4 MB — /save 01234567", "[2J.jpg, 512 B — offered to 2 members",
			"fetching site-map.pdf (2.4 MB) into /home/alice/Downloads/mmls-chat", "⇩ site-map.pdf", "50% 1.2 MB of 2.4 MB"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := screen(t, tc.msgs, tc.keys...)
			for _, w := range tc.want {
				if !strings.Contains(got, w) {
					t.Errorf("screen lacks %q:\n%s", w, got)
				}
			}
			golden.RequireEqual(t, []byte(got))
		})
	}
}

func TestCompletion(t *testing.T) {
	t.Parallel()
	m := New(newFakeEngine(), Options{})
	m.peers = map[mmls.ID]*peer{bobID: {nick: "bob"}, carolID: {nick: "carol"}}
	tests := []struct{ in, want string }{
		{"/jo", "/join "},
		{"/ki", "/kick "},
		{"/zzz", "/zzz"},
		{"ca", "carol: "},
		{"hello b", "hello bob "},
		{"/msg ca", "/msg carol "},
		{"nobody x", "nobody x"},
		{"/join d", "/join dev "},
		{"/switch #lo", "/switch lobby "},
		{"/who ", "/who dev "},
	}
	m.rooms = []string{"lobby", "dev", "dm:" + aliceID.String() + ":" + bobID.String()}
	for _, tc := range tests {
		m.tab = nil
		if got := m.complete(tc.in); got != tc.want {
			t.Errorf("complete(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	// Tab again cycles through the candidates, and back to the first.
	m.tab = nil
	var got []string
	text := "/u"
	for range 3 {
		text = m.complete(text)
		got = append(got, text)
	}
	if strings.Join(got, "|") != "/unkick |/update |/unkick " {
		t.Errorf("cycling: %q", got)
	}
	m.tab = nil
	if a, b := m.complete("/msg "), m.complete(m.complete("/msg ")); a != "/msg bob " || b != "/msg carol " {
		t.Errorf("nick cycling after /msg: %q then %q", a, b)
	}
}

// TestKeys: ? starts a message like any character; Ctrl+C clears a draft
// before it quits (asking first, see TestCtrlCAsks); PgUp stops with the first line at the top; a long
// paste goes as several messages, in order.
func TestKeys(t *testing.T) {
	t.Parallel()
	eng := newFakeEngine()
	m := New(eng, Options{Now: func() time.Time { return t0 }})
	mm, _ := m.Update(tea.WindowSizeMsg{Width: 80, Height: 20})
	m = mm.(Model)
	for _, msg := range started() {
		m.onEvent(msg.(eventMsg).ev)
	}
	press := func(k tea.KeyMsg) tea.Cmd {
		t.Helper()
		mm, cmd := m.Update(k)
		m = mm.(Model)
		return cmd
	}
	isQuit := isQuitCmd // without running the tick of a first Ctrl+C
	press(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune("?why")})
	if m.input.Value() != "?why" || m.fullHelp {
		t.Fatalf("input %q, help %v", m.input.Value(), m.fullHelp)
	}
	if isQuit(press(tea.KeyMsg{Type: tea.KeyCtrlC})) || m.input.Value() != "" || !strings.Contains(m.View(), "draft cleared") {
		t.Fatalf("Ctrl+C with a draft: input %q\n%s", m.input.Value(), m.View())
	}
	if isQuit(press(tea.KeyMsg{Type: tea.KeyCtrlC})) || !isQuit(press(tea.KeyMsg{Type: tea.KeyCtrlC})) {
		t.Fatal("Ctrl+C twice on an empty line did not quit, or once did")
	}

	v := m.view("lobby")
	for i := range 40 {
		v.lines = append(v.lines, line{at: t0, id: fmt.Sprint(i), fromID: bobID, from: "bob", text: fmt.Sprintf("line %d", i)})
	}
	for range 10 {
		press(tea.KeyMsg{Type: tea.KeyPgUp})
	}
	out := m.View()
	if !strings.Contains(out, "line 0\n") && !strings.Contains(out, "line 0 ") {
		t.Errorf("PgUp past the top does not show the first line:\n%s", out)
	}
	if v.scroll != 40-m.bodyHeight() {
		t.Errorf("scrolled %d lines up, want %d (the pane full)", v.scroll, 40-m.bodyHeight())
	}

	m.busy, m.queue = false, nil                                // the refreshes asked at the start
	paste := strings.Repeat("0123456789 abcdé\n", 9000) + "end" // about 150 KiB
	press(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune(paste), Paste: true})
	if m.input.Value() != paste {
		t.Fatalf("the paste was cut to %d bytes", len(m.input.Value()))
	}
	if press(tea.KeyMsg{Type: tea.KeyEnter}); !strings.Contains(m.View(), "9001 lines: Enter again sends them") {
		t.Fatalf("a paste of 9001 lines went without asking:\n%s", m.View())
	}
	cmd := press(tea.KeyMsg{Type: tea.KeyEnter})
	var sent strings.Builder
	for cmd != nil {
		msg := cmd()
		if b, ok := msg.(tea.BatchMsg); ok {
			for _, c := range b {
				if c != nil {
					if d, ok := c().(doneMsg); ok {
						cmd = m.onDone(d)
					}
				}
			}
		} else if d, ok := msg.(doneMsg); ok {
			cmd = m.onDone(d)
		} else {
			cmd = nil
		}
		for len(eng.cmds) > 0 {
			c := <-eng.cmds
			say, ok := c.(mmls.Say)
			if !ok || len(say.Text) > mmls.MaxTextSize {
				t.Fatalf("sent %T of %d bytes", c, len(say.Text))
			}
			sent.WriteString(say.Text)
		}
	}
	if sent.String() != paste {
		t.Errorf("the parts sent make %d bytes, want the %d pasted", sent.Len(), len(paste))
	}
	if !strings.Contains(m.View(), "sent as 3 messages") {
		t.Errorf("no word about the split:\n%s", m.View())
	}
}

// BenchmarkView10k renders a room of 10,000 messages: only the visible
// lines are rendered, so the cost does not grow with the history.
func BenchmarkView10k(b *testing.B) {
	m := New(newFakeEngine(), Options{MDNS: "on"})
	mm, _ := m.Update(tea.WindowSizeMsg{Width: 120, Height: 40})
	m = mm.(Model)
	for _, msg := range started() {
		m.onEvent(msg.(eventMsg).ev)
	}
	v := m.view("lobby")
	for i := 0; i < 10000; i++ {
		v.lines = append(v.lines, line{at: t0, id: fmt.Sprint(i), fromID: bobID, from: "bob", text: fmt.Sprintf("message number %d, long enough to wrap a little on a narrow screen perhaps", i)})
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		_ = m.View()
	}
}

// TestMembershipLines: every line about membership says who did what.
func TestMembershipLines(t *testing.T) {
	t.Parallel()
	m := New(newFakeEngine(), Options{Now: func() time.Time { return t0 }})
	for _, msg := range started() {
		m.onEvent(msg.(eventMsg).ev)
	}
	m.peers[bobID] = &peer{nick: "bob"}
	m.onEvent(&mmls.Removed{Room: "lobby", By: bobID, ByNick: "bob"})
	tests := []struct {
		ev   *mmls.MemberChanged
		want string
	}{
		{&mmls.MemberChanged{Room: "lobby", ID: carolID, Nick: "carol", Change: mmls.ChangeAdded, By: aliceID}, "carol joined"},
		{&mmls.MemberChanged{Room: "lobby", ID: carolID, Nick: "carol", Change: mmls.ChangeRemoved, By: aliceID}, "you removed carol"},
		{&mmls.MemberChanged{Room: "lobby", ID: carolID, Nick: "carol", Change: mmls.ChangeRemoved, By: aliceID, Following: bobID}, "you removed carol, following bob"},
		{&mmls.MemberChanged{Room: "lobby", ID: carolID, Nick: "carol", Change: mmls.ChangeRemoved, By: aliceID, Departure: true}, "carol left"},
		{&mmls.MemberChanged{Room: "lobby", ID: carolID, Nick: "carol", Change: mmls.ChangeRemoved, By: bobID}, ""},                // told by what we did about it
		{&mmls.MemberChanged{Room: "lobby", ID: bobID, Nick: "bob", Change: mmls.ChangeRemoved, By: aliceID, Departure: true}, ""}, // bob removed us: told already
		{&mmls.MemberChanged{Room: "lobby", ID: aliceID, Nick: "alice", Change: mmls.ChangeAdded, By: bobID}, ""},
	}
	for _, tc := range tests {
		if got := m.membershipLine(tc.ev); got != tc.want {
			t.Errorf("%+v: %q, want %q", tc.ev, got, tc.want)
		}
	}
}

// TestHostileStringsNeverReachTheTerminal: escape sequences (OSC 52
// clipboard writes, OSC 0 titles, CSI colours, C1 controls) and bidi
// overrides in anything a peer sends (its nick, a message, a room name in
// an invitation, an alert) never reach the terminal's output.
func TestHostileStringsNeverReachTheTerminal(t *testing.T) {
	t.Parallel()
	m := New(newFakeEngine(), Options{MDNS: "on", Now: func() time.Time { return t0 }})
	mm, _ := m.Update(tea.WindowSizeMsg{Width: 120, Height: 30})
	m = mm.(Model)
	evil := "\x1b]52;c;ZXZpbA==\x07\x1b]0;pwned\x07\x1b[31m\u009b31m\u202eevil\u2066"
	for _, msg := range started() {
		m.onEvent(msg.(eventMsg).ev)
	}
	for _, ev := range []mmls.Event{
		&mmls.PeerChanged{ID: bobID, Nick: "bob" + evil, Online: true},
		&mmls.Message{Room: "lobby", MsgID: "m1", From: "bob" + evil, FromID: bobID, Text: "hi " + evil + "\nsecond line", SentAt: t0},
		&mmls.InviteReceived{Room: "plans" + evil, From: "bob" + evil, FromID: bobID, Private: true},
		&mmls.Alert{Kind: mmls.KeyChanged, Detail: "key " + evil},
		&mmls.Joined{Room: "dev" + evil},
	} {
		m.onEvent(ev)
	}
	m.onDone(doneMsg{job: job{cmd: mmls.Who{Room: "lobby"}, user: true}, ev: &mmls.Members{Room: "lobby", Members: []mmls.MemberView{{ID: bobID, Nick: "bob" + evil, WeReach: true}}}})
	out := m.View()
	for _, bad := range []string{"\x1b", "\x07", "\u009b", "\u202e", "\u2066"} {
		if strings.Contains(out, bad) {
			t.Errorf("the screen carries %q:\n%q", bad, out)
		}
	}
	if !strings.Contains(out, "second line") || !strings.Contains(out, "evil") {
		t.Errorf("the cleaned text is not shown:\n%s", out)
	}
}

// TestDaysAndMentions: lines of other days sit under their date; a line
// naming us is highlighted; a wrapped line continues under its text.
func TestDaysAndMentions(t *testing.T) {
	t.Parallel()
	m := New(newFakeEngine(), Options{Now: func() time.Time { return t0 }})
	m.st.Mention = lipgloss.NewStyle().Transform(func(s string) string { return "[" + s + "]" })
	mm, _ := m.Update(tea.WindowSizeMsg{Width: 100, Height: 20})
	m = mm.(Model)
	for _, msg := range started() {
		m.onEvent(msg.(eventMsg).ev)
	}
	for i, ev := range []*mmls.Message{
		{Room: "lobby", MsgID: "a", From: "bob", FromID: bobID, Text: "two days ago", SentAt: t0.AddDate(0, 0, -2)},
		{Room: "lobby", MsgID: "b", From: "bob", FromID: bobID, Text: "yesterday evening", SentAt: t0.AddDate(0, 0, -1)},
		{Room: "lobby", MsgID: "c", From: "bob", FromID: bobID, Text: "alice, are you there?", SentAt: t0},
		{Room: "lobby", MsgID: "d", From: "bob", FromID: bobID, Text: strings.Repeat("word ", 20) + "end", SentAt: t0},
	} {
		ev.MsgID = fmt.Sprint(i)
		m.onEvent(ev)
	}
	out := m.View()
	for _, want := range []string{"Mon 23 Nov 2026", "yesterday", "today", "bob [alice], are you there?", "│" + strings.Repeat(" ", stampWidth) + "word",
		"No one else is online. A friend joins with:", "10.0.0.1:7420"} {
		if !strings.Contains(out, want) {
			t.Errorf("screen lacks %q:\n%s", want, out)
		}
	}
	if strings.Index(out, "Mon 23 Nov 2026") > strings.Index(out, "two days ago") || strings.Index(out, "today") > strings.Index(out, "are you there") {
		t.Errorf("a date is not above its lines:\n%s", out)
	}
}

// TestCommandsAnswer: /msg moves the screen to the direct room it wrote
// in; /connect says it is connecting; with no room left, what is typed
// and answered is still shown.
func TestCommandsAnswer(t *testing.T) {
	t.Parallel()
	m := New(newFakeEngine(), Options{Now: func() time.Time { return t0 }})
	mm, _ := m.Update(tea.WindowSizeMsg{Width: 100, Height: 24})
	m = mm.(Model)
	for _, msg := range started() {
		m.onEvent(msg.(eventMsg).ev)
	}
	m.peers[carolID] = &peer{nick: "carol", online: true}
	dm := "dm:" + aliceID.String() + ":" + carolID.String()
	m.onDone(doneMsg{job: job{cmd: mmls.Direct{To: "carol", Text: "psst"}, user: true}, ev: &mmls.DirectRoom{Room: dm, With: carolID}})
	if m.current != dm || !strings.Contains(m.View(), "alice (a11ce000)  @carol ") {
		t.Errorf("after /msg the screen shows %q:\n%s", m.current, m.View())
	}
	m.onDone(doneMsg{job: job{cmd: mmls.Connect{Addr: "10.0.0.7:7420"}, user: true}})
	if !strings.Contains(m.View(), "connecting to 10.0.0.7:7420…") {
		t.Errorf("/connect said nothing:\n%s", m.View())
	}
	m.onDone(doneMsg{job: job{cmd: mmls.Search{Room: dm, Text: "ps"}, user: true}, ev: &mmls.Found{Room: dm, Text: "ps", Total: 1,
		Lines: []mmls.Line{{From: "alice", FromID: aliceID, Text: "psst", SentAt: t0, Mine: true}}}})
	if out := m.View(); !strings.Contains(out, `1 message in @carol contains "ps":`) || !strings.Contains(out, "alice, today 09:30: psst") {
		t.Errorf("/search answer:\n%s", out)
	}
	m.onEvent(&mmls.InviteReceived{Room: "lobby", From: "bob", FromID: bobID})
	if out := m.View(); !strings.Contains(m.viewText("lobby"), "bob invites you back to the open room #lobby: you read them again") {
		t.Errorf("an invitation to a room we are in:\n%s", out)
	}
	m.onEvent(&mmls.Left{Room: dm})
	m.onEvent(&mmls.Left{Room: "lobby"})
	m.submit("hello?")
	m.onDone(doneMsg{job: job{cmd: mmls.ShowInfo{}, user: true}, ev: &mmls.Info{ID: aliceID, Nick: "alice", Online: 1}})
	out := m.View()
	for _, want := range []string{"you are in no room: /join one first", "you are alice (a11ce000) at 10.0.0.1:7420", "1 peer online"} {
		if !strings.Contains(out, want) {
			t.Errorf("screen lacks %q:\n%s", want, out)
		}
	}
}

// manyRooms: 30 rooms, the one on screen in the middle of the list, and
// its members.
func manyRooms() []tea.Msg {
	msgs := started()
	for i := range 30 {
		msgs = append(msgs, eventMsg{&mmls.Joined{Room: fmt.Sprintf("room%02d", i)}})
	}
	return append(msgs,
		doneMsg{job: job{cmd: mmls.Switch{Room: "room15"}, user: true}, ev: &mmls.Switched{Room: "room15"}},
		eventMsg{&mmls.PeerChanged{ID: bobID, Nick: "bob", Online: true}},
		doneMsg{job: job{cmd: mmls.Who{Room: "room15"}}, ev: &mmls.Members{Room: "room15", Members: []mmls.MemberView{
			{ID: bobID, Nick: "bob", WeReach: true, TheyReach: true, Online: true},
			{ID: carolID, Nick: "carol", WeReach: true, TheyReach: true},
		}}},
		eventMsg{&mmls.Message{Room: "room15", MsgID: "m1", From: "bob", FromID: bobID, Text: "the fifteenth room", SentAt: t0}},
		eventMsg{&mmls.Message{Room: "room03", MsgID: "m2", From: "bob", FromID: bobID, Text: "meanwhile in room 3", SentAt: t0}},
	)
}

// TestLayouts: small windows keep the essentials (nick, room, online
// count) and the messages; the side panel hides below 80 columns (F2
// brings it back) and, with many rooms, keeps the current one and the
// members in sight.
func TestLayouts(t *testing.T) {
	tests := []struct {
		name   string
		w, h   int
		keys   []tea.KeyMsg
		want   []string
		unwant []string
	}{
		{"many rooms", 100, 24, nil, []string{"room15", "↑ ", "↓ ", "Members (3)", "● ⇄ bob", "○ ⇄ carol", "the fifteenth room"}, nil},
		{"60x20", 60, 20, nil, []string{"alice (a11ce000)  #room15 · open", "1 new · 1 online", "bob the fifteenth room"}, []string{"Rooms", "│"}},
		{"40x12", 40, 12, nil, []string{"alice  #room15 ", "1 new · 1 online", "bob the fifteenth"}, []string{"Rooms"}},
		{"80x24, the panel hidden", 80, 24, []tea.KeyMsg{{Type: tea.KeyF2}}, []string{"alice (a11ce000)  #room15 · open", "3 here · 1 new · 1 online"}, []string{"Rooms"}},
		{"60x20 with the panel", 60, 20, []tea.KeyMsg{{Type: tea.KeyF2}}, []string{"Rooms", "room15", "Members (3)", "the fifteenth"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := screenSized(t, tc.w, tc.h, manyRooms(), tc.keys...)
			for _, w := range tc.want {
				if !strings.Contains(got, w) {
					t.Errorf("screen lacks %q:\n%s", w, got)
				}
			}
			for _, w := range tc.unwant {
				if strings.Contains(got, w) {
					t.Errorf("screen has %q:\n%s", w, got)
				}
			}
			for i, l := range strings.Split(got, "\n") {
				if lipgloss.Width(l) > tc.w {
					t.Errorf("line %d is %d columns wide, in a window of %d: %q", i, lipgloss.Width(l), tc.w, l)
				}
			}
			golden.RequireEqual(t, []byte(got))
		})
	}
}

// pastEvent is ev as a History's Past carries it: stamped when it
// happened.
func pastEvent(t time.Time, ev mmls.Event) mmls.Event {
	switch e := ev.(type) {
	case *mmls.MemberChanged:
		e.At = stamped(t)
	case *mmls.InviteReceived:
		e.At = stamped(t)
	}
	return ev
}

// viewText is what room holds, one line each.
func (m Model) viewText(room string) string {
	var out []string
	for _, l := range m.views[room].lines {
		out = append(out, l.text)
	}
	return strings.Join(out, "\n")
}

// TestRenamesAreShown: a peer's change of nick is said in each room we
// share with it (not in the others), its nick changes in the member
// list, and our own /nick changes the nick the status bar shows.
func TestRenamesAreShown(t *testing.T) {
	t.Parallel()
	msgs := append(conversation(),
		eventMsg{&mmls.Joined{Room: "dev"}},
		eventMsg{&mmls.PeerRenamed{ID: bobID, Old: "bob", Nick: "bobby", Rooms: []string{"lobby"}}},
		doneMsg{job: job{cmd: mmls.SetNick{Nick: "alicia"}}, ev: &mmls.NickChanged{Nick: "alicia", Detail: "told 2 online"}},
	)
	lobby := screen(t, append(msgs, switchTo("lobby")))
	for _, want := range []string{"bob is now known as bobby", "you are now known as alicia (told 2 online)", "alicia (a11ce000)  #lobby"} {
		if !strings.Contains(lobby, want) {
			t.Errorf("the lobby lacks %q:\n%s", want, lobby)
		}
	}
	m := New(newFakeEngine(), Options{Now: func() time.Time { return t0 }})
	for _, msg := range msgs {
		if e, ok := msg.(eventMsg); ok {
			m.onEvent(e.ev)
		}
	}
	if p := m.peers[bobID]; p == nil || p.nick != "bobby" {
		t.Fatalf("bob's nick in the model: %+v", p)
	}
	for _, l := range m.view("dev").lines {
		if strings.Contains(l.text, "known as") {
			t.Fatalf("#dev, which bob is not in, says %q", l.text)
		}
	}
}

// TestActionsAreShown: a /me line, ours or another's, reads "* nick
// action"; a line that merely contains /me is text.
func TestActionsAreShown(t *testing.T) {
	t.Parallel()
	got := screen(t, append(started(),
		eventMsg{&mmls.PeerChanged{ID: bobID, Nick: "bob", Online: true}},
		eventMsg{&mmls.Message{Room: "lobby", MsgID: "m1", From: "bob", FromID: bobID, Text: "/me waves at alice", SentAt: at(1)}},
		eventMsg{&mmls.Sent{At: stamped(at(2)), Room: "lobby", MsgID: "m2", Text: "/me waves back", Recipients: 1}},
		eventMsg{&mmls.Message{Room: "lobby", MsgID: "m3", From: "bob", FromID: bobID, Text: "type /me to act", SentAt: at(3)}},
	))
	for _, want := range []string{"* bob waves at alice", "* alice waves back", "bob type /me to act"} {
		if !strings.Contains(got, want) {
			t.Errorf("no %q on screen:\n%s", want, got)
		}
	}
}

// TestRemovedSaysWhoAndWhere: a removal says, without jargon, who removed
// us from which room and what it means; in a room not on screen it is
// news (unread).
func TestRemovedSaysWhoAndWhere(t *testing.T) {
	t.Parallel()
	m := New(newFakeEngine(), Options{Now: func() time.Time { return t0 }})
	for _, msg := range started() {
		m.onEvent(msg.(eventMsg).ev)
	}
	m.onEvent(&mmls.Joined{Room: "plans", Private: true})
	m.onEvent(&mmls.Joined{Room: "dev"})
	m.onEvent(&mmls.Removed{Room: "plans", By: bobID, ByNick: "bob"})
	m.onEvent(&mmls.Removed{Room: "dev", By: carolID, ByNick: "carol"})
	for room, want := range map[string]string{
		"plans": "bob removed you from ◆plans: you no longer read its lines (/leave closes it)",
		"dev":   "carol removed you from #dev: you no longer read carol's lines there",
	} {
		v := m.view(room)
		if v == nil || len(v.lines) == 0 || v.lines[len(v.lines)-1].text != want {
			t.Fatalf("%s: %+v, want %q", room, v, want)
		}
		if v.unread != 1 {
			t.Errorf("%s: %d unread, want 1", room, v.unread)
		}
	}
}

// TestUnreadMarks: a room with unread lines shows their count, and "@"
// when one of them names us; coming to it, "── new ──" stands above the
// first line that came while we were away, and is gone the next visit.
func TestUnreadMarks(t *testing.T) {
	t.Parallel()
	msgs := append(started(),
		eventMsg{&mmls.PeerChanged{ID: bobID, Nick: "bob", Online: true}},
		eventMsg{&mmls.Joined{Room: "dev"}},
		eventMsg{&mmls.Joined{Room: "ops"}},
		switchTo("dev"),
		eventMsg{&mmls.Message{Room: "dev", MsgID: "d1", From: "bob", FromID: bobID, Text: "read before", SentAt: at(1)}},
		switchTo("lobby"),
		eventMsg{&mmls.Message{Room: "dev", MsgID: "d2", From: "bob", FromID: bobID, Text: "while away", SentAt: at(2)}},
		eventMsg{&mmls.Message{Room: "dev", MsgID: "d3", From: "bob", FromID: bobID, Text: "alice, look", SentAt: at(3)}},
		eventMsg{&mmls.Message{Room: "ops", MsgID: "o1", From: "bob", FromID: bobID, Text: "plain traffic", SentAt: at(4)}},
	)
	panel := screen(t, msgs)
	for _, want := range []string{"#dev 2@", "#ops 1 "} {
		if !strings.Contains(panel, want) {
			t.Errorf("the panel lacks %q:\n%s", want, panel)
		}
	}
	dev := screen(t, append(msgs, switchTo("dev")))
	lines := strings.Split(dev, "\n")
	marker := slices.IndexFunc(lines, func(l string) bool { return strings.Contains(l, "─ new ─") })
	if marker < 1 || !strings.Contains(lines[marker-1], "read before") || !strings.Contains(lines[marker+1], "while away") {
		t.Fatalf("no new-line marker between what was read and what came:\n%s", dev)
	}
	again := screen(t, append(msgs, switchTo("dev"), switchTo("lobby"), switchTo("dev")))
	if strings.Contains(again, "─ new ─") {
		t.Fatalf("the marker stayed for the next visit:\n%s", again)
	}
}

// switchTo is the answer to /switch ROOM typed by the user.
func switchTo(room string) tea.Msg {
	return doneMsg{job: job{cmd: mmls.Switch{Room: room}, user: true}, ev: &mmls.Switched{Room: room}}
}

// TestNickColoursApart: we and the first people seen each get a colour of
// our own while the palette lasts (alice, bob and you once shared one);
// an id keeps its colour; past the palette, colours repeat.
func TestNickColoursApart(t *testing.T) {
	t.Parallel()
	const n = 10
	c := NewColours()
	seen := map[int]string{}
	for i := range n {
		id := fmt.Sprintf("%064x", i*7919)
		k := c.Index(id, n)
		if other, ok := seen[k]; ok {
			t.Fatalf("ids %s and %s share colour %d among the first %d", other[:8], id[:8], k, n)
		}
		seen[k] = id
		if again := c.Index(id, n); again != k {
			t.Fatalf("%s changed colour: %d then %d", id[:8], k, again)
		}
	}
	if k := c.Index("one more", n); k < 0 || k >= n {
		t.Fatalf("past the palette: %d", k)
	}
	// The preferred colour is kept when it is free, whatever came first.
	if a, b := NewColours().Index("x", n), preferredColour("x", n); a != b {
		t.Fatalf("a free preferred colour not taken: %d, want %d", a, b)
	}
}

func TestExcerpt(t *testing.T) {
	t.Parallel()
	// Lower case longer than the text: no panic, some of the text.
	if got := excerpt(strings.Repeat("İ", 50)+"z", "z", 5); !strings.Contains(got, "…") {
		t.Errorf("İ…z: %q", got)
	}
	long := strings.Repeat("a", 100) + "NEEDLE" + strings.Repeat("b", 100)
	for _, tc := range []struct{ text, q, want string }{
		{"short text", "text", "short text"},
		{long, "needle", "…" + strings.Repeat("a", 5) + "NEEDLE" + strings.Repeat("b", 5) + "…"},
		{"NEEDLE" + strings.Repeat("b", 100), "needle", "NEEDLE" + strings.Repeat("b", 5) + "…"},
		{strings.Repeat("é", 100), "x", strings.Repeat("é", 10) + "…"},
		{strings.Repeat("é", 20) + "x" + strings.Repeat("é", 20), "X", "…" + strings.Repeat("é", 5) + "x" + strings.Repeat("é", 5) + "…"},
	} {
		if got := excerpt(tc.text, tc.q, 5); got != tc.want {
			t.Errorf("excerpt(%.20q…, %q) = %q, want %q", tc.text, tc.q, got, tc.want)
		}
	}
}

// TestRequestsShownApart: a stranger's direct room is marked as a request
// in the side panel until we accept it (or write back).
func TestRequestsShownApart(t *testing.T) {
	t.Parallel()
	dm := "dm:" + aliceID.String() + ":" + carolID.String()
	msgs := append(started(),
		eventMsg{&mmls.PeerChanged{ID: carolID, Nick: "carol", Online: true}},
		eventMsg{&mmls.Joined{Room: dm, With: carolID, Nick: "carol", Request: true}},
	)
	if got := screen(t, msgs); !strings.Contains(got, "@carol request") {
		t.Fatalf("the request is not marked:\n%s", got)
	}
	accepted := append(msgs, doneMsg{job: job{cmd: mmls.Accept{Room: "carol"}, user: true}, ev: &mmls.Switched{Room: dm}})
	if got := screen(t, accepted); strings.Contains(got, "@carol request") {
		t.Fatalf("still marked after /accept:\n%s", got)
	}
	wroteBack := append(msgs, eventMsg{&mmls.Sent{At: stamped(at(2)), Room: dm, MsgID: "m9", Text: "hi carol", Recipients: 1}})
	if got := screen(t, wroteBack); strings.Contains(got, "@carol request") {
		t.Fatalf("still marked after writing back:\n%s", got)
	}
}

// TestSmallTerminal: at 60×15, PgUp reaches a room's first line, and F1's
// key list fills the rows left to it, with no blank rows below.
func TestSmallTerminal(t *testing.T) {
	t.Parallel()
	msgs := started()
	for i := range 40 {
		msgs = append(msgs, eventMsg{&mmls.Message{Room: "lobby", MsgID: fmt.Sprint(i), From: "bob", FromID: bobID, Text: fmt.Sprintf("line %d", i), SentAt: at(1)}})
	}
	var keys []tea.KeyMsg
	for range 20 {
		keys = append(keys, tea.KeyMsg{Type: tea.KeyPgUp})
	}
	if got := screenSized(t, 60, 15, msgs, keys...); !strings.Contains(got, "bob line 0 ") && !strings.Contains(got, "bob line 0\n") {
		t.Errorf("PgUp at 60×15 never shows the first line:\n%s", got)
	}
	help := strings.Split(strings.TrimRight(screenSized(t, 60, 15, started(), tea.KeyMsg{Type: tea.KeyF1}), "\n"), "\n")
	if len(help) != 15 || strings.TrimSpace(help[len(help)-1]) == "" || !strings.Contains(strings.Join(help, "\n"), "alt+enter new line") {
		t.Errorf("F1 at 60×15: %d rows, the last blank or the keys missing:\n%s", len(help), strings.Join(help, "\n"))
	}
}

// TestOlderLinesOnPgUp: a room whose start loaded only its last lines
// asks for older ones when PgUp reaches the top, puts them above, and
// stops asking when none are left.
func TestOlderLinesOnPgUp(t *testing.T) {
	t.Parallel()
	eng := newFakeEngine()
	m := New(eng, Options{Now: func() time.Time { return t0 }})
	for _, msg := range started() {
		m.onEvent(msg.(eventMsg).ev)
	}
	mm, _ := m.Update(tea.WindowSizeMsg{Width: 80, Height: 20})
	m = mm.(Model)
	m.busy, m.queue = false, nil // the refreshes asked at the start
	var recent, older []mmls.Line
	for i := range 30 {
		l := mmls.Line{MsgID: fmt.Sprint(i), From: "bob", FromID: bobID, Text: fmt.Sprintf("line %d", i), SentAt: at(i)}
		if i < 10 {
			older = append(older, l)
		} else {
			recent = append(recent, l)
		}
	}
	m.onEvent(&mmls.History{Room: "lobby", Lines: recent, Older: 77})
	var asked *mmls.LoadOlder
	for range 10 {
		mm, cmd := m.Update(tea.KeyMsg{Type: tea.KeyPgUp})
		m = mm.(Model)
		if cmd != nil {
			if d, ok := cmd().(doneMsg); ok {
				if c, ok := d.cmd.(mmls.LoadOlder); ok {
					if asked != nil {
						t.Fatal("asked twice before the answer")
					}
					asked = &c
				}
			}
		}
	}
	if asked == nil || asked.Room != "lobby" || asked.Before != 77 {
		t.Fatalf("PgUp at the top asked %+v", asked)
	}
	m.onDone(doneMsg{job: job{cmd: *asked}, ev: &mmls.History{Room: "lobby", Lines: older, Earlier: true}})
	v := m.view("lobby")
	var texts []string
	for _, l := range v.lines {
		texts = append(texts, l.text)
	}
	if len(texts) != 30 || texts[0] != "line 0" || texts[29] != "line 29" {
		t.Fatalf("lines after loading: %q", texts)
	}
	for range 10 {
		if _, cmd := m.Update(tea.KeyMsg{Type: tea.KeyPgUp}); cmd != nil {
			if d, ok := cmd().(doneMsg); ok {
				if _, ok := d.cmd.(mmls.LoadOlder); ok {
					t.Fatal("asked again with nothing older stored")
				}
			}
		}
	}
}

// TestTopicInTheHeader: the latest /topic line of a room, from history or
// live, is its topic in the header, and reads "* bob set the topic: …".
func TestTopicInTheHeader(t *testing.T) {
	t.Parallel()
	got := screen(t, append(started(),
		eventMsg{&mmls.PeerChanged{ID: bobID, Nick: "bob", Online: true}},
		eventMsg{&mmls.History{Room: "lobby", Lines: []mmls.Line{{MsgID: "h1", From: "bob", FromID: bobID, Text: "/topic an old topic", SentAt: at(0)}}}},
		eventMsg{&mmls.Message{Room: "lobby", MsgID: "m1", From: "bob", FromID: bobID, Text: "/topic release on Friday", SentAt: at(1)}},
	))
	header := strings.SplitN(got, "\n", 2)[0]
	if !strings.Contains(header, "#lobby · open · release on Friday") {
		t.Errorf("the header lacks the topic: %q", header)
	}
	if !strings.Contains(got, "* bob set the topic: release on Friday") {
		t.Errorf("no topic line:\n%s", got)
	}
}

// TestAlertBannerWraps: a long security alert is read whole on a 100
// column screen (it wraps, up to three rows), and the screen keeps its
// height.
func TestAlertBannerWraps(t *testing.T) {
	t.Parallel()
	detail := "mallory (0a0b0c0d) looks like alice (a11ce000), alicе (0e0f1011); they are different keys, shown with their ids: /verify before trusting anyone"
	got := screenSized(t, 100, 24, append(started(), eventMsg{&mmls.Alert{Kind: mmls.LookAlike, Detail: detail}}))
	if !strings.Contains(got, "/verify before trusting anyone") {
		t.Errorf("the alert's end is cut:\n%s", got)
	}
	if rows := strings.Count(strings.TrimRight(got, "\n"), "\n") + 1; rows != 24 {
		t.Errorf("%d rows on a 24-row screen:\n%s", rows, got)
	}
}

// TestAwayIsShown: a peer's away is said in the rooms we share and marked
// in the member list; our own shows in the status bar until we are back.
func TestAwayIsShown(t *testing.T) {
	t.Parallel()
	msgs := append(conversation(),
		eventMsg{&mmls.PeerAway{ID: bobID, Nick: "bob", Text: "lunch", Rooms: []string{"lobby"}}},
		doneMsg{job: job{cmd: mmls.Who{Room: "lobby"}}, ev: &mmls.Members{Room: "lobby", Members: []mmls.MemberView{
			{ID: bobID, Nick: "bob", WeReach: true, TheyReach: true, Online: true, Away: "lunch"},
		}}},
		doneMsg{job: job{cmd: mmls.SetAway{Text: "coffee"}, user: true}, ev: &mmls.AwayChanged{Text: "coffee", Detail: "told 2 online"}},
	)
	got := screen(t, msgs)
	for _, want := range []string{"bob is away: lunch", "⇄ bob away", "you are away: coffee", "away · 2 online"} {
		if !strings.Contains(got, want) {
			t.Errorf("no %q:\n%s", want, got)
		}
	}
	back := screen(t, append(msgs,
		eventMsg{&mmls.PeerAway{ID: bobID, Nick: "bob", Rooms: []string{"lobby"}}},
		doneMsg{job: job{cmd: mmls.SetAway{}, user: true}, ev: &mmls.AwayChanged{Detail: "told 2 online"}},
	))
	if !strings.Contains(back, "bob is back") || !strings.Contains(back, "you are back") || strings.Contains(back, "away · 2 online") {
		t.Errorf("back:\n%s", back)
	}
}

// TestUnreadAcrossRestarts: at a start, what came after the last line
// read in a room counts as unread (with "@" for a mention), and the room
// on screen marks it "── new ──"; leaving a room keeps its last line as
// read (MarkRead).
func TestUnreadAcrossRestarts(t *testing.T) {
	t.Parallel()
	m := New(newFakeEngine(), Options{Now: func() time.Time { return t0 }})
	for _, msg := range started() {
		m.onEvent(msg.(eventMsg).ev)
	}
	lines := func(ids ...string) []mmls.Line {
		var out []mmls.Line
		for _, id := range ids {
			out = append(out, mmls.Line{MsgID: id, From: "bob", FromID: bobID, Text: "line " + id, SentAt: at(1)})
		}
		return out
	}
	m.onEvent(&mmls.Joined{Room: "dev"})
	h := lines("d1", "d2", "d3")
	h[2].Text = "alice, see d3"
	m.onEvent(&mmls.History{Room: "dev", Lines: h, LastRead: "d1"})
	if v := m.view("dev"); v.unread != 2 || v.mentions != 1 {
		t.Fatalf("dev: %d unread, %d mentions, want 2 and 1", v.unread, v.mentions)
	}
	m.onEvent(&mmls.History{Room: "lobby", Lines: lines("l1", "l2", "l3"), LastRead: "l2"})
	if v := m.view("lobby"); v.unread != 0 || v.marker != 2 {
		t.Fatalf("lobby on screen: %d unread, marker at %d, want 0 and 2", v.unread, v.marker)
	}
	m.onEvent(&mmls.History{Room: "ops", Lines: lines("o1"), LastRead: "gone"})
	if v := m.view("ops"); v.unread != 0 {
		t.Fatalf("ops, its last read unknown: %d unread", v.unread)
	}
	m.busy, m.queue = false, nil
	mm, cmd := m.Update(switchTo("dev"))
	m = mm.(Model)
	var marked []mmls.MarkRead
	var collect func(tea.Cmd)
	collect = func(c tea.Cmd) {
		if c == nil {
			return
		}
		switch msg := c().(type) {
		case tea.BatchMsg:
			for _, c := range msg {
				collect(c)
			}
		case doneMsg:
			if r, ok := msg.cmd.(mmls.MarkRead); ok {
				marked = append(marked, r)
			}
		}
	}
	collect(cmd)
	for _, j := range m.queue {
		if r, ok := j.cmd.(mmls.MarkRead); ok {
			marked = append(marked, r)
		}
	}
	if !slices.Contains(marked, mmls.MarkRead{Room: "lobby", MsgID: "l3"}) {
		t.Fatalf("leaving the lobby kept %+v", marked)
	}
}

// TestEmptyRoomSaysSo: a room where nothing was said yet, with others
// online, says how to begin instead of showing a blank pane.
func TestEmptyRoomSaysSo(t *testing.T) {
	t.Parallel()
	got := screen(t, append(started(),
		eventMsg{&mmls.PeerChanged{ID: bobID, Nick: "bob", Online: true}},
		eventMsg{&mmls.Joined{Room: "dev"}},
		switchTo("dev"),
	))
	if !strings.Contains(got, "Nothing was said in #dev yet.") {
		t.Errorf("a blank pane:\n%s", got)
	}
}

// TestLongWordKeepsTheNick: a first word too long for the line (a link)
// starts beside the nick, not on the next line leaving the nick alone;
// nothing of it is lost.
func TestLongWordKeepsTheNick(t *testing.T) {
	t.Parallel()
	link := "https://example.com/" + strings.Repeat("x", 90)
	got := screenSized(t, 60, 20, append(started(),
		eventMsg{&mmls.PeerChanged{ID: bobID, Nick: "bob", Online: true}},
		eventMsg{&mmls.Message{Room: "lobby", MsgID: "m1", From: "bob", FromID: bobID, Text: link + " and more", SentAt: at(1)}},
	))
	if !strings.Contains(got, "bob https://example.com/") {
		t.Errorf("the nick is alone on its line:\n%s", got)
	}
	if n := strings.Count(got, "x"); n < 90 {
		t.Errorf("%d of the link's 90 x shown:\n%s", n, got)
	}
	for _, tc := range []struct {
		text string
		room int
		want string
	}{
		{"short words", 10, "short words"},
		{"abcdefghij rest", 4, "abcd\nefghij rest"},
		{"abcdefghij", 4, "abcd\nefghij"},
		{"ab\ncdefghij", 4, "ab\ncdefghij"},
		{"abcdef", 2, "abcdef"},
	} {
		if got := keepWithNick(tc.text, tc.room); got != tc.want {
			t.Errorf("keepWithNick(%q, %d) = %q, want %q", tc.text, tc.room, got, tc.want)
		}
	}
}

// TestStatusBarShowsNoRawPeerText: a topic is a peer's text; control
// sequences in it reach neither the topic kept (sawTopic) nor the status
// bar, each on its own (a topic kept raw by some other path is cleaned
// where it is drawn).
func TestStatusBarShowsNoRawPeerText(t *testing.T) {
	t.Parallel()
	const hostile = "\x1b]0;owned\x07\x1b[2Jplans"
	raw := func(s string) bool {
		return strings.Contains(s, "\x07") || strings.Contains(s, "\x1b]") || strings.Contains(s, "\x1b[2J")
	}
	m := New(newFakeEngine(), Options{Now: func() time.Time { return t0 }})
	for _, msg := range append(started(), tea.WindowSizeMsg{Width: 200, Height: 30}) {
		mm, _ := m.Update(msg)
		m = mm.(Model)
	}
	mm, _ := m.Update(eventMsg{&mmls.Message{Room: "lobby", MsgID: "t1", From: "bob", FromID: bobID, Text: "/topic " + hostile, SentAt: at(1)}})
	m = mm.(Model)
	if got := m.topic["lobby"]; got == "" || raw(got) {
		t.Fatalf("topic kept as %q", got)
	}
	if bar := m.statusBar(); !strings.Contains(bar, "plans") || raw(bar) {
		t.Fatalf("status bar %q", bar)
	}
	m.topic["lobby"] = hostile
	if bar := m.statusBar(); raw(bar) {
		t.Fatalf("a raw topic reached the status bar: %q", bar)
	}
}

// TestWhoShowsALookAlikesIDOnce: a member whose nick looks like another's
// comes with its short id in its nick (LookAlike): /who does not add it a
// second time; for the others it gives the id.
func TestWhoShowsALookAlikesIDOnce(t *testing.T) {
	t.Parallel()
	twin := "bob (" + carolID.Short() + ")"
	got := screenSized(t, 200, 24, append(started(),
		doneMsg{job: job{cmd: mmls.Who{Room: "lobby"}, user: true}, ev: &mmls.Members{At: stamped(at(1)), Room: "lobby", Members: []mmls.MemberView{
			{ID: bobID, Nick: "bob", WeReach: true, TheyReach: true, Online: true},
			{ID: carolID, Nick: twin, WeReach: true, TheyReach: true, Online: true, LookAlike: true},
		}}}))
	if !strings.Contains(got, "bob ("+bobID.Short()+", both ways") {
		t.Errorf("bob is not shown with his id:\n%s", got)
	}
	if !strings.Contains(got, twin+" (both ways") || strings.Contains(got, twin+" ("+carolID.Short()) {
		t.Errorf("the look-alike's id is not shown once:\n%s", got)
	}
}
