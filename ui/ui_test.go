package ui

import (
	"fmt"
	"os"
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
// real engine, and records the lines the model hands it.
type fakeEngine struct {
	events chan mmls.Event
	inputs chan string
}

func newFakeEngine() *fakeEngine {
	return &fakeEngine{events: make(chan mmls.Event, 64), inputs: make(chan string, 64)}
}

func (f *fakeEngine) Input(line string) bool    { f.inputs <- line; return true }
func (f *fakeEngine) Events() <-chan mmls.Event { return f.events }

const (
	aliceID = "a11ce00000000000000000000000000000000000000000000000000000000000"
	bobID   = "b0b0000000000000000000000000000000000000000000000000000000000000"
	carolID = "ca401000000000000000000000000000000000000000000000000000000000000"
)

func at(min int) *time.Time { t := t0.Add(time.Duration(min) * time.Minute); return &t }

func started() []mmls.Event {
	return []mmls.Event{
		{Type: "ready", ID: aliceID, Nick: "alice", Listen: "10.0.0.1:7420"},
		{Type: "joined", Room: "lobby"},
	}
}

func conversation() []mmls.Event {
	ev := append(started(),
		mmls.Event{Type: "peer", ID: bobID, Nick: "bob", Status: "online"},
		mmls.Event{Type: "peer", ID: carolID, Nick: "carol", Status: "online"},
		mmls.Event{Type: "who", Room: "lobby", Members: []mmls.MemberView{
			{ID: bobID, Nick: "bob", WeReach: true, TheyReach: true, Online: true, Verified: true},
			{ID: carolID, Nick: "carol", WeReach: true, TheyReach: false, Online: true},
		}},
		mmls.Event{Type: "message", Room: "lobby", ID: "m1", From: "bob", FromID: bobID, Text: "morning all", SentAt: at(1)},
		mmls.Event{Type: "sent", Time: *at(2), Room: "lobby", ID: "m2", Text: "hi bob, hi carol", Recipients: 2},
		mmls.Event{Type: "delivered", Room: "lobby", ID: "m2", ToID: bobID},
		mmls.Event{Type: "sent", Time: *at(3), Room: "lobby", ID: "m3", Text: "everyone got this one", Recipients: 2},
		mmls.Event{Type: "delivered", Room: "lobby", ID: "m3", ToID: bobID},
		mmls.Event{Type: "delivered", Room: "lobby", ID: "m3", ToID: carolID},
		mmls.Event{Type: "message", Room: "dm:" + aliceID + ":" + carolID, ID: "m4", From: "carol", FromID: carolID, Text: "psst", SentAt: at(4)},
	)
	return ev
}

// screen runs the model in a real program, sends it the events (as the
// engine's channel would deliver them) and keys in order, and returns the
// final view.
func screen(t *testing.T, events []mmls.Event, keys ...tea.KeyMsg) string {
	t.Helper()
	m := New(newFakeEngine(), Options{MDNS: "on (eth0)", Now: func() time.Time { return t0 }})
	tm := teatest.NewTestModel(t, m, teatest.WithInitialTermSize(100, 24))
	for _, e := range events {
		tm.Send(eventMsg(e))
	}
	for _, k := range keys {
		tm.Send(k)
	}
	tm.Send(tea.KeyMsg{Type: tea.KeyCtrlC})
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
		{"direct message", mmls.Event{Type: "message", Room: "dm:" + aliceID + ":" + bobID, From: "bob", FromID: bobID, Text: "psst"}, true},
		{"mention", mmls.Event{Type: "message", Room: "lobby", From: "bob", FromID: bobID, Text: "Alice, look"}, true},
		{"ordinary", mmls.Event{Type: "message", Room: "lobby", From: "bob", FromID: bobID, Text: "hello all"}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			m := New(newFakeEngine(), Options{Now: func() time.Time { return t0 }})
			mm, _ := m.Update(tea.WindowSizeMsg{Width: 80, Height: 20})
			m = mm.(Model)
			for _, e := range started() {
				m.onEvent(e)
			}
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

func TestScreens(t *testing.T) {
	tests := []struct {
		name   string
		events []mmls.Event
		keys   []tea.KeyMsg
		want   []string
	}{
		{"empty lobby", started(), nil, []string{"alice (a11ce000)", "#lobby", "mDNS on (eth0)", "0 online"}},
		{"conversation", conversation(), nil, []string{"morning all", "hi bob, hi carol 1/2", "everyone got this one ✓", "⇄ bob ✔", "→ carol", "@carol 1"}},
		{"alert banner", append(started(), mmls.Event{Type: "alert", Kind: "key-changed", Detail: "bob arrived with a different key"}), nil,
			[]string{"⚠ bob arrived with a different key", "security alert (key-changed)"}},
		{"help view", started(), []tea.KeyMsg{{Type: tea.KeyRunes, Runes: []rune{'?'}}}, []string{"pgup", "ctrl+p", "previous room"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := screen(t, tc.events, tc.keys...)
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
	m.peers = map[string]*peer{bobID: {nick: "bob"}, carolID: {nick: "carol"}}
	tests := []struct{ in, want string }{
		{"/jo", "/join "},
		{"/ki", "/kick "},
		{"/zzz", "/zzz"},
		{"ca", "carol: "},
		{"hello b", "hello bob "},
		{"/msg ca", "/msg carol "},
		{"nobody x", "nobody x"},
	}
	for _, tc := range tests {
		if got := m.complete(tc.in); got != tc.want {
			t.Errorf("complete(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// BenchmarkView10k renders a room of 10,000 messages: only the visible
// lines are rendered, so the cost does not grow with the history.
func BenchmarkView10k(b *testing.B) {
	m := New(newFakeEngine(), Options{MDNS: "on"})
	mm, _ := m.Update(tea.WindowSizeMsg{Width: 120, Height: 40})
	m = mm.(Model)
	for _, e := range started() {
		m.onEvent(e)
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
