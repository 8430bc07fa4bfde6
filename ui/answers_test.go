package ui

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/bubbles/cursor"
	tea "github.com/charmbracelet/bubbletea"

	"github.com/mmls-chat/mmls-chat/mmls"
)

// scriptEngine answers each command with answer (nil: no answer) and
// records it.
type scriptEngine struct {
	*fakeEngine
	answer func(mmls.Command) (mmls.Event, error)
}

func (s *scriptEngine) Do(ctx context.Context, c mmls.Command) (mmls.Event, error) {
	s.fakeEngine.Do(ctx, c)
	if s.answer == nil {
		return nil, nil
	}
	return s.answer(c)
}

// commands are the commands the engine was given so far.
func (s *scriptEngine) commands() []mmls.Command {
	var out []mmls.Command
	for len(s.cmds) > 0 {
		out = append(out, <-s.cmds)
	}
	return out
}

// enter types line, presses Enter, and runs what follows until the
// engine has answered every command (ticks and events are left out).
func enter(m Model, line string) Model {
	m.input.SetValue(line)
	mm, cmd := m.Update(tea.KeyMsg{Type: tea.KeyEnter})
	m = mm.(Model)
	return settle(m, cmd)
}

// settle runs cmd and feeds the engine's answers back to the model.
func settle(m Model, cmd tea.Cmd) Model {
	if cmd == nil {
		return m
	}
	switch msg := cmd().(type) {
	case tea.BatchMsg:
		for _, c := range msg {
			m = settle(m, c)
		}
	case doneMsg:
		mm, next := m.Update(msg)
		m = settle(mm.(Model), next)
	}
	return m
}

var (
	dmBob   = "dm:" + aliceID.String() + ":" + bobID.String()
	dmCarol = "dm:" + aliceID.String() + ":" + carolID.String()
)

// withDirectRooms is alice in #lobby and #dev, with a direct room with bob
// and one with carol (whose nick is known from her room only).
func withDirectRooms(eng Engine) Model {
	m := New(eng, Options{Now: func() time.Time { return t0 }})
	mm, _ := m.Update(tea.WindowSizeMsg{Width: 100, Height: 24})
	m = mm.(Model)
	for _, msg := range started() {
		m.onEvent(msg.(eventMsg).ev)
	}
	m.onEvent(&mmls.PeerChanged{ID: bobID, Nick: "bob", Online: true})
	for _, ev := range []mmls.Event{&mmls.Joined{Room: "dev"}, &mmls.Joined{Room: dmBob, With: bobID, Nick: "bob"}, &mmls.Joined{Room: dmCarol, With: carolID, Nick: "carol"}} {
		m.onEvent(ev)
	}
	m.busy, m.queue = false, nil
	return m
}

// answers is how the engine answers in the tests below: a direct room
// opens with the person named, and a room that is not ours is refused.
func answers(c mmls.Command) (mmls.Event, error) {
	rooms := []string{"lobby", "dev", dmBob, dmCarol}
	notIn := &mmls.Error{Kind: mmls.ErrNotInRoom, Text: "you are not in that room"}
	switch c := c.(type) {
	case mmls.Switch:
		if !slices.Contains(rooms, c.Room) {
			return nil, notIn
		}
		return &mmls.Switched{Room: c.Room}, nil
	case mmls.Who:
		return &mmls.Members{Room: c.Room}, nil
	case mmls.Direct:
		return &mmls.DirectRoom{Room: dmCarol, With: carolID}, nil
	case mmls.Help:
		return &mmls.HelpText{Commands: mmls.HelpLines()}, nil
	}
	return nil, nil
}

// TestDirectRoomsByNick: a direct room is named as the rooms list shows
// it, @nick (or the other person's id): /switch, /leave and /who reach
// it, and /query opens one without a text. A /switch that fails leaves
// the room on screen, where the next command goes.
func TestDirectRoomsByNick(t *testing.T) {
	t.Parallel()
	tests := []struct {
		lines   []string
		want    []mmls.Command
		current string // the room on screen after the lines
		says    string // a line of the room on screen
	}{
		{[]string{"/switch @carol"}, []mmls.Command{mmls.Switch{Room: dmCarol}}, dmCarol, ""},
		{[]string{"/switch @Bob"}, []mmls.Command{mmls.Switch{Room: dmBob}}, dmBob, ""},
		{[]string{"/switch @" + carolID.String()[:8]}, []mmls.Command{mmls.Switch{Room: dmCarol}}, dmCarol, ""},
		{[]string{"/leave @bob"}, []mmls.Command{mmls.Leave{Room: dmBob}}, "lobby", ""},
		{[]string{"/part @bob"}, []mmls.Command{mmls.Leave{Room: dmBob}}, "lobby", ""},
		{[]string{"/who @carol"}, []mmls.Command{mmls.Who{Room: dmCarol}}, "lobby", "@carol: nobody else yet"},
		{[]string{"/query carol"}, []mmls.Command{mmls.Direct{To: "carol"}}, dmCarol, ""},
		{[]string{"/query @carol"}, []mmls.Command{mmls.Direct{To: "carol"}}, dmCarol, ""},
		{[]string{"/switch @dave", "/send /tmp/report.pdf"}, []mmls.Command{mmls.SendFile{Room: "lobby", Path: "/tmp/report.pdf"}}, "lobby",
			"you have no conversation with @dave (/query dave opens one)"},
		{[]string{"/switch @carol", "/switch nowhere", "/send /tmp/report.pdf"}, []mmls.Command{mmls.Switch{Room: dmCarol}, mmls.Switch{Room: "nowhere"},
			mmls.SendFile{Room: dmCarol, Path: "/tmp/report.pdf"}}, dmCarol, "you are not in that room"},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.lines, ", "), func(t *testing.T) {
			t.Parallel()
			eng := &scriptEngine{fakeEngine: newFakeEngine(), answer: answers}
			m := withDirectRooms(eng)
			for _, l := range tc.lines {
				m = enter(m, l)
			}
			var got []mmls.Command
			for _, c := range eng.commands() {
				if _, who := c.(mmls.Who); who && !slices.Contains(tc.want, c) {
					continue // the member list, refreshed
				}
				got = append(got, c)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("commands %#v, want %#v", got, tc.want)
			}
			if m.current != tc.current {
				t.Errorf("on screen %q, want %q", m.current, tc.current)
			}
			if !strings.Contains(m.viewText(m.current), tc.says) {
				t.Errorf("%s lacks %q:\n%s", m.roomTitle(m.current), tc.says, m.viewText(m.current))
			}
		})
	}
}

// TestCompleteDirectRooms: Tab after a room command completes direct
// rooms as shown, @nick (after the other rooms), but not after /join.
func TestCompleteDirectRooms(t *testing.T) {
	t.Parallel()
	m := withDirectRooms(newFakeEngine())
	tests := []struct{ in, want string }{
		{"/switch @c", "/switch @carol "},
		{"/switch c", "/switch @carol "},
		{"/leave @B", "/leave @bob "},
		{"/who d", "/who dev "},
		{"/join @", "/join @"},
	}
	for _, tc := range tests {
		m.tab = nil
		if got := m.complete(tc.in); got != tc.want {
			t.Errorf("complete(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	m.tab = nil
	var got []string
	for text, i := "/switch ", 0; i < 5; i++ {
		text = m.complete(text)
		got = append(got, text)
	}
	if want := "/switch dev |/switch lobby |/switch @bob |/switch @carol |/switch dev "; strings.Join(got, "|") != want {
		t.Errorf("cycling: %q, want %q", strings.Join(got, "|"), want)
	}
	m.tab = nil
	if got := m.complete("/join "); strings.Contains(got, "@") {
		t.Errorf("/join completes a direct room: %q", got)
	}
}

// TestHelpShowsAliases: /help shows every name a command answers to.
func TestHelpShowsAliases(t *testing.T) {
	t.Parallel()
	m := enter(withDirectRooms(&scriptEngine{fakeEngine: newFakeEngine(), answer: answers}), "/help")
	help := m.viewText("lobby")
	for _, name := range []string{"/part", "/query NICK [TEXT]", "/exit", "/members", "/find", "/msg NICK TEXT"} {
		if !strings.Contains(help, name) {
			t.Errorf("/help lacks %s:\n%s", name, help)
		}
	}
}

// TestAnswersWhereTyped: a command's answer (or error) goes to the room
// on screen when it was typed, even if another room is shown by the time
// it comes: /who lobby typed in #dev answers in #dev.
func TestAnswersWhereTyped(t *testing.T) {
	t.Parallel()
	tests := []struct {
		line, answer string
		moveAway     bool // Alt+1 (#lobby) before the answer comes
	}{
		{"/who lobby", "#lobby: nobody else yet", false},
		{"/who @carol", "@carol: nobody else yet", false},
		{"/who lobby", "#lobby: nobody else yet", true},
		{"/switch nowhere", "you are not in that room", true},
		{"/help", "/join ROOM", true},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%s, away %v", tc.line, tc.moveAway), func(t *testing.T) {
			t.Parallel()
			m := withDirectRooms(&scriptEngine{fakeEngine: newFakeEngine(), answer: answers})
			m.input.Cursor.SetMode(cursor.CursorStatic)
			m = press(t, m, alt('2'))
			if m.current != "dev" {
				t.Fatalf("on screen: %q", m.current)
			}
			m.input.SetValue(tc.line)
			mm, cmd := m.Update(tea.KeyMsg{Type: tea.KeyEnter})
			m = mm.(Model)
			if tc.moveAway {
				m = press(t, m, alt('1')) // waits behind the command
			}
			m = settle(m, cmd)
			if !strings.Contains(m.viewText("dev"), tc.answer) {
				t.Errorf("#dev lacks %q:\n%s", tc.answer, m.viewText("dev"))
			}
			for _, r := range []string{"lobby", dmCarol} {
				if strings.Contains(m.viewText(r), tc.answer) {
					t.Errorf("%s has %q:\n%s", m.roomTitle(r), tc.answer, m.viewText(r))
				}
			}
		})
	}
}
